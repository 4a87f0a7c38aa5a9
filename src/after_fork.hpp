// Code that runs after fork or clone, before exec (or before daemonize's
// init): the daemon's steps, and the system steps they call (close the fds,
// reset the signals, drop the privileges, scrub the environment).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "daemon_plan.hpp"
#include "welld/pidfile.hpp"
#include "welld/step.hpp"

// Marks every function that may run after fork or clone, and so keeps the
// rule that code there must keep:
//  - async-signal-safe calls only (signal-safety(7)): another thread of the
//    caller may have held a lock (malloc's, stdio's, NSS's) at the fork;
//  - no allocation, no locks, no stdio, no exceptions;
//  - never a write to the caller's memory: spawn_daemon's children share it
//    (clone with CLONE_VM, see spawn_clone.cpp), so they write only their own
//    stacks and kernel state (fds, credentials...), never the plan, globals or
//    environ. errno is the one exception: shared with the sleeping caller,
//    which ignores it;
//  - errors are returned as an int errno (or an error_code made from one), or
//    reported over the status pipe as a Report.
// It also turns off AddressSanitizer's instrumentation: the clone children
// run on stacks ASan does not know, where its bookkeeping before a noreturn
// call (__asan_handle_no_return) would print a warning on the caller's stderr.
#define WELLD_AFTER_FORK __attribute__((no_sanitize("address")))

namespace welld::detail {

// What the children tell the original process over the status pipe.
enum class ReportKind : std::int32_t { pid = 1, initialized = 2, failed = 3, executing = 4 };

// One fixed-size record: smaller than PIPE_BUF, so each write is atomic.
struct Report {
  ReportKind kind;
  std::int32_t step;
  std::int32_t error;
  std::int32_t pid;
};

// Where the daemon's own PID file is, for removal: the directory fd its
// starter opened (it also reaches the host's directory after a chroot) and
// the file's name. A local of the daemon, never a global: spawn_daemon's
// children share the caller's memory.
struct OwnPidfile {
  int dir = -1;                // with a chroot: the host directory's fd
  const char* name = nullptr;  // the file's name in `dir`
  const char* path = nullptr;  // without a chroot: the path (its chain is opened again)

  WELLD_AFTER_FORK void remove() const noexcept;

