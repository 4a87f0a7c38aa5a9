// welld/control.hpp — controlling a daemon through its PID file, safely.
//
// Safety rules, all enforced here rather than in the CLI:
//  * a PID file is believed only when its identity record matches the live
//    process (see pidfile.hpp): a stale file, a reused PID, garbage, PID 0, 1
//    or negative, a symlink or a non-regular file never lead to a signal;
//  * the PID file and its directory chain are trusted only as pidfile.hpp
//    says ("Trust"): a file in a directory another user can write, or owned
//    by another user, is "untrusted" (status: unknown; stop/reload: refused);
//  * signals go through a pidfd taken *before* the identity is re-checked, so
//    the process signalled is the one that was checked (without pidfd_open, a
//    /proc/PID directory fd; without pidfd_send_signal, nothing is signalled);
//  * the PID file is removed after a stop only if its identity is still the
//    stopped daemon's: a new daemon that got the same PID keeps its file;
//  * waiting for exit polls the pidfd: no sleep loop;
//  * a stop ends the whole service, not only its main process (stop_process):
//    its own cgroup v2 where welld start created one (recorded beside the
//    identity), else the session welld created for it (also recorded);
//  * the stop and reload settings recorded at start (welld start
//    --stop-signal, --stop-timeout, --reload-signal) apply unless the caller
//    gives its own (kRecordedSignal, kRecordedTimeout);
//  * a PID file the daemon wrote itself (no welld identity) is acted upon only
//    with a process match (PidfileTrust::exec / ::name), checked on the
//    pinned process, for a file in a trusted directory owned by root or the
//    caller and writable by nobody else.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <string>
#include <system_error>
#include <vector>

#include "welld/pidfile.hpp"
#include "welld/process.hpp"

