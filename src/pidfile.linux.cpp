// Step 12: PID files. See welld/pidfile.hpp for the protocol.
// Everything up to inspect_pidfile is async-signal-safe: fixed buffers, raw
// syscalls, no stdio.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "welld/pidfile.hpp"
#include "welld/unique_fd.hpp"

namespace welld {
namespace {

// Decimal text of `value` into `out` (at least 24 bytes); returns the length.
size_t format_decimal(unsigned long long value, char* out) noexcept {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

bool parse_decimal(const char* text, size_t len, unsigned long long& out) noexcept {
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

ssize_t read_all(int fd, char* buf, size_t size) noexcept {
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

bool write_all(int fd, const char* buf, size_t size) noexcept {
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

void pause_ms(int ms) noexcept {
  timespec ts{0, static_cast<long>(ms) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool same_inode(int fd, int dirfd, const char* path) noexcept {
  struct stat a {}, b {};
  if (::fstat(fd, &a) != 0 || ::fstatat(dirfd, path, &b, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The identity record: "PID STARTTIME". Returns false when absent or malformed.
bool stored_identity(int fd, pid_t& pid, unsigned long long& start) noexcept {
  char buf[48];
  ssize_t n = ::fgetxattr(fd, kIdentityXattr, buf, sizeof buf - 1);
  if (n <= 0) return false;
  auto len = static_cast<size_t>(n);
  size_t space = 0;
  while (space < len && buf[space] != ' ') ++space;
  unsigned long long p = 0;
  if (space == len || !parse_decimal(buf, space, p) || p > INT_MAX) return false;
  if (!parse_decimal(buf + space + 1, len - space - 1, start)) return false;
  pid = static_cast<pid_t>(p);
  return true;
}

size_t format_identity(pid_t pid, unsigned long long start, char* out) noexcept {
  size_t n = format_decimal(static_cast<unsigned long long>(pid), out);
  out[n++] = ' ';
  return n + format_decimal(start, out + n);
}

// Start time of `pid` as CLOCK_REALTIME nanoseconds (for files without identity).
long long start_time_realtime_ns(unsigned long long ticks) noexcept {
  timespec real{}, boot{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  long long boot_epoch_ns = (real.tv_sec - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
  long tck = ::sysconf(_SC_CLK_TCK);
  if (tck <= 0) tck = 100;
  return boot_epoch_ns + static_cast<long long>(ticks) * (1000000000LL / tck);
}

// What the open, locked-or-not file at `fd` says. Fills pid/start_time.
PidfileState judge(int fd, pid_t& pid, unsigned long long& recorded) noexcept {
  char buf[64];
  ssize_t n = read_all(fd, buf, sizeof buf);
  if (n < 0) return PidfileState::unreadable;
  if (n == 0) return PidfileState::absent;   // empty: a writer is mid-way, or nothing
  pid = parse_pid(std::string_view(buf, static_cast<size_t>(n)));
  if (pid < 0) return PidfileState::invalid;
  pid_t recorded_pid = -1;
  bool has_identity = stored_identity(fd, recorded_pid, recorded);
  unsigned long long live = process_start_time(pid);
  if (live == 0) return PidfileState::stale;
  if (has_identity) {
    return recorded_pid == pid && live == recorded ? PidfileState::running : PidfileState::stale;
  }
  recorded = 0;
  // No identity: a process that started after the file was written cannot be
  // the one that wrote it (1 s of slack for clock granularity).
  struct stat st {};
  if (::fstat(fd, &st) != 0) return PidfileState::unreadable;
  long long written = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  if (start_time_realtime_ns(live) > written + 1000000000LL) return PidfileState::stale;
  return PidfileState::unverified;
}

}  // namespace

unsigned long long process_start_time(pid_t pid) noexcept {
  char path[40] = "/proc/";
  size_t len = 6 + format_decimal(static_cast<unsigned long long>(pid), path + 6);
  std::memcpy(path + len, "/stat", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read_all(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // Fields after the command name, which is in parentheses and may contain
  // spaces and parentheses itself: start after the last ')'.
  char* p = nullptr;
  for (ssize_t i = n - 1; i >= 0; --i) {
    if (buf[i] == ')') {
      p = buf + i + 1;
      break;
    }
  }
  if (p == nullptr) return 0;
  // Field 3 (state) is the first after ')'; starttime is field 22.
  int field = 2;
  while (*p != '\0') {
    while (*p == ' ') ++p;
    ++field;
    char* start = p;
    while (*p != ' ' && *p != '\0') ++p;
    if (field == 3 && (*start == 'Z' || *start == 'X')) return 0;   // zombie: dead
    if (field == 22) {
      unsigned long long v = 0;
      return parse_decimal(start, static_cast<size_t>(p - start), v) ? v : 0;
    }
  }
  return 0;
}

pid_t parse_pid(std::string_view text) noexcept {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  unsigned long long v = 0;
  if (!parse_decimal(text.data(), text.size(), v)) return -1;
  if (v <= 1 || v > static_cast<unsigned long long>(INT_MAX)) return -1;
  return static_cast<pid_t>(v);
}

namespace {

// Open `path` for the protocol: no symlinks, regular files only, created 0644.
int open_pidfile(int dirfd, const char* path, bool create, int& err) noexcept {
  for (;;) {
    int fd = ::openat(dirfd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create) {
      fd = ::openat(dirfd, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd < 0 && errno == EEXIST) continue;   // lost a creation race: reopen
    }
    if (fd < 0) {
      err = errno;
      return -1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      err = S_ISREG(st.st_mode) ? errno : EINVAL;
      ::close(fd);
      return -1;
    }
    return fd;
  }
}

// Take the OFD write lock on `fd`, waiting (bounded) for a concurrent holder.
bool lock_pidfile(int fd, int& err) noexcept {
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

}  // namespace

std::error_code write_pidfile(const char* path, pid_t self, pid_t* holder) noexcept {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  if (holder != nullptr) *holder = -1;
  for (;;) {
    int err = 0;
    int fd = open_pidfile(AT_FDCWD, path, true, err);
    if (fd < 0) return fail(err);
    if (!lock_pidfile(fd, err)) {
      ::close(fd);
      return fail(err);
    }
    if (!same_inode(fd, AT_FDCWD, path)) {   // unlinked or replaced after we opened it
      ::close(fd);
      continue;
    }
    pid_t pid = -1;
    unsigned long long recorded = 0;
    PidfileState state = judge(fd, pid, recorded);
    if ((state == PidfileState::running || state == PidfileState::unverified) && pid != self) {
      ::close(fd);
      if (holder != nullptr) *holder = pid;
      return fail(EEXIST);
    }
    char text[32];
    size_t len = format_decimal(static_cast<unsigned long long>(self), text);
    text[len++] = '\n';
    char identity[48];
    unsigned long long start = process_start_time(self);
    size_t identity_len = format_identity(self, start, identity);
    bool written = ::ftruncate(fd, 0) == 0 && write_all(fd, text, len);
    if (written && start != 0 && ::fsetxattr(fd, kIdentityXattr, identity, identity_len, 0) != 0 &&
        errno != ENOTSUP) {   // no xattrs on this file system (EOPNOTSUPP is the same number)
      written = false;
    }
    if (!written) {
      err = errno;
      ::unlink(path);   // ours: we hold the lock; nothing half-written stays
      ::close(fd);
      return fail(err);
    }
    if (start == 0) ::fremovexattr(fd, kIdentityXattr);
    // The mode is 0644 whatever the umask was, and whatever a stale file had.
    ::fchmod(fd, 0644);
    ::close(fd);   // releases the lock
    return {};
  }
}

std::error_code replace_pidfile(const char* path, pid_t old_pid, pid_t new_pid) noexcept {
  int err = 0;
  int fd = open_pidfile(AT_FDCWD, path, false, err);
  if (fd < 0) return {err, std::system_category()};
  pid_t pid = -1;
  unsigned long long recorded = 0;
  if (!lock_pidfile(fd, err) || !same_inode(fd, AT_FDCWD, path)) {
    ::close(fd);
    return {err != 0 ? err : ESTALE, std::system_category()};
  }
  judge(fd, pid, recorded);
  if (pid != old_pid) {
    ::close(fd);
    return {ESTALE, std::system_category()};
  }
  char text[32];
  size_t len = format_decimal(static_cast<unsigned long long>(new_pid), text);
  text[len++] = '\n';
  char identity[48];
  unsigned long long start = process_start_time(new_pid);
  size_t identity_len = format_identity(new_pid, start, identity);
  bool ok = ::ftruncate(fd, 0) == 0 && write_all(fd, text, len) &&
            (start == 0 || ::fsetxattr(fd, kIdentityXattr, identity, identity_len, 0) == 0 || errno == ENOTSUP);
  err = errno;
  ::close(fd);
  return ok ? std::error_code() : std::error_code(err, std::system_category());
}

void remove_pidfile(const char* path, pid_t self) noexcept { remove_pidfile_at(AT_FDCWD, path, self); }

void remove_pidfile_at(int dirfd, const char* path, pid_t self) noexcept {
  if (path == nullptr || *path == '\0') return;
  int err = 0;
  int fd = open_pidfile(dirfd, path, false, err);
  if (fd < 0) return;
  pid_t pid = -1;
  unsigned long long recorded = 0;
  if (lock_pidfile(fd, err) && same_inode(fd, dirfd, path)) {
    judge(fd, pid, recorded);
    if (pid == self) ::unlinkat(dirfd, path, 0);
  }
  ::close(fd);
}

PidfileInfo inspect_pidfile(const std::string& path) {
  PidfileInfo info;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      info.reason = "no PID file";
      return info;
    }
    info.error = {err, std::system_category()};
    if (err == ELOOP) {
      info.state = PidfileState::invalid;
      info.reason = "the PID file is a symbolic link";
    } else {
      info.state = PidfileState::unreadable;
      info.reason = info.error.message();
    }
    return info;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    info.state = PidfileState::invalid;
    info.error = {EINVAL, std::system_category()};
    info.reason = "the PID file is not a regular file";
    return info;
  }
  info.owner = st.st_uid;
  info.mode = st.st_mode & 07777;
  info.state = judge(fd.get(), info.pid, info.start_time);
  switch (info.state) {
    case PidfileState::absent:
      info.state = PidfileState::invalid;
      info.reason = "the PID file is empty";
      break;
    case PidfileState::invalid: info.reason = "the PID file does not hold a valid PID"; break;
    case PidfileState::unreadable:
      info.error = {errno, std::system_category()};
      info.reason = info.error.message();
      break;
    case PidfileState::stale:
      info.reason = process_start_time(info.pid) == 0
                        ? "process " + std::to_string(info.pid) + " is not running"
                        : "PID " + std::to_string(info.pid) + " now belongs to another process";
      break;
    case PidfileState::unverified:
      info.reason = "the PID file has no welld identity record to verify PID " +
                    std::to_string(info.pid) + " by";
      break;
    case PidfileState::running: info.reason = "running"; break;
  }
  return info;
}

std::string_view to_string(PidfileState state) noexcept {
  switch (state) {
    case PidfileState::absent: return "absent";
    case PidfileState::running: return "running";
    case PidfileState::unverified: return "unverified";
    case PidfileState::stale: return "stale";
    case PidfileState::invalid: return "invalid";
    case PidfileState::unreadable: return "unreadable";
  }
  return "unknown";
}

}  // namespace welld
