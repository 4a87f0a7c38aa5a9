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
  struct stat a {
  }, b{};
  if (::fstat(fd, &a) != 0 || ::fstatat(dirfd, path, &b, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The identity record of the file open at `fd`. Returns false when absent or malformed.
bool stored_identity(int fd, pid_t& pid, unsigned long long& start) noexcept {
  char buf[48];
  ssize_t n = ::fgetxattr(fd, kIdentityXattr, buf, sizeof buf - 1);
  if (n <= 0) return false;
  auto identity = parse_identity(std::string_view(buf, static_cast<size_t>(n)));
  if (!identity) return false;
  pid = identity->pid;
  start = identity->start_time;
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
  if (n == 0) return PidfileState::absent;  // empty: a writer is mid-way, or nothing
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
    if (field == 3 && (*start == 'Z' || *start == 'X')) return 0;  // zombie: dead
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

std::optional<ProcessIdentity> parse_identity(std::string_view text) noexcept {
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

namespace {

// Open `path` for the protocol: no symlinks, regular files only, created 0644.
// `*created` (when given) tells whether this call created the file.
int open_pidfile(int dirfd, const char* path, bool create, int& err, bool* created = nullptr) noexcept {
  for (;;) {
    if (created != nullptr) *created = false;
    int fd = ::openat(dirfd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create) {
      fd = ::openat(dirfd, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd < 0 && errno == EEXIST) continue;  // lost a creation race: reopen
      if (fd >= 0 && created != nullptr) *created = true;
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

// The contents of a PID file for `pid`, written into `fd`: the PID and a
// newline, the identity attribute (unless the filesystem has no user extended
// attributes), mode 0644 whatever the umask was. Returns 0 or an errno.
int fill_pidfile(int fd, pid_t pid, bool truncate) noexcept {
  char text[32];
  size_t len = format_decimal(static_cast<unsigned long long>(pid), text);
  text[len++] = '\n';
  char identity[48];
  unsigned long long start = process_start_time(pid);
  size_t identity_len = format_identity(pid, start, identity);
  if (truncate && ::ftruncate(fd, 0) != 0) return errno;
  if (!write_all(fd, text, len)) return errno;
  if (start == 0) {
    ::fremovexattr(fd, kIdentityXattr);  // a stale file's record must not outlive it
  } else if (::fsetxattr(fd, kIdentityXattr, identity, identity_len, 0) != 0 &&
             errno != ENOTSUP) {  // no xattrs on this file system (EOPNOTSUPP is the same number)
    return errno;
  }
  ::fchmod(fd, 0644);
  return 0;
}

// A PID file is published complete: it is written as an unnamed file
// (O_TMPFILE) in the target directory and then linked under its name, so a
// reader that does not lock (status, stop) never sees it empty or without its
// identity, and a failed write (ENOSPC...) never shows at all.
struct Published {
  enum Outcome {
    done,           // the name holds the new file
    lost_race,      // EEXIST on link: someone created the name since; start over
    not_attempted,  // the name was not touched (error says why: EOPNOTSUPP when unnamed files are unsupported)
    failed,         // the name was left without a file (error says why)
  } outcome;
  int error;
};

bool unnamed_files_unsupported(int err) noexcept {
  // EISDIR: a kernel without O_TMPFILE opened the directory itself.
  return err == EOPNOTSUPP || err == ENOTSUP || err == EISDIR || err == EINVAL;
}

// Publish a complete file for `pid` at `path`. With `replace`, the file now at
// `path` is ours to replace (locked, and checked to be the one at the name).
Published publish_unnamed(const char* path, pid_t pid, bool replace) noexcept {
  // Linking an unnamed file by name goes through /proc/self/fd (linkat with
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH): without /proc, write in place.
  if (::access("/proc/self/fd", X_OK) != 0) return {Published::not_attempted, EOPNOTSUPP};
  char dir[PATH_MAX];
  const char* slash = std::strrchr(path, '/');
  size_t dir_len = slash == nullptr ? 0 : slash == path ? 1 : static_cast<size_t>(slash - path);
  if (dir_len >= sizeof dir) return {Published::not_attempted, ENAMETOOLONG};
  if (dir_len == 0) {
    dir[dir_len++] = '.';
  } else {
    std::memcpy(dir, path, dir_len);
  }
  dir[dir_len] = '\0';
  int fd = ::open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return {Published::not_attempted, errno};
  if (int err = fill_pidfile(fd, pid, false)) {
    ::close(fd);  // the unnamed file goes with its last descriptor
    return {Published::not_attempted, err};
  }
  char proc[40] = "/proc/self/fd/";
  format_decimal(static_cast<unsigned long long>(fd), proc + 14);
  // Between the unlink and the link the name is absent: a reader then sees
  // "not running", which is true, as the file being replaced is stale.
  if (replace && ::unlink(path) != 0 && errno != ENOENT) {
    int err = errno;
    ::close(fd);
    return {Published::not_attempted, err};
  }
  Published result{Published::done, 0};
  if (::linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) {
    result = {errno == EEXIST ? Published::lost_race : Published::failed, errno};
  }
  ::close(fd);
  return result;
}

}  // namespace

std::error_code write_pidfile(const char* path, pid_t self, pid_t* holder) noexcept {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  if (holder != nullptr) *holder = -1;
  for (;;) {
    int err = 0;
    bool created = false;
    int fd = open_pidfile(AT_FDCWD, path, false, err);
    if (fd < 0 && err == ENOENT) {
      Published p = publish_unnamed(path, self, false);
      if (p.outcome == Published::done) return {};
      if (p.outcome == Published::lost_race) continue;
      if (p.outcome == Published::failed || !unnamed_files_unsupported(p.error)) return fail(p.error);
      // No unnamed files here: create the file, then write it under the lock.
      fd = open_pidfile(AT_FDCWD, path, true, err, &created);
    }
    if (fd < 0) return fail(err);
    if (!lock_pidfile(fd, err)) {
      // Not a contention (that is waited out) but a failing lock (ENOLCK...):
      // the empty file we created would be left behind. Without the lock, its
      // size tells whether another starter has written it since.
      struct stat st {};
      if (created && ::fstat(fd, &st) == 0 && st.st_size == 0 && same_inode(fd, AT_FDCWD, path)) ::unlink(path);
      ::close(fd);
      return fail(err);
    }
    if (!same_inode(fd, AT_FDCWD, path)) {  // unlinked or replaced after we opened it
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
    // Stale, ours, garbage or just created empty: replace it with a complete
    // file, or else rewrite it in place (we hold the lock).
    Published p = publish_unnamed(path, self, true);
    if (p.outcome == Published::not_attempted && !unnamed_files_unsupported(p.error)) {
      ::close(fd);  // a real failure (ENOSPC...): the stale file stays as it was
      return fail(p.error);
    }
    if (p.outcome != Published::not_attempted) {
      ::close(fd);
      if (p.outcome == Published::lost_race) continue;
      return p.outcome == Published::done ? std::error_code() : fail(p.error);
    }
    if (int write_err = fill_pidfile(fd, self, true)) {
      ::unlink(path);  // ours: we hold the lock; nothing half-written stays
      ::close(fd);
      return fail(write_err);
    }
    ::close(fd);  // releases the lock
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
  Published p = publish_unnamed(path, new_pid, true);
  if (p.outcome == Published::not_attempted && unnamed_files_unsupported(p.error)) {
    err = fill_pidfile(fd, new_pid, true);
  } else {
    err = p.outcome == Published::done ? 0 : p.outcome == Published::lost_race ? ESTALE : p.error;
  }
  ::close(fd);
  return err == 0 ? std::error_code() : std::error_code(err, std::system_category());
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

void remove_abandoned_pidfile(const char* path, pid_t dead) noexcept {
  if (path == nullptr || *path == '\0') return;
  int err = 0;
  int fd = open_pidfile(AT_FDCWD, path, false, err);
  if (fd < 0) return;
  if (lock_pidfile(fd, err) && same_inode(fd, AT_FDCWD, path)) {
    // Empty under the lock: created by a writer that died before writing. A
    // live starter that created it and has not locked it yet finds it unlinked
    // once it has the lock (step 3 of the protocol) and starts over.
    pid_t pid = -1;
    unsigned long long recorded = 0;
    PidfileState state = judge(fd, pid, recorded);
    if (state == PidfileState::absent || pid == dead) ::unlinkat(AT_FDCWD, path, 0);
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
      info.reason = "the PID file has no welld identity record to verify PID " + std::to_string(info.pid) + " by";
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
