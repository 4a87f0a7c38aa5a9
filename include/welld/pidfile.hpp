// welld/pidfile.hpp — step 12: race-free PID files, stale detection.
//
// The file holds the PID in decimal and a newline, nothing else, so that
// `kill $(cat FILE)`, start-stop-daemon and systemd's PIDFile= read it.
// welld's identity record lives in an extended attribute (kIdentityXattr):
// "PID STARTTIME", the start time in clock ticks since boot (field 22 of
// /proc/PID/stat). A PID plus its start time names one process for the life of
// the system, which is how a reused PID is told apart from the daemon, and a
// file whose PID was rewritten by someone else no longer matches its record.
//
// A file is only ever published complete. Its contents and identity are
// written into an unnamed file (O_TMPFILE) in the target directory, which is
// then linked under the name: readers, which take no lock (status, stop,
// audit), never see it empty or without its identity, and a failed write
// (ENOSPC, EDQUOT...) never shows. Where unnamed files are not available (no
// O_TMPFILE support, no /proc, a directory the writer cannot write to while
// the file exists) the file is written in place under the lock instead, and
// a reader can then briefly see it empty ("invalid") or without identity.
//
// Protocol (write_pidfile):
//  1. open with O_NOFOLLOW|O_CLOEXEC (a symlink is refused: ELOOP), refuse
//     anything but a regular file (EINVAL). When there is no file, publish a
//     new one (EEXIST on the link means another writer was first: start over);
//  2. take an open-file-description write lock (F_OFD_SETLK). The lock is a
//     mutex for steps 3-4 only, held for a few syscalls, so a conflict is
//     retried for a bounded time. It is released afterwards: the daemon holds
//     no fd for its PID file (an exec'd program could not keep one anyway),
//     and liveness is judged by the identity record, not by the lock;
//  3. after locking, check that the path still names the inode we locked
//     (a remover may have unlinked it in between), else start over;
//  4. read the current contents: a live process whose identity matches means
//     "already running" (EEXIST, with its PID); otherwise the file is stale
//     and is replaced: a new file is published (unlink, then link, so the
//     name is briefly absent, never incomplete), or else the file is
//     truncated and rewritten in place.
//
// On filesystems without user extended attributes the identity is missing;
// a file without identity whose PID is alive and started before the file was
// last written is treated as possibly live ("unverified"): start refuses to
// start a second instance and stop refuses to signal it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace welld {

inline constexpr const char* kIdentityXattr = "user.welld.starttime";

/// Start time of `pid` in clock ticks since boot, or 0 when it is gone (or
/// /proc is unreadable). Async-signal-safe.
unsigned long long process_start_time(pid_t pid) noexcept;

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

/// Daemon side: write `path` for process `self` (see the protocol above).
/// Async-signal-safe; `path` must be absolute. Errors: EEXIST (already
/// running; `*holder` gets its PID, or -1 when unknown), ELOOP (symlink),
/// EINVAL (not a regular file), and the errno of open/fcntl/write/fsetxattr
/// (ENOSPC, EROFS, EACCES...). On an error nothing is left half-written: a new
/// file never appears, and a stale one is either left as it was or removed.
std::error_code write_pidfile(const char* path, pid_t self, pid_t* holder = nullptr) noexcept;

/// Rewrite `path` from `old_pid` to `new_pid` (with new_pid's identity), under
/// the lock, only if it still names old_pid: a daemon whose main process
/// changed (sd_notify MAINPID=). ESTALE when the file names someone else.
std::error_code replace_pidfile(const char* path, pid_t old_pid, pid_t new_pid) noexcept;

/// Remove `path` if it still names `self` (under the lock, so a concurrent
/// starter's new file is never removed). Async-signal-safe.
void remove_pidfile(const char* path, pid_t self) noexcept;

/// Same, relative to the directory open at `dirfd` (a chrooted daemon removes
/// its host-side PID file through a directory fd opened before the chroot).
void remove_pidfile_at(int dirfd, const char* path, pid_t self) noexcept;

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
};

struct PidfileInfo {
  PidfileState state = PidfileState::absent;
  pid_t pid = -1;
  unsigned long long start_time = 0;  // from the identity record, 0 if none
  uid_t owner = 0;                    // file owner and mode, for trust checks
  mode_t mode = 0;
  std::error_code error;  // for unreadable / invalid
  std::string reason;     // human explanation of the state
};

/// Controller side: what `path` says, checked against the live system.
PidfileInfo inspect_pidfile(const std::string& path);

std::string_view to_string(PidfileState state) noexcept;

}  // namespace welld
