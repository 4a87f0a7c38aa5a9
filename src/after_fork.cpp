// Everything that runs after fork or clone, under WELLD_AFTER_FORK (see
// after_fork.hpp for the rule): step 1 (close the inherited fds), steps 2
// and 3 (signals), step 4's scrub of the original environment block, the
// daemon's steps 9-13 (stdio, umask, chdir, PID file, chroot, limits, the
// privilege drop) and the exec, and the reports to the original process.
#include "after_fork.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <iterator>

#include "proc.hpp"
#include "welld/environment.hpp"
#include "welld/fds.hpp"
#include "welld/pidfile.hpp"
#include "welld/privileges.hpp"
#include "welld/signals.hpp"
#include "welld/unique_fd.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

// How many signals are there? NSIG ("one more than the highest signal number")
// is defined by glibc, musl and the BSDs even though POSIX does not require it.
// Where it is missing, SIGRTMAX + 1 bounds the real-time signals, which are the
// highest numbered ones. sigaction() on a number the system does not let us set
// fails with EINVAL: glibc reserves 32 and 33 for its threading, and those are
// skipped the same way as numbers that are not signals at all.
#ifndef NSIG
#define NSIG (SIGRTMAX + 1)
#endif

namespace welld::detail {

// ---- decimals -------------------------------------------------------------------

WELLD_AFTER_FORK size_t format_decimal(char* buf, size_t size, unsigned long long value) noexcept {
  char tmp[20];  // ULLONG_MAX has 20 digits
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  if (n >= size) {
    if (size > 0) buf[0] = '\0';
    return 0;
  }
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

WELLD_AFTER_FORK bool parse_decimal(const char* text, size_t len, unsigned long long& out) noexcept {
  if (len == 0 || len > 20) return false;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    auto d = static_cast<unsigned long long>(text[i] - '0');
    if (v > (ULLONG_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

}  // namespace welld::detail

namespace welld {

// ---- step 1: close the inherited fds ------------------------------------------
//
// Linux: close_range(2), else /proc/self/fd read with getdents64
// (async-signal-safe, unlike opendir), else a bounded loop.

namespace {

WELLD_AFTER_FORK bool is_kept(std::span<const int> keep, int fd) noexcept {
  return std::ranges::find(keep, fd) != keep.end();
}

// Smallest kept fd strictly greater than `after`, or -1.
WELLD_AFTER_FORK int next_kept(std::span<const int> keep, int after) noexcept {
  int best = -1;
  for (int k : keep) {
    if (k > after && (best < 0 || k < best)) best = k;
  }
  return best;
}

WELLD_AFTER_FORK std::error_code by_close_range(std::span<const int> keep) noexcept {
  // Close the gaps between kept fds: [3, k1-1], [k1+1, k2-1], ..., [kn+1, ~0].
  int low = 3;
  for (;;) {
    int kept = next_kept(keep, low - 1);
    unsigned int high = kept < 0 ? ~0U : static_cast<unsigned int>(kept - 1);
    if (kept < 0 || kept > low) {
      if (::syscall(SYS_close_range, static_cast<unsigned int>(low), high, 0U) != 0) {
        return {errno, std::system_category()};
      }
    }
    if (kept < 0) return {};
    low = kept + 1;
  }
}

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];  // really variable-length, NUL-terminated
};

WELLD_AFTER_FORK std::error_code by_proc_self_fd(std::span<const int> keep) noexcept {
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return {errno, std::system_category()};
  alignas(LinuxDirent64) char buffer[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n < 0) {
      int err = errno;
      ::close(dir);
      return {err, std::system_category()};
    }
    if (n == 0) break;
    for (long offset = 0; offset < n;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      offset += entry->d_reclen;
      unsigned long long number = 0;
      if (!detail::parse_decimal(entry->d_name, std::strlen(entry->d_name), number) || number > INT_MAX) continue;
      int fd = static_cast<int>(number);
      if (fd < 3 || fd == dir || is_kept(keep, fd)) continue;
      ::close(fd);
    }
  }
  ::close(dir);
  return {};
}

WELLD_AFTER_FORK std::error_code by_bounded_loop(std::span<const int> keep) noexcept {
  rlimit limit{};
  rlim_t max = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    max = limit.rlim_cur;
  } else if (limit.rlim_cur == RLIM_INFINITY) {
    max = kMaxLoopFd;
  }
  if (max > static_cast<rlim_t>(kMaxLoopFd)) max = kMaxLoopFd;
  for (int fd = 3; fd < static_cast<int>(max); ++fd) {
    if (!is_kept(keep, fd)) ::close(fd);
  }
  return {};
}

}  // namespace

WELLD_AFTER_FORK std::error_code close_inherited_fds(std::span<const int> keep, CloseMethod method,
                                                     CloseMethod* used) noexcept {
  auto attempt = [&](CloseMethod m) -> std::error_code {
    std::error_code ec;
    switch (m) {
      case CloseMethod::close_range: ec = by_close_range(keep); break;
      case CloseMethod::proc_self_fd: ec = by_proc_self_fd(keep); break;
      case CloseMethod::bounded_loop: ec = by_bounded_loop(keep); break;
      case CloseMethod::automatic: break;
    }
    if (!ec && used != nullptr) *used = m;
    return ec;
  };
  if (method != CloseMethod::automatic) return attempt(method);
  if (!attempt(CloseMethod::close_range)) return {};
  if (!attempt(CloseMethod::proc_self_fd)) return {};
  return attempt(CloseMethod::bounded_loop);
}

// ---- steps 2 and 3: every disposition to SIG_DFL, an empty mask --------------

namespace {

WELLD_AFTER_FORK std::error_code set_default(int sig) noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  if (::sigaction(sig, &action, nullptr) != 0 && errno != EINVAL) return {errno, std::system_category()};
  return {};
}

#ifdef __linux__
// The Linux fast path: /proc/self/status lists the caught (SigCgt) and ignored
// (SigIgn) signals as hex masks; every other signal is already SIG_DFL. Three
// system calls instead of one sigaction per signal. Allocation-free.
WELLD_AFTER_FORK bool non_default_signals(unsigned long long& mask) noexcept {
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  size_t len = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[len] = '\0';
  int found = 0;
  mask = 0;
  for (const char* key : {"SigIgn:", "SigCgt:"}) {
    const char* at = std::strstr(buf, key);
    if (at == nullptr) return false;
    unsigned long long value = 0;
    const char* p = at + std::strlen(key);
    while (*p == ' ' || *p == '\t') ++p;
    int digits = 0;
    for (; std::isxdigit(static_cast<unsigned char>(*p)) != 0; ++p, ++digits) {
      int d = *p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10;
      value = value << 4 | static_cast<unsigned>(d);
    }
    if (digits != 16) return false;
    mask |= value;
    ++found;
  }
  return found == 2;
}
#endif

}  // namespace

WELLD_AFTER_FORK std::error_code reset_signal_dispositions(SignalResetMethod method) noexcept {
#ifdef __linux__
  unsigned long long mask = 0;
  if (method == SignalResetMethod::automatic && NSIG - 1 <= 64 && non_default_signals(mask)) {
    for (int sig = 1; sig < NSIG; ++sig) {
      if ((mask >> (sig - 1) & 1ULL) == 0 || sig == SIGKILL || sig == SIGSTOP) continue;
      if (auto ec = set_default(sig)) return ec;
    }
    return {};
  }
#else
  (void)method;
#endif
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (auto ec = set_default(sig)) return ec;
  }
  return {};
}

WELLD_AFTER_FORK std::error_code empty_signal_mask() noexcept {
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return {errno, std::system_category()};
  return {};
}

// ---- step 13: the privilege drop (resolution is before the fork) -------------

namespace {

// Permitted, effective and inheritable sets to exactly `caps` (raw capset).
WELLD_AFTER_FORK int set_capabilities(const std::vector<int>& caps) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int cap : caps) {
    auto bit = 1U << (cap % 32);
    data[cap / 32].permitted |= bit;
    data[cap / 32].effective |= bit;
    data[cap / 32].inheritable |= bit;
  }
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

}  // namespace

