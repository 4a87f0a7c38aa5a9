// welld/pidfile.hpp — step 12: race-free PID files, stale detection.
//
// The file holds the PID in decimal and a newline, nothing else, so that
// `kill $(cat FILE)`, start-stop-daemon and systemd's PIDFile= read it.
// welld's identity record is "PID STARTTIME", the start time in clock ticks
// since boot (field 22 of /proc/PID/stat). A PID plus its start time names one
// process for the life of the system, which is how a reused PID is told apart
// from the daemon, and a file whose PID was rewritten by someone else no
// longer matches its record. The record lives in an extended attribute
// (kIdentityXattr) where the file system has user extended attributes. Where
// it has none (fsetxattr fails with ENOTSUP or EPERM: ramfs, tmpfs before
// Linux 6.6, NFSv3, vfat) it lives in a side record, the file ".NAME.welld"
// beside the PID file NAME (see SideRecord), bound to the PID file's inode so
// that a renamed or replaced PID file no longer matches it. Readers apply the
// same trust rules to the side record as to the PID file; removal removes both.
//
// Trust (who may have written what welld acts on). Root and the caller
// (the effective uid) are trusted; nobody else is:
//  * the directory is opened as a chain from "/" (open_trusted_dir), one
//    component at a time with O_NOFOLLOW: every directory on the way must be
//    owned by root or the caller and not writable by its group or others,
//    unless it is sticky (like /tmp); in a sticky directory others can write,
//    the next component (a directory, a symbolic link, the file itself) must
//    be owned by root or the caller. A symbolic link is followed only when
//    the directory holding it passed, and its target is walked the same way.
//    A group-writable root:grp 0775 directory is unsafe: any member could
//    rename one daemon's PID file over another's. Everything after the walk
//    is done relative to the directory fd it returned (check and use are the
//    same fd);
//  * the PID file must be a regular file, owned by root or the caller, not
//    writable by group or others, with one link (a hard link to another file
//    would be written through). Its name is looked at (fstatat) before it is
//    opened, so a device or FIFO is never opened;
//  * an existing file is replaced only when it is empty, holds just a PID, or
//    carries welld's identity; anything else is someone's data (ENOTEMPTY).
//    An existing file's mode is never changed.
//
// A file is only ever published complete. Its contents and identity are
// written into an unnamed file (O_TMPFILE) in the target directory, which is
// then linked under the name: readers, which take no lock (status, stop,
// audit), never see it empty or without its identity, and a failed write
// (ENOSPC, EDQUOT...) never shows. Where unnamed files are not available (no
// O_TMPFILE support, no /proc, a directory the writer cannot write to while
// the file exists) the file is written in place under the lock instead, and
// a reader can then briefly see it empty ("invalid") or without identity.
// A file is never published without identity: when the start time cannot be
// read (EMFILE, no /proc) the write fails with that error.
//
// Protocol (write_pidfile):
//  1. open with O_NOFOLLOW|O_CLOEXEC after the checks above (a symlink is
//     refused: ELOOP; not a regular file: EINVAL; not ours: EPERM; hard-linked:
//     EMLINK). When there is no file, publish a new one (EEXIST on the link
//     means another writer was first: start over);
//  2. take an open-file-description write lock (F_OFD_SETLK). The lock is a
//     mutex for steps 3-4 only, held for a few syscalls, so a conflict is
//     retried for a bounded time. It is released afterwards: the daemon holds
//     no fd for its PID file (an exec'd program could not keep one anyway),
//     and liveness is judged by the identity record, not by the lock;
//  3. after locking, check that the path still names the inode we locked
//     (a remover may have unlinked it in between), else start over;
//  4. read the current contents: a live process whose identity matches means
//     "already running" (EEXIST, with its PID); data that is not a PID file
//     is refused (ENOTEMPTY); otherwise the file is stale and is replaced: a
//     new file is published (unlink, then link, so the name is briefly
//     absent, never incomplete), or else the file is truncated and rewritten
//     in place.
//
// A file without any identity (written by another tool) whose PID is alive and
// started before the file was last written is treated as possibly live
// ("unverified"): start refuses to start a second instance and stop refuses to
// signal it.
#pragma once

#include <sys/types.h>

#include <climits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "welld/process.hpp"

