// Step 12: PID files, the verbs that run before any fork: inspect_pidfile
// (status, stop), replace_pidfile, write_pidfile by path, the starter's
// cleanup of an abandoned file. What the daemon runs after fork (writing and
// removing its own file, the trusted directory chain, the records) is in
// after_fork.cpp; these call the same code.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "after_fork.hpp"
#include "proc.hpp"
#include "welld/pidfile.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

using detail::as_error;
using detail::fill_pidfile;
using detail::judge;
using detail::Judgement;
using detail::lock_pidfile;
using detail::open_parent;
using detail::open_pidfile;
using detail::publish_unnamed;
using detail::Published;
using detail::remove_record;
using detail::same_inode;
using detail::shared_writable;
using detail::trusted_owner;
using detail::unnamed_files_unsupported;

std::string describe(const DirTrust& why) {
  std::string where = why.where;
  switch (why.problem) {
    case DirTrust::Problem::none: break;
    case DirTrust::Problem::relative: return "the path " + where + " is not absolute";
    case DirTrust::Problem::foreign_owner:
      return "directory " + where + " belongs to uid " + std::to_string(why.owner) +
             ", who could replace what it holds";
    case DirTrust::Problem::shared_writable:
      return "directory " + where + " is writable by " + ((why.mode & S_IWOTH) != 0 ? "others" : "its group") +
             " and is not sticky";
    case DirTrust::Problem::foreign_entry:
      return where + " belongs to uid " + std::to_string(why.owner) + " in a sticky directory others can write";
  }
  return where + ": " + std::system_category().message(why.error);
}

std::error_code write_pidfile(const char* path, pid_t self, pid_t* holder) noexcept {
  if (holder != nullptr) *holder = -1;
  const char* name = nullptr;
  DirTrust why;
  int dirfd = open_parent(path, &name, &why);
  if (dirfd < 0) return as_error(why.error != 0 ? why.error : errno);
  std::error_code ec = write_pidfile_at(dirfd, name, self, holder);
  ::close(dirfd);
  return ec;
}

std::error_code replace_pidfile(const char* path, pid_t old_pid, const ProcessIdentity& next) noexcept {
  if (next.pid <= 1 || next.start_time == 0) return as_error(ESRCH);  // never a file without identity
  const char* name = nullptr;
  DirTrust why;
  UniqueFd dirfd(open_parent(path, &name, &why));
  if (!dirfd) return as_error(why.error != 0 ? why.error : errno);
  int err = 0;
  int fd = open_pidfile(dirfd.get(), name, false, err);
  if (fd < 0) return as_error(err);
  if (!lock_pidfile(fd, err) || !same_inode(fd, dirfd.get(), name)) {
    ::close(fd);
    return as_error(err != 0 ? err : ESTALE);
  }
  Judgement j = judge(fd, dirfd.get(), name);
  if (j.pid != old_pid) {
    ::close(fd);
    return as_error(ESTALE);
  }
  // The new main process belongs to the same service: its record stays.
  char service[kSideRecordMax];
  format_service_record(j.service, service, sizeof service);
  Published p = publish_unnamed(dirfd.get(), name, next.pid, next.start_time, true, service);
  if (p.outcome == Published::not_attempted && unnamed_files_unsupported(p.error)) {
    err = fill_pidfile(fd, dirfd.get(), name, next.pid, next.start_time, false, service);
  } else {
    err = p.outcome == Published::done ? 0 : p.outcome == Published::lost_race ? ESTALE : p.error;
  }
  ::close(fd);
  return err == 0 ? std::error_code() : as_error(err);
}

void remove_abandoned_pidfile(const char* path, pid_t dead) noexcept {
  const char* name = nullptr;
  int dirfd = open_parent(path, &name, nullptr);
  if (dirfd < 0) return;
  int err = 0;
  int fd = open_pidfile(dirfd, name, false, err);
  if (fd >= 0) {
    if (lock_pidfile(fd, err) && same_inode(fd, dirfd, name)) {
      // Empty under the lock: created by a writer that died before writing. A
      // live starter that created it and has not locked it yet finds it unlinked
      // once it has the lock (step 3 of the protocol) and starts over.
      Judgement j = judge(fd, dirfd, name);
      if (j.state == PidfileState::absent || (j.pid == dead && j.state != PidfileState::running)) {
        remove_record(dirfd, name);
        ::unlinkat(dirfd, name, 0);
      }
    }
    ::close(fd);
  }
  ::close(dirfd);
}

