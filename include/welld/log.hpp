// welld/log.hpp — the log writer: a program's output, as lines, into a file
// (with rotation and reopen) and to syslog.
//
// A supervisor holds the read end of the pipe a daemon writes its stdout and
// stderr to, reads it as bytes come, and hands them to a LogWriter. The writer
// cuts them into lines and writes each line whole to its sinks:
//  * a file, created as safely as the daemon's --output files (its directory
//    opened as a trusted chain, see pidfile.hpp "Trust"; the file created with
//    O_EXCL|O_NOFOLLOW, or else an existing regular file with one link that is
//    ours; a symlink, FIFO or device at its name is never opened), rotated by
//    size (FILE.1 ... FILE.keep) and reopened on request (logrotate);
//  * syslog: RFC 3164 datagrams on an AF_UNIX datagram socket (/dev/log).
//
// Lines. A line is the bytes up to a newline. It is written whole or not at
// all, in one write(2) with the lines around it. A line of more than kLineMax
// bytes (the newline not counted) is split every kLineMax bytes into several
// lines, never truncated (s6-log -l does the same); bytes are passed through
// unchanged otherwise. Bytes after the last newline are kept (at most kLineMax
// per source) until their newline comes, or until flush_tail().
//
// Timestamps (LogTimestamps), one per line, each piece of a split line
// included, taken once per write() call (the lines of one read share it):
//  * rfc3339: "2026-12-01T19:44:50.123456Z " (UTC, microseconds);
//  * tai64n: "@4000000069..." 24 lowercase hex digits and a space, as s6-log
//    and s6-tai64n write it: TAI64 label 2^62 + TAI seconds, where TAI = UTC +
//    10 s + the leap seconds since 1972 (27 since 2017-01-01), then nanoseconds.
//    daemontools' tai64n adds 10 only: its labels are 27 s behind s6's.
// The file gets the prefix; syslog does not (its header carries the time).
//
// Full disk. A file write that fails (ENOSPC, EDQUOT, EIO, EFBIG...) loses
// nothing: the lines not written are kept, blocked() is true and retry()
// tries them again; a later write() first writes what is kept. A short write
// that ends inside a line is cut back to its last whole line (ftruncate), so
// the file holds whole lines only. The kept bytes are what the calls since the
// failure brought, with their prefixes: the caller bounds them by not reading
// its pipe while blocked() (the writing program then blocks on its pipe:
// backpressure), which keeps them to one read (64 KiB read: 64 KiB plus at most
// 28 bytes of prefix a line). write() while blocked still keeps everything.
//
// Syslog is lossy by nature, the file is not: a datagram that cannot be sent
// now (the receiver's queue full: EAGAIN; no receiver: ECONNREFUSED, ENOENT)
// is dropped and counted (syslog_dropped()); the writer never blocks on it.
// A refused send reconnects once and tries again (syslogd restarted). A
// datagram is "<PRI>Mmm dd hh:mm:ss TAG[PID]: line" (local time, no newline),
// what glibc's syslog(3) and logger(1) send to /dev/log. Only datagram
// sockets are spoken (what journald, rsyslog and syslog-ng create); a
// stream socket at the path fails open() with EPROTOTYPE.
//
// Gotchas:
//  * Rotation renames FILE.(keep-1) to FILE.keep (replacing the oldest) down to
//    FILE to FILE.1, in the file's directory, then creates FILE afresh. Files
//    beyond FILE.keep (from a larger keep earlier) are left alone. A rotated
//    name that is not a regular file, or in a sticky directory others can
//    write is not ours, stops the rotation (EINVAL, EPERM): the lines go on
//    into FILE, over max_size, and write() returns the error.
//  * A file welld creates gets `mode` exactly (fchmod: the umask does not
//    decide) and `owner`:`group` (fchown); an existing file is appended to
//    with its owner and mode unchanged.
//  * One file, one writer: two LogWriters on one path would rotate it twice.
//    Several sources (a child's stdout and stderr on two pipes) share one
//    writer, each with its own tail and syslog level (LogSource).
//  * A line keeps the time it was handed over, not the time a retry wrote it.
//  * The supervisor should drain the pipe before flush_tail() when the child
//    died, or the tail it flushes is not the last thing the child wrote.
#pragma once

