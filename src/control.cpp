#include "welld/control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <utility>

#include "proc.hpp"
#include "retry_backoff.hpp"
#include "welld/audit.hpp"
#include "welld/path.hpp"
#include "welld/signals.hpp"

namespace welld {

namespace {

// Why the pinned `p` does not match `trust`'s exec/name ("" when it does).
// Read by PID, then `p` is checked present: the reads were of the pinned process.
std::string match_failure(const Process& p, const PidfileTrust& trust) {
  std::string pid = std::to_string(p.pid());
  std::string why;
  if (!trust.exec.empty()) {
    struct stat want {};
    struct stat have {};
    if (::stat(trust.exec.c_str(), &want) != 0) {
      why = "cannot look at " + trust.exec + ": " + std::error_code(errno, std::system_category()).message();
    } else if (::stat(("/proc/" + pid + "/exe").c_str(), &have) != 0) {
      why = "cannot read the executable of pid " + pid + ": " +
            std::error_code(errno, std::system_category()).message();
    } else if (have.st_dev != want.st_dev || have.st_ino != want.st_ino) {
      char target[PATH_MAX] = {};
      ssize_t n = ::readlink(("/proc/" + pid + "/exe").c_str(), target, sizeof target - 1);
      why = "pid " + pid + " runs " + (n > 0 ? std::string(target, static_cast<size_t>(n)) : "another program") +
            ", not " + trust.exec;
    }
  }
  if (why.empty() && !trust.name.empty()) {
    std::string comm = process_comm(p.pid());
    if (comm != trust.name.substr(0, 15)) why = "pid " + pid + " is named " + comm + ", not " + trust.name;
  }
  if (!p.present()) return "pid " + pid + " exited while it was checked";
  return why;
}

}  // namespace

DaemonLookup find_daemon(const std::string& pidfile, const PidfileTrust& trust) {
  DaemonLookup lookup;
  lookup.file = inspect_pidfile(pidfile, trust.trust_any && !trust.matching());
  if (lookup.file.state == PidfileState::unverified && trust.matching()) {
    // A PID file the daemon wrote itself: the process, pinned, must match.
    unsigned long long start = process_start_time(lookup.file.pid);
    if (start == 0 || Process::open(lookup.file.pid, start, lookup.process)) {
      lookup.file.state = PidfileState::stale;
      lookup.file.reason = "process " + std::to_string(lookup.file.pid) + " is not running";
      return lookup;
    }
    lookup.file.start_time = start;
    lookup.file.state = PidfileState::running;
    lookup.mismatch = match_failure(lookup.process, trust);
    if (!lookup.mismatch.empty()) lookup.process = Process();
    return lookup;
  }
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
    return lookup;
  }
  if (trust.matching()) {
    lookup.mismatch = match_failure(lookup.process, trust);
    if (!lookup.mismatch.empty()) lookup.process = Process();
  }
  return lookup;
}

