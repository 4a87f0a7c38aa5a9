// unit_service MODE ARGS: a service in the shapes packages ship systemd units
// for (tests/integration/unit_cli_test.cpp), one behaviour per mode:
//   wait [FILE]       wait for signals; each SIGHUP appends "hup\n" to FILE
//   notify FILE       create FILE, then send READY=1 to $NOTIFY_SOCKET, then wait
//   forking PIDFILE   fork; the child calls setsid, writes its PID to PIDFILE
//                     and waits; the parent exits 0 once the file is written
//   listen            accept on the socket-activated fd 3 (LISTEN_FDS=1 and
//                     LISTEN_PID its own), answer "hello $LISTEN_FDNAMES\n"
//                     to each connection and close it
// Every mode ends on SIGTERM or SIGINT with status 0.
#include <fcntl.h>
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

namespace {

volatile sig_atomic_t g_hups = 0;
volatile sig_atomic_t g_end = 0;

void on_hup(int /*sig*/) { g_hups = g_hups + 1; }
void on_end(int /*sig*/) { g_end = 1; }

void catch_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_hup;
  ::sigaction(SIGHUP, &sa, nullptr);
  sa.sa_handler = on_end;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

void append(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

int wait_for_signals(const char* hup_file) {
  int seen = 0;
  while (g_end == 0) {
    ::pause();
    for (; seen < g_hups; ++seen) {
      if (hup_file != nullptr) append(hup_file, "hup\n");
    }
  }
  return 0;
}

bool notify_ready() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || std::strlen(path) >= sizeof(sockaddr_un::sun_path)) return false;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, std::strlen(path));  // shorter than sun_path: checked above
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path));
  const char msg[] = "READY=1";
  bool ok = ::sendto(fd, msg, sizeof msg - 1, 0, reinterpret_cast<sockaddr*>(&addr), len) >= 0;
  ::close(fd);
  return ok;
}

int forking(const char* pidfile) {
  int sync[2];
  if (::pipe(sync) != 0) return 1;
  pid_t child = ::fork();
  if (child < 0) return 1;
  if (child > 0) {
    ::close(sync[1]);
    char c = 0;
    return ::read(sync[0], &c, 1) == 1 ? 0 : 1;
  }
  ::close(sync[0]);
  ::setsid();
  append(pidfile, std::to_string(::getpid()) + "\n");
  (void)!::write(sync[1], "x", 1);
  ::close(sync[1]);
  return wait_for_signals(nullptr);
}

int listen_mode() {
  const char* fds = std::getenv("LISTEN_FDS");
  const char* pid = std::getenv("LISTEN_PID");
  const char* names = std::getenv("LISTEN_FDNAMES");
  if (fds == nullptr || pid == nullptr || std::string(fds) != "1" || std::strtol(pid, nullptr, 10) != ::getpid()) {
    std::fprintf(stderr, "not socket-activated\n");
    return 1;
  }
  std::string answer = std::string("hello ") + (names != nullptr ? names : "") + "\n";
  while (g_end == 0) {
    int conn = ::accept4(3, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    (void)!::write(conn, answer.data(), answer.size());
    ::close(conn);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  catch_signals();
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "wait") return wait_for_signals(argc > 2 ? argv[2] : nullptr);
  if (mode == "notify" && argc > 2) {
    append(argv[2], "ready\n");
    if (!notify_ready()) return 1;
    return wait_for_signals(nullptr);
  }
  if (mode == "forking" && argc > 2) return forking(argv[2]);
  if (mode == "listen") return listen_mode();
  std::fprintf(stderr, "usage: unit_service wait [FILE] | notify FILE | forking PIDFILE | listen\n");
  return 2;
}
