// hostile_daemon — a daemon that attacks the welld that started it over
// sd_notify (NOTIFY_SOCKET), for the security regression tests. Usage:
//
//   hostile_daemon [--pidfile-out FILE] MODE [ARG...]
//
// --pidfile-out FILE writes our PID to FILE first (the test can then clean up).
// Modes, each reproducing one attack of issue 13:
//
//   reuse-mainpid DIR ready|errno
//       fork a child, announce it with MAINPID=, SIGKILL and reap it (its PID
//       is now free), write the PID to DIR/victim, wait for DIR/go (the test
//       hands that PID to an unrelated process meanwhile), then send READY=1
//       or ERRNO=5, and stay.
//   handoff [FILE]
//       the forking hand-off: fork a child (that stays; its PID goes to FILE,
//       when given), send MAINPID=child, then READY=1, then exit at once.
//   errno-after-mainpid FILE
//       fork a child (its PID to FILE), send MAINPID=child, then ERRNO=5, stay.
//   flood
//       six senders send STATUS= datagrams as fast as they can, forever
//       (never READY=1); the senders die with the first process.
//   status-then-ready COUNT
//       COUNT STATUS= datagrams, then READY=1, and stay.
//
// Messages go through raw sendto(2) on NOTIFY_SOCKET, as any client could.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int g_socket = -1;
sockaddr_un g_addr{};
socklen_t g_len = 0;

bool open_notify() {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0' || std::strlen(name) >= sizeof g_addr.sun_path) return false;
  g_addr.sun_family = AF_UNIX;
  std::memcpy(g_addr.sun_path, name, std::strlen(name));
  bool abstract = name[0] == '@';
  if (abstract) g_addr.sun_path[0] = '\0';
  g_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(name) + (abstract ? 0 : 1));
  g_socket = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return g_socket >= 0;
}

void send_state(const std::string& state) {
  (void)::sendto(g_socket, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&g_addr), g_len);
}

void write_pid(const std::string& file, pid_t pid) {
  std::string tmp = file + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) std::exit(3);
  std::fprintf(f, "%d\n", static_cast<int>(pid));
  std::fclose(f);
  if (std::rename(tmp.c_str(), file.c_str()) != 0) std::exit(3);
}

[[noreturn]] void stay() {
  for (;;) ::pause();
}

// A child that stays until killed; its PID is written to `file` (when given)
// before anyone hears of it.
pid_t staying_child(const std::string& file) {
  pid_t child = ::fork();
  if (child < 0) std::exit(3);
  if (child == 0) stay();
  if (!file.empty()) write_pid(file, child);
  return child;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int reuse_mainpid(const std::string& dir, const std::string& then) {
  pid_t child = staying_child("");
  send_state("MAINPID=" + std::to_string(child));
  // welld has the datagram once our next one is queued behind it; give it the
  // chance to look at the child while it is alive (the attack needs it accepted).
  ::usleep(200 * 1000);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  write_pid(dir + "/victim", child);
  for (int i = 0; i < 6000 && !exists(dir + "/go"); ++i) ::usleep(10 * 1000);
  send_state(then == "errno" ? "ERRNO=5" : "READY=1");
  stay();
}

int flood() {
  for (int i = 0; i < 5; ++i) {
    pid_t sender = ::fork();
    if (sender == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      break;
    }
  }
  for (;;) send_state("STATUS=flood");
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  if (i + 1 < argc && std::string(argv[i]) == "--pidfile-out") {
    write_pid(argv[i + 1], ::getpid());
    i += 2;
  }
  if (i >= argc || !open_notify()) {
    std::fprintf(stderr, "usage: hostile_daemon [--pidfile-out FILE] MODE [ARG...] (with NOTIFY_SOCKET)\n");
    return 2;
  }
  std::string mode = argv[i];
  std::string arg1 = i + 1 < argc ? argv[i + 1] : "";
  std::string arg2 = i + 2 < argc ? argv[i + 2] : "";
  if (mode == "reuse-mainpid") return reuse_mainpid(arg1, arg2);
  if (mode == "handoff") {
    pid_t child = staying_child(arg1);
    send_state("MAINPID=" + std::to_string(child));
    send_state("READY=1");
    ::_exit(0);
  }
  if (mode == "errno-after-mainpid") {
    pid_t child = staying_child(arg1);
    send_state("MAINPID=" + std::to_string(child));
    send_state("ERRNO=5");
    stay();
  }
  if (mode == "flood") return flood();
  if (mode == "status-then-ready") {
    long count = std::strtol(arg1.c_str(), nullptr, 10);
    for (long n = 0; n < count; ++n) send_state("STATUS=step " + std::to_string(n));
    send_state("READY=1");
    stay();
  }
  std::fprintf(stderr, "hostile_daemon: unknown mode %s\n", mode.c_str());
  return 2;
}