// Raw system calls, not glibc's setuid family: in a multi-threaded process
// those signal every thread to change its credentials too, and spawn_daemon's
// daemon shares the memory (the thread list) of such a caller without being
// one of its threads. The daemon is a process of one thread: the raw call is
// the whole change. (A linear sequence of calls and checks, each its own exit.)
// NOLINTNEXTLINE(readability-function-cognitive-complexity): linear, reads best whole
WELLD_AFTER_FORK std::error_code drop_privileges(const Credentials& creds) noexcept {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  auto call = [](long number, long a, long b = -1, long c = -1) { return ::syscall(number, a, b, c) == 0; };
  auto keep_id = -1L;  // setres[ug]id: leave this one unchanged
  if (!call(SYS_setgroups, static_cast<long>(creds.groups.size()), reinterpret_cast<long>(creds.groups.data()))) {
    return fail(errno);
  }
  if (!call(SYS_setgid, creds.gid)) return fail(errno);
  bool keep = !creds.keep_caps.empty() && creds.uid != 0;
  if (keep && ::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) return fail(errno);
  if (!call(SYS_setuid, creds.uid)) return fail(errno);
  if (keep) {
    if (set_capabilities(creds.keep_caps) != 0) return fail(errno);
    for (int cap : creds.keep_caps) {
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(cap), 0L, 0L) != 0) {
        return fail(errno);
      }
    }
    ::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
  }
  if (creds.uid != 0) {
    // Verify that root cannot be regained (a setuid that only changed the
    // effective uid would let this succeed).
    if (call(SYS_setuid, 0) || call(SYS_setresuid, keep_id, 0, keep_id)) return fail(EPERM);
    if (creds.gid != 0 && (call(SYS_setgid, 0) || call(SYS_setresgid, keep_id, 0, keep_id))) return fail(EPERM);
    gid_t now[256];
    int n = ::getgroups(256, now);
    if (n < 0) return fail(errno);
    for (int i = 0; i < n; ++i) {
      bool asked = now[i] == creds.gid;
      for (gid_t g : creds.groups) asked = asked || g == now[i];
      if (!asked) return fail(EPERM);
    }
  }
  return {};
}

// ---- step 4 in the original environment block ------------------------------

WELLD_AFTER_FORK void scrub_environment_ranges(std::span<const ByteRange> ranges) noexcept {
  for (const auto& r : ranges) {
    // volatile: the compiler must not drop stores to memory it thinks unread.
    auto* v = static_cast<volatile char*>(r.begin);
    for (size_t i = 0; i < r.size; ++i) v[i] = '\0';
  }
}

}  // namespace welld

namespace welld::detail {

WELLD_AFTER_FORK void OwnPidfile::remove() const noexcept {
  if (dir >= 0 && name != nullptr) remove_pidfile_at(dir, name, ::getpid());
  if (dir < 0 && path != nullptr) remove_pidfile(path, ::getpid());
}

WELLD_AFTER_FORK void OwnPidfile::release_host_dir() noexcept {
  if (dir < 0) return;
  ::close(dir);
  dir = -1;
  name = nullptr;
}

WELLD_AFTER_FORK void send(int fd, ReportKind kind, Step step, int error) noexcept {
  Report r{kind, static_cast<std::int32_t>(step), error, static_cast<std::int32_t>(::getpid())};
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

[[noreturn]] WELLD_AFTER_FORK void fail_and_exit(int report_fd, Step step, int error) noexcept {
  send(report_fd, ReportKind::failed, step, error);
  ::_exit(1);
}

namespace {

// Put `fd` at `target` without CLOEXEC (it must survive exec), then drop `fd`.
WELLD_AFTER_FORK bool move_to(int fd, int target) noexcept {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) >= 0;
}

}  // namespace

// Open the log `name` in the trusted directory `dirfd` for appending. Check and
// open are one operation here, in the daemon: created with O_EXCL, or else
// opened without O_CREAT and then checked on the fd (a regular file with one
// link, and in a sticky directory others can write, ours), so a file someone
// creates after the starter looked is never written to. O_NONBLOCK so that a
// FIFO put in the file's place cannot block the daemon; cleared after.
WELLD_AFTER_FORK int open_log_at(int dirfd, const char* name, mode_t mode, bool* created) noexcept {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (created != nullptr) *created = false;
  int fd = ::openat(dirfd, name, kFlags | O_CREAT | O_EXCL, mode);
  if (fd >= 0) {
    if (created != nullptr) *created = true;
    if (::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) == 0) return fd;
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  if (errno != EEXIST) return -1;
  struct stat look {};
  if (::fstatat(dirfd, name, &look, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  if (!S_ISREG(look.st_mode)) {  // never opened: opening a device or FIFO can have effects
    errno = S_ISLNK(look.st_mode) ? ELOOP : EINVAL;
    return -1;
  }
  fd = ::openat(dirfd, name, kFlags);
  if (fd < 0) return -1;
  struct stat st {};
  struct stat dir {};
  int err = 0;
  if (::fstat(fd, &st) != 0 || ::fstat(dirfd, &dir) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    err = EINVAL;
  } else if (st.st_nlink != 1) {
    err = EMLINK;  // another name for the same file: writing the log writes that
  } else if ((dir.st_mode & S_ISVTX) != 0 && (dir.st_mode & (S_IWGRP | S_IWOTH)) != 0 && st.st_uid != 0 &&
             st.st_uid != ::geteuid()) {
    err = EPERM;  // someone else's file in a sticky directory: they would read the output
  }
  if (err == 0 && ::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) != 0) err = errno;
  if (err == 0) return fd;
  ::close(fd);
  errno = err;
  return -1;
}

namespace {

// What fd 1 or 2 gets in step 9: the caller's fd, else the log `name` in
// `dir` (opened now) when a path was given, else `fallback`. -1 with errno
// set when the log cannot be opened.
WELLD_AFTER_FORK int stdio_source(const UniqueFd& fd, const std::string& path, const UniqueFd& dir,
                                  const std::string& name, int fallback) noexcept {
  if (fd) return fd.get();
  if (path.empty()) return fallback;
  return open_log_at(dir.get(), name.c_str());
}

// Stands for "leave this one as the caller has it" (inherit_stdio).
constexpr int kInherited = -2;

// Put `fd` at `target` (see move_to), unless it is to be left alone.
WELLD_AFTER_FORK bool place(int fd, int target) noexcept { return fd == kInherited || move_to(fd, target); }

// Step 9: each of 0, 1 and 2 gets the caller's fd given for it, else its log,
// else /dev/null, or with inherit_stdio stays as the caller has it. The logs'
// directory fds and the copies of the caller's fds are closed afterwards (a
// daemon that does not exec would otherwise hold them, and the mounts they
// are on, for life).
WELLD_AFTER_FORK int redirect_stdio(const Plan& plan) noexcept {
  int null_fd = kInherited;
  if (!plan.inherit_stdio) {
    null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (null_fd < 0) return errno;
  }
  int out = stdio_source(plan.stdout_fd, plan.stdout_path, plan.stdout_dir, plan.stdout_name, null_fd);
  if (out == -1) return errno;
  int err = !plan.stderr_fd && !plan.stderr_path.empty() && plan.stderr_path == plan.stdout_path
                ? out
                : stdio_source(plan.stderr_fd, plan.stderr_path, plan.stderr_dir, plan.stderr_name, null_fd);
  if (err == -1) return errno;
  if (!place(null_fd, 0) || !place(out, 1) || !place(err, 2)) return errno;
  // Each distinct descriptor once: out and err may be null_fd, or each other.
  if (null_fd > 2) ::close(null_fd);
  if (out > 2 && out != null_fd) ::close(out);
  if (err > 2 && err != null_fd && err != out) ::close(err);
  if (plan.stdout_dir) ::close(plan.stdout_dir.get());
  if (plan.stderr_dir) ::close(plan.stderr_dir.get());
  return 0;
}

// Step 6 as the plan says: a new session (always, for a detached daemon), a
// new process group in the caller's session, or nothing. 0 or an errno.
WELLD_AFTER_FORK int enter_session(SessionMode mode) noexcept {
  switch (mode) {
    case SessionMode::new_session: return ::setsid() < 0 ? errno : 0;
    case SessionMode::new_process_group: return ::setpgid(0, 0) != 0 ? errno : 0;
    case SessionMode::inherit: return 0;
  }
  return 0;
}

}  // namespace

WELLD_AFTER_FORK void detach(const Plan& plan, int report_fd) noexcept {
  // The report pipe and every fd the plan keeps (see kMaxKeptFds): the
  // caller's, the PID file's directory, the logs' (a directory or a caller's
  // fd each) and the cgroup's.
  int keep_storage[kMaxKeptFds + 8];
  size_t nkeep = 0;
  keep_storage[nkeep++] = report_fd;
  for (int fd : plan.keep) {
    if (nkeep < std::size(keep_storage)) keep_storage[nkeep++] = fd;
  }
  if (auto ec = close_inherited_fds(std::span<const int>(keep_storage, nkeep), plan.close_method)) {
    fail_and_exit(report_fd, Step::close_fds, ec.value());
  }
  if (auto ec = reset_signal_dispositions()) fail_and_exit(report_fd, Step::reset_signals, ec.value());
  if (auto ec = empty_signal_mask()) fail_and_exit(report_fd, Step::empty_signal_mask, ec.value());
  if (int err = enter_session(plan.session)) fail_and_exit(report_fd, Step::setsid, err);
}

WELLD_AFTER_FORK void become_daemon(const Plan& plan, int report_fd) noexcept {
  detach(plan, report_fd);
  if (!plan.detach) {  // the child stays the caller's: it is the daemon
    send(report_fd, ReportKind::pid);
    return;
  }
  pid_t pid = ::fork();
  if (pid < 0) fail_and_exit(report_fd, Step::fork_again, errno);
  if (pid > 0) ::_exit(0);  // step 8: the session leader goes; init adopts the daemon
  send(report_fd, ReportKind::pid);
}

namespace {

// Place the caller's fds at their numbers. The report pipe and every source
// are first moved above the highest target so no dup2 clobbers them.
WELLD_AFTER_FORK void apply_fd_map(const Plan& plan, int& report_fd) noexcept {
  if (plan.pass_fds.empty()) return;
  int top = report_fd;
  for (const auto& m : plan.pass_fds) top = m.to > top ? m.to : top;
  int moved = ::fcntl(report_fd, F_DUPFD_CLOEXEC, top + 1);
  if (moved < 0) fail_and_exit(report_fd, Step::close_fds, errno);
  ::close(report_fd);
  report_fd = moved;
  int temps[64];
  size_t n = 0;
  for (const auto& m : plan.pass_fds) {
    if (n == 64) break;
    temps[n] = ::fcntl(m.from, F_DUPFD_CLOEXEC, top + 1);
    if (temps[n] < 0) fail_and_exit(report_fd, Step::close_fds, errno);
    ++n;
  }
  for (const auto& m : plan.pass_fds) {
    if (m.from > 2) ::close(m.from);
  }
  for (size_t i = 0; i < n; ++i) {
    if (::dup2(temps[i], plan.pass_fds[i].to) < 0) fail_and_exit(report_fd, Step::close_fds, errno);
    ::close(temps[i]);
  }
}

}  // namespace

namespace {

// The entries whose value is the daemon's own PID, known only after the
// fork: LISTEN_PID (sd_listen_fds) and WATCHDOG_PID (sd_watchdog_enabled).
// The name with its '=' when `entry` is one the plan sets, else null.
WELLD_AFTER_FORK const char* own_pid_name(const Plan& plan, const char* entry) noexcept {
  if (entry == nullptr) return nullptr;
  if (plan.listen_pid && std::strncmp(entry, "LISTEN_PID=", 11) == 0) return "LISTEN_PID=";
  if (plan.watchdog_pid && std::strncmp(entry, "WATCHDOG_PID=", 13) == 0) return "WATCHDOG_PID=";
  return nullptr;
}

// `name` and this process's PID, at most 13 + 10 digits + NUL bytes (pid_max
// is at most 2^22): fits over the plan's "NAME=0000000000".
WELLD_AFTER_FORK void format_own_pid(char* out, const char* name) noexcept {
  size_t len = std::strlen(name);
  std::memcpy(out, name, len + 1);  // with its NUL, overwritten by the digits
  format_decimal(out + len, 11, static_cast<unsigned long long>(::getpid()));
}

}  // namespace

WELLD_AFTER_FORK void set_own_pid_entries(const Plan& plan) noexcept {
  for (char* entry : plan.envp) {
    if (const char* name = own_pid_name(plan, entry)) format_own_pid(entry, name);
  }
}

WELLD_AFTER_FORK Failed confine(const Plan& plan, OwnPidfile& own) noexcept {
  if (!plan.pidfile.empty() && !plan.chroot.empty()) {
    // The host directory's fd reaches the PID file across the chroot.
    own.dir = plan.pidfile_dir.get();
    own.name = plan.pidfile_name.c_str();
  } else if (!plan.pidfile.empty()) {
    own.path = plan.pidfile.c_str();
  }
  if (!plan.chroot.empty()) {
    if (::chroot(plan.chroot.c_str()) != 0) return {Step::chroot, errno};
    if (::chdir(plan.chdir.c_str()) != 0) return {Step::chdir, errno};
  }
  for (const auto& r : plan.rlimits) {
    rlimit lim{r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &lim) != 0) return {Step::limits, errno};
  }
  if (plan.set_nice && ::setpriority(PRIO_PROCESS, 0, plan.nice) != 0) return {Step::limits, errno};
  if (plan.drop) {
    if (auto ec = drop_privileges(plan.creds)) return {Step::drop_privileges, ec.value()};
  }
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
    return {Step::drop_privileges, errno};
  }
  return {};
}

