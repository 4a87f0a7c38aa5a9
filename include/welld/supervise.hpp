// welld/supervise.hpp — keep a program running: restart it with backoff, keep its output.
//
//   welld::SupervisorConfig config;
//   config.child = {.command = {"/usr/sbin/exim4", "-bdf"}, .ready = {.mode = welld::ReadyMode::exec}};
//   config.restart = {.when = welld::RestartWhen::on_failure};
//   config.log.file = welld::LogFileSpec{.path = "/var/log/exim.log", .max_size = 10 << 20};
//   welld::SupervisorResult r = welld::supervise(config);  // returns when stopped or given up
//
// supervise() runs in the calling process, which becomes the supervisor: the
// child's parent (and a child subreaper, so that what the child forks and
// abandons is reaped here too). Every start and restart is start_daemon with
// the child as the caller's own child (Options::detach false), in a session of
// its own (so a stop ends everything it forked that stayed in that session),
// with SIGKILL as its parent-death signal: a supervisor that is SIGKILLed
// takes its child with it, and the next start starts afresh.
//
// One blocking poll(2) serves everything: the signal fd, the child's pidfd
// (SIGCHLD without pidfd_open), the log pipes, the child's notify socket (with
// a watchdog) and, only while they are armed, a backoff timer, a log retry
// timer and the watchdog timer. Idle, it wakes up zero times (with a
// watchdog: only when the child stops pinging, for its timer).
//
// Signals (the control verbs send them through a pinned pidfd):
//   TERM, INT  stop: the child gets its stop policy (its stop signal, the
//              timeout, then SIGKILL of what is left in its session), then
//              supervise() returns. Obeyed at once, also during a start (the
//              start is rolled back) and between restarts.
//   HUP        the child's reload signal is sent to it (deferred until it is
//              ready when it comes during a start).
//   USR1       the log files are reopened (after logrotate's mv).
//   USR2       the child is restarted now (stopped, then started; no backoff).
//   ALRM       the log files are rotated now.
//
// Restart policy: after the child ends, it is started again when `when` says
// so (always; on_failure: a non-zero exit not listed in success_exits, a
// signal or a watchdog timeout; on_abnormal: a signal or a watchdog timeout),
// after a delay: `delay`, doubled on each
// consecutive failure up to `max_delay`, back to `delay` once a child has
// stayed ready for `reset_after`. More than `limit` restarts within
// `interval` and the supervisor gives up (SupervisorEnd::gave_up). A start
// that fails (the program cannot be executed, is not ready in time...)
// counts as a restart that ended at once.
//
// Output: the child's stdout and stderr go into pipes the supervisor holds
// for its whole life (1 MiB each where the kernel allows it), so they survive
// restarts; a LogWriter per destination (log.hpp) writes whole lines. When a
// writer is blocked (a full disk), the pipe is not read until a retry (every
// second) succeeds: the child is held back by the pipe, nothing is dropped.
// When the child ends, its pipe is drained before its exit is acted upon: every
// line it wrote is in the log. A first start that fails leaves no log file the
// supervisor created and nothing was written to (LogWriter::remove_if_unused).
//
// Watchdog (SupervisorConfig::watchdog, systemd's WatchdogSec=): each child
// gets WATCHDOG_USEC (the timeout in microseconds), WATCHDOG_PID (its own PID,
// which sd_watchdog_enabled(3) checks) and a NOTIFY_SOCKET that stays open for
// its whole life, whatever its readiness mode (with ready=notify, the same
// socket its readiness came on; else a fresh abstract one). Once the child is
// ready, a timer runs: sd_notify(3)'s WATCHDOG=1 re-arms it, WATCHDOG=trigger
// fires it at once, WATCHDOG_USEC=N re-arms it with a new timeout for this
// child's life (0 turns it off; the next child starts with `watchdog` again).
// What the child says about the watchdog before it is ready is ignored.
// Datagrams count only from the child's process tree (the child and its
// descendants, by the sender's SCM_CREDENTIALS, which the kernel checks);
// the other keys of a datagram are ignored. When the timer fires, the child gets SIGABRT (so that it
// dumps core), then its stop policy's timeout, then SIGKILL of what is left in
// its session; the end counts as abnormal whatever its wait status (always,
// on_failure and on_abnormal restart it) and is published as last-end-reason
// "watchdog timeout".
//
// In the foreground (welld run: SupervisorConfig::init), the supervisor is
// the program's parent as a process manager or a container runtime expects
// it to be, possibly PID 1 (InitDuties below): signals are forwarded instead
// of obeyed, and when the program ends, what is left of its tree is ended.
//
// State: with a pidfile (the supervisor's own), the supervisor publishes its
// state beside it as ".NAME.supervisor" (KEY VALUE lines, replaced by rename),
// which `welld status` reads (read_supervisor_state) under the same trust rules
// as the PID file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "welld/daemon.hpp"
#include "welld/log.hpp"
#include "welld/pidfile.hpp"
#include "welld/start.hpp"

