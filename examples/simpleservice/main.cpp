// simpleservice — prints "Hello!" every second until SIGTERM or SIGINT.
//
//   simpleservice                      foreground (systemd, s6, containers, a terminal)
//   simpleservice -D --pidfile F       a classic daemon, through welld::daemonize
//   simpleservice --log FILE           append output to FILE (daemon mode)
//
// SIGHUP is logged as a reload. Exit codes: 0 stopped cleanly, 1 could not
// start (the message names the step), 2 usage.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "welld/daemon.hpp"
#include "welld/service_loop.hpp"

namespace {

constexpr const char* kUsage = "usage: simpleservice [-D|--daemon] [--pidfile FILE] [--log FILE]\n";

struct Args {
  bool daemon = false;
  std::string pidfile;
  std::string log;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') return false;
      out = argv[++i];
      return true;
    };
    if (a == "-D" || a == "--daemon") {
      args.daemon = true;
    } else if (a == "--pidfile") {
      if (!value(args.pidfile)) return false;
    } else if (a == "--log") {
      if (!value(args.log)) return false;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      return false;
    }
  }
  return true;
}

void say(const char* what) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&now));
  std::printf("%s %s\n", stamp, what);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::unique_ptr<welld::ServiceLoop> loop;
  auto init = [&] {
    loop = std::make_unique<welld::ServiceLoop>();
    return loop->error() ? loop->error().value() : 0;
  };
  auto run = [&] {
    say("started");
    for (;;) {
      say("Hello!");
      switch (loop->wait(std::chrono::seconds(1))) {
        case welld::LoopEvent::stop: say("stopping"); return 0;
        case welld::LoopEvent::reload: say("reload requested (nothing to reload)"); break;
        case welld::LoopEvent::timeout: break;
      }
    }
  };
  welld::Options options{.pidfile = args.pidfile, .stdout_path = args.log, .stderr_path = args.log};
  if (args.daemon) {
    welld::Status st = welld::daemonize(options, init, run);
    if (!st) {
      std::fprintf(stderr, "simpleservice: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("simpleservice: daemon started (pid %d)\n", st.pid);
    return 0;
  }
  int status = 0;
  welld::Status st = welld::run_foreground(options, init, run, &status);
  if (!st) {
    std::fprintf(stderr, "simpleservice: %s\n", st.message().c_str());
    return 1;
  }
  return status;
}