std::string distrust_reason(const PidfileInfo& file, const PidfileTrust& trust) {
  if (trust.trust_any && !trust.matching()) return {};
  if (file.owner != 0 && file.owner != ::geteuid()) {
    return "it is owned by uid " + std::to_string(file.owner) + ", not " +
           (::geteuid() == 0 ? std::string("root") : "root or uid " + std::to_string(::geteuid())) +
           ": whoever owns it could point it at any process (use --trust-pidfile to override)";
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

std::string signal_failure(pid_t pid, const std::error_code& ec) {
  if (ec == std::errc::function_not_supported) {
    return "cannot signal pid " + std::to_string(pid) +
           ": this kernel has no pidfd_send_signal (Linux 5.1), and welld never signals a process by its number";
  }
  return "cannot signal pid " + std::to_string(pid) + ": " + ec.message();
}

Gate gate(const std::string& pidfile, const PidfileTrust& trust, DaemonLookup& lookup, std::string& reason,
          std::error_code& error) {
  lookup = find_daemon(pidfile, trust);
  const PidfileInfo& file = lookup.file;
  switch (file.state) {
    case PidfileState::untrusted:
      reason = "refusing PID file " + pidfile + ": " + file.reason;
      // The file's own owner and mode can be overridden; a directory chain cannot.
      if (file.error.value() == 0) reason += " (use --trust-pidfile to override)";
      return Gate::refused;
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
  if (!lookup.mismatch.empty()) {
    reason = "refusing to signal: " + lookup.mismatch;
    return Gate::refused;
  }
  if (auto why = distrust_reason(file, trust); !why.empty()) {
    reason = "refusing PID file " + pidfile + ": " + why;
    return Gate::refused;
  }
  return Gate::go;
}

}  // namespace

namespace {

bool cgroup_of_welld(const std::string& path) {
  return path.find('/') != std::string::npos && base_name(path).rfind("welld-", 0) == 0;
}

// The file's owner is root or the caller: only then is its service record
// (cgroup, session) a scope to end. With --trust-pidfile another owner may
// still name the process, but never widen the stop to a cgroup or session.
bool owner_trusted(const PidfileInfo& file) { return file.owner == 0 || file.owner == ::geteuid(); }

// The cgroup the file's service record names, when it can only be one welld
// made: an absolute path of plain components ("." and ".." and empty ones are
// refused) whose last one starts with "welld-", in a file whose owner is trusted.
std::string recorded_cgroup(const PidfileInfo& file) {
  std::string path = file.service.cgroup;
  if (!owner_trusted(file) || path.size() < 2 || path.front() != '/' || !cgroup_of_welld(path)) return {};
  for (size_t at = 1; at <= path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + at, end - at);
    if (part.empty() || part == "." || part == "..") return {};
    at = end + 1;
  }
  return path;
}

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
  return timeout > kForever ? Clock::time_point::max() : Clock::now() + timeout;
}

int poll_ms(Clock::time_point deadline) {
  auto now = Clock::now();
  if (deadline <= now) return 0;
  if (deadline == Clock::time_point::max()) return INT_MAX;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

// The rest of a service: its processes other than the caller, each pinned.
class ScopeMembers {
 public:
  ScopeMembers(const Process& main, ServiceScope scope) : main_(main), scope_(std::move(scope)) {
    if (!scope_.cgroup.empty()) {
      std::string mount = cgroup2_mount();
      if (!mount.empty()) dir_ = mount + scope_.cgroup;
      // The knob that forces "no cgroup" also makes a recorded one unused.
      if (mount.empty()) scope_.cgroup.clear();
    }
  }

  bool empty_scope() const { return scope_.cgroup.empty() && scope_.session <= 1; }
  bool by_cgroup() const { return !scope_.cgroup.empty(); }
  const std::string& dir() const { return dir_; }

  // Pin every process of the scope not pinned yet. Returns how many are pinned and present.
  size_t scan() {
    std::vector<pid_t> pids;
    if (by_cgroup()) {
      if (cgroup_members(dir_, pids)) return live();
    } else {
      pids = all_pids();
    }
    for (pid_t pid : pids) {
      if (pid == ::getpid() || pid == main_.pid() || known(pid)) continue;
      if (!by_cgroup() && process_session(pid) != scope_.session) continue;  // cheap filter first
      Process p;
      if (Process::open(pid, 0, p)) continue;  // gone, or a zombie: nothing to end
      // Re-read after pinning: this is the pinned process's membership.
      bool member = by_cgroup() ? process_cgroup(pid) == scope_.cgroup : process_session(pid) == scope_.session;
      if (!member || !p.present()) continue;
      // A session id is the session's only while one of its known members is
      // present: then it cannot have gone to another session since.
      if (!by_cgroup() && !anchored()) continue;
      members_.push_back(std::move(p));
    }
    return live();
  }

  size_t live() const {
    return static_cast<size_t>(
        std::count_if(members_.begin(), members_.end(), [](const Process& p) { return p.present(); }));
  }

  void signal_all(int sig, std::vector<bool>& sent) {
    sent.resize(members_.size(), false);
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!sent[i] && members_[i].present()) {
        members_[i].signal(sig);
        sent[i] = true;
      }
    }
  }

  // Wait until every pinned member has exited or `deadline` passes; true when all have.
  // Members pinned by pidfd are polled; one pinned without pidfd_open (its
  // /proc/PID directory is always readable) is looked at again after sleeps
  // of the retry backoff, so its exit is noticed within 100 ms.
  bool wait_all(Clock::time_point deadline) {
    detail::RetryBackoff backoff;
    for (;;) {
      std::vector<pollfd> fds;
      bool unpollable = present_pidfds(fds);
      if (fds.empty() && !unpollable) return true;
      int left = poll_ms(deadline);
      if (left == 0) return false;
      if (unpollable) left = static_cast<int>(backoff.next(std::chrono::milliseconds(left)).count());
      int n = ::poll(fds.data(), fds.size(), left);
      if (n < 0 && errno != EINTR) return false;
      reap_exited();
    }
  }

  std::vector<pid_t> present_pids() const {
    std::vector<pid_t> out;
    for (const Process& p : members_) {
      if (p.present()) out.push_back(p.pid());
    }
    return out;
  }

  size_t count() const { return members_.size(); }

 private:
  // The pidfds of the present members to `fds`; true when a present member
  // has no pidfd (pinned without pidfd_open).
  bool present_pidfds(std::vector<pollfd>& fds) const {
    bool unpollable = false;
    for (const Process& p : members_) {
      if (!p.present()) continue;
      if (p.pollable()) {
        fds.push_back({p.fd(), POLLIN, 0});
      } else {
        unpollable = true;
      }
    }
    return unpollable;
  }

  // Reap the members that exited and are our children (start's rollback).
  void reap_exited() const {
    for (const Process& p : members_) {
      if (!p.present()) continue;
      if (!p.pollable()) {
        p.wait_exit(std::chrono::milliseconds(0));  // looks at its state; reaps it when it is ours and exited
        continue;
      }
      pollfd one{p.fd(), POLLIN, 0};
      if (::poll(&one, 1, 0) > 0) p.wait_exit(std::chrono::milliseconds(0));
    }
  }

  bool known(pid_t pid) const {
    return std::any_of(members_.begin(), members_.end(), [pid](const Process& p) { return p.pid() == pid; });
  }

  bool anchored() const {
    auto in_session = [this](const Process& p) {
      return p && p.present() && process_session(p.pid()) == scope_.session && p.present();
    };
    return in_session(main_) || std::any_of(members_.begin(), members_.end(), in_session);
  }

  const Process& main_;
  ServiceScope scope_;
  std::string dir_;
  std::vector<Process> members_;
};