namespace welld {

/// What a PID file says, with the process pinned when it is running.
struct DaemonLookup {
  PidfileInfo file;
  Process process;       // valid only when file.state == PidfileState::running
  std::string mismatch;  // with PidfileTrust::exec/name: why the process does not match ("" when it does)
};

/// Rules for who may have written the PID file (root's control verbs must not
/// follow a file the daemon, or anyone else, could have rewritten).
struct PidfileTrust {
  bool trust_any = false;  // --trust-pidfile: skip the file's owner/mode check (never the directory chain's)
  // start-stop-daemon's matching (--exec PATH, --name NAME): the process the
  // file names must run the executable `exec` (compared by device and inode of
  // /proc/PID/exe, so a symlinked or usrmerged path matches; a deleted or
  // replaced binary does not) and/or have the command name `name` (its comm,
  // the first 15 bytes). Checked on the pinned process, before any signal.
  // With a match, a file without welld identity ("unverified") is accepted:
  // its directory chain must be trusted and the file owned by root or the
  // caller and not writable by group or others (trust_any does not relax it).
  // A process that does not match is refused (nothing signalled).
  std::string exec;
  std::string name;
  bool matching() const { return !exec.empty() || !name.empty(); }
};

/// Read `pidfile` and, when it names a live daemon, pin it. A daemon that
/// exits or whose PID is reused between reading and pinning is reported
/// stale, never pinned. A file that cannot be trusted is reported untrusted.
/// With a match (PidfileTrust::exec / ::name) an unverified file that passes
/// is reported running (pinned, start_time the pinned one's); a process that
/// does not match is reported running, unpinned, with `mismatch` set.
DaemonLookup find_daemon(const std::string& pidfile, const PidfileTrust& trust = {});

/// Empty when `file` may be acted upon by the current user; otherwise why not:
/// the file must be owned by root or the caller and not writable by group or
/// others (inspect_pidfile applies the same rule and reports "untrusted").
std::string distrust_reason(const PidfileInfo& file, const PidfileTrust& trust);

enum class StopOutcome {
  stopped,      // exited after the signal
  killed,       // ignored the signal until the timeout; SIGKILL ended it
  not_running,  // nothing to stop (no file, or a stale one, removed)
  refused,      // the file cannot be trusted or verified: nothing was signalled
  failed,       // signalling failed (error says why: EPERM...), or it (or a process of its scope) survived SIGKILL
};

struct StopResult {
  StopOutcome outcome = StopOutcome::failed;
  pid_t pid = -1;
  std::error_code error;
  std::string reason;                    // for refused/failed/not_running
  int signal = 0;                        // the signal sent first (after the recorded/default choice)
  std::chrono::milliseconds timeout{0};  // how long it was given
  int others = 0;                        // other processes of the scope that were ended
  std::vector<pid_t> survivors;          // processes of the scope still running (outcome failed)
  int wait_status = -1;                  // stop_process: main's raw wait status when the stop reaped it (a child)
};

/// stop_daemon's "not given": use the setting recorded at start, else the default (TERM, 10 s; HUP for reload).
inline constexpr int kRecordedSignal = 0;
inline constexpr std::chrono::milliseconds kRecordedTimeout{-1};

/// How to stop a daemon: the signal, how long to wait for it, and how long to
/// wait after SIGKILL.
struct StopPolicy {
  int signal = SIGTERM;
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  std::chrono::milliseconds kill_timeout = std::chrono::seconds(10);
};

/// Where the rest of a daemon lives besides its main process: the session
/// welld created for it and, when welld placed it in one, its cgroup. Read
/// while the main process is pinned (scope_of), or from the identity record.
struct ServiceScope {
  pid_t session = -1;  // session id (the intermediate's PID), -1 when unknown
  std::string cgroup;  // cgroup v2 path of the service's own cgroup, "" when none
};

/// The scope of the pinned process `main`, read live: for a process the
/// caller just spawned (start's rollback), not for one named by a PID file
/// (stop_daemon uses the scope recorded at start). The session is main's
/// unless it is the caller's own (never ended); the cgroup is main's when it
/// is one welld created (its last component starts with "welld-"). Both are
/// read while main is present (running, or a zombie not yet reaped): an empty
/// scope when it is gone.
ServiceScope scope_of(const Process& main);

/// The one stop sequence of the codebase (stop, restart, and start's
/// rollback): send policy.signal to the pinned `main`, wait up to
/// policy.timeout, then SIGKILL and wait up to policy.kill_timeout. `main`
/// may already have exited (an empty Process, or one whose pidfd is stale).
/// Then every process left in `scope` gets SIGTERM, and SIGKILL after
/// policy.timeout more, and is waited for up to policy.kill_timeout:
///  * with a cgroup: its members (cgroup.procs), each pinned by pidfd and its
///    cgroup re-read after pinning, are sent SIGTERM; the kill is cgroup.kill
///    (Linux 5.14: atomic, catches a forking process), else each member
///    pinned and signalled; the empty cgroup is removed afterwards;
///  * else with a session: the processes of /proc whose session is
///    scope.session, each pinned by pidfd and its session re-read after
///    pinning, signalled through the pidfd (never kill(2) by number). A
///    member is believed only while another process already known to be in
///    the session (main first) is still present, so a session id that went
///    to someone else is never followed.
/// The caller itself is never signalled. Never touches a PID file. Outcome
/// stopped, killed (main or a process of the scope needed SIGKILL) or failed
/// (with reason; `survivors` lists what is still running).
StopResult stop_process(const Process& main, const ServiceScope& scope, const StopPolicy& policy);

/// Send `sig`, wait up to `timeout` for exit, then SIGKILL (and wait again, up
/// to `kill_timeout`), then end the rest of the service (stop_process) in the
/// scope recorded at start: its cgroup, else its session while the main
/// process is still in it (a file without a recorded scope: the main process
/// only). `sig` kRecordedSignal and `timeout` kRecordedTimeout take the
/// settings recorded at start (welld start --stop-signal/--stop-timeout), else
/// TERM and 10 s. Removes the PID file afterwards (only if it still names the
/// stopped daemon), and removes a stale one (and its empty cgroup).
StopResult stop_daemon(const std::string& pidfile, int sig, std::chrono::milliseconds timeout,
                       const PidfileTrust& trust = {},
                       std::chrono::milliseconds kill_timeout = std::chrono::seconds(10));

enum class SignalOutcome {
  sent,
  not_running,
  refused,
  failed,
  ignored,  // the daemon ignores `sig` (SIG_IGN): nothing was sent, it would have no effect
};

struct SignalResult {
  SignalOutcome outcome = SignalOutcome::failed;
  pid_t pid = -1;
  int signal = 0;        // the signal chosen (after the recorded/default choice)
  bool blocked = false;  // sent, but the daemon blocks it: it stays pending unless read by signalfd/sigwait
  std::error_code error;
  std::string reason;
};

/// Send `sig` to the daemon named by `pidfile` (reload). kRecordedSignal takes
/// the reload signal recorded at start (welld start --reload-signal), else
/// HUP. The pinned daemon's disposition is read first (signal_state): an
/// ignored signal is not sent (outcome ignored); a blocked one is sent and
/// reported (blocked).
SignalResult signal_daemon(const std::string& pidfile, int sig, const PidfileTrust& trust = {});

}  // namespace welld