namespace welld {

inline constexpr const char* kIdentityXattr = "user.welld.starttime";

/// Beside the identity, welld records how the service is to be controlled, in
/// a second extended attribute (or, without xattrs, in the side record's later
/// lines): "KEY VALUE" lines, each ending in a newline, keys in any order, each
/// at most once, unknown keys ignored (so later versions can add keys, and a
/// reader of the identity alone is unaffected):
///
///   session SID          the session welld created for the daemon (its setsid)
///   cgroup PATH          the service's own cgroup v2, relative to the cgroup2 mount
///   stop-signal SIG      welld start --stop-signal (a signal number)
///   stop-timeout MS      welld start --stop-timeout (milliseconds)
///   reload-signal SIG    welld start --reload-signal
///
/// It is written with the identity, before the program runs, by welld itself:
/// never by the daemon, and never after the privilege drop.
inline constexpr const char* kServiceXattr = "user.welld.service";

inline constexpr size_t kCgroupPathMax = 512;

/// The service record above, parsed. Zero / -1 / "" mean "not recorded".
struct ServiceRecord {
  pid_t session = -1;
  char cgroup[kCgroupPathMax] = {};  // starts with '/', no newline
  int stop_signal = 0;
  unsigned long long stop_timeout_ms = 0;
  int reload_signal = 0;
};

/// The service record's text (above) for `record`, NUL-terminated, into `out`
/// (`size` bytes): its length, or 0 when it does not fit or holds nothing.
/// Async-signal-safe.
size_t format_service_record(const ServiceRecord& record, char* out, size_t size) noexcept;

/// Parse a service record's text (above). std::nullopt for a malformed line, a
/// duplicate key or a value out of range (signals 1..64, a session > 1, a
/// cgroup path starting with '/'), which counts as "nothing recorded".
/// Async-signal-safe.
std::optional<ServiceRecord> parse_service_record(std::string_view text) noexcept;

/// Parse a PID file's contents: decimal digits (at most 20), an optional trailing newline,
/// value in 2..pid_max range of pid_t (PIDs 0 and 1 and negatives are never
/// accepted). Returns -1 for anything else.
pid_t parse_pid(std::string_view text) noexcept;

/// A process as welld identifies it: a PID and its start time.
struct ProcessIdentity {
  pid_t pid = -1;
  unsigned long long start_time = 0;  // clock ticks since boot
};

/// Parse an identity record (the value of kIdentityXattr): "PID STARTTIME",
/// two decimal numbers separated by one space, PID at most INT_MAX, nothing
/// else. std::nullopt for anything else, which counts as "no identity".
/// Async-signal-safe.
std::optional<ProcessIdentity> parse_identity(std::string_view text) noexcept;

/// A side record (".NAME.welld" beside the PID file NAME), for file systems
/// without user extended attributes. Text, one "KEY VALUE" line each, in this order:
///
///   welld-pidfile 1
///   inode DEV INO          (st_dev and st_ino of the PID file it describes)
///   identity PID STARTTIME (as in kIdentityXattr)
///
/// The service record's lines (kServiceXattr above) may follow; other keys
/// are ignored; "inode" and "identity" must appear once each. At most kSideRecordMax bytes, each line ending in a
/// newline. It is published complete (a temporary name, then rename).
struct SideRecord {
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  ProcessIdentity identity;
  ServiceRecord service;  // the later lines; a malformed one leaves it empty (the identity stands)
};

inline constexpr size_t kSideRecordMax = 1024;

/// Parse a side record's text (above). std::nullopt for anything else, which
/// counts as "no identity". Async-signal-safe.
std::optional<SideRecord> parse_side_record(std::string_view text) noexcept;

/// Why open_trusted_dir refused a directory chain.
struct DirTrust {
  enum class Problem {
    none,             // no trust problem: `error` is a plain errno (ENOENT, ENOTDIR, ELOOP...)
    relative,         // the path is not absolute
    foreign_owner,    // `where` is owned by `owner`, neither root nor the caller
    shared_writable,  // `where` is writable by its group or others and not sticky
    foreign_entry,    // `where` (owned by `owner`) sits in a sticky directory others can write
  };
  int error = 0;  // EPERM for the trust problems
  Problem problem = Problem::none;
  uid_t owner = 0;
  mode_t mode = 0;
  char where[PATH_MAX] = {};  // the path walked up to the component at fault
};

/// Open the absolute directory `dir` as a trusted chain (see "Trust" above):
/// an O_PATH|O_DIRECTORY|O_CLOEXEC fd, or -1 with `*why` (when given) saying
/// why. Async-signal-safe.
int open_trusted_dir(const char* dir, DirTrust* why = nullptr) noexcept;

/// One line for a refusal: "directory /srv/run belongs to uid 1001, ...".
std::string describe(const DirTrust& why);

/// Daemon side: write `path` for process `self` (see the protocol above).
/// Async-signal-safe; `path` must be absolute (EINVAL otherwise); its
/// directory is opened as a trusted chain (EPERM when it is not trusted).
/// Errors: EEXIST (already running; `*holder` gets its PID, or -1 when
/// unknown), ELOOP (symlink), EINVAL (not a regular file), EPERM (owned by
/// someone else, or writable by group or others), EMLINK (hard-linked),
/// ENOTEMPTY (holds data that is not a PID), the errno of reading the
/// daemon's start time (EMFILE...), and the errno of
/// open/fcntl/write/fsetxattr (ENOSPC, EROFS, EACCES...). On an error nothing
/// is left half-written: a new file never appears, and a stale one is either
/// left as it was or removed.
std::error_code write_pidfile(const char* path, pid_t self, pid_t* holder = nullptr) noexcept;

/// Same, for the file `name` in the directory open at `dirfd` (from
/// open_trusted_dir, opened before a fork). Async-signal-safe.
/// `service` (when non-null and non-empty) is the service record's text
/// (format_service_record), stored with the identity.
std::error_code write_pidfile_at(int dirfd, const char* name, pid_t self, pid_t* holder = nullptr,
                                 const char* service = nullptr) noexcept;

/// Rewrite `path` from `old_pid` to the process `next` (its PID and exactly
/// the start time given, as pinned by the caller: never re-read here, so a PID
/// reused since the caller pinned it is not recorded), under the lock, only if
/// the file still names old_pid: a daemon whose main process changed (sd_notify
/// MAINPID=), keeping its service record. ESTALE when the file names someone else; ESRCH when `next`
/// has no start time (a file is never published without identity).
std::error_code replace_pidfile(const char* path, pid_t old_pid, const ProcessIdentity& next) noexcept;

/// Remove `path` (and its side record) if it names `who`, under the lock, so
/// a concurrent starter's new file is never removed. With a start time the
/// recorded identity must be exactly `who`: a new daemon that got the same
/// PID keeps its file. Async-signal-safe.
void remove_pidfile(const char* path, const ProcessIdentity& who) noexcept;

/// Remove `path` if it names `self` and is not a live process's file: for
/// `self` == getpid() its identity is the caller's own; for another PID the
/// file is removed only when the process it identifies is gone (a live match
/// is someone's fresh file). Async-signal-safe.
void remove_pidfile(const char* path, pid_t self) noexcept;

/// Same two, for the file `name` in the directory open at `dirfd` (the daemon
/// removes its PID file through the directory fd its starter opened, also
/// after a chroot).
void remove_pidfile_at(int dirfd, const char* name, pid_t self) noexcept;
void remove_pidfile_at(int dirfd, const char* name, const ProcessIdentity& who) noexcept;

/// Remove `path` if it names `dead`, or is empty, under the lock: what a
/// writer killed part-way through the protocol leaves (created but not yet
/// written, or written but not yet removed on failure). For the process that
/// started `dead` and saw it die; `dead` must be gone. Async-signal-safe.
void remove_abandoned_pidfile(const char* path, pid_t dead) noexcept;

enum class PidfileState {
  absent,      // no such file
  running,     // names a live process whose identity matches
  unverified,  // names a live process; the file has no identity to check it by
  stale,       // names a dead process, or a reused PID (identity mismatch)
  invalid,     // not a PID file: garbage, PID <= 1, a symlink, not a regular file
  unreadable,  // cannot be read (error says why: EACCES...)
  untrusted,   // cannot be trusted (reason says why): a directory on the way or the file
               // belongs to, or is writable by, someone other than root and the caller
};

struct PidfileInfo {
  PidfileState state = PidfileState::absent;
  pid_t pid = -1;
  unsigned long long start_time = 0;  // from the identity record, 0 if none
  uid_t owner = 0;                    // file owner and mode, for trust checks
  mode_t mode = 0;
  ServiceRecord service;  // what start recorded beside the identity (only with an identity)
  std::error_code error;  // for unreadable / invalid
  std::string reason;     // human explanation of the state
};

/// Controller side: what `path` says, checked against the live system. The
/// directory chain and the file are checked by the trust rules above
/// (untrusted when they fail); with `trust_any_owner` (--trust-pidfile) the
/// file's own owner and mode are not, but the directory chain still is.
/// A relative path is made absolute first (unreadable when it cannot be).
PidfileInfo inspect_pidfile(const std::string& path, bool trust_any_owner = false);

std::string_view to_string(PidfileState state) noexcept;

/// Read the PID file a program wrote itself (systemd's PIDFile= of a
/// Type=forking service; welld --forking --program-pidfile). It is data from
/// the daemon, never trusted: the file at the absolute `path` is opened
/// without following a symbolic link and without blocking (a FIFO never
/// holds us), and refused unless it is a regular file with one link, owned by
/// root, the caller or `daemon_uid` (the daemon's user), and not writable by
/// group or others; its contents must be a PID (parse_pid). Says nothing
/// about the process: pin it, then check that it is the daemon's.
/// Errors: EINVAL (not absolute, not a regular file, not a PID), ELOOP (a
/// symbolic link), EMLINK (hard-linked), EPERM (another owner, or writable by
/// group or others), and open's and read's (ENOENT...). `*why` (when given)
/// gets one line saying which.
std::error_code read_program_pidfile(const std::string& path, uid_t daemon_uid, pid_t& pid, std::string* why = nullptr);

}  // namespace welld
