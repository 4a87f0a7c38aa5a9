// fault_daemonize — calls welld::daemonize (or spawn_daemon with --exec) once,
// for the fault-injection tests, and reports on stdout:
//   "fds-before 0 1 2 ..."   its own open fds before the call
//   "status STEP ERRNO"      the Status: step name (to_string) and errno
//   "message TEXT"           Status::message()
//   "pid N"                  the daemon's PID (-1 when none)
//   "fds-after 0 1 2 ..."    its own open fds after the call
// Exit status 0 when the daemon is initialized, 1 otherwise.
// Options: --pidfile F --user U --chdir D --inherited-fd (an fd without
//          close-on-exec the daemon must not receive) --exec PROGRAM [ARG...]
//          --foreground: the child stays ours (Options::detach = false); after
//          a successful spawn it also reports
//   "child-ppid N"           the child's parent, from /proc/PID/stat
//   "child-fds 0 1 2 ..."    the child's open fds
//   "wait-status N"          its raw wait status, collected through a
//                            welld::Process (pidfd, else /proc/PID), or -1
//          --terminate: SIGTERM it through that Process first
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "welld/daemon.hpp"
#include "welld/process.hpp"

namespace {

std::string open_fds(const std::string& of = "self") {
  std::vector<int> fds;
  DIR* dir = ::opendir(("/proc/" + of + "/fd").c_str());
  if (dir == nullptr) return "?";
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::stoi(entry->d_name);
    if (of != "self" || fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  std::string text;
  for (int fd : fds) {
    text += ' ';
    text += std::to_string(fd);
  }
  return text;
}

// The foreground child's report: its parent and fds, then its wait status.
void report_child(pid_t child, bool terminate) {
  std::string stat;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(child) + "/stat").c_str(), "r");
  if (f != nullptr) {
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    stat.assign(buf, n);
    std::fclose(f);
  }
  long ppid = -1;  // ") S PPID ...": the field after the state
  size_t close = stat.rfind(')');
  if (close != std::string::npos && close + 4 < stat.size()) ppid = std::strtol(stat.c_str() + close + 4, nullptr, 10);
  // The child is read until only its stdio is left, for up to 5 s: spawn_daemon
  // returns once the exec has happened, but a program may open a file for a
  // moment at its start (sleep's setlocale reads /etc/locale.alias).
  std::string fds = open_fds(std::to_string(child));
  for (int tries = 0; fds != " 0 1 2" && tries < 5000; ++tries) {
    ::usleep(1000);  // the kernel offers no event for a close
    fds = open_fds(std::to_string(child));
  }
  std::printf("child-ppid %ld\nchild-fds%s\n", ppid, fds.c_str());
  std::fflush(stdout);
  welld::Process p;
  int status = -1;
  if (!welld::Process::open_child(child, p)) {
    if (terminate) p.signal(SIGTERM);
    if (!p.wait_exit(std::chrono::seconds(60), &status)) status = -1;
  }
  std::printf("wait-status %d\n", status);
}

}  // namespace

int main(int argc, char** argv) {
  welld::Options options;
  std::vector<std::string> exec_argv;
  bool inherited_fd = false;
  bool terminate = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--pidfile") {
      options.pidfile = next();
    } else if (a == "--user") {
      options.user = next();
    } else if (a == "--chdir") {
      options.chdir = next();
    } else if (a == "--inherited-fd") {
      inherited_fd = true;
    } else if (a == "--foreground") {
      options.detach = false;
    } else if (a == "--terminate") {
      terminate = true;
    } else if (a == "--exec") {
      exec_argv.assign(argv + i + 1, argv + argc);
      break;
    } else {
      std::fprintf(stderr, "fault_daemonize: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (inherited_fd && ::open("/etc/hostname", O_RDONLY) < 0) {  // deliberately not O_CLOEXEC
    std::perror("fault_daemonize: /etc/hostname");
    return 2;
  }
  std::printf("fds-before%s\n", open_fds().c_str());
  std::fflush(stdout);
  welld::Status st;
  if (exec_argv.empty()) {
    st = welld::daemonize(
        options, [] { return 0; },
        [] {
          for (;;) ::pause();
          return 0;
        });
  } else {
    st = welld::spawn_daemon(options, exec_argv);
  }
  std::printf("status %s %d\nmessage %s\npid %d\nfds-after%s\n", std::string(welld::to_string(st.step)).c_str(),
              st.error, st.message().c_str(), static_cast<int>(st.pid), open_fds().c_str());
  std::fflush(stdout);
  if (st && !options.detach) report_child(st.pid, terminate);
  return st ? 0 : 1;
}