namespace {

// Steps 9-13 in the daemon.
WELLD_AFTER_FORK void settle_daemon(const Plan& plan, int report_fd, OwnPidfile& own) noexcept {
  if (int err = redirect_stdio(plan)) fail_and_exit(report_fd, Step::redirect_stdio, err);
  ::umask(plan.umask);
  // With a chroot the PID file is a host path: write it first, then enter.
  if (plan.chroot.empty() && ::chdir(plan.chdir.c_str()) != 0) fail_and_exit(report_fd, Step::chdir, errno);
  if (!plan.pidfile.empty()) {
    // The service record: our session (setsid made it ours; a child that
    // kept the caller's session records none, so that stop never ends the
    // caller's), and the cgroup once we are in it (children inherit it). A
    // failed move records none, and stop falls back to the session.
    ServiceRecord service = plan.service;
    service.session = plan.session == SessionMode::new_session ? ::getsid(0) : 0;
    if (plan.cgroup.procs) {
      if (::write(plan.cgroup.procs.get(), "0", 1) != 1) service.cgroup[0] = '\0';
      ::close(plan.cgroup.procs.get());
    }
    char service_text[kSideRecordMax];
    format_service_record(service, service_text, sizeof service_text);
    pid_t holder = -1;
    if (auto ec = write_pidfile_at(plan.pidfile_dir.get(), plan.pidfile_name.c_str(), ::getpid(), &holder,
                                   service_text)) {
      Report r{ReportKind::failed, static_cast<std::int32_t>(Step::pidfile), ec.value(), holder};
      while (::write(report_fd, &r, sizeof r) < 0 && errno == EINTR) {
      }
      ::_exit(1);
    }
    // Step 1's promise for a daemon that does not exec: only a chroot needs the
    // directory later (to remove the file); otherwise it is reopened by path.
    if (plan.chroot.empty()) ::close(plan.pidfile_dir.get());
  }
  if (auto [step, err] = confine(plan, own); step != Step::none) {
    own.remove();
    fail_and_exit(report_fd, step, err);
  }
}

}  // namespace

WELLD_AFTER_FORK void settle(const Plan& plan, int& report_fd, OwnPidfile& own) noexcept {
  apply_fd_map(plan, report_fd);
  settle_daemon(plan, report_fd, own);
}

WELLD_AFTER_FORK void arm_parent_death_signal(const Plan& plan, pid_t caller, int report_fd,
                                              const OwnPidfile& own) noexcept {
  if (plan.parent_death_signal == 0) return;
  if (::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(plan.parent_death_signal), 0L, 0L, 0L) != 0) {
    int err = errno;
    own.remove();
    fail_and_exit(report_fd, Step::drop_privileges, err);
  }
  // Reparented before the prctl: the caller died in between, and the signal
  // it would have sent never comes. Nobody is left to report to.
  if (::getppid() != caller) {
    own.remove();
    ::_exit(1);
  }
}

[[noreturn]] WELLD_AFTER_FORK void exec_program(const Plan& plan, int report_fd, const OwnPidfile& own) noexcept {
  send(report_fd, ReportKind::executing);
  char* const* envp = plan.sanitize_env ? plan.envp.data() : environ;
  char own_entries[2][32];  // LISTEN_PID=, WATCHDOG_PID=: one each at most (set() replaces a name)
  if (plan.listen_pid || plan.watchdog_pid) {
    // The plan is the caller's memory: the environment with this daemon's
    // PID in it is a copy of its pointers on this stack (sized for them, see
    // exec_stack_bytes), the entries themselves locals.
    auto** own_envp = static_cast<char**>(__builtin_alloca(exec_stack_bytes(plan)));
    size_t used = 0;
    for (size_t i = 0; i < plan.envp.size(); ++i) {
      const char* name = own_pid_name(plan, plan.envp[i]);
      own_envp[i] = plan.envp[i];
      if (name != nullptr && used < 2) {
        format_own_pid(own_entries[used], name);
        own_envp[i] = own_entries[used++];
      }
    }
    envp = own_envp;
  }
  ::execve(plan.exec_path.c_str(), plan.argv.data(), envp);
  int err = errno;
  own.remove();
  fail_and_exit(report_fd, Step::exec, err);
}

}  // namespace welld::detail

