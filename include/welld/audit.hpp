// welld/audit.hpp — check a running process against the well-behaved-daemon
// rules, from the outside, through /proc.
//
// Every rule yields a verdict (pass, warn, fail) and evidence lines such as
// "fd 7 -> /home/u/notes.txt (file on mount /home)". Nothing here changes the
// process. Reading another user's /proc/PID/{environ,fd,fdinfo} needs root (or
// the same user): audit_process then fails with EACCES rather than guess.
//
// Gotchas, stated once:
//  * "Parent is init or a subreaper": the kernel does not publish which
//    processes are subreapers. PID 1 passes; a parent that is a well-known
//    supervisor (systemd, s6-supervise, runsv, supervisord, tini, ...) passes
//    as a subreaper; any other parent is a warning.
//  * "The other end belongs to the launcher": a pipe or socket inode that is
//    also open in a process outside the audited process's own tree (its
//    descendants) is reported with that process. This finds inherited pipes
//    and sockets (a caller's `$(...)`, a shared socket); the peer of a unix
//    socketpair is not resolved.
//  * Mounts are compared by mount id (fdinfo's mnt_id, mountinfo).
//  * Signals are calibrated on real daemons: TERM blocked or ignored makes
//    stop impossible and fails; any other ignored or blocked signal (a key-value
//    store that ignores SIGHUP by design, a blocked SIGINT) is a choice the
//    program may have made itself, and only warns. SIGPIPE ignored passes.
//  * The loader variables the environment rule fails on are
//    welld::kLoaderVariables, the list step 4 removes (environment.hpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <system_error>
#include <vector>

namespace welld {

enum class Verdict { pass, warn, fail };

std::string_view to_string(Verdict verdict) noexcept;

struct Finding {
  std::string rule;  // "controlling-terminal", "signals", ...
  Verdict verdict = Verdict::pass;
  std::vector<std::string> evidence;  // one line each; never a secret's value
  // The verdict each evidence line stands for, parallel to `evidence` (pass
  // for a line that only informs); shorter when built without add(): see
  // line_verdict. `verdict` is the worst of them.
  std::vector<Verdict> evidence_verdicts;

  /// Append a line and raise `verdict` to `v` if it is worse.
  void add(Verdict v, std::string line);
  /// The verdict line `i` caused: evidence_verdicts[i], else `verdict` for
  /// line 0 and pass for the others.
  Verdict line_verdict(size_t i) const noexcept;
};

struct AuditReport {
  pid_t pid = -1;
  std::string command;  // comm
  std::vector<Finding> findings;
  Verdict overall() const noexcept;  // the worst verdict
  int count(Verdict verdict) const noexcept;
};

struct AuditOptions {
  std::string pidfile;  // also check this PID file (rule "pidfile")
};

/// Audit `pid`. Errors: ESRCH (no such process), EACCES/EPERM (cannot read
/// its /proc entries).
std::error_code audit_process(pid_t pid, const AuditOptions& options, AuditReport& out);

/// Audit every process in `pids` (welld audit --all). One scan of /proc, made
/// first, serves every process: the cost is linear in the number of processes
/// and fds on the system, not their product. Processes that cannot be audited
/// (gone, not ours to read) are left out.
std::vector<AuditReport> audit_processes(const std::vector<pid_t>& pids);

/// Processes that look like daemons: no controlling terminal, not a kernel
/// thread, and a parent that is PID 1 or a known supervisor.
std::vector<pid_t> daemon_like_processes();

/// Whether a live process ignores, blocks or catches a signal now, from
/// /proc/PID/status (SigIgn and SigCgt are the process's; SigBlk is its main
/// thread's mask). For a control command that wants to warn before sending a
/// signal that will do nothing (a reload signal the daemon ignores).
struct SignalState {
  bool ignored = false;  // SigIgn: delivery discards it
  bool blocked = false;  // SigBlk: it stays pending (unless a signalfd or sigwait reads it)
  bool caught = false;   // SigCgt: a handler runs
};

/// Errors: EINVAL for `sig` outside 1..64, ESRCH when `pid` is gone, others
/// from reading /proc (readable by anyone for any process).
std::error_code signal_state(pid_t pid, int sig, SignalState& out);

}  // namespace welld
