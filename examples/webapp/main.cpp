// webapp — a small HTTP server (libmicrohttpd) that behaves as a daemon.
//
//   PORT=8080 webapp                       foreground (systemd, s6, containers)
//   PORT=8080 webapp -D --pidfile F        a classic daemon via welld::daemonize
//   welld start --ready=notify -- webapp   managed by welld (sd_notify READY=1)
//   welld start --listen tcp:80 --user www -- webapp   socket activation
//
// Ready only once it listens: in daemon mode init() starts the server, so the
// original process returns after the socket accepts; in the foreground
// READY=1 goes to NOTIFY_SOCKET after the same init. A socket passed with
// LISTEN_FDS is used instead of PORT. SIGTERM/SIGINT stop it at once; SIGHUP
// re-reads the message file (--message FILE or MESSAGE_FILE) and logs it.
// Exit codes: 0 stopped, 1 could not start, 2 usage (e.g. a bad PORT).
#include <microhttpd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "welld/daemon.hpp"
#include "welld/listen.hpp"
#include "welld/service_loop.hpp"

namespace {

constexpr const char* kUsage =
    "usage: webapp [-D|--daemon] [--pidfile FILE] [--message FILE] [--log FILE]\n"
    "environment: PORT (1-65535, default 8080), PID_FILE, MESSAGE_FILE\n";

struct Args {
  bool daemon = false;
  std::string pidfile;
  std::string message_file;
  std::string log;
  int port = 8080;
};

struct App {
  std::string mode;
  std::string message_file;
  std::mutex lock;
  std::string message = "Hello from a well-behaved daemon.";
  MHD_Daemon* http = nullptr;
  std::unique_ptr<welld::ServiceLoop> loop;
};

void log(const std::string& line) {
  std::printf("webapp[%d]: %s\n", ::getpid(), line.c_str());
  std::fflush(stdout);
}

bool parse_port(const char* text, int& port) {
  if (text == nullptr) return true;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535) return false;
  port = static_cast<int>(v);
  return true;
}

bool parse(int argc, char** argv, Args& args) {
  if (const char* env = std::getenv("PID_FILE")) args.pidfile = env;
  if (const char* env = std::getenv("MESSAGE_FILE")) args.message_file = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') return false;
      out = argv[++i];
      return true;
    };
    if (a == "-D" || a == "--daemon") args.daemon = true;
    else if (a == "--pidfile") {
      if (!value(args.pidfile)) return false;
    } else if (a == "--message") {
      if (!value(args.message_file)) return false;
    } else if (a == "--log") {
      if (!value(args.log)) return false;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else return false;
  }
  return true;
}

void reload_message(App& app) {
  if (app.message_file.empty()) return;
  std::ifstream in(app.message_file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    log("cannot read message file " + app.message_file + "; keeping the old message");
    return;
  }
  std::lock_guard<std::mutex> guard(app.lock);
  app.message = text.str();
  while (!app.message.empty() && app.message.back() == '\n') app.message.pop_back();
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

MHD_Result answer(void* cls, MHD_Connection* connection, const char*, const char* method, const char*, const char*,
                  size_t*, void**) {
  auto* app = static_cast<App*>(cls);
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) return MHD_NO;
  std::string message;
  {
    std::lock_guard<std::mutex> guard(app->lock);
    message = app->message;
  }
  std::string page = "<!doctype html>\n<html><head><title>webapp</title></head><body>\n<h1>" + escape_html(message) +
                     "</h1>\n<p>pid " + std::to_string(::getpid()) + ", mode " + app->mode + "</p>\n</body></html>\n";
  MHD_Response* response = MHD_create_response_from_buffer(page.size(), page.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(response, "Content-Type", "text/html; charset=utf-8");
  MHD_Result ret = MHD_queue_response(connection, MHD_HTTP_OK, response);
  MHD_destroy_response(response);
  return ret;
}

// init: listen (on the passed socket, or PORT), ready for requests on return.
int start_server(App& app, int port) {
  app.loop = std::make_unique<welld::ServiceLoop>();
  if (app.loop->error()) return app.loop->error().value();
  reload_message(app);
  auto passed = welld::listen_fds(true);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (!passed.empty()) {
    app.http = MHD_start_daemon(flags, 0, nullptr, nullptr, answer, &app, MHD_OPTION_LISTEN_SOCKET, passed.front().fd,
                                MHD_OPTION_END);
    log("serving on the passed socket " + passed.front().name);
  } else {
    app.http = MHD_start_daemon(flags, static_cast<uint16_t>(port), nullptr, nullptr, answer, &app, MHD_OPTION_END);
    log("serving on port " + std::to_string(port));
  }
  return app.http != nullptr ? 0 : EADDRINUSE;
}

int serve(App& app) {
  for (;;) {
    switch (app.loop->wait(std::chrono::milliseconds(-1))) {
      case welld::LoopEvent::stop:
        MHD_stop_daemon(app.http);
        log("stopped");
        return 0;
      case welld::LoopEvent::reload:
        reload_message(app);
        log("reloaded message from " + (app.message_file.empty() ? std::string("(none)") : app.message_file));
        break;
      case welld::LoopEvent::timeout: break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!parse_port(std::getenv("PORT"), args.port)) {
    std::fprintf(stderr, "webapp: invalid PORT '%s' (a number from 1 to 65535)\n", std::getenv("PORT"));
    return 2;
  }
  App app;
  app.mode = args.daemon ? "daemon" : "foreground";
  app.message_file = args.message_file;
  welld::Options options{.pidfile = args.pidfile, .stdout_path = args.log, .stderr_path = args.log};
  // The daemon keeps the socket-activation variables: init() reads them.
  options.environment.keep = {"LISTEN_*", "PORT"};
  auto init = [&] { return start_server(app, args.port); };
  auto run = [&] { return serve(app); };
  if (args.daemon) {
    welld::Status st = welld::daemonize(options, init, run);
    if (!st) {
      std::fprintf(stderr, "webapp: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("webapp: daemon started (pid %d) on port %d\n", st.pid, args.port);
    return 0;
  }
  int status = 0;
  welld::Status st = welld::run_foreground(options, init, run, &status);
  if (!st) {
    std::fprintf(stderr, "webapp: %s\n", st.message().c_str());
    return 1;
  }
  return status;
}
