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

/// Processes that look like daemons: no controlling terminal, not a kernel
/// thread, and a parent that is PID 1 or a known supervisor.
std::vector<pid_t> daemon_like_processes();

}  // namespace welld
