// welld/control.hpp — controlling a daemon through its PID file, safely.
//
// Safety rules, all enforced here rather than in the CLI:
//  * a PID file is believed only when its identity record matches the live
//    process (see pidfile.hpp): a stale file, a reused PID, garbage, PID 0, 1
//    or negative, a symlink or a non-regular file never lead to a signal;
//  * signals go through a pidfd taken *before* the identity is re-checked, so
//    the process signalled is the one that was checked;
//  * waiting for exit polls the pidfd: no sleep loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <system_error>

#include "welld/pidfile.hpp"
#include "welld/process.hpp"

namespace welld {

/// What a PID file says, with the process pinned when it is running.
struct DaemonLookup {
  PidfileInfo file;
  Process process;  // valid only when file.state == PidfileState::running
};

/// Read `pidfile` and, when it names a live daemon, pin it. A daemon that
/// exits or whose PID is reused between reading and pinning is reported
/// stale, never pinned.
DaemonLookup find_daemon(const std::string& pidfile);

/// Rules for who may have written the PID file (root's control verbs must not
/// follow a file the daemon, or anyone else, could have rewritten).
struct PidfileTrust {
  bool trust_any = false;  // --trust-pidfile: skip the owner/mode check
};

/// Empty when `file` may be acted upon by the current user; otherwise why not.
/// When running as root: the file must be owned by root and not writable by
/// group or others.
std::string distrust_reason(const PidfileInfo& file, const PidfileTrust& trust);

enum class StopOutcome {
  stopped,      // exited after the signal
  killed,       // ignored the signal until the timeout; SIGKILL ended it
  not_running,  // nothing to stop (no file, or a stale one, removed)
  refused,      // the file cannot be trusted or verified: nothing was signalled
  failed,       // signalling failed (error says why: EPERM...), or it survived SIGKILL
};

struct StopResult {
  StopOutcome outcome = StopOutcome::failed;
  pid_t pid = -1;
  std::error_code error;
  std::string reason;  // for refused/failed/not_running
};

/// Send `sig`, wait up to `timeout` for exit, then SIGKILL (and wait again, up
/// to `kill_timeout`). Removes the PID file afterwards (only if it still names
/// the stopped daemon), and removes a stale one.
StopResult stop_daemon(const std::string& pidfile, int sig, std::chrono::milliseconds timeout,
                       const PidfileTrust& trust = {},
                       std::chrono::milliseconds kill_timeout = std::chrono::seconds(10));

enum class SignalOutcome { sent, not_running, refused, failed };

struct SignalResult {
  SignalOutcome outcome = SignalOutcome::failed;
  pid_t pid = -1;
  std::error_code error;
  std::string reason;
};

/// Send `sig` to the daemon named by `pidfile` (reload).
SignalResult signal_daemon(const std::string& pidfile, int sig, const PidfileTrust& trust = {});

}  // namespace welld