// ---- step 12: the PID file --------------------------------------------------------
//
// See welld/pidfile.hpp for the protocol and the trust rules. Fixed buffers,
// raw syscalls, no stdio: the daemon writes its PID file and removes it after
// fork; inspect_pidfile and the other verbs (pidfile.cpp) call the same code.

namespace welld::detail {

WELLD_AFTER_FORK ssize_t read_all(int fd, char* buf, size_t size) noexcept {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

WELLD_AFTER_FORK bool write_all(int fd, const char* buf, size_t size) noexcept {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, buf + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

WELLD_AFTER_FORK void pause_ms(int ms) noexcept {
  timespec ts{0, static_cast<long>(ms) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Owned by root or by the caller: the only users welld trusts.
WELLD_AFTER_FORK bool trusted_owner(uid_t uid) noexcept { return uid == 0 || uid == ::geteuid(); }

// Writable by someone other than its owner.
WELLD_AFTER_FORK bool shared_writable(mode_t mode) noexcept { return (mode & (S_IWGRP | S_IWOTH)) != 0; }

WELLD_AFTER_FORK bool same_inode(int fd, int dirfd, const char* name) noexcept {
  struct stat a {
  }, b{};
  if (::fstat(fd, &a) != 0 || ::fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

WELLD_AFTER_FORK size_t copy_text(char* out, size_t at, size_t size, const char* text, size_t len) noexcept {
  for (size_t i = 0; i < len && at + 1 < size; ++i) out[at++] = text[i];
  out[at < size ? at : size - 1] = '\0';
  return at;
}

// ---- the trusted directory chain -------------------------------------------------

WELLD_AFTER_FORK void note(DirTrust* why, int error, DirTrust::Problem problem, const char* where, size_t where_len,
                           const struct stat* st) noexcept {
  if (why == nullptr) return;
  why->error = error;
  why->problem = problem;
  copy_text(why->where, 0, sizeof why->where, where, where_len);
  if (st != nullptr) {
    why->owner = st->st_uid;
    why->mode = st->st_mode & 07777;
  }
}

// Whether the directory described by `st` may hold our files.
WELLD_AFTER_FORK DirTrust::Problem judge_directory(const struct stat& st) noexcept {
  if (!trusted_owner(st.st_uid)) return DirTrust::Problem::foreign_owner;
  if (shared_writable(st.st_mode) && (st.st_mode & S_ISVTX) == 0) return DirTrust::Problem::shared_writable;
  return DirTrust::Problem::none;
}

// A sticky directory that others can write to: only its entries that are ours are ours.
WELLD_AFTER_FORK bool sticky_shared(const struct stat& st) noexcept {
  return (st.st_mode & S_ISVTX) != 0 && shared_writable(st.st_mode);
}

// The walk of open_trusted_dir. `pending` holds what is left to walk; a
// symbolic link's target is put in front of it. `walked` is the path walked so
// far, for messages; `cur` the directory reached, `cur_st` its status.
struct TrustedWalk {
  DirTrust* why = nullptr;
  char pending[PATH_MAX];
  size_t pos = 0;
  char walked[PATH_MAX];
  size_t walked_len = 0;
  int cur = -1;
  struct stat cur_st {};
  int links = 0;
};

// The walk ends in failure: noted (at the path walked so far), `cur` closed. Returns false.
WELLD_AFTER_FORK bool walk_fail(TrustedWalk& w, int error, DirTrust::Problem problem, const struct stat* st) noexcept {
  note(w.why, error, problem, w.walked, w.walked_len, st);
  ::close(w.cur);
  return false;
}

// Whether the directory reached may hold our files (false: the walk failed).
WELLD_AFTER_FORK bool judge_current(TrustedWalk& w) noexcept {
  if (DirTrust::Problem p = judge_directory(w.cur_st); p != DirTrust::Problem::none) {
    return walk_fail(w, EPERM, p, &w.cur_st);
  }
  return true;
}

// An absolute link's target is walked from the root again.
WELLD_AFTER_FORK bool restart_at_root(TrustedWalk& w) noexcept {
  int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return walk_fail(w, errno, DirTrust::Problem::none, nullptr);
  ::close(w.cur);
  w.cur = root;
  if (::fstat(w.cur, &w.cur_st) != 0) return walk_fail(w, errno, DirTrust::Problem::none, nullptr);
  w.walked_len = copy_text(w.walked, 0, sizeof w.walked, "/", 1);
  return true;
}

// The link `name` in the directory reached: its target goes in front of what is left.
WELLD_AFTER_FORK bool follow_link(TrustedWalk& w, const char* name) noexcept {
  // A link in a trusted directory was put there by root or the caller:
  // follow it by walking its target, checked the same way.
  if (++w.links > 40) return walk_fail(w, ELOOP, DirTrust::Problem::none, nullptr);
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(w.cur, name, target, sizeof target - 1);
  if (n <= 0) return walk_fail(w, n < 0 ? errno : ENOENT, DirTrust::Problem::none, nullptr);
  size_t rest_len = std::strlen(w.pending + w.pos);
  if (static_cast<size_t>(n) + 1 + rest_len >= sizeof w.pending) {
    return walk_fail(w, ENAMETOOLONG, DirTrust::Problem::none, nullptr);
  }
  char rest[PATH_MAX];
  std::memcpy(rest, w.pending + w.pos, rest_len + 1);
  std::memcpy(w.pending, target, static_cast<size_t>(n));
  w.pending[n] = '/';
  std::memcpy(w.pending + n + 1, rest, rest_len + 1);
  w.pos = 0;
  if (target[0] == '/') return restart_at_root(w);
  // Relative to the directory holding the link: drop the link's name.
  while (w.walked_len > 1 && w.walked[w.walked_len - 1] != '/') --w.walked_len;
  if (w.walked_len > 1) --w.walked_len;
  w.walked[w.walked_len] = '\0';
  return true;
}

// Into the directory `name` (whose status is `st`) of the directory reached.
WELLD_AFTER_FORK bool descend(TrustedWalk& w, const char* name, const struct stat& st) noexcept {
  int next = ::openat(w.cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (next < 0) return walk_fail(w, errno, DirTrust::Problem::none, nullptr);
  struct stat next_st {};
  if (::fstat(next, &next_st) != 0 || next_st.st_dev != st.st_dev || next_st.st_ino != st.st_ino) {
    ::close(next);
    return walk_fail(w, EAGAIN, DirTrust::Problem::none, nullptr);  // replaced while we looked: only root or us could
  }
  ::close(w.cur);
  w.cur = next;
  w.cur_st = next_st;
  return judge_current(w);
}

// The next component of what is left to walk (not at its end): skipped ("."),
// followed (a link) or entered (a directory). False: the walk failed.
WELLD_AFTER_FORK bool walk_step(TrustedWalk& w) noexcept {
  char name[NAME_MAX + 1];
  size_t len = 0;
  while (w.pending[w.pos] != '/' && w.pending[w.pos] != '\0') {
    if (len == NAME_MAX) return walk_fail(w, ENAMETOOLONG, DirTrust::Problem::none, nullptr);
    name[len++] = w.pending[w.pos++];
  }
  name[len] = '\0';
  if (len == 1 && name[0] == '.') return true;
  if (w.walked_len > 1) w.walked_len = copy_text(w.walked, w.walked_len, sizeof w.walked, "/", 1);
  w.walked_len = copy_text(w.walked, w.walked_len, sizeof w.walked, name, len);
  struct stat st {};
  if (::fstatat(w.cur, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return walk_fail(w, errno, DirTrust::Problem::none, nullptr);
  // In a sticky directory others can write, an entry that is not ours could
  // be theirs: they may not rename ours, but anything of theirs is theirs to change.
  if (sticky_shared(w.cur_st) && !trusted_owner(st.st_uid)) {
    return walk_fail(w, EPERM, DirTrust::Problem::foreign_entry, &st);
  }
  if (S_ISLNK(st.st_mode)) return follow_link(w, name);
  if (!S_ISDIR(st.st_mode)) return walk_fail(w, ENOTDIR, DirTrust::Problem::none, nullptr);
  return descend(w, name, st);
}

// Split absolute `path` into its directory (opened as a trusted chain) and its last component.
WELLD_AFTER_FORK int open_parent(const char* path, const char** name, DirTrust* why) noexcept {
  const char* slash = path == nullptr ? nullptr : std::strrchr(path, '/');
  if (slash == nullptr || path[0] != '/' || slash[1] == '\0') {
    if (why != nullptr) *why = DirTrust{};
    note(why, EINVAL, DirTrust::Problem::relative, path == nullptr ? "" : path, path == nullptr ? 0 : std::strlen(path),
         nullptr);
    return -1;
  }
  char dir[PATH_MAX];
  size_t len = slash == path ? 1 : static_cast<size_t>(slash - path);
  if (len >= sizeof dir) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(dir, path, len);
  dir[len] = '\0';
  *name = slash + 1;
  return open_trusted_dir(dir, why);
}

// ---- the side record -----------------------------------------------------------

constexpr const char kRecordPrefix[] = ".";
constexpr const char kRecordSuffix[] = ".welld";

// ".NAME.welld" into `out` (NAME_MAX + 1 bytes); false when too long.
WELLD_AFTER_FORK bool record_name(const char* name, char* out, const char* extra = "") noexcept {
  size_t n = std::strlen(name);
  size_t e = std::strlen(extra);
  if (1 + n + sizeof kRecordSuffix - 1 + e > NAME_MAX) return false;
  size_t at = copy_text(out, 0, NAME_MAX + 1, kRecordPrefix, 1);
  at = copy_text(out, at, NAME_MAX + 1, name, n);
  at = copy_text(out, at, NAME_MAX + 1, kRecordSuffix, sizeof kRecordSuffix - 1);
  copy_text(out, at, NAME_MAX + 1, extra, e);
  return true;
}

WELLD_AFTER_FORK size_t format_identity(pid_t pid, unsigned long long start, char* out, size_t size) noexcept {
  size_t n = format_decimal(out, size, static_cast<unsigned long long>(pid));
  out[n++] = ' ';
  return n + format_decimal(out + n, size - n, start);
}

// The side record's text for the PID file `target` (see pidfile.hpp), with
// the service record's lines `service` (may be empty) after the identity.
WELLD_AFTER_FORK size_t format_record(const struct stat& target, pid_t pid, unsigned long long start,
                                      const char* service, char* out) noexcept {
  size_t n = copy_text(out, 0, kSideRecordMax, "welld-pidfile 1\ninode ", 22);
  n += format_decimal(out + n, kSideRecordMax - n, static_cast<unsigned long long>(target.st_dev));
  out[n++] = ' ';
  n += format_decimal(out + n, kSideRecordMax - n, static_cast<unsigned long long>(target.st_ino));
  n = copy_text(out, n, kSideRecordMax, "\nidentity ", 10);
  n += format_identity(pid, start, out + n, kSideRecordMax - n);
  out[n++] = '\n';
  n = copy_text(out, n, kSideRecordMax, service, std::strlen(service));
  out[n] = '\0';
  return n;
}

// Publish the side record for the PID file `target` (a temporary name, then rename).
WELLD_AFTER_FORK int write_record(int dirfd, const char* name, const struct stat& target, pid_t pid,
                                  unsigned long long start, const char* service) noexcept {
  char record[NAME_MAX + 1];
  char temp[NAME_MAX + 1];
  char digits[24];
  digits[0] = '~';
  format_decimal(digits + 1, sizeof digits - 1, static_cast<unsigned long long>(::getpid()));
  if (!record_name(name, record) || !record_name(name, temp, digits)) return ENAMETOOLONG;
  int fd = ::openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0 && errno == EEXIST && ::unlinkat(dirfd, temp, 0) == 0) {  // left by a killed writer of our PID
    fd = ::openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
  }
  if (fd < 0) return errno;
  char text[kSideRecordMax + 1];
  size_t len = format_record(target, pid, start, service, text);
  int err = 0;
  if (!write_all(fd, text, len) || ::fchmod(fd, 0644) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::renameat(dirfd, temp, dirfd, record) != 0) err = errno;
  if (err != 0) ::unlinkat(dirfd, temp, 0);
  return err;
}

WELLD_AFTER_FORK void remove_record(int dirfd, const char* name) noexcept {
  char record[NAME_MAX + 1];
  if (record_name(name, record)) ::unlinkat(dirfd, record, 0);
}

// The identity in the side record of the PID file `target` (owned by
// `target.st_uid`), if there is one we can believe.
WELLD_AFTER_FORK bool recorded_in_side_record(int dirfd, const char* name, const struct stat& target,
                                              ProcessIdentity& out, ServiceRecord& service) noexcept {
  char record[NAME_MAX + 1];
  if (!record_name(name, record)) return false;
  struct stat st {};
  if (::fstatat(dirfd, record, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      (st.st_uid != 0 && st.st_uid != target.st_uid) || shared_writable(st.st_mode)) {
    return false;
  }
  UniqueFd fd(::openat(dirfd, record, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat opened {};
  if (!fd || ::fstat(fd.get(), &opened) != 0 || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) return false;
  char buf[kSideRecordMax];
  ssize_t n = read_all(fd.get(), buf, sizeof buf);
  if (n <= 0) return false;
  auto parsed = parse_side_record(std::string_view(buf, static_cast<size_t>(n)));
  if (!parsed || parsed->dev != static_cast<unsigned long long>(target.st_dev) ||
      parsed->ino != static_cast<unsigned long long>(target.st_ino)) {
    return false;  // another file's record: the PID file was renamed or replaced since
  }
  out = parsed->identity;
  service = parsed->service;
  return true;
}

// The identity of the PID file open at `fd`, and its service record: its
// extended attributes, else its side record. A malformed service record counts
// as none (the identity still holds).
WELLD_AFTER_FORK bool stored_identity(int fd, int dirfd, const char* name, ProcessIdentity& out,
                                      ServiceRecord& service) noexcept {
  char buf[48];
  ssize_t n = ::fgetxattr(fd, kIdentityXattr, buf, sizeof buf - 1);
  if (n > 0) {
    auto identity = parse_identity(std::string_view(buf, static_cast<size_t>(n)));
    if (!identity) return false;
    out = *identity;
    char text[kSideRecordMax];
    ssize_t len = ::fgetxattr(fd, kServiceXattr, text, sizeof text);
    if (len > 0) {
      if (auto parsed = parse_service_record(std::string_view(text, static_cast<size_t>(len)))) service = *parsed;
    }
    return true;
  }
  struct stat st {};
  return ::fstat(fd, &st) == 0 && recorded_in_side_record(dirfd, name, st, out, service);
}

// Start time of `pid` as CLOCK_REALTIME nanoseconds (for files without identity).
WELLD_AFTER_FORK long long start_time_realtime_ns(unsigned long long ticks) noexcept {
  timespec real{}, boot{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  long long boot_epoch_ns = (real.tv_sec - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
  long tck = clock_ticks_per_second();
  return boot_epoch_ns + static_cast<long long>(ticks) * (1000000000LL / tck);
}

// What the open, locked-or-not file at `fd` (named `name` in `dirfd`) says.
WELLD_AFTER_FORK Judgement judge(int fd, int dirfd, const char* name) noexcept {
  Judgement j;
  char buf[64];
  ssize_t n = read_all(fd, buf, sizeof buf);
  if (n < 0) {
    j.state = PidfileState::unreadable;
    return j;
  }
  if (n == 0) return j;  // empty: a writer is mid-way, or nothing
  j.pid = parse_pid(std::string_view(buf, static_cast<size_t>(n)));
  if (j.pid < 0) {
    j.state = PidfileState::invalid;
    auto len = static_cast<size_t>(n);
    if (len < sizeof buf && buf[len - 1] == '\n') --len;
    j.numeric = len > 0 && len < sizeof buf;
    for (size_t i = 0; i < len && j.numeric; ++i) j.numeric = buf[i] >= '0' && buf[i] <= '9';
    return j;
  }
  ProcessIdentity identity;
  ServiceRecord service;
  bool has_identity = stored_identity(fd, dirfd, name, identity, service);
  j.has_identity = has_identity && identity.pid == j.pid;
  if (j.has_identity) j.service = service;
  unsigned long long live = process_start_time(j.pid);
  if (has_identity) j.recorded = identity.start_time;
  if (live == 0) {
    j.state = PidfileState::stale;
    return j;
  }
  if (has_identity) {
    j.state = identity.pid == j.pid && live == identity.start_time ? PidfileState::running : PidfileState::stale;
    return j;
  }
  // No identity: a process that started after the file was written cannot be
  // the one that wrote it (1 s of slack for clock granularity).
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    j.state = PidfileState::unreadable;
    return j;
  }
  long long written = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  j.state = start_time_realtime_ns(live) > written + 1000000000LL ? PidfileState::stale : PidfileState::unverified;
  return j;
}

WELLD_AFTER_FORK unsigned long long read_start_time(pid_t pid, int& err) noexcept {
  char path[40] = "/proc/";
  size_t len = 6 + format_decimal(path + 6, sizeof path - 6, static_cast<unsigned long long>(pid));
  std::memcpy(path + len, "/stat", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return 0;
  }
  char buf[1024];
  ssize_t n = read_all(fd, buf, sizeof buf - 1);
  err = n < 0 ? errno : ESRCH;
  ::close(fd);
  if (n <= 0) return 0;
  ProcStat st;
  // A zombie (Z) or a dead task (X) has no start time worth pinning: dead.
  if (!parse_proc_stat(std::string_view(buf, static_cast<size_t>(n)), st) || st.state == 'Z' || st.state == 'X' ||
      st.start_time == 0) {
    return 0;
  }
  err = 0;
  return st.start_time;
}

// Bits of ServiceRecord keys already seen (duplicates are refused).
enum : unsigned { kSeenSession = 1, kSeenCgroup = 2, kSeenStopSignal = 4, kSeenStopTimeout = 8, kSeenReload = 16 };

WELLD_AFTER_FORK bool parse_signal_number(std::string_view value, int& out) noexcept {
  unsigned long long v = 0;
  if (!parse_decimal(value.data(), value.size(), v) || v < 1 || v > 64) return false;
  out = static_cast<int>(v);
  return true;
}

// One "KEY VALUE" line of a service record into `record`. True for a good
// line and for a key that is not a service key (ignored); false for a
// malformed value or a duplicate.
WELLD_AFTER_FORK bool apply_service_line(std::string_view key, std::string_view value, ServiceRecord& record,
                                         unsigned& seen) noexcept {
  auto once = [&seen](unsigned bit) {
    if ((seen & bit) != 0) return false;
    seen |= bit;
    return true;
  };
  if (key == "session") {
    unsigned long long v = 0;
    if (!once(kSeenSession) || !parse_decimal(value.data(), value.size(), v) || v <= 1 || v > INT_MAX) return false;
    record.session = static_cast<pid_t>(v);
  } else if (key == "cgroup") {
    if (!once(kSeenCgroup) || value.empty() || value.front() != '/' || value.size() >= kCgroupPathMax ||
        value.find('\0') != std::string_view::npos) {
      return false;
    }
    std::memcpy(record.cgroup, value.data(), value.size());
    record.cgroup[value.size()] = '\0';
  } else if (key == "stop-signal") {
    if (!once(kSeenStopSignal) || !parse_signal_number(value, record.stop_signal)) return false;
  } else if (key == "stop-timeout") {
    if (!once(kSeenStopTimeout) || !parse_decimal(value.data(), value.size(), record.stop_timeout_ms)) return false;
  } else if (key == "reload-signal") {
    if (!once(kSeenReload) || !parse_signal_number(value, record.reload_signal)) return false;
  }
  return true;
}

WELLD_AFTER_FORK size_t append_line(char* out, size_t at, size_t size, const char* key, const char* value,
                                    size_t len) noexcept {
  size_t klen = std::strlen(key);
  if (at == SIZE_MAX || at + klen + 1 + len + 2 > size) return SIZE_MAX;
  at = copy_text(out, at, size, key, klen);
  out[at++] = ' ';
  at = copy_text(out, at, size, value, len);
  out[at++] = '\n';
  out[at] = '\0';
  return at;
}

WELLD_AFTER_FORK size_t append_number(char* out, size_t at, size_t size, const char* key,
                                      unsigned long long value) noexcept {
  char digits[24];
  size_t len = format_decimal(digits, sizeof digits, value);
  return append_line(out, at, size, key, digits, len);
}

// Why an existing PID file may not be touched: 0 when it may.
WELLD_AFTER_FORK int refuse_existing(const struct stat& st) noexcept {
  if (!S_ISREG(st.st_mode)) return S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
  if (!trusted_owner(st.st_uid) || shared_writable(st.st_mode)) return EPERM;
  if (st.st_nlink != 1) return EMLINK;  // another name for the same file: writing it writes that
  return 0;
}

// What one look and open of open_pidfile came to.
enum class OpenAttempt { opened, failed, again };

// The file opened at `fd` must be the one looked at (`before`), and still one
// we may touch; otherwise `fd` is closed.
WELLD_AFTER_FORK OpenAttempt check_opened(int fd, const struct stat& before, int& err) noexcept {
  struct stat st {};
  // Replaced between the look and the open, or unlinked since the open (a
  // stop or a replacing start: no link left, which is not "other links").
  if (::fstat(fd, &st) != 0 || st.st_ino != before.st_ino || st.st_dev != before.st_dev || st.st_nlink == 0) {
    ::close(fd);
    return OpenAttempt::again;
  }
  if ((err = refuse_existing(st)) != 0) {
    ::close(fd);
    return OpenAttempt::failed;
  }
  return OpenAttempt::opened;
}

// One look at `name` and one open: the file in `fd` (opened), a refusal or a
// failure in `err` (failed), or again when the name changed meanwhile.
WELLD_AFTER_FORK OpenAttempt try_open_pidfile(int dirfd, const char* name, bool create, int& fd, int& err,
                                              bool* created) noexcept {
  if (created != nullptr) *created = false;
  struct stat before {};
  fd = -1;
  if (::fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) == 0) {
    // No link left: unlinked between the name's lookup and the stat.
    if (before.st_nlink == 0) return OpenAttempt::again;
    if ((err = refuse_existing(before)) != 0) return OpenAttempt::failed;
    fd = ::openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) return OpenAttempt::again;  // removed meanwhile
  } else if (errno == ENOENT && create) {
    fd = ::openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 && errno == EEXIST) return OpenAttempt::again;  // lost a creation race: look again
    if (fd >= 0) {
      if (created != nullptr) *created = true;
      return OpenAttempt::opened;
    }
  }
  if (fd < 0) {
    err = errno;
    return OpenAttempt::failed;
  }
  return check_opened(fd, before, err);
}

// Open `name` in `dirfd` for the protocol. The name is checked before it is
// opened (a device or FIFO is never opened), then the file opened is checked
// to be the one checked. `*created` (when given) tells whether this call created it.
WELLD_AFTER_FORK int open_pidfile(int dirfd, const char* name, bool create, int& err, bool* created) noexcept {
  for (;;) {
    int fd = -1;
    OpenAttempt attempt = try_open_pidfile(dirfd, name, create, fd, err, created);
    if (attempt != OpenAttempt::again) return attempt == OpenAttempt::opened ? fd : -1;
  }
}

// Take the OFD write lock on `fd`, waiting (bounded) for a concurrent holder.
WELLD_AFTER_FORK bool lock_pidfile(int fd, int& err) noexcept {
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  // Holders keep the lock for a few syscalls: 5 s is far more than enough.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return true;
    if (errno != EAGAIN && errno != EACCES) {
      err = errno;
      return false;
    }
    pause_ms(5);
  }
  err = EAGAIN;
  return false;
}

WELLD_AFTER_FORK bool no_user_xattrs(int err) noexcept {
  // ENOTSUP (== EOPNOTSUPP): the file system has no user extended attributes
  // (ramfs, tmpfs before 6.6, NFSv3, vfat); EPERM: it refuses them on this file.
  return err == ENOTSUP || err == EPERM;
}

// The contents of a PID file for `pid`, written into `fd` (named `name` in
// `dirfd` once published): the PID and a newline, and the identity, in the
// extended attribute or else in the side record. `fresh`: the file is new
// (unnamed or just created by us), so its mode is set to 0644 whatever the
// umask; an existing file's mode is never changed. Returns 0 or an errno.
WELLD_AFTER_FORK int fill_pidfile(int fd, int dirfd, const char* name, pid_t pid, unsigned long long start, bool fresh,
                                  const char* service) noexcept {
  if (service == nullptr) service = "";
  if (start == 0) return ESRCH;  // never a file without identity
  char text[32];
  size_t len = format_decimal(text, sizeof text, static_cast<unsigned long long>(pid));
  text[len++] = '\n';
  char identity[48];
  size_t identity_len = format_identity(pid, start, identity, sizeof identity);
  if (!fresh && ::ftruncate(fd, 0) != 0) return errno;
  if (!write_all(fd, text, len)) return errno;
  if (fresh && ::fchmod(fd, 0644) != 0) return errno;
  if (::fsetxattr(fd, kIdentityXattr, identity, identity_len, 0) == 0) {
    remove_record(dirfd, name);  // an older record must not outlive the file it described
    size_t service_len = std::strlen(service);
    if (service_len > 0) {
      if (::fsetxattr(fd, kServiceXattr, service, service_len, 0) != 0) return errno;
    } else if (::fremovexattr(fd, kServiceXattr) != 0 && errno != ENODATA) {
      return errno;  // an older service record must not describe this daemon
    }
    return 0;
  }
  if (!no_user_xattrs(errno)) return errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  return write_record(dirfd, name, st, pid, start, service);
}

WELLD_AFTER_FORK bool unnamed_files_unsupported(int err) noexcept {
  // EISDIR: a kernel without O_TMPFILE opened the directory itself.
  return err == EOPNOTSUPP || err == ENOTSUP || err == EISDIR || err == EINVAL;
}

// Publish a complete file for `pid` at `name` in `dirfd`. With `replace`, the
// file now there is ours to replace (locked, and checked to be the one at the name).
WELLD_AFTER_FORK Published publish_unnamed(int dirfd, const char* name, pid_t pid, unsigned long long start,
                                           bool replace, const char* service) noexcept {
  // Linking an unnamed file by name goes through /proc/self/fd (linkat with
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH): without /proc, write in place.
  if (::access("/proc/self/fd", X_OK) != 0) return {Published::not_attempted, EOPNOTSUPP};
  int fd = ::openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return {Published::not_attempted, errno};
  if (int err = fill_pidfile(fd, dirfd, name, pid, start, true, service)) {
    ::close(fd);  // the unnamed file goes with its last descriptor
    return {Published::not_attempted, err};
  }
  char proc[40] = "/proc/self/fd/";
  format_decimal(proc + 14, sizeof proc - 14, static_cast<unsigned long long>(fd));
  // Between the unlink and the link the name is absent: a reader then sees
  // "not running", which is true, as the file being replaced is stale.
  if (replace && ::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
    int err = errno;
    ::close(fd);
    return {Published::not_attempted, err};
  }
  Published result{Published::done, 0};
  if (::linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) != 0) {
    result = {errno == EEXIST ? Published::lost_race : Published::failed, errno};
    if (result.outcome == Published::failed) remove_record(dirfd, name);
  }
  ::close(fd);
  return result;
}

WELLD_AFTER_FORK std::error_code as_error(int err) noexcept { return {err, std::system_category()}; }

// Remove `name` and its side record if it names `who`: with a start time, the
// identity recorded must be that one; without, the process it names must not
// be a live one other than the caller (a live match is someone's fresh file).
WELLD_AFTER_FORK void remove_matching(int dirfd, const char* name, const ProcessIdentity& who) noexcept {
  if (name == nullptr || *name == '\0') return;
  int err = 0;
  int fd = open_pidfile(dirfd, name, false, err);
  if (fd < 0) return;
  if (lock_pidfile(fd, err) && same_inode(fd, dirfd, name)) {
    Judgement j = judge(fd, dirfd, name);
    bool match = j.pid == who.pid;
    if (match && who.start_time != 0) {
      match = j.has_identity ? j.recorded == who.start_time : j.state != PidfileState::unverified;
    } else if (match) {
      match = j.state != PidfileState::running && j.state != PidfileState::unverified;
    }
    if (match) {
      // The record first: while we hold the lock no writer publishes here, and
      // a reader between the two sees a file without identity, never a wrong one.
      remove_record(dirfd, name);
      ::unlinkat(dirfd, name, 0);
    }
  }
  ::close(fd);
}

// ---- writing the daemon's PID file -------------------------------------------------

// One pass of write_pidfile_at came to this instead of 0 or an errno: the name
// changed under it, start over.
constexpr int kStartOver = -1;

// The file at the name for one pass, opened (`created` tells whether by this
// call), or -1 and `result`: there was none and a complete one was published
// straight away (0), an errno, or kStartOver.
WELLD_AFTER_FORK int open_or_publish(int dirfd, const char* name, pid_t self, unsigned long long start,
                                     const char* service, bool& created, int& result) noexcept {
  int err = 0;
  int fd = open_pidfile(dirfd, name, false, err);
  if (fd < 0 && err == ENOENT) {
    Published p = publish_unnamed(dirfd, name, self, start, false, service);
    if (p.outcome != Published::not_attempted && p.outcome != Published::failed) {
      result = p.outcome == Published::done ? 0 : kStartOver;
      return -1;
    }
    if (p.outcome == Published::failed || !unnamed_files_unsupported(p.error)) {
      result = p.error;
      return -1;
    }
    // No unnamed files here: create the file, then write it under the lock.
    fd = open_pidfile(dirfd, name, true, err, &created);
  }
  if (fd < 0) result = err;
  return fd;
}

// The lock on `fd` failed: not a contention (that is waited out) but a failing
// lock (ENOLCK...): the empty file we created would be left behind. Without the
// lock, its size tells whether another starter has written it since. Closes
// `fd`; returns `err`.
WELLD_AFTER_FORK int unlocked_failure(int fd, int dirfd, const char* name, bool created, int err) noexcept {
  struct stat st {};
  if (created && ::fstat(fd, &st) == 0 && st.st_size == 0 && same_inode(fd, dirfd, name)) {
    ::unlinkat(dirfd, name, 0);
  }
  ::close(fd);
  return err;
}

// Whether the file `j` describes is not ours to replace, and why (`refusal`;
// `holder` gets the PID of a live holder).
WELLD_AFTER_FORK bool refuses_replacing(const Judgement& j, pid_t self, pid_t* holder, int& refusal) noexcept {
  if ((j.state == PidfileState::running || j.state == PidfileState::unverified) && j.pid != self) {
    if (holder != nullptr) *holder = j.pid;
    refusal = EEXIST;
    return true;
  }
  if ((j.state == PidfileState::invalid && !j.numeric) || j.state == PidfileState::unreadable) {
    // Not empty, not a number: someone's data. Never replaced (ENOTEMPTY).
    refusal = j.state == PidfileState::invalid ? ENOTEMPTY : errno;
    return true;
  }
  return false;
}

// Stale, ours, or just created empty, and locked at `fd`: replace it with a
// complete file, or else rewrite it in place (we hold the lock). Closes `fd`;
// returns 0, an errno, or kStartOver.
WELLD_AFTER_FORK int replace_locked(int fd, int dirfd, const char* name, pid_t self, unsigned long long start,
                                    bool created, const char* service) noexcept {
  Published p = publish_unnamed(dirfd, name, self, start, true, service);
  if (p.outcome == Published::not_attempted && !unnamed_files_unsupported(p.error)) {
    ::close(fd);  // a real failure (ENOSPC...): the stale file stays as it was
    return p.error;
  }
  if (p.outcome != Published::not_attempted) {
    ::close(fd);
    if (p.outcome == Published::lost_race) return kStartOver;
    return p.outcome == Published::done ? 0 : p.error;
  }
  if (int write_err = fill_pidfile(fd, dirfd, name, self, start, created, service)) {
    remove_record(dirfd, name);
    ::unlinkat(dirfd, name, 0);  // ours: we hold the lock; nothing half-written stays
    ::close(fd);
    return write_err;
  }
  ::close(fd);  // releases the lock
  return 0;
}

// One pass of write_pidfile_at: 0, an errno, or kStartOver.
WELLD_AFTER_FORK int write_pass(int dirfd, const char* name, pid_t self, unsigned long long start, pid_t* holder,
                                const char* service) noexcept {
  bool created = false;
  int result = 0;
  int fd = open_or_publish(dirfd, name, self, start, service, created, result);
  if (fd < 0) return result;
  int err = 0;
  if (!lock_pidfile(fd, err)) return unlocked_failure(fd, dirfd, name, created, err);
  if (!same_inode(fd, dirfd, name)) {  // unlinked or replaced after we opened it
    ::close(fd);
    return kStartOver;
  }
  Judgement j = judge(fd, dirfd, name);
  int refusal = 0;
  if (refuses_replacing(j, self, holder, refusal)) {
    ::close(fd);
    return refusal;
  }
  return replace_locked(fd, dirfd, name, self, start, created, service);
}

}  // namespace welld::detail

namespace welld {

using detail::append_line;
using detail::append_number;
using detail::apply_service_line;
using detail::as_error;
using detail::copy_text;
using detail::judge_current;
using detail::kStartOver;
using detail::note;
using detail::open_parent;
using detail::parse_decimal;
using detail::read_start_time;
using detail::remove_matching;
using detail::TrustedWalk;
using detail::walk_step;
using detail::write_pass;

namespace {

// `field` as a whole number into `out`; `out` unchanged when it is not one.
template <typename T>
WELLD_AFTER_FORK void stat_number(std::string_view field, T& out) noexcept {
  T v{};
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec == std::errc() && end == field.data() + field.size()) out = v;
}

}  // namespace

// The one /proc/PID/stat parser (proc.hpp); here because the PID file's
// after-fork steps read start times with it.
WELLD_AFTER_FORK bool parse_proc_stat(std::string_view text, ProcStat& out) noexcept {
  out = ProcStat{};
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return false;
  out.comm = text.substr(open + 1, close - open - 1);
  size_t at = close + 1;
  int field = 2;
  while (field < 51) {
    at = text.find_first_not_of(" \n", at);
    if (at == std::string_view::npos) break;
    size_t end = text.find_first_of(" \n", at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view f = text.substr(at, end - at);
    at = end;
    switch (++field) {
      case 3: out.state = f.front(); break;
      case 4: stat_number(f, out.ppid); break;
      case 5: stat_number(f, out.pgrp); break;
      case 6: stat_number(f, out.session); break;
      case 7: stat_number(f, out.tty_nr); break;
      case 9: stat_number(f, out.flags); break;
      case 22: stat_number(f, out.start_time); break;
      case 50: stat_number(f, out.env_start); break;
      case 51: stat_number(f, out.env_end); break;
      default: break;
    }
  }
  return field >= 6;
}

WELLD_AFTER_FORK int open_trusted_dir(const char* dir, DirTrust* why) noexcept {
  if (why != nullptr) *why = DirTrust{};
  if (dir == nullptr || dir[0] != '/') {
    note(why, EINVAL, DirTrust::Problem::relative, dir == nullptr ? "" : dir, dir == nullptr ? 0 : std::strlen(dir),
         nullptr);
    return -1;
  }
  TrustedWalk w;
  w.why = why;
  size_t dir_len = std::strlen(dir);
  if (dir_len >= sizeof w.pending) {
    note(why, ENAMETOOLONG, DirTrust::Problem::none, dir, dir_len, nullptr);
    return -1;
  }
  std::memcpy(w.pending, dir, dir_len + 1);
  w.walked_len = copy_text(w.walked, 0, sizeof w.walked, "/", 1);
  w.cur = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (w.cur < 0 || ::fstat(w.cur, &w.cur_st) != 0) {
    note(why, errno, DirTrust::Problem::none, "/", 1, nullptr);
    if (w.cur >= 0) ::close(w.cur);
    return -1;
  }
  if (!judge_current(w)) return -1;
  for (;;) {
    while (w.pending[w.pos] == '/') ++w.pos;
    if (w.pending[w.pos] == '\0') return w.cur;
    if (!walk_step(w)) return -1;
  }
}

WELLD_AFTER_FORK unsigned long long process_start_time(pid_t pid) noexcept {
  int err = 0;
  return read_start_time(pid, err);
}

WELLD_AFTER_FORK pid_t parse_pid(std::string_view text) noexcept {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  unsigned long long v = 0;
  if (!parse_decimal(text.data(), text.size(), v)) return -1;
  if (v <= 1 || v > static_cast<unsigned long long>(INT_MAX)) return -1;
  return static_cast<pid_t>(v);
}

WELLD_AFTER_FORK std::optional<ProcessIdentity> parse_identity(std::string_view text) noexcept {
  size_t space = text.find(' ');
  unsigned long long pid = 0;
  ProcessIdentity identity;
  if (space == std::string_view::npos || !parse_decimal(text.data(), space, pid) || pid > INT_MAX ||
      !parse_decimal(text.data() + space + 1, text.size() - space - 1, identity.start_time)) {
    return std::nullopt;
  }
  identity.pid = static_cast<pid_t>(pid);
  return identity;
}

WELLD_AFTER_FORK size_t format_service_record(const ServiceRecord& record, char* out, size_t size) noexcept {
  if (size == 0) return 0;
  out[0] = '\0';
  size_t at = 0;
  if (record.session > 1) at = append_number(out, at, size, "session", static_cast<unsigned long long>(record.session));
  size_t cgroup_len = ::strnlen(record.cgroup, kCgroupPathMax);
  if (cgroup_len > 0 && cgroup_len < kCgroupPathMax) {
    at = append_line(out, at, size, "cgroup", record.cgroup, cgroup_len);
  }
  if (record.stop_signal > 0) {
    at = append_number(out, at, size, "stop-signal", static_cast<unsigned long long>(record.stop_signal));
  }
  if (record.stop_timeout_ms > 0) at = append_number(out, at, size, "stop-timeout", record.stop_timeout_ms);
  if (record.reload_signal > 0) {
    at = append_number(out, at, size, "reload-signal", static_cast<unsigned long long>(record.reload_signal));
  }
  if (at == SIZE_MAX) {
    out[0] = '\0';
    return 0;
  }
  return at;
}

namespace {

// The first "KEY VALUE" line of a record's `text` (each line ends in '\n',
// which the callers have checked of the last), taken off `text`. False for a
// line without a key.
WELLD_AFTER_FORK bool next_record_line(std::string_view& text, std::string_view& key,
                                       std::string_view& value) noexcept {
  size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end + 1);
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  key = line.substr(0, space);
  value = line.substr(space + 1);
  return true;
}

}  // namespace

WELLD_AFTER_FORK std::optional<ServiceRecord> parse_service_record(std::string_view text) noexcept {
  if (text.size() > kSideRecordMax || (!text.empty() && text.back() != '\n')) return std::nullopt;
  ServiceRecord record;
  unsigned seen = 0;
  std::string_view key;
  std::string_view value;
  while (!text.empty()) {
    if (!next_record_line(text, key, value) || !apply_service_line(key, value, record, seen)) return std::nullopt;
  }
  return record;
}

WELLD_AFTER_FORK std::optional<SideRecord> parse_side_record(std::string_view text) noexcept {
  constexpr std::string_view kHeader = "welld-pidfile 1\n";
  if (text.size() > kSideRecordMax || text.substr(0, kHeader.size()) != kHeader || text.back() != '\n') {
    return std::nullopt;
  }
  text.remove_prefix(kHeader.size());
  SideRecord record;
  unsigned seen = 0;
  bool bad_service = false;
  bool have_inode = false;
  bool have_identity = false;
  std::string_view key;
  std::string_view value;
  while (!text.empty()) {
    if (!next_record_line(text, key, value)) return std::nullopt;
    if (key == "inode") {
      size_t sep = value.find(' ');
      if (have_inode || sep == std::string_view::npos || !parse_decimal(value.data(), sep, record.dev) ||
          !parse_decimal(value.data() + sep + 1, value.size() - sep - 1, record.ino)) {
        return std::nullopt;
      }
      have_inode = true;
    } else if (key == "identity") {
      auto identity = parse_identity(value);
      if (have_identity || !identity || identity->pid <= 1) return std::nullopt;
      record.identity = *identity;
      have_identity = true;
    } else if (!apply_service_line(key, value, record.service, seen)) {
      bad_service = true;  // the identity stands; the service record counts as none
    }
    // Other keys are for later versions: ignored here.
  }
  if (!have_inode || !have_identity) return std::nullopt;
  if (bad_service) record.service = ServiceRecord{};
  return record;
}

WELLD_AFTER_FORK std::error_code write_pidfile_at(int dirfd, const char* name, pid_t self, pid_t* holder,
                                                  const char* service) noexcept {
  if (holder != nullptr) *holder = -1;
  if (name == nullptr || *name == '\0' || std::strchr(name, '/') != nullptr) return as_error(EINVAL);
  int start_err = 0;
  unsigned long long start = read_start_time(self, start_err);
  if (start == 0) return as_error(start_err != 0 ? start_err : ESRCH);  // no identity, no file
  int result = kStartOver;
  while (result == kStartOver) result = write_pass(dirfd, name, self, start, holder, service);
  return result == 0 ? std::error_code() : as_error(result);
}

WELLD_AFTER_FORK void remove_pidfile(const char* path, pid_t self) noexcept {
  remove_pidfile(path, ProcessIdentity{self, self == ::getpid() ? process_start_time(self) : 0});
}

WELLD_AFTER_FORK void remove_pidfile(const char* path, const ProcessIdentity& who) noexcept {
  const char* name = nullptr;
  int dirfd = open_parent(path, &name, nullptr);
  if (dirfd < 0) return;
  remove_matching(dirfd, name, who);
  ::close(dirfd);
}

WELLD_AFTER_FORK void remove_pidfile_at(int dirfd, const char* name, pid_t self) noexcept {
  remove_matching(dirfd, name, ProcessIdentity{self, self == ::getpid() ? process_start_time(self) : 0});
}

WELLD_AFTER_FORK void remove_pidfile_at(int dirfd, const char* name, const ProcessIdentity& who) noexcept {
  remove_matching(dirfd, name, who);
}

}  // namespace welld
