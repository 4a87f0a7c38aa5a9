// Readiness of a self-forking program (systemd's Type=forking): see
// "Forking" in welld/readiness.hpp.
#include <unistd.h>

#include <string>

#include "welld/path.hpp"
#include "welld/pidfile.hpp"
#include "welld/privileges.hpp"
#include "welld/readiness.hpp"

namespace welld {

std::error_code ReadinessWaiter::prepare_forking(Options& options) {
  if (spec_.path.empty()) return {EINVAL, std::system_category()};
  std::string path;
  if (make_absolute(spec_.path, path)) return {EINVAL, std::system_category()};
  spec_.path = path;
  // Its own process's exit status is the first half of readiness.
  options.collect_exit_status = true;
  daemon_uid_ = ::geteuid();
  if (!options.user.empty()) {
    Credentials creds;
    if (auto ec = resolve_credentials(options.user, options.group, creds)) return ec;
    daemon_uid_ = creds.uid;
  }
  return {};
}

// Whether `pid` (pinned by the caller) belongs to the daemon now that the
// daemon's own process is gone: an orphan of its tree adopted by the caller,
// or a process of the daemon's session. Never by the daemon's PID: it is
// free for anyone once the daemon was reaped.
bool ReadinessWaiter::is_daemons(pid_t pid) const {
  if (pid == ::getpid()) return false;
  if (adopting_ && is_own_descendant(pid)) return true;
  return session_ > 1 && process_session(pid) == session_;
}

bool ReadinessWaiter::forking_main_found(ReadyResult& result) {
  pid_t pid = -1;
  std::string why;
  if (read_program_pidfile(spec_.path, daemon_uid_, pid, &why)) {
    result.reason = why;
    return false;
  }
  // Pinned first, checked after; then still the process that was pinned.
  unsigned long long start = process_start_time(pid);
  Process candidate;
  if (start == 0 || Process::open(pid, start, candidate) || candidate.has_exited()) {
    result.reason = spec_.path + " names pid " + std::to_string(pid) + ", which is not running";
    return false;
  }
  if (start < daemon_start_time_ || !is_daemons(pid) || process_start_time(pid) != start) {
    result.reason = spec_.path + " names pid " + std::to_string(pid) + ", which is not a new process of the program";
    return false;
  }
  main_ = std::move(candidate);
  result.main_pid = pid;
  result.main_start_time = start;
  result.reason.clear();
  return true;
}

}  // namespace welld
