#include "welld/control.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace welld {

DaemonLookup find_daemon(const std::string& pidfile) {
  DaemonLookup lookup;
  lookup.file = inspect_pidfile(pidfile);
  if (lookup.file.state != PidfileState::running) return lookup;
  if (auto ec = Process::open(lookup.file.pid, lookup.file.start_time, lookup.process)) {
    if (ec == std::errc::no_such_process) {
      lookup.file.state = PidfileState::stale;
      lookup.file.reason = "process " + std::to_string(lookup.file.pid) + " is not running";
    } else {
      lookup.file.state = PidfileState::unreadable;
      lookup.file.error = ec;
      lookup.file.reason = ec.message();
    }
  }
  return lookup;
}

std::string distrust_reason(const PidfileInfo& file, const PidfileTrust& trust) {
  if (trust.trust_any || ::geteuid() != 0) return {};
  if (file.owner != 0) {
    return "it is owned by uid " + std::to_string(file.owner) +
           ", not root: whoever owns it could point it at any process (use --trust-pidfile to override)";
  }
  if ((file.mode & 022) != 0) {
    return "it is writable by group or others, who could point it at any process "
           "(use --trust-pidfile to override)";
  }
  return {};
}

namespace {

// Common front of stop and reload: the pinned daemon, or why there is none.
// Returns true with lookup.process valid when the caller may signal.
enum class Gate { go, not_running, refused, failed };

Gate gate(const std::string& pidfile, const PidfileTrust& trust, DaemonLookup& lookup, std::string& reason,
          std::error_code& error) {
  lookup = find_daemon(pidfile);
  const PidfileInfo& file = lookup.file;
  switch (file.state) {
    case PidfileState::absent: reason = "not running"; return Gate::not_running;
    case PidfileState::stale: reason = "not running (" + file.reason + ")"; return Gate::not_running;
    case PidfileState::invalid:
    case PidfileState::unverified: reason = "refusing to signal: " + file.reason; return Gate::refused;
    case PidfileState::unreadable:
      reason = "cannot read PID file " + pidfile + ": " + file.reason;
      error = file.error;
      return Gate::failed;
    case PidfileState::running: break;
  }
  if (auto why = distrust_reason(file, trust); !why.empty()) {
    reason = "refusing PID file " + pidfile + ": " + why;
    return Gate::refused;
  }
  return Gate::go;
}

}  // namespace

StopResult stop_daemon(const std::string& pidfile, int sig, std::chrono::milliseconds timeout,
                       const PidfileTrust& trust, std::chrono::milliseconds kill_timeout) {
  StopResult result;
  DaemonLookup lookup;
  switch (gate(pidfile, trust, lookup, result.reason, result.error)) {
    case Gate::not_running:
      result.outcome = StopOutcome::not_running;
      // A stale file goes: nothing it names is ours any more.
      if (lookup.file.state == PidfileState::stale) remove_pidfile(pidfile.c_str(), lookup.file.pid);
      return result;
    case Gate::refused: result.outcome = StopOutcome::refused; return result;
    case Gate::failed: result.outcome = StopOutcome::failed; return result;
    case Gate::go: break;
  }
  const Process& daemon = lookup.process;
  result.pid = daemon.pid();
  if (auto ec = daemon.signal(sig); ec && ec != std::errc::no_such_process) {
    result.outcome = StopOutcome::failed;
    result.error = ec;
    result.reason = "cannot signal pid " + std::to_string(result.pid) + ": " + ec.message();
    return result;
  }
  result.outcome = StopOutcome::stopped;
  if (!daemon.wait_exit(timeout)) {
    result.outcome = StopOutcome::killed;
    daemon.signal(SIGKILL);
    if (!daemon.wait_exit(kill_timeout)) {
      result.outcome = StopOutcome::failed;
      result.error = {ETIMEDOUT, std::system_category()};
      result.reason = "pid " + std::to_string(result.pid) + " survived SIGKILL";
      return result;
    }
  }
  remove_pidfile(pidfile.c_str(), result.pid);
  return result;
}

SignalResult signal_daemon(const std::string& pidfile, int sig, const PidfileTrust& trust) {
  SignalResult result;
  DaemonLookup lookup;
  switch (gate(pidfile, trust, lookup, result.reason, result.error)) {
    case Gate::not_running: result.outcome = SignalOutcome::not_running; return result;
    case Gate::refused: result.outcome = SignalOutcome::refused; return result;
    case Gate::failed: result.outcome = SignalOutcome::failed; return result;
    case Gate::go: break;
  }
  result.pid = lookup.process.pid();
  if (auto ec = lookup.process.signal(sig)) {
    result.outcome = ec == std::errc::no_such_process ? SignalOutcome::not_running : SignalOutcome::failed;
    result.error = ec;
    result.reason = "cannot signal pid " + std::to_string(result.pid) + ": " + ec.message();
    return result;
  }
  result.outcome = SignalOutcome::sent;
  return result;
}

}  // namespace welld
