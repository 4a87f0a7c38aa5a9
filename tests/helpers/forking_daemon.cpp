// forking_daemon MODE PIDFILE LOG [PID]: a classic self-forking daemon, for
// the tests of --forking --program-pidfile (systemd's Type=forking).
//
// Its own process forks an intermediate, which calls setsid and forks the
// server, then exits; the server writes PIDFILE (a temporary file renamed
// onto it) and tells its original process through a pipe, which then exits.
// The server blocks USR1, HUP and TERM and takes them one at a time: USR1 and
// HUP append "PID usr1" / "PID hup" lines to LOG, TERM makes it exit 42.
//
//   ok        as above; the original process exits 0
//   fail      as above, but the original process exits 3
//   never     the original process exits 0 at once; the server never writes PIDFILE
//   outside   the server writes PID (a process outside its tree) into PIDFILE
//   symlink   the server makes PIDFILE a symbolic link to a file holding its PID
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool write_text(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && ok;
}

void append_line(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string text = line + "\n";
  (void)::write(fd, text.data(), text.size());
  ::close(fd);
}

// PIDFILE as the mode wants it; false when it could not be written.
bool write_pidfile(const std::string& mode, const std::string& pidfile, const std::string& outside) {
  std::string temp = pidfile + ".tmp";
  std::string pid = (mode == "outside" ? outside : std::to_string(::getpid())) + "\n";
  if (mode == "symlink") {
    std::string target = pidfile + ".target";
    return write_text(target, pid) && ::symlink(target.c_str(), temp.c_str()) == 0 &&
           ::rename(temp.c_str(), pidfile.c_str()) == 0;
  }
  return write_text(temp, pid) && ::rename(temp.c_str(), pidfile.c_str()) == 0;
}

[[noreturn]] void serve(const std::string& log) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGUSR1, SIGHUP, SIGTERM}) sigaddset(&set, sig);
  for (;;) {
    int sig = ::sigwaitinfo(&set, nullptr);
    if (sig == SIGTERM) ::_exit(42);
    if (sig == SIGUSR1 || sig == SIGHUP) {
      append_line(log, std::to_string(::getpid()) + (sig == SIGUSR1 ? " usr1" : " hup"));
    }
  }
}

// The intermediate: a session of its own, the server, then gone.
[[noreturn]] void intermediate(const std::string& mode, const std::string& pidfile, const std::string& log,
                               const std::string& outside, int report) {
  ::setsid();
  pid_t server = ::fork();
  if (server != 0) ::_exit(server < 0 ? 1 : 0);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGUSR1, SIGHUP, SIGTERM}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  if (mode != "never" && !write_pidfile(mode, pidfile, outside)) ::_exit(1);
  char done = 'x';
  (void)::write(report, &done, 1);
  ::close(report);
  serve(log);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: forking_daemon ok|fail|never|outside|symlink PIDFILE LOG [PID]\n");
    return 2;
  }
  std::string mode = argv[1];
  std::string outside = argc > 4 ? argv[4] : "";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 2;
  pid_t child = ::fork();
  if (child < 0) return 2;
  if (child == 0) {
    ::close(fds[0]);
    intermediate(mode, argv[2], argv[3], outside, fds[1]);
  }
  ::close(fds[1]);
  char done = 0;
  ssize_t got = 0;
  do {
    got = ::read(fds[0], &done, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) return 4;  // the server could not write its PID file
  return mode == "fail" ? 3 : 0;
}
