#include "welld/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "dir_stream.hpp"
#include "pidfd.hpp"
#include "proc.hpp"
#include "read_whole.hpp"
#include "wait_status.hpp"
#include "welld/pidfile.hpp"

namespace welld {

namespace {

// What the process whose /proc directory is open at `procfd` is doing: 0 when
// it is gone or a zombie (it has exited), else its state letter.
char proc_state(int procfd) {
  std::string text;
  ProcStat st;
  if (read_proc_stat_at(procfd, text, st)) return 0;  // ESRCH: the process this directory was is gone
  if (st.state == 'Z' || st.state == 'X') return 0;
  return st.state;
}

// A duration as a deadline that does not overflow: "forever" beyond a century.
std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
  auto now = std::chrono::steady_clock::now();
  if (timeout > kForever) return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

// Milliseconds left until `deadline`, clamped to what poll takes (an int).
int poll_timeout(std::chrono::steady_clock::time_point deadline) {
  auto now = std::chrono::steady_clock::now();
  if (deadline <= now) return 0;
  if (deadline == std::chrono::steady_clock::time_point::max()) return INT_MAX;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

}  // namespace

namespace {

// A handle on `pid` (no identity check yet): a pidfd, or without pidfd_open
// (Linux before 5.3) a /proc/PID directory fd, which refers to one process the
// same way (it goes stale when that process is reaped, and a new process with
// the PID has a new directory) and which pidfd_send_signal (Linux 5.1) accepts.
std::error_code open_handle(pid_t pid, UniqueFd& fd, bool& by_proc) {
  if (pid <= 0) return {ESRCH, std::system_category()};
  fd.reset(sys::pidfd_open(pid, 0));
  by_proc = false;
  if (!fd && errno == ENOSYS) {
    std::string dir = "/proc/" + std::to_string(pid);
    fd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return {errno == ENOENT ? ESRCH : errno, std::system_category()};
    by_proc = true;
  }
  if (!fd) return {errno, std::system_category()};
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);  // pidfds are close-on-exec already; be explicit
  return {};
}

}  // namespace

std::error_code Process::open(pid_t pid, unsigned long long expected_start_time, Process& out) {
  UniqueFd fd;
  bool by_proc = false;
  if (auto ec = open_handle(pid, fd, by_proc)) return ec;
  // Checked after the handle exists: if it matches now, the handle is that process.
  unsigned long long start = process_start_time(pid);
  if (start == 0 || (expected_start_time != 0 && start != expected_start_time)) {
    return {ESRCH, std::system_category()};
  }
  if (by_proc && proc_state(fd.get()) == 0) return {ESRCH, std::system_category()};
  out.pid_ = pid;
  out.pidfd_ = std::move(fd);
  out.by_proc_ = by_proc;
  return {};
}

std::error_code Process::open_child(pid_t pid, Process& out) {
  UniqueFd fd;
  bool by_proc = false;
  if (auto ec = open_handle(pid, fd, by_proc)) return ec;
  out.pid_ = pid;
  out.pidfd_ = std::move(fd);
  out.by_proc_ = by_proc;
  return {};
}

std::error_code Process::signal(int sig) const {
  // Never kill(2) by number: without pidfd_send_signal (Linux before 5.1)
  // there is no way to signal exactly this process, so ENOSYS is returned.
  if (sys::pidfd_send_signal(pidfd_.get(), sig, nullptr, 0) != 0) return {errno, std::system_category()};
  return {};
}

namespace {

// waitid(type, id, WNOHANG): when it reaps `pid`, its wait status to `wait_status`.
void reap_exited(idtype_t type, id_t id, pid_t pid, int* wait_status) {
  siginfo_t info{};
  if (::waitid(type, id, &info, WEXITED | WNOHANG) == 0 && info.si_pid == pid && wait_status != nullptr) {
    *wait_status = wait_status_of(info);
  }
}

// A /proc directory fd does not poll: look every 10 ms until it is gone.
bool wait_proc_gone(int proc_fd, std::chrono::steady_clock::time_point deadline) {
  while (proc_state(proc_fd) != 0) {
    int left = poll_timeout(deadline);
    if (left == 0) return false;
    ::poll(nullptr, 0, left < 10 ? left : 10);
  }
  return true;
}

// Until the pidfd is readable (the process exited).
bool wait_pidfd_readable(int pidfd, std::chrono::steady_clock::time_point deadline) {
  pollfd p{pidfd, POLLIN, 0};
  for (;;) {
    // poll takes an int of milliseconds: a longer wait is several polls.
    int left = poll_timeout(deadline);
    int n = ::poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0 && left == 0) return false;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

bool Process::wait_exit(std::chrono::milliseconds timeout, int* wait_status) const {
  auto deadline = deadline_after(timeout);
  if (by_proc_) {
    if (!wait_proc_gone(pidfd_.get(), deadline)) return false;
    reap_exited(P_PID, static_cast<id_t>(pid_), pid_, wait_status);
    return true;
  }
  if (!wait_pidfd_readable(pidfd_.get(), deadline)) return false;
  // Reap it if it is our child (welld start's daemon is, until welld exits).
  reap_exited(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), pid_, wait_status);
  return true;
}

bool Process::has_exited() const {
  if (!pidfd_) return false;
  if (by_proc_) return proc_state(pidfd_.get()) == 0;
  pollfd p{pidfd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable (exited) or an error: no longer usable
}

bool Process::present() const {
  if (!pidfd_) return false;
  if (by_proc_) {
    // A /proc/PID directory fd: its stat reads while the process (or its
    // zombie) exists, and fails with ESRCH once it is reaped.
    UniqueFd stat(::openat(pidfd_.get(), "stat", O_RDONLY | O_CLOEXEC));
    char c = 0;
    return stat && ::read(stat.get(), &c, 1) == 1;
  }
  // A zombie still receives signal 0; a reaped process gives ESRCH.
  return sys::pidfd_send_signal(pidfd_.get(), 0, nullptr, 0) == 0 || errno == EPERM;
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
  auto started = static_cast<long long>(start / static_cast<unsigned long long>(clock_ticks_per_second()));
  return std::chrono::seconds(boot.tv_sec - started);
}

bool is_in_tree(pid_t pid, pid_t root) {
  for (int depth = 0; depth < 128 && pid > 1; ++depth) {
    if (pid == root) return true;
    std::string text;
    ProcStat st;
    if (read_proc_stat(pid, text, st)) return false;
    pid = st.ppid;
  }
  return false;
}

bool is_own_descendant(pid_t pid) {
  pid_t self = ::getpid();
  if (pid <= 0 || pid == self) return false;
  return self == 1 || is_in_tree(pid, self);
}

std::vector<pid_t> descendants(pid_t root) {
  // One read of each /proc/PID/stat: PPid links, then the tree under root.
  std::vector<std::pair<pid_t, pid_t>> links;  // {pid, ppid}
  for (pid_t pid : all_pids()) {
    std::string text;
    ProcStat st;
    if (pid != root && !read_proc_stat(pid, text, st)) links.emplace_back(pid, st.ppid);
  }
  std::vector<pid_t> found;
  std::vector<pid_t> parents = {root};
  while (!parents.empty()) {
    pid_t parent = parents.back();
    parents.pop_back();
    for (const auto& [pid, ppid] : links) {
      if (ppid != parent) continue;
      found.push_back(pid);
      parents.push_back(pid);
    }
  }
  return found;
}

pid_t process_session(pid_t pid) {
  std::string text;
  ProcStat st;
  if (pid <= 0 || read_proc_stat(pid, text, st) || st.session <= 0) return -1;
  return st.session;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  detail::DirStream dir = detail::open_dir("/proc");
  if (!dir) return pids;
  while (dirent* e = ::readdir(dir.get())) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) pids.push_back(static_cast<pid_t>(v));
  }
  return pids;
}

namespace {

bool test_knob(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only use
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace

std::string cgroup2_mount() {
  if (test_knob("WELLD_TEST_NO_CGROUP")) return {};
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount;
    if (fields >> id >> parent >> dev >> root >> mount && root == "/" && mount.find('\\') == std::string::npos) {
      return mount;
    }
  }
  return {};
}

std::string process_cgroup(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/cgroup") : "/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

std::error_code cgroup_members(const std::string& dir, std::vector<pid_t>& out) {
  out.clear();
  UniqueFd fd(::open((dir + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {errno, std::system_category()};
  std::string text;
  if (auto ec = read_whole_fd(fd.get(), text)) return ec;
  std::istringstream in(text);
  for (long v = 0; in >> v;) {
    if (v > 0) out.push_back(static_cast<pid_t>(v));
  }
  return {};
}

bool cgroup_has_kill(const std::string& dir) {
  if (test_knob("WELLD_TEST_NO_CGROUP_KILL")) return false;
  return ::access((dir + "/cgroup.kill").c_str(), W_OK) == 0;
}

}  // namespace welld