namespace welld {

enum class RestartWhen {
  never,        // supervise only: keep the output, stop with it
  always,       // whatever the end
  on_failure,   // a non-zero exit status not in success_exits, or a signal
  on_abnormal,  // a signal, or a watchdog timeout
};

struct RestartPolicy {
  RestartWhen when = RestartWhen::always;
  std::vector<int> success_exits;  // exit statuses that count as success, besides 0
  std::chrono::milliseconds delay{100};
  std::chrono::milliseconds max_delay{30000};
  unsigned limit = 5;                            // restarts allowed within `interval`...
  std::chrono::milliseconds interval{10000};     // ...then give up
  std::chrono::milliseconds reset_after{10000};  // ready this long: the delay starts over
};

/// "always", "on-failure", "on-abnormal", "never". Errors name the choices.
std::optional<RestartWhen> parse_restart_when(std::string_view text, std::string* error = nullptr);
std::string_view to_string(RestartWhen when) noexcept;

/// "5/10s": a restart limit and its interval. Errors say the expected form.
bool parse_restart_limit(std::string_view text, RestartPolicy& policy, std::string* error = nullptr);

/// True when a child that ended with `wait_status` succeeded: exit 0 or one of success_exits.
bool ended_well(const RestartPolicy& policy, int wait_status) noexcept;

/// Whether the policy starts the child again after it ended with `wait_status`
/// (ended by its watchdog: `watchdog_timeout`, an abnormal end whatever the status).
bool restarts_after(const RestartPolicy& policy, int wait_status, bool watchdog_timeout = false) noexcept;

/// The delays between restarts: delay, 2 delay, 4 delay... capped at max_delay.
class Backoff {
 public:
  explicit Backoff(RestartPolicy policy) : policy_(std::move(policy)) {}
  /// The delay before the next restart; the one after it doubles.
  std::chrono::milliseconds next() noexcept;
  /// The delay that next() would give, without taking it.
  std::chrono::milliseconds peek() const noexcept;
  void reset() noexcept { steps_ = 0; }

 private:
  RestartPolicy policy_;
  unsigned steps_ = 0;
};

/// At most policy.limit restarts within any policy.interval.
class RestartBudget {
 public:
  explicit RestartBudget(const RestartPolicy& policy) : limit_(policy.limit), interval_(policy.interval) {}
  /// Take one restart at `now`; false when the limit is spent (nothing taken).
  bool spend(std::chrono::steady_clock::time_point now);
  /// The restarts taken within the interval before `now`.
  unsigned used(std::chrono::steady_clock::time_point now) const;

