// The log writer (welld/log.hpp): lines into a file with rotation and reopen,
// and to syslog.
#include "welld/log.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "after_fork.hpp"
#include "quoted.hpp"
#include "sockaddr.hpp"
#include "welld/path.hpp"
#include "welld/pidfile.hpp"

namespace welld {

namespace {

std::error_code sys_error(int err) { return {err, std::system_category()}; }

// The first instant (Unix time) of each UTC day that followed a leap second,
// from IERS Bulletin C (leap-seconds.list). libstdc++ 12 has no utc_clock.
constexpr std::array<std::int64_t, 27> kLeapSecondsAfter = {
    78796800,  94694400,  126230400, 157766400, 189302400,  220924800,  252460800,  283996800,  315532800,
    362793600, 394329600, 425865600, 489024000, 567993600,  631152000,  662688000,  709948800,  741484800,
    773020800, 820454400, 867715200, 915148800, 1136073600, 1230768000, 1341100800, 1435708800, 1483228800};

// TAI - UTC at Unix time `seconds`: 10 s in 1972, plus each leap second since.
std::int64_t tai_offset(std::int64_t seconds) {
  const auto* passed = std::upper_bound(kLeapSecondsAfter.begin(), kLeapSecondsAfter.end(), seconds);
  return 10 + (passed - kLeapSecondsAfter.begin());
}

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool valid_facility(int facility) { return facility >= 0 && facility <= LOG_LOCAL7 && (facility & LOG_PRIMASK) == 0; }
bool valid_level(int level) { return level >= LOG_EMERG && level <= LOG_DEBUG; }

// A sticky directory others can write: only its entries that are ours are ours.
bool sticky_shared(const struct stat& dir) {
  return (dir.st_mode & S_ISVTX) != 0 && (dir.st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

// Whether the rotation may rename (or replace) `name` in `dirfd`: absent
// (ENOENT, returned as such), or a regular file that, in a shared sticky
// directory, is ours.
int rotatable(int dirfd, const struct stat& dir, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EINVAL;
  if (sticky_shared(dir) && st.st_uid != 0 && st.st_uid != ::geteuid()) return EPERM;
  return 0;
}

}  // namespace

std::string format_log_timestamp(LogTimestamps format, std::int64_t seconds, long nanoseconds) {
  switch (format) {
    case LogTimestamps::none: return {};
    case LogTimestamps::rfc3339: {
      auto t = static_cast<time_t>(seconds);
      struct tm tm {};
      ::gmtime_r(&t, &tm);
      return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec, nanoseconds / 1000);
    }
    case LogTimestamps::tai64n: {
      auto label = static_cast<std::uint64_t>(seconds + tai_offset(seconds)) + (std::uint64_t{1} << 62);
      return fmt::format("@{:016x}{:08x} ", label, static_cast<std::uint32_t>(nanoseconds));
    }
  }
  return {};
}

std::optional<SyslogPriority> parse_syslog_priority(std::string_view text, std::string* error) {
  struct Name {
    const char* name;
    int value;
  };
  static constexpr std::array<Name, 20> kFacilities = {{
      {"kern", LOG_KERN},     {"user", LOG_USER},     {"mail", LOG_MAIL},         {"daemon", LOG_DAEMON},
      {"auth", LOG_AUTH},     {"syslog", LOG_SYSLOG}, {"lpr", LOG_LPR},           {"news", LOG_NEWS},
      {"uucp", LOG_UUCP},     {"cron", LOG_CRON},     {"authpriv", LOG_AUTHPRIV}, {"ftp", LOG_FTP},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},     {"local3", LOG_LOCAL3},
      {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},     {"local7", LOG_LOCAL7},
  }};
  static constexpr std::array<Name, 11> kLevels = {{
      {"emerg", LOG_EMERG},
      {"panic", LOG_EMERG},
      {"alert", LOG_ALERT},
      {"crit", LOG_CRIT},
      {"err", LOG_ERR},
      {"error", LOG_ERR},
      {"warning", LOG_WARNING},
      {"warn", LOG_WARNING},
      {"notice", LOG_NOTICE},
      {"info", LOG_INFO},
      {"debug", LOG_DEBUG},
  }};
  auto find = [](const auto& table, std::string_view word) -> std::optional<int> {
    std::string lower(word);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Name& n : table) {
      if (lower == n.name) return n.value;
    }
    return std::nullopt;
  };
  size_t dot = text.find('.');
  std::string_view facility_text = text.substr(0, dot);
  SyslogPriority out;
  if (auto f = find(kFacilities, facility_text)) {
    out.facility = *f;
  } else {
    if (error != nullptr) {
      *error = "invalid syslog facility " + detail::quoted(facility_text) + " (examples: daemon, local3.notice)";
    }
    return std::nullopt;
  }
  if (dot == std::string_view::npos) return out;
  std::string_view level_text = text.substr(dot + 1);
  if (auto l = find(kLevels, level_text)) {
    out.level = *l;
    return out;
  }
  if (error != nullptr)
    *error = "invalid syslog level " + detail::quoted(level_text) + " (examples: info, err, notice)";
  return std::nullopt;
}