// Size and complexity: one file's checks in the order they must run (path,
// directory, lstat, owner, open, contents), each ending with its verdict.
// NOLINTNEXTLINE(readability-function-size,readability-function-cognitive-complexity)
PidfileInfo inspect_pidfile(const std::string& path, bool trust_any_owner) {
  PidfileInfo info;
  auto unreadable = [&](int err, std::string reason) {
    info.state = PidfileState::unreadable;
    info.error = as_error(err);
    info.reason = std::move(reason);
    return info;
  };
  std::string full = path;
  if (full.empty() || full.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) {
      return unreadable(errno, "cannot make " + path + " absolute: " + as_error(errno).message());
    }
    full = std::string(cwd) + "/" + path;
  }
  const char* name = nullptr;
  DirTrust why;
  UniqueFd dirfd(open_parent(full.c_str(), &name, &why));
  if (!dirfd) {
    if (why.problem != DirTrust::Problem::none) {
      info.state = PidfileState::untrusted;
      info.error = as_error(why.error);
      info.reason = describe(why);
      return info;
    }
    if (why.error == ENOENT) {
      info.reason = "no PID file";
      return info;
    }
    return unreadable(why.error, describe(why));
  }
  // Looked at before it is opened: opening a device or a FIFO can have effects.
  struct stat st {};
  if (::fstatat(dirfd.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      info.reason = "no PID file";
      return info;
    }
    return unreadable(errno, as_error(errno).message());
  }
  info.owner = st.st_uid;
  info.mode = st.st_mode & 07777;
  if (!S_ISREG(st.st_mode)) {
    info.state = PidfileState::invalid;
    info.error = as_error(S_ISLNK(st.st_mode) ? ELOOP : EINVAL);
    info.reason = S_ISLNK(st.st_mode) ? "the PID file is a symbolic link" : "the PID file is not a regular file";
    return info;
  }
  if (!trust_any_owner) {
    if (!trusted_owner(st.st_uid)) {
      info.state = PidfileState::untrusted;
      info.reason = "it is owned by uid " + std::to_string(st.st_uid) + ", not " +
                    (::geteuid() == 0 ? std::string("root") : "root or uid " + std::to_string(::geteuid())) +
                    ": whoever owns it could point it at any process";
      return info;
    }
    if (shared_writable(st.st_mode)) {
      info.state = PidfileState::untrusted;
      info.reason = "it is writable by group or others, who could point it at any process";
      return info;
    }
  }
  UniqueFd fd(::openat(dirfd.get(), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat opened {};
  if (!fd) return unreadable(errno, as_error(errno).message());
  if (::fstat(fd.get(), &opened) != 0 || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
    return unreadable(EAGAIN, "the PID file was replaced while it was read");
  }
  Judgement j = judge(fd.get(), dirfd.get(), name);
  info.state = j.state;
  info.pid = j.pid;
  info.start_time = j.has_identity ? j.recorded : 0;
  info.service = j.service;
  switch (info.state) {
    case PidfileState::absent:
      info.state = PidfileState::invalid;
      info.reason = "the PID file is empty";
      break;
    case PidfileState::invalid: info.reason = "the PID file does not hold a valid PID"; break;
    case PidfileState::unreadable:
      info.error = as_error(errno);
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
    case PidfileState::untrusted:
    case PidfileState::running: info.reason = "running"; break;
  }
  return info;
}

namespace {

// The refusal of a program's PID file, as an error and one line.
std::error_code program_pidfile_refused(int error, const std::string& path, const char* what, std::string* why) {
  if (why != nullptr) *why = path + ": " + what;
  return {error, std::system_category()};
}

}  // namespace

std::error_code read_program_pidfile(const std::string& path, uid_t daemon_uid, pid_t& pid, std::string* why) {
  if (path.empty() || path.front() != '/') return program_pidfile_refused(EINVAL, path, "not an absolute path", why);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    int error = errno;
    if (error == ELOOP) return program_pidfile_refused(ELOOP, path, "a symbolic link (refused)", why);
    return program_pidfile_refused(error, path, std::strerror(error), why);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return program_pidfile_refused(errno, path, std::strerror(errno), why);
  if (!S_ISREG(st.st_mode)) return program_pidfile_refused(EINVAL, path, "not a regular file (refused)", why);
  if (st.st_nlink != 1) return program_pidfile_refused(EMLINK, path, "hard-linked (refused)", why);
  if ((st.st_uid != 0 && st.st_uid != ::geteuid() && st.st_uid != daemon_uid) ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return program_pidfile_refused(EPERM, path, "owned by another user or writable by others (refused)", why);
  }
  char buf[32];
  ssize_t got = ::read(fd.get(), buf, sizeof buf);
  if (got < 0) return program_pidfile_refused(errno, path, std::strerror(errno), why);
  pid_t parsed = parse_pid(std::string_view(buf, static_cast<size_t>(got)));
  if (parsed <= 0) return program_pidfile_refused(EINVAL, path, "does not hold a PID", why);
  pid = parsed;
  return {};
}

std::string_view to_string(PidfileState state) noexcept {
  switch (state) {
    case PidfileState::absent: return "absent";
    case PidfileState::running: return "running";
    case PidfileState::unverified: return "unverified";
    case PidfileState::stale: return "stale";
    case PidfileState::invalid: return "invalid";
    case PidfileState::unreadable: return "unreadable";
    case PidfileState::untrusted: return "untrusted";
  }
  return "unknown";
}

}  // namespace welld