 private:
  unsigned limit_;
  std::chrono::milliseconds interval_;
  std::vector<std::chrono::steady_clock::time_point> taken_;
};

enum class SupervisorPhase {
  starting,  // a child is being started (waiting for readiness)
  running,   // the child is ready
  backoff,   // the child ended; the next start waits for its delay
  stopping,  // stop was asked: the child is being stopped
  stopped,   // stopped on request
  finished,  // the child ended and the policy does not restart it
  failed,    // gave up: the restart limit was reached
};

std::string_view to_string(SupervisorPhase phase) noexcept;

/// What a supervisor publishes (the state file's lines, in this order):
///
///   welld-supervisor 1
///   supervisor PID STARTTIME    the supervisor itself (its PID file's identity)
///   phase NAME                  to_string(SupervisorPhase)
///   generation N                starts attempted so far (a restart waits for it to grow)
///   child PID STARTTIME         the current child (0 0: none)
///   restarts N                  restarts so far (the first start is not one)
///   last-status N               the last child's raw wait status (-1: none yet)
///   delay-ms N                  backoff: the delay being waited
///   next-start-ms N             backoff: when the next start comes (ms since the epoch)
///   log-blocked 0|1             a log cannot be written (the child is held back)
///   reason TEXT                 failed, backoff: why (one line)
///   log-error TEXT              log-blocked: the error
///   last-end-reason TEXT        why the supervisor ended the last child ("watchdog timeout"); absent: it ended by
///   itself
struct SupervisorState {
  ProcessIdentity supervisor;
  SupervisorPhase phase = SupervisorPhase::starting;
  unsigned long long generation = 0;
  ProcessIdentity child{0, 0};
  unsigned long long restarts = 0;
  int last_status = -1;
  long long delay_ms = 0;
  long long next_start_ms = 0;
  bool log_blocked = false;
  std::string reason;
  std::string log_error;
  std::string last_end_reason;
};

/// The state file's text (above); one line per key, newlines in texts become spaces.
std::string format_supervisor_state(const SupervisorState& state);
/// Parse it; std::nullopt for a missing header, a malformed line or a duplicate key.
std::optional<SupervisorState> parse_supervisor_state(std::string_view text);

/// ".NAME.supervisor" beside `pidfile` (made absolute).
std::string supervisor_state_path(const std::string& pidfile);

/// The published state of the supervisor `pidfile` names, read under the PID
/// file's trust rules (the directory chain, a regular file owned by root or
/// the caller, writable by nobody else). std::nullopt with `why` when there is
/// none, or it cannot be trusted or parsed.
std::optional<SupervisorState> read_supervisor_state(const std::string& pidfile, std::string* why = nullptr);

/// Remove the state file beside `pidfile` if it is `supervisor`'s (a stopped
/// or failed supervisor's, once its PID file goes).
void remove_supervisor_state(const std::string& pidfile, const ProcessIdentity& supervisor);

/// welld run's duties: the supervisor stays in the foreground as the program's
/// parent, maybe as PID 1 of a PID namespace (a container's init).
///
/// Signals: every signal but SIGKILL, SIGSTOP, SIGCHLD and the synchronous
/// faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT: raised
/// by a fault of the supervisor itself, never forwarded, as tini does) is
/// caught and forwarded to the program through its pidfd, or to its process
/// group with `to_group` (the program then leads a session of its own). None
/// of them keeps its supervise() meaning: TERM reaches the program, which
/// decides how to end. `rewrite` maps a received signal to the one sent (0:
/// dropped). A TERM or INT received (before rewriting) makes the program's
/// next end final, whatever the restart policy. Signals that come during a
/// start are forwarded once the program is ready, except TERM and INT, which
/// roll the start back (SupervisorResult::stop_signal).
///
/// A terminal's signals: when the program shares the supervisor's process
/// group (SessionMode::inherit), what the terminal sent to that foreground
/// group (^C's INT, ^\'s QUIT, ^Z's TSTP, WINCH; the kernel's, si_code > 0,
/// see SignalWakeup::from_kernel) has reached the program already and is not
/// sent again. Job control: after a TSTP, TTIN or TTOU is forwarded (or came
/// from the terminal), the supervisor stops itself (SIGSTOP) so that the shell
/// sees its job stopped, as dumb-init does; the shell's CONT (to the group, or
/// forwarded) resumes both. PID 1 cannot stop itself: it forwards only.
///
/// Reaping: the supervisor is a child subreaper (as supervise() always is),
/// so every orphan of the program's tree becomes its child and is reaped on
/// SIGCHLD as it ends; as PID 1 so is every orphan of the namespace. No timer.
///
/// Shutdown: when supervise() is about to return, every process left of the
/// supervisor's tree (its descendants: the program's children, adopted
/// orphans, daemons that left the program's session) gets SIGTERM and
/// SIGCONT, `grace` to end, then SIGKILL; supervise() returns once none is
/// left (or 10 s after the SIGKILL). Nothing outside the supervisor's tree is
/// touched, not even its own session (the caller's shell).
struct InitDuties {
  SessionMode session = SessionMode::new_session;  // the program's (step 6)
  bool to_group = false;                           // forward to the program's process group
  std::vector<std::pair<int, int>> rewrite;        // {received, sent}; sent 0: dropped
  std::chrono::milliseconds grace{5000};           // what is left: SIGTERM, this long, SIGKILL
};

struct SupervisorConfig {
  // The program and how it starts (the fifteen steps, readiness, listen
  // sockets, its own PID file, its stop policy in `rollback`, which is also
  // how a stop ends it). supervise() sets Options::detach, session,
  // parent_death_signal and stdout_fd/stderr_fd itself.
  StartRequest child;
  RestartPolicy restart;
  std::optional<LogSpec> stdout_log;  // none: /dev/null, or Options::stdout_path when set
  std::optional<LogSpec> stderr_log;  // the same LogSpec as stdout_log: one pipe, one writer
  bool same_log = false;              // stderr goes where stdout goes (--log FILE)
  // The watchdog (see the top of this file): above zero, a ready child must
  // send WATCHDOG=1 at least this often. Zero: none (no WATCHDOG_USEC, and
  // the notify socket closes after the start as it does without a supervisor).
  std::chrono::milliseconds watchdog{0};
  std::string pidfile;  // the supervisor's own PID file: its state is published beside it
  // The first start's outcome, before anything else happens: the supervisor
  // reports it upward (welld start is waiting for it).
  std::function<void(const StartResult&)> on_first_start;
  // A line about what happened (a restart, a give-up), for the supervisor's own log.
  std::function<void(std::string_view)> on_event;
  // Once the first start is over, before the first wait: release_idle_memory()
  // (welld/memory.hpp), so that the set-up's code and free heap do not stay
  // resident through an idle supervisor's wait. For a process that is a
  // supervisor and nothing else (welld's own).
  bool release_idle_memory = false;
  // welld run (see InitDuties): in the foreground, signals forwarded, the
  // tree ended at the end. child.options.session is taken from it.
  std::optional<InitDuties> init;
};

enum class SupervisorEnd {
  stopped,             // TERM or INT: the child was stopped
  first_start_failed,  // the first start failed (first: why); nothing is left
  finished,            // the child ended and the policy does not restart it (last_status)
  gave_up,             // the restart limit was reached (message says so)
  error,               // the supervisor could not set itself up (message)
};

struct SupervisorResult {
  SupervisorEnd end = SupervisorEnd::error;
  StartResult first;     // first_start_failed: the first start's result
  int last_status = -1;  // the last child's raw wait status
  unsigned long long restarts = 0;
  std::string message;  // one line
  int stop_signal = 0;  // the TERM or INT that stopped it (a start rolled back, or between restarts), else 0
};

/// A child that a killed supervisor left running. SIGKILL gives a supervisor
/// no time to stop its child; a child of its own goes with it (SIGKILL is its
/// parent-death signal), but the server of a --forking program and a
/// MAINPID= process are not its own children and stay.
struct AbandonedChild {
  pid_t pid = 0;
  StopResult stop;
};

/// When the state published beside `pidfile` (read under the trust rules of
/// read_supervisor_state) names a supervisor that is gone and a child whose
/// identity, PID and start time, is still alive: pin that child and end it,
/// with the rest of its service (stop_process: `policy`, then its session or
/// cgroup). nullopt when there is no such child. A supervisor calls it before
/// its first start (no second copy of the program beside the abandoned one),
/// `welld stop` of a stale supervisor PID file too.
std::optional<AbandonedChild> end_abandoned_child(const std::string& pidfile, const StopPolicy& policy);

/// Supervise (see the top of this file). Returns when stopped, finished or given up.
SupervisorResult supervise(const SupervisorConfig& config);

}  // namespace welld