  // Before the program's own code runs in a chroot (daemonize's init and run):
  // the host directory's fd would let it leave the chroot (openat(fd, "..")),
  // so it is closed, and the PID file then stays behind when the daemon exits,
  // a stale file that its identity tells apart from a live daemon.
  WELLD_AFTER_FORK void release_host_dir() noexcept;
};

// A step that failed, and its errno.
struct Failed {
  Step step = Step::none;
  int error = 0;
};

// One report to the original process, with this process's PID.
WELLD_AFTER_FORK void send(int fd, ReportKind kind, Step step = Step::none, int error = 0) noexcept;

// Report the failed step and _exit(1).
[[noreturn]] WELLD_AFTER_FORK void fail_and_exit(int report_fd, Step step, int error) noexcept;

// Steps 1-4 and step 6 in the first child: setsid, or for a child that stays
// the caller's what plan.session says (a failed setpgid is reported as
// Step::setsid). Returns only on success.
WELLD_AFTER_FORK void detach(const Plan& plan, int report_fd) noexcept;

// daemonize's first child: steps 1-7 by fork; returns only in the daemon.
// With plan.detach false, steps 1-6 only: the first child is the daemon.
WELLD_AFTER_FORK void become_daemon(const Plan& plan, int report_fd) noexcept;

// The daemon after it announced its PID: fds at their numbers, then steps
// 9-13. Returns only on success; `report_fd` may have moved.
WELLD_AFTER_FORK void settle(const Plan& plan, int& report_fd, OwnPidfile& own) noexcept;

// After the PID file: chroot (with chdir inside it), limits and priority,
// then the privilege drop and no_new_privs. Also records in `own` where the
// PID file is, for its removal. (run_foreground calls it too.)
WELLD_AFTER_FORK Failed confine(const Plan& plan, OwnPidfile& own) noexcept;

// A child that stays the caller's, after the privilege drop (a credential
// change would clear it): PR_SET_PDEATHSIG with plan.parent_death_signal,
// then, if its parent is no longer `caller` (the caller's PID, read before
// the fork: it died meanwhile), the PID file removed and _exit without exec.
// Nothing when the plan has no parent death signal.
WELLD_AFTER_FORK void arm_parent_death_signal(const Plan& plan, pid_t caller, int report_fd,
                                              const OwnPidfile& own) noexcept;

// daemonize's daemon only, which forked and so owns its copy of the plan:
// the LISTEN_PID and WATCHDOG_PID entries of that copy name this process.
WELLD_AFTER_FORK void set_own_pid_entries(const Plan& plan) noexcept;

// Step 14 for spawn_daemon: the exec itself is the readiness (or its failure).
// With LISTEN_PID or WATCHDOG_PID, the environment it passes is built on its
// own stack: exec_stack_bytes(plan) more than its fixed frame.
[[noreturn]] WELLD_AFTER_FORK void exec_program(const Plan& plan, int report_fd, const OwnPidfile& own) noexcept;

inline size_t exec_stack_bytes(const Plan& plan) noexcept {
  return plan.listen_pid || plan.watchdog_pid ? plan.envp.size() * sizeof(char*) : 0;
}

// Open the log `name` in the trusted directory `dirfd` (from open_trusted_dir)
// for appending, O_CLOEXEC: created with O_EXCL (and `mode`, less the umask),
// or else an existing regular file with one link that, in a sticky directory
// others can write, is ours; a symlink (ELOOP), FIFO or device (EINVAL) is
// never opened. `*created` (when given) tells whether this call created it.
// -1 with errno otherwise. Step 9 and the log writer (log.cpp) share it.
WELLD_AFTER_FORK int open_log_at(int dirfd, const char* name, mode_t mode = 0640, bool* created = nullptr) noexcept;

// ---- decimals -------------------------------------------------------------------

// The decimal text of `value` and a NUL into `buf` (`size` bytes; 21 hold any
// value). Returns its length, or 0 (and "" when size > 0) when it does not fit.
WELLD_AFTER_FORK size_t format_decimal(char* buf, size_t size, unsigned long long value) noexcept;

// The `len` bytes at `text` as a decimal: digits only (no sign, no blank), 1 to
// 20 of them, at most ULLONG_MAX. False (and `out` untouched) otherwise.
WELLD_AFTER_FORK bool parse_decimal(const char* text, size_t len, unsigned long long& out) noexcept;

// ---- step 12: the PID file (see welld/pidfile.hpp for the protocol) -------------
//
// The daemon writes its PID file and removes it after fork; the parts that
// inspect_pidfile, replace_pidfile and the others share with it are these.

// Owned by root or by the caller: the only users welld trusts.
WELLD_AFTER_FORK bool trusted_owner(uid_t uid) noexcept;

// Writable by someone other than its owner.
WELLD_AFTER_FORK bool shared_writable(mode_t mode) noexcept;

// Whether `fd` is the file at `name` in `dirfd` (not followed).
WELLD_AFTER_FORK bool same_inode(int fd, int dirfd, const char* name) noexcept;

WELLD_AFTER_FORK std::error_code as_error(int err) noexcept;

// Split absolute `path` into its directory (opened as a trusted chain) and its last component.
WELLD_AFTER_FORK int open_parent(const char* path, const char** name, DirTrust* why) noexcept;

// Remove the side record of `name` in `dirfd`.
WELLD_AFTER_FORK void remove_record(int dirfd, const char* name) noexcept;

// Open `name` in `dirfd` for the protocol. The name is checked before it is
// opened (a device or FIFO is never opened), then the file opened is checked
// to be the one checked. `*created` (when given) tells whether this call created it.
WELLD_AFTER_FORK int open_pidfile(int dirfd, const char* name, bool create, int& err, bool* created = nullptr) noexcept;

// Take the OFD write lock on `fd`, waiting (bounded) for a concurrent holder.
WELLD_AFTER_FORK bool lock_pidfile(int fd, int& err) noexcept;

// What a PID file says (see judge).
struct Judgement {
  PidfileState state = PidfileState::absent;
  pid_t pid = -1;
  unsigned long long recorded = 0;  // start time in the identity record, 0 if none
  bool has_identity = false;        // the file carries an identity record naming its PID
  bool numeric = false;             // invalid, but only a number (0, 1, too large): no one's data
  ServiceRecord service;            // recorded with the identity (when it names this PID)
};

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

// What the open, locked-or-not file at `fd` (named `name` in `dirfd`) says.
WELLD_AFTER_FORK Judgement judge(int fd, int dirfd, const char* name) noexcept;

// The contents of a PID file for `pid`, written into `fd` (named `name` in
// `dirfd` once published); see its definition. Returns 0 or an errno.
WELLD_AFTER_FORK int fill_pidfile(int fd, int dirfd, const char* name, pid_t pid, unsigned long long start, bool fresh,
                                  const char* service) noexcept;

// EOPNOTSUPP and its kin: this file system (or kernel) has no unnamed files.
WELLD_AFTER_FORK bool unnamed_files_unsupported(int err) noexcept;

// Publish a complete file for `pid` at `name` in `dirfd`. With `replace`, the
// file now there is ours to replace (locked, and checked to be the one at the name).
WELLD_AFTER_FORK Published publish_unnamed(int dirfd, const char* name, pid_t pid, unsigned long long start,
                                           bool replace, const char* service) noexcept;

}  // namespace welld::detail
