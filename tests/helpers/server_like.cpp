// server_like — a test program that behaves like the servers people run under
// welld: a master that listens, forks workers sharing its socket, shuts down
// slowly or only on its own signal, ignores HUP, or daemonizes itself. Options,
// applied in this order whatever their order on the command line:
//   --say TEXT              write TEXT and a newline to stderr first (repeatable)
//   --fail-with CODE        then exit with CODE (after the --say lines)
//   --daemonize             fork; the parent exits 0 and the child goes on once
//                           the parent is gone (a server started without its
//                           foreground flag)
//   --listen-tcp PORT       listen on 127.0.0.1:PORT; a bind failure prints
//                           "bind: <strerror>" to stderr and exits 1
//   --workers N             fork N workers that accept on the socket, answer
//                           "hello from PID\n" and close; each writes its PID
//                           to --workers-out
//   --workers-out FILE      one worker PID per line (written by each worker)
//   --worker-ignores-term   workers ignore SIGTERM (only KILL or the master's
//                           own shutdown ends them)
//   --ignore-hup            SIG_IGN for SIGHUP
//   --fast-signal SIG       the signal that exits at once (default TERM)
//   --slow-shutdown MS      on any other of INT/TERM/QUIT, wait MS first
//   --notify                send READY=1 to $NOTIFY_SOCKET once listening
// Then it waits for signals. On shutdown the master leaves its workers running
// unless they die with it (they share nothing else): that is the point.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_last_signal = 0;

void on_signal(int sig) { g_last_signal = sig; }

struct Config {
  std::vector<std::string> say;
  int fail_with = -1;
  bool daemonize = false;
  int port = -1;
  int workers = 0;
  std::string workers_out;
  bool worker_ignores_term = false;
  bool ignore_hup = false;
  int fast_signal = SIGTERM;
  int slow_ms = 0;
  bool notify = false;
};

int number(const std::string& text) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0 || v > 1000000) {
    std::fprintf(stderr, "server_like: not a number: %s\n", text.c_str());
    std::exit(2);
  }
  return static_cast<int>(v);
}

int signal_number(const std::string& name) {
  if (name == "INT") return SIGINT;
  if (name == "QUIT") return SIGQUIT;
  if (name == "TERM") return SIGTERM;
  if (name == "USR1") return SIGUSR1;
  std::fprintf(stderr, "server_like: unknown signal %s\n", name.c_str());
  std::exit(2);
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "server_like: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--say") {
      c.say.push_back(value());
    } else if (a == "--fail-with") {
      c.fail_with = number(value());
    } else if (a == "--daemonize") {
      c.daemonize = true;
    } else if (a == "--listen-tcp") {
      c.port = number(value());
    } else if (a == "--workers") {
      c.workers = number(value());
    } else if (a == "--workers-out") {
      c.workers_out = value();
    } else if (a == "--worker-ignores-term") {
      c.worker_ignores_term = true;
    } else if (a == "--ignore-hup") {
      c.ignore_hup = true;
    } else if (a == "--fast-signal") {
      c.fast_signal = signal_number(value());
    } else if (a == "--slow-shutdown") {
      c.slow_ms = number(value());
    } else if (a == "--notify") {
      c.notify = true;
    } else {
      std::fprintf(stderr, "server_like: unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  return c;
}

int listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "bind: %s\n", std::strerror(errno));
    std::exit(1);
  }
  if (::listen(fd, 16) != 0) {
    std::fprintf(stderr, "listen: %s\n", std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

[[noreturn]] void serve(int listener, const Config& c) {
  if (c.worker_ignores_term) ::signal(SIGTERM, SIG_IGN);
  if (!c.workers_out.empty()) {
    FILE* f = std::fopen(c.workers_out.c_str(), "a");
    if (f != nullptr) {
      std::fprintf(f, "%d\n", ::getpid());
      std::fclose(f);
    }
  }
  for (;;) {
    int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    std::string reply = "hello from " + std::to_string(::getpid()) + "\n";
    (void)!::write(conn, reply.data(), reply.size());
    ::close(conn);
  }
}

void send_ready() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char msg[] = "READY=1";
  ::sendto(fd, msg, sizeof msg - 1, 0, reinterpret_cast<sockaddr*>(&addr),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  Config c = parse(argc, argv);
  for (const auto& line : c.say) std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  if (c.fail_with >= 0) return c.fail_with;
  if (c.daemonize) {
    // The child goes on once the parent is gone (the pipe's last writer), so
    // the server never serves while its main process still runs: what a
    // launcher sees is "exited, then someone listens", whatever the load.
    int gone[2];
    if (::pipe(gone) != 0) return 1;
    pid_t child = ::fork();
    if (child < 0) return 1;
    if (child > 0) return 0;
    ::close(gone[1]);
    char c0 = 0;
    while (::read(gone[0], &c0, 1) < 0 && errno == EINTR) {
    }
    ::close(gone[0]);
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  for (int sig : {SIGINT, SIGTERM, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
  if (c.ignore_hup) ::signal(SIGHUP, SIG_IGN);
  int listener = c.port >= 0 ? listen_on(c.port) : -1;
  for (int i = 0; i < c.workers && listener >= 0; ++i) {
    pid_t w = ::fork();
    if (w == 0) {
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGQUIT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      serve(listener, c);
    }
  }
  if (c.notify) send_ready();
  for (;;) {
    ::pause();
    int sig = g_last_signal;
    if (sig == 0) continue;
    if (sig != c.fast_signal && c.slow_ms > 0) ::usleep(static_cast<useconds_t>(c.slow_ms) * 1000);
    return 0;
  }
}
