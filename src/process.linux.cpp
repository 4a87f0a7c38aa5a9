#include "welld/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "pidfd.linux.hpp"
#include "welld/pidfile.hpp"

namespace welld {

std::error_code Process::open(pid_t pid, unsigned long long expected_start_time, Process& out) {
  if (pid <= 0) return {ESRCH, std::system_category()};
  UniqueFd fd(sys::pidfd_open(pid, 0));
  if (!fd) return {errno, std::system_category()};
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);  // pidfds are close-on-exec already; be explicit
  // Checked after the pidfd exists: if it matches now, the pidfd is that process.
  unsigned long long start = process_start_time(pid);
  if (start == 0 || (expected_start_time != 0 && start != expected_start_time)) {
    return {ESRCH, std::system_category()};
  }
  out.pid_ = pid;
  out.pidfd_ = std::move(fd);
  return {};
}

std::error_code Process::signal(int sig) const {
  if (sys::pidfd_send_signal(pidfd_.get(), sig, nullptr, 0) != 0) return {errno, std::system_category()};
  return {};
}

bool Process::wait_exit(std::chrono::milliseconds timeout, int* wait_status) const {
  pollfd p{pidfd_.get(), POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int n = ::poll(&p, 1, left.count() < 0 ? 0 : static_cast<int>(left.count()));
    if (n > 0) break;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
  // Reap it if it is our child (welld start's daemon is, until welld exits).
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) == 0 &&
      info.si_pid == pid_ && wait_status != nullptr) {
    *wait_status = info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0) : info.si_status;
  }
  return true;
}

std::string process_command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && text.back() == '\0') text.pop_back();
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

std::chrono::seconds process_uptime(pid_t pid) {
  unsigned long long start = process_start_time(pid);
  if (start == 0) return std::chrono::seconds(0);
  timespec boot{};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  long tck = ::sysconf(_SC_CLK_TCK);
  auto started = static_cast<long long>(start / static_cast<unsigned long long>(tck > 0 ? tck : 100));
  return std::chrono::seconds(boot.tv_sec - started);
}

}  // namespace welld