#include <sys/types.h>
#include <syslog.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "welld/unique_fd.hpp"

namespace welld {

enum class LogTimestamps { none, rfc3339, tai64n };

/// Where the bytes come from: the child's stdout or its stderr.
enum class LogSource { out = 0, err = 1 };

struct LogFileSpec {
  std::string path;                      // absolute, or made absolute against the current directory
  uid_t owner = static_cast<uid_t>(-1);  // of a file welld creates; -1: the writer's (root for the supervisor)
  gid_t group = static_cast<gid_t>(-1);
  mode_t mode = 0640;          // of a file welld creates
  std::uint64_t max_size = 0;  // rotate before a write would make FILE larger; 0: never
  unsigned keep = 10;          // FILE.1 ... FILE.keep; at least 1 (EINVAL otherwise)
};

struct SyslogSpec {
  std::string socket = "/dev/log";
  int facility = LOG_DAEMON;  // LOG_DAEMON, LOG_LOCAL3...: already shifted, as in <syslog.h>
  int out_level = LOG_INFO;   // the level of the lines from LogSource::out
  int err_level = LOG_ERR;    // ... and from LogSource::err
  std::string tag;            // the service name; empty: "welld"
  pid_t pid = 0;              // shown as TAG[PID]; 0: not shown
};

struct LogSpec {
  std::optional<LogFileSpec> file;
  std::optional<SyslogSpec> syslog;
  LogTimestamps timestamps = LogTimestamps::none;
};

class LogWriter {
 public:
  /// Bytes of a line's content (the newline not counted) beyond which it is split.
  static constexpr size_t kLineMax = 4096;

  /// Open the sinks of `spec`. Errors: EINVAL (keep 0, a path with no file
  /// name, a facility or level out of range), the trust errors of the file's
  /// directory (EPERM, with `*why` saying why when given: see describe(DirTrust)),
  /// the file's own (ELOOP symlink, EINVAL not a regular file, EMLINK
  /// hard-linked, EPERM not ours in a sticky directory, EACCES, EROFS...), and
  /// for syslog EPROTOTYPE (a stream socket) or the socket(2) error. A syslog
  /// socket that is absent or refuses (ENOENT, ECONNREFUSED) is not an error:
  /// its datagrams are counted as dropped until it is back. `out` is
  /// untouched on error.
  static std::error_code open(const LogSpec& spec, LogWriter& out, std::string* why = nullptr);

  LogWriter() = default;
  LogWriter(LogWriter&&) noexcept = default;
  LogWriter& operator=(LogWriter&&) noexcept = default;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  ~LogWriter() = default;

  /// Bytes as read from `source`'s pipe: the complete lines in them (with what
  /// was kept of `source` before) are written, the unterminated rest kept.
  /// All of `bytes` is always taken. Returns the file's write error (the lines
  /// are kept: see blocked()) or a rotation error (the lines went into FILE).
  std::error_code write(std::string_view bytes, LogSource source = LogSource::out);

  /// The writing program died: each source's kept tail is written as a line
  /// (a newline added), stdout's first.
  std::error_code flush_tail();

  /// After FILE was renamed away (logrotate without copytruncate): open FILE
  /// afresh (created if absent, as open() does) and write there from now on;
  /// what was written before stays in the renamed file. Kept lines go to the
  /// new file. On error the old file stays in use.
  std::error_code reopen();

  /// Rotate now, whatever the size (s6-log's SIGALRM). Kept lines go to the new FILE.
  std::error_code rotate();

  /// The last file write failed: lines are kept (kept_bytes()), nothing is
  /// dropped. The caller stops reading its pipe and calls retry() later.
  bool blocked() const noexcept { return !kept_.empty(); }