// ---- opening ---------------------------------------------------------------------

namespace {

// FILE in `dirfd`, created with the spec's owner and mode, or the existing one.
std::error_code open_log_file(int dirfd, const std::string& name, const LogFileSpec& spec, UniqueFd& out,
                              std::uint64_t& size, bool* made = nullptr) {
  bool created = false;
  UniqueFd fd(detail::open_log_at(dirfd, name.c_str(), spec.mode, &created));
  if (!fd) return sys_error(errno);
  int err = 0;
  if (created) {
    // The mode exactly (the umask does not decide), then the owner.
    if (::fchmod(fd.get(), spec.mode) != 0) err = errno;
    bool chown = spec.owner != static_cast<uid_t>(-1) || spec.group != static_cast<gid_t>(-1);
    if (err == 0 && chown && ::fchown(fd.get(), spec.owner, spec.group) != 0) err = errno;
    if (err != 0) {
      ::unlinkat(dirfd, name.c_str(), 0);  // nothing half-made is left behind
      return sys_error(err);
    }
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error(errno);
  size = static_cast<std::uint64_t>(st.st_size);
  out = std::move(fd);
  if (made != nullptr) *made = created;
  return {};
}

}  // namespace

// The file: its directory as a trusted chain, then the file in it.
std::error_code LogWriter::open_file_sink(const LogFileSpec& spec, std::string* why) {
  if (spec.keep == 0 || (spec.mode & ~static_cast<mode_t>(07777)) != 0) return sys_error(EINVAL);
  if (std::error_code ec = make_absolute(spec.path, path_)) return ec;
  name_ = base_name(path_);
  if (name_.empty() || name_ == "." || name_ == "..") return sys_error(EINVAL);
  DirTrust trust;
  dir_ = UniqueFd(open_trusted_dir(parent_directory(path_).c_str(), &trust));
  if (!dir_) {
    if (why != nullptr && trust.problem != DirTrust::Problem::none) *why = describe(trust);
    return sys_error(trust.error != 0 ? trust.error : EINVAL);
  }
  if (std::error_code ec = open_log_file(dir_.get(), name_, spec, file_, size_, &created_)) return ec;
  return {};
}

bool LogWriter::remove_if_unused() {
  struct stat st {};
  if (!created_ || !file_ || !dir_ || ::fstat(file_.get(), &st) != 0 || st.st_size != 0) return false;
  if (!detail::same_inode(file_.get(), dir_.get(), name_.c_str())) return false;
  if (::unlinkat(dir_.get(), name_.c_str(), 0) != 0) return false;
  created_ = false;
  return true;
}

std::error_code LogWriter::open(const LogSpec& spec, LogWriter& out, std::string* why) {
  LogWriter w;
  w.spec_ = spec;
  // Syslog first: a refusal there leaves no file behind.
  if (spec.syslog) {
    const SyslogSpec& s = *spec.syslog;
    if (!valid_facility(s.facility) || !valid_level(s.out_level) || !valid_level(s.err_level) ||
        !unix_path_address(s.socket)) {
      return sys_error(EINVAL);
    }
    if (std::error_code ec = w.connect_syslog(); ec) return ec;
  }
  if (spec.file) {
    if (std::error_code ec = w.open_file_sink(*spec.file, why)) return ec;
  }
  out = std::move(w);
  return {};
}

// ---- lines -----------------------------------------------------------------------

std::error_code LogWriter::write(std::string_view bytes, LogSource source) {
  stamp();
  if (std::optional<size_t> whole = unchanged_lines(bytes, source)) {
    // The lines go to the file as they came: no batch to copy them into.
    tail_.at(static_cast<size_t>(source)).assign(bytes.substr(*whole));
    if (*whole == 0 && kept_.empty()) return {};
    return write_file(bytes.substr(0, *whole));
  }
  take(bytes, source);
  return commit();
}

// When this call's batch would be `bytes`' complete lines unchanged (a file
// only, no prefix, nothing kept of `source` before them, no line to split):
// where they end. take() makes the same batch by copying them line by line.
std::optional<size_t> LogWriter::unchanged_lines(std::string_view bytes, LogSource source) const {
  if (!file_ || spec_.syslog || !prefix_.empty() || !tail_.at(static_cast<size_t>(source)).empty()) {
    return std::nullopt;
  }
  size_t end = 0;
  while (end < bytes.size()) {
    std::string_view rest = bytes.substr(end);
    // A newline right after kLineMax bytes still ends a whole line (take()).
    const void* nl = std::memchr(rest.data(), '\n', std::min(rest.size(), kLineMax + 1));
    if (nl == nullptr) {
      if (rest.size() > kLineMax) return std::nullopt;  // a line to split
      break;                                            // the tail: kept
    }
    end += static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1;
  }
  return end;
}

std::error_code LogWriter::flush_tail() {
  stamp();
  for (auto source : {LogSource::out, LogSource::err}) {
    std::string& tail = tail_.at(static_cast<size_t>(source));
    if (tail.empty()) continue;
    emit(tail, {}, source);
    tail.clear();
  }
  return commit();
}

// The time of this call's lines: the file's prefix and syslog's header.
void LogWriter::stamp() {
  if (spec_.timestamps == LogTimestamps::none && !spec_.syslog) return;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  prefix_ = format_log_timestamp(spec_.timestamps, now.tv_sec, now.tv_nsec);
  if (!spec_.syslog) return;
  const SyslogSpec& s = *spec_.syslog;
  struct tm tm {};
  ::localtime_r(&now.tv_sec, &tm);
  std::string rest = fmt::format(">{} {:2} {:02}:{:02}:{:02} {}", kMonths.at(static_cast<size_t>(tm.tm_mon) % 12),
                                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, s.tag.empty() ? "welld" : s.tag);
  if (s.pid > 0) rest += fmt::format("[{}]", s.pid);
  rest += ": ";
  syslog_head_.at(0) = fmt::format("<{}", s.facility | s.out_level) + rest;
  syslog_head_.at(1) = fmt::format("<{}", s.facility | s.err_level) + rest;
}

// Cut `bytes` into lines of at most kLineMax bytes, after `source`'s tail.
void LogWriter::take(std::string_view bytes, LogSource source) {
  std::string& tail = tail_.at(static_cast<size_t>(source));
  while (!bytes.empty()) {
    size_t room = kLineMax - tail.size();  // the tail holds at most kLineMax
    // A newline right after `room` bytes still ends a line of exactly kLineMax.
    const void* nl = std::memchr(bytes.data(), '\n', std::min(bytes.size(), room + 1));
    if (nl != nullptr) {
      auto at = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
      emit(tail, bytes.substr(0, at), source);
      tail.clear();
      bytes.remove_prefix(at + 1);
    } else if (bytes.size() > room) {
      emit(tail, bytes.substr(0, room), source);  // the split: kLineMax bytes, then the rest
      tail.clear();
      bytes.remove_prefix(room);
    } else {
      tail.append(bytes);
      break;
    }
  }
}

// One line (`head` then `rest`, the newline added) into this call's batch.
void LogWriter::emit(std::string_view head, std::string_view rest, LogSource source) {
  if (file_) {
    batch_ += prefix_;
    batch_ += head;
    batch_ += rest;
    batch_ += '\n';
  }
  if (spec_.syslog) {
    lines_.push_back({lines_text_.size(), head.size() + rest.size(), source});
    lines_text_ += head;
    lines_text_ += rest;
  }
}

// This call's lines to the sinks.
std::error_code LogWriter::commit() {
  if (!lines_.empty()) send_syslog();
  lines_.clear();
  lines_text_.clear();
  std::error_code ec;
  if (file_ && (!batch_.empty() || !kept_.empty())) ec = write_file(batch_);
  batch_.clear();
  return ec;
}

// ---- the file --------------------------------------------------------------------

std::error_code LogWriter::write_file(std::string_view fresh) {
  std::error_code ec;
  size_t done = 0;
  if (kept_.empty()) {
    ec = write_lines(fresh, done);
    if (done < fresh.size()) kept_.assign(fresh.substr(done));
  } else {
    kept_.append(fresh);
    ec = write_lines(kept_, done);
    kept_.erase(0, done);
  }
  last_error_ = ec;
  return ec;
}

std::error_code LogWriter::retry() {
  if (!file_) return {};
  return write_file({});
}

// Whole lines of `data` from `done` on, rotating before the file would pass
// max_size; `done` advances past what was written. A line larger than
// max_size alone goes into a fresh file by itself.
std::error_code LogWriter::write_lines(std::string_view data, size_t& done) {
  std::error_code rotation_error;
  const std::uint64_t max = spec_.file->max_size;
  while (done < data.size()) {
    std::string_view rest = data.substr(done);
    size_t chunk = rest.size();
    if (partial_) {
      // The file ends inside a line (a cut that failed): its end goes first, to this file.
      const void* nl = std::memchr(rest.data(), '\n', rest.size());
      chunk = nl == nullptr ? rest.size() : static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1;
    } else if (max > 0 && !rotation_error && size_ + chunk > max) {
      size_t room = size_ < max ? static_cast<size_t>(std::min<std::uint64_t>(max - size_, rest.size())) : 0;
      const void* last = room > 0 ? ::memrchr(rest.data(), '\n', room) : nullptr;
      if (last != nullptr) {
        chunk = static_cast<size_t>(static_cast<const char*>(last) - rest.data()) + 1;
      } else if (size_ > 0) {
        rotation_error = rotate_now();
        continue;  // into the fresh file, or (on error) on into this one
      } else {
        const void* nl = std::memchr(rest.data(), '\n', rest.size());
        chunk = nl == nullptr ? rest.size() : static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1;
      }
    }
    size_t written = 0;
    std::error_code ec = write_chunk(rest.substr(0, chunk), written);
    done += written;
    if (ec) return ec;
  }
  return rotation_error;
}

// `chunk` (whole lines) in write(2)s until written or failed. A failure
// after part of it was written cuts the file back to its last whole line.
std::error_code LogWriter::write_chunk(std::string_view chunk, size_t& written) {
  written = 0;
  int err = 0;
  while (written < chunk.size()) {
    ssize_t n = ::write(file_.get(), chunk.data() + written, chunk.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    written += static_cast<size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  if (err == 0) {
    partial_ = false;
    return {};
  }
  if (written > 0 && chunk[written - 1] != '\n') {
    const void* nl = ::memrchr(chunk.data(), '\n', written);
    size_t whole = nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - chunk.data()) + 1;
    struct stat st {};
    bool cut = ::fstat(file_.get(), &st) == 0 &&
               ::ftruncate(file_.get(), st.st_size - static_cast<off_t>(written - whole)) == 0;
    if (cut) {
      size_ -= written - whole;
      written = whole;
    } else {
      partial_ = true;  // the line's end is written next, before any rotation
    }
  } else if (written > 0) {
    partial_ = false;
  }
  return sys_error(err);
}

std::error_code LogWriter::rotate() {
  if (!file_) return {};
  std::error_code ec = rotate_now();
  if (!ec && !kept_.empty()) ec = write_file({});
  if (ec) last_error_ = ec;
  return ec;
}

std::error_code LogWriter::reopen() {
  if (!file_) return {};
  if (partial_) return sys_error(EBUSY);
  UniqueFd fd;
  std::uint64_t size = 0;
  if (std::error_code ec = open_log_file(dir_.get(), name_, *spec_.file, fd, size)) return ec;
  file_ = std::move(fd);
  size_ = size;
  if (!kept_.empty()) return write_file({});
  return {};
}

// FILE.(keep-1) -> FILE.keep ... FILE -> FILE.1, then a fresh FILE.
std::error_code LogWriter::rotate_now() {
  if (partial_) return sys_error(EBUSY);
  struct stat dir {};
  if (::fstat(dir_.get(), &dir) != 0) return sys_error(errno);
  auto numbered = [&](unsigned i) { return i == 0 ? name_ : fmt::format("{}.{}", name_, i); };
  for (unsigned i = spec_.file->keep; i >= 1; --i) {
    std::string from = numbered(i - 1);
    std::string to = numbered(i);
    int err = rotatable(dir_.get(), dir, from);
    if (err == ENOENT) continue;
    if (err == 0) err = rotatable(dir_.get(), dir, to);
    if (err != 0 && err != ENOENT) return sys_error(err);
    if (::renameat(dir_.get(), from.c_str(), dir_.get(), to.c_str()) != 0) return sys_error(errno);
  }
  UniqueFd fd;
  std::uint64_t size = 0;
  if (std::error_code ec = open_log_file(dir_.get(), name_, *spec_.file, fd, size)) return ec;
  file_ = std::move(fd);
  size_ = size;
  return {};
}

// ---- syslog ----------------------------------------------------------------------

// A fresh socket connected to the syslog path. Only a stream socket there
// (EPROTOTYPE) or no socket at all is an error; an absent or refusing
// receiver leaves the writer disconnected.
std::error_code LogWriter::connect_syslog() {
  syslog_connected_ = false;
  if (!syslog_) {
    syslog_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!syslog_) return sys_error(errno);
  }
  auto address = unix_path_address(spec_.syslog->socket);
  if (!address) return sys_error(EINVAL);
  int rc = 0;
  do {
    rc = ::connect(syslog_.get(), address->get(), address->length);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    syslog_connected_ = true;
    return {};
  }
  int err = errno;
  if (err == EPROTOTYPE) return sys_error(err);
  // A datagram socket whose connect failed may keep its old peer: start afresh next time.
  syslog_.reset();
  return {};
}

// One datagram a line, sendmmsg(2) in batches. Never blocks: what cannot be
// sent now is counted as dropped.
void LogWriter::send_syslog() {
  constexpr size_t kBatch = 256;
  bool reconnected = false;
  if (!syslog_connected_) {
    reconnected = true;
    connect_syslog();
  }
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, 2 * kBatch> iov{};
  size_t i = 0;
  while (i < lines_.size()) {
    if (!syslog_connected_) break;
    size_t m = std::min(kBatch, lines_.size() - i);
    for (size_t k = 0; k < m; ++k) {
      const Line& line = lines_[i + k];
      const std::string& head = syslog_head_.at(static_cast<size_t>(line.source));
      iov.at(2 * k) = {const_cast<char*>(head.data()), head.size()};
      iov.at(2 * k + 1) = {lines_text_.data() + line.offset, line.size};
      msgs.at(k) = {};
      msgs.at(k).msg_hdr.msg_iov = &iov.at(2 * k);
      msgs.at(k).msg_hdr.msg_iovlen = 2;
    }
    int sent = ::sendmmsg(syslog_.get(), msgs.data(), static_cast<unsigned>(m), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      syslog_sent_ += static_cast<std::uint64_t>(sent);
      i += static_cast<size_t>(sent);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    bool gone = err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET || err == EPIPE;
    if (gone && !reconnected) {
      reconnected = true;
      connect_syslog();
      continue;
    }
    if (err == EMSGSIZE) {  // this one only
      ++syslog_dropped_;
      ++i;
      continue;
    }
    if (gone) syslog_connected_ = false;
    break;  // EAGAIN (the receiver's queue is full), refused again...: the rest is dropped
  }
  syslog_dropped_ += lines_.size() - i;
}

}  // namespace welld
