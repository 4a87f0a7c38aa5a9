// dirty_parent — daemonizes itself through welld::daemonize from the dirtiest
// parent state we can build, then reports on stdout:
//   "pid N" on success, or "fail STEP ERRNO HOLDER" and a message line.
// Dirt: a pty as controlling terminal on stdin, umask 077, SIGTERM and SIGUSR2
// blocked, SIGUSR1 and SIGHUP ignored, SECRET_TOKEN in the environment, an
// inherited fd without close-on-exec ("inherited N"), cwd in a temporary dir.
// Options: --cwd DIR --pidfile F --chdir D --user U --group G --log F
//          --umask OCTAL --init-fail CODE --init-crash --keep-fd --foreground --collect
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "welld/daemon.hpp"

namespace {

void make_dirty(const std::string& cwd, int& inherited) {
  if (::setsid() < 0) std::perror("setsid");
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) std::perror("pty");
  int slave = ::open(::ptsname(master), O_RDWR);  // no O_NOCTTY: becomes our ctty
  if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) std::perror("ctty");
  ::dup2(slave, 0);
  ::umask(077);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR2);
  ::sigprocmask(SIG_BLOCK, &block, nullptr);
  ::signal(SIGUSR1, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::setenv("SECRET_TOKEN", "hunter2", 1);
  inherited = ::open("/etc/hostname", O_RDONLY);  // deliberately not O_CLOEXEC
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) std::perror("chdir");
}

}  // namespace

int main(int argc, char** argv) {
  welld::Options options;
  std::string cwd;
  int init_code = 0;
  bool keep_fd = false;
  bool foreground = false;
  bool crash = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--cwd") cwd = next();
    else if (a == "--pidfile") options.pidfile = next();
    else if (a == "--chdir") options.chdir = next();
    else if (a == "--user") options.user = next();
    else if (a == "--group") options.group = next();
    else if (a == "--log") options.stdout_path = options.stderr_path = next();
    else if (a == "--umask") options.umask = static_cast<mode_t>(std::stoul(next(), nullptr, 8));
    else if (a == "--init-fail") init_code = std::stoi(next());
    else if (a == "--keep-fd") keep_fd = true;
    else if (a == "--foreground") foreground = true;
    else if (a == "--collect") options.collect_exit_status = true;
    else if (a == "--init-crash") crash = true;
  }
  int inherited = -1;
  make_dirty(cwd, inherited);
  std::printf("inherited %d\n", inherited);
  std::fflush(stdout);
  if (keep_fd) options.keep_fds.push_back(inherited);
  auto init = [&] {
    std::puts("init ran");  // goes to the daemon's stdout: /dev/null or the log
    std::fflush(stdout);
    if (crash) ::raise(SIGKILL);
    return init_code;
  };
  auto run = [] {
    for (;;) ::pause();
    return 0;
  };
  if (foreground) {
    int status = 0;
    welld::Status st = welld::run_foreground(
        options, init, [] { return 7; }, &status);
    std::printf(st ? "foreground %d\n" : "fail %d %d %d\n", st ? status : static_cast<int>(st.step), st.error,
                st.holder);
    return st ? 0 : 1;
  }
  welld::Status st = welld::daemonize(options, init, run);
  if (st) {
    std::printf("pid %d\n", st.pid);
    return 0;
  }
  std::printf("fail %d %d %d\n%s\n", static_cast<int>(st.step), st.error, st.holder, st.message().c_str());
  std::printf("daemon %d\n", st.pid);
  return 1;
}
