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
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "welld/daemon.hpp"

namespace {

std::string open_fds() {
  std::vector<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return "?";
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::stoi(entry->d_name);
    if (fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  std::string text;
  for (int fd : fds) {
    text += ' ';
    text += std::to_string(fd);
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  welld::Options options;
  std::vector<std::string> exec_argv;
  bool inherited_fd = false;
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
  return st ? 0 : 1;
}