std::string describe_survivors(const std::vector<pid_t>& pids) {
  std::string text;
  for (pid_t pid : pids) {
    if (!text.empty()) text += ", ";
    std::string comm = process_comm(pid);
    text += std::to_string(pid) + (comm.empty() ? "" : " (" + comm + ")");
  }
  return text;
}

// SIGTERM to every member, then again to whatever appeared meanwhile, until
// none is left or the timeout.
void term_scope(ScopeMembers& members, const StopPolicy& policy) {
  std::vector<bool> sent;
  auto term_deadline = deadline_after(policy.timeout);
  while (members.live() > 0) {
    members.signal_all(SIGTERM, sent);
    if (members.wait_all(term_deadline) && members.scan() == 0) break;
    if (poll_ms(term_deadline) == 0) break;
  }
}

// SIGKILL to what is left (cgroup.kill when the kernel has it: it ends every
// member at once, also one forking right now), until none is left or the
// kill timeout.
void kill_scope(ScopeMembers& members, const StopPolicy& policy) {
  auto kill_deadline = deadline_after(policy.kill_timeout);
  bool cgroup_kill = members.by_cgroup() && cgroup_has_kill(members.dir());
  for (;;) {
    if (cgroup_kill) {
      UniqueFd fd(::open((members.dir() + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || ::write(fd.get(), "1", 1) != 1) cgroup_kill = false;
    }
    if (!cgroup_kill) {
      std::vector<bool> killed;
      members.signal_all(SIGKILL, killed);
    }
    if (members.wait_all(kill_deadline) && members.scan() == 0) break;
    if (poll_ms(kill_deadline) == 0) break;
  }
}

// End what is left of `scope` once its main process is gone.
void stop_scope(ScopeMembers& members, const StopPolicy& policy, StopResult& result) {
  if (members.empty_scope()) return;
  members.scan();
  term_scope(members, policy);
  members.scan();
  if (members.live() > 0) {
    result.outcome = StopOutcome::killed;
    kill_scope(members, policy);
  }
  members.scan();
  result.others = static_cast<int>(members.count() - members.live());
  result.survivors = members.present_pids();
  if (!result.survivors.empty()) {
    result.outcome = StopOutcome::failed;
    result.error = {ETIMEDOUT, std::system_category()};
    result.reason = "processes of pid " + std::to_string(result.pid) + "'s " +
                    (members.by_cgroup() ? "cgroup" : "session") +
                    " survived SIGKILL: " + describe_survivors(result.survivors);
    return;
  }
  if (members.by_cgroup()) ::rmdir(members.dir().c_str());  // empty now; EBUSY if someone joined
}

}  // namespace

ServiceScope scope_of(const Process& main) {
  ServiceScope scope;
  if (!main || !main.present()) return scope;
  pid_t session = process_session(main.pid());
  std::string cgroup = process_cgroup(main.pid());
  if (!main.present()) return scope;  // the reads may have been of another process
  if (session > 1 && session != ::getsid(0)) scope.session = session;
  if (cgroup_of_welld(cgroup) && cgroup != process_cgroup(0)) scope.cgroup = cgroup;
  return scope;
}

StopResult stop_process(const Process& main, const ServiceScope& scope, const StopPolicy& policy) {
  StopResult result;
  result.pid = main.pid();
  result.signal = policy.signal;
  result.timeout = policy.timeout;
  result.outcome = StopOutcome::stopped;
  // Pinned while main is still present: the first members' session is main's.
  ScopeMembers members(main, scope);
  if (!members.empty_scope()) members.scan();
  if (main) {
    if (auto ec = main.signal(policy.signal); ec && ec != std::errc::no_such_process) {
      result.outcome = StopOutcome::failed;
      result.error = ec;
      result.reason = signal_failure(result.pid, ec);
      return result;
    }
    if (!main.wait_exit(policy.timeout, &result.wait_status)) {
      result.outcome = StopOutcome::killed;
      main.signal(SIGKILL);
      if (!main.wait_exit(policy.kill_timeout, &result.wait_status)) {
        result.outcome = StopOutcome::failed;
        result.error = {ETIMEDOUT, std::system_category()};
        result.reason = "pid " + std::to_string(result.pid) + " survived SIGKILL";
        result.survivors.push_back(result.pid);
        return result;
      }
    }
  }
  stop_scope(members, policy, result);
  return result;
}

StopResult stop_daemon(const std::string& pidfile, int sig, std::chrono::milliseconds timeout,
                       const PidfileTrust& trust, std::chrono::milliseconds kill_timeout) {
  StopResult result;
  DaemonLookup lookup;
  std::string absolute;
  if (make_absolute(pidfile, absolute)) absolute.clear();
  switch (gate(pidfile, trust, lookup, result.reason, result.error)) {
    case Gate::not_running:
      result.outcome = StopOutcome::not_running;
      // A stale file goes: nothing it names is ours any more.
      if (lookup.file.state == PidfileState::stale) {
        remove_pidfile(absolute.c_str(), lookup.file.pid);
        std::string mount = cgroup2_mount();
        std::string cgroup = recorded_cgroup(lookup.file);
        if (!cgroup.empty() && !mount.empty()) {
          ::rmdir((mount + cgroup).c_str());  // only when empty (EBUSY otherwise)
        }
      }
      return result;
    case Gate::refused: result.outcome = StopOutcome::refused; return result;
    case Gate::failed: result.outcome = StopOutcome::failed; return result;
    case Gate::go: break;
  }
  const ServiceRecord& recorded = lookup.file.service;
  StopPolicy policy;
  policy.signal = sig != kRecordedSignal ? sig : recorded.stop_signal > 0 ? recorded.stop_signal : SIGTERM;
  policy.timeout = timeout >= std::chrono::milliseconds(0) ? timeout
                   : recorded.stop_timeout_ms > 0
                       ? std::chrono::milliseconds(static_cast<long long>(recorded.stop_timeout_ms))
                       : std::chrono::milliseconds(std::chrono::seconds(10));
  policy.kill_timeout = kill_timeout;
  // The scope recorded at start, never one read from the daemon: its cgroup,
  // or its session while the main process is still in it (pinned, then read).
  ServiceScope scope;
  scope.cgroup = recorded_cgroup(lookup.file);
  if (owner_trusted(lookup.file) && recorded.session > 1 && process_session(lookup.process.pid()) == recorded.session &&
      lookup.process.present() && recorded.session != ::getsid(0)) {
    scope.session = recorded.session;
  }
  StopResult stopped = stop_process(lookup.process, scope, policy);
  stopped.pid = lookup.process.pid();
  if (stopped.outcome == StopOutcome::failed) return stopped;
  result = stopped;
  // Only the file of the process stopped: a new daemon that got its PID since keeps its own.
  remove_pidfile(absolute.c_str(), ProcessIdentity{result.pid, lookup.file.start_time});
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
  const ServiceRecord& recorded = lookup.file.service;
  sig = sig != kRecordedSignal ? sig : recorded.reload_signal > 0 ? recorded.reload_signal : SIGHUP;
  result.signal = sig;
  // The disposition of the pinned process: read by PID, believed once it is still present.
  SignalState state;
  bool known = !signal_state(result.pid, sig, state) && lookup.process.present();
  if (known && state.ignored && !state.caught) {
    result.outcome = SignalOutcome::ignored;
    result.reason = "pid " + std::to_string(result.pid) + " ignores " + signal_label(sig) +
                    ": not sent, it would have no effect";
    return result;
  }
  result.blocked = known && state.blocked;
  if (auto ec = lookup.process.signal(sig)) {
    result.outcome = ec == std::errc::no_such_process ? SignalOutcome::not_running : SignalOutcome::failed;
    result.error = ec;
    result.reason = signal_failure(result.pid, ec);
    return result;
  }
  result.outcome = SignalOutcome::sent;
  return result;
}

}  // namespace welld