  /// Write the kept lines again; {} when all are written (blocked() false).
  std::error_code retry();

  /// Bytes kept for a retry (formatted lines, prefixes included).
  size_t kept_bytes() const noexcept { return kept_.size(); }

  /// The error of the last failed file write or rotation; {} after a write
  /// that wrote everything.
  std::error_code last_error() const noexcept { return last_error_; }

  /// Syslog datagrams sent, and dropped (see the header's comment).
  std::uint64_t syslog_sent() const noexcept { return syslog_sent_; }
  std::uint64_t syslog_dropped() const noexcept { return syslog_dropped_; }

  /// The PID shown as TAG[PID] in syslog from now on (a supervisor's new
  /// child); 0 shows none. No effect without a syslog sink.
  void set_syslog_pid(pid_t pid) noexcept {
    if (spec_.syslog) spec_.syslog->pid = pid;
  }

  /// The file's path (empty without a file sink).
  const std::string& path() const noexcept { return path_; }

  /// Remove the file if open() created it and nothing was ever written to it
  /// (still empty, still at its name): a start that failed leaves no empty
  /// log behind. A file that existed before open() always stays. True when
  /// it was removed; the writer then writes to the unlinked file.
  bool remove_if_unused();

 private:
  struct Line {
    size_t offset;  // of its text in lines_text_
    size_t size;
    LogSource source;
  };
  void stamp();
  std::optional<size_t> unchanged_lines(std::string_view bytes, LogSource source) const;
  void take(std::string_view bytes, LogSource source);
  void emit(std::string_view head, std::string_view rest, LogSource source);
  std::error_code commit();
  std::error_code write_file(std::string_view fresh);
  std::error_code write_lines(std::string_view data, size_t& done);
  std::error_code write_chunk(std::string_view chunk, size_t& written);
  std::error_code rotate_now();
  std::error_code open_file_sink(const LogFileSpec& spec, std::string* why);
  std::error_code connect_syslog();
  void send_syslog();

  LogSpec spec_;
  std::string path_;
  UniqueFd dir_;  // FILE's directory, opened as a trusted chain
  std::string name_;
  UniqueFd file_;
  bool created_ = false;             // open() created FILE (remove_if_unused)
  std::uint64_t size_ = 0;           // bytes in the current file
  bool partial_ = false;             // the file ends inside a line (a failed write that could not be cut back)
  std::array<std::string, 2> tail_;  // per source: the bytes after its last newline
  std::string prefix_;               // this call's timestamp prefix
  std::string batch_;                // this call's lines for the file, formatted
  std::string kept_;                 // formatted lines a failed file write left
  std::error_code last_error_;
  std::array<std::string, 2> syslog_head_;  // this call's "<PRI>TIME TAG[PID]: ", per source
  std::vector<Line> lines_;                 // this call's lines for syslog
  std::string lines_text_;
  UniqueFd syslog_;
  bool syslog_connected_ = false;
  std::uint64_t syslog_sent_ = 0;
  std::uint64_t syslog_dropped_ = 0;
};

/// A syslog facility and optional level as users write them: "local3.notice",
/// "daemon.err", "user" (the level left to the source's default). Facilities:
/// kern user mail daemon auth syslog lpr news uucp cron authpriv ftp
/// local0..local7; levels: emerg alert crit err warning notice info debug
/// (also error, warn, panic). Case-insensitive.
struct SyslogPriority {
  int facility = LOG_DAEMON;
  std::optional<int> level;
};
std::optional<SyslogPriority> parse_syslog_priority(std::string_view text, std::string* error = nullptr);

/// The timestamp prefix (with its trailing space) of a line logged at
/// `seconds`.`nanoseconds` since the Unix epoch (UTC), in `format` ("" for none).
std::string format_log_timestamp(LogTimestamps format, std::int64_t seconds, long nanoseconds);

}  // namespace welld
