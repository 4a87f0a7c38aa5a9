// The supervisor: see welld/supervise.hpp.
#include "welld/supervise.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <csignal>
#include <cstring>
#include <deque>
#include <iterator>
#include <span>
#include <utility>

#include "wait_status.hpp"
#include "welld/control.hpp"
#include "welld/duration.hpp"
#include "welld/memory.hpp"
#include "welld/notify.hpp"
#include "welld/path.hpp"
#include "welld/signal_wakeup.hpp"
#include "welld/text.hpp"

namespace welld {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ---- policy -------------------------------------------------------------------

std::optional<RestartWhen> parse_restart_when(std::string_view text, std::string* error) {
  for (RestartWhen w : {RestartWhen::always, RestartWhen::on_failure, RestartWhen::on_abnormal, RestartWhen::never}) {
    if (text == to_string(w)) return w;
  }
  if (error != nullptr) {
    *error = "unknown restart policy '" + std::string(text) + "' (always, on-failure, on-abnormal or never)";
  }
  return std::nullopt;
}

std::string_view to_string(RestartWhen when) noexcept {
  switch (when) {
    case RestartWhen::never: return "never";
    case RestartWhen::always: return "always";
    case RestartWhen::on_failure: return "on-failure";
    case RestartWhen::on_abnormal: return "on-abnormal";
  }
  return "always";
}

bool parse_restart_limit(std::string_view text, RestartPolicy& policy, std::string* error) {
  auto fail = [&] {
    if (error != nullptr) {
      *error = "--restart-limit: expected COUNT/INTERVAL, e.g. 5/10s, got '" + std::string(text) + "'";
    }
    return false;
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return fail();
  unsigned count = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + slash, count);
  if (ec != std::errc() || end != text.data() + slash || count == 0) return fail();
  auto interval = parse_duration(text.substr(slash + 1));
  if (!interval || interval->count() <= 0) return fail();
  policy.limit = count;
  policy.interval = *interval;
  return true;
}

bool ended_well(const RestartPolicy& policy, int wait_status) noexcept {
  if (wait_status < 0 || !WIFEXITED(wait_status)) return false;
  int code = WEXITSTATUS(wait_status);
  return code == 0 ||
         std::find(policy.success_exits.begin(), policy.success_exits.end(), code) != policy.success_exits.end();
}

bool restarts_after(const RestartPolicy& policy, int wait_status, bool watchdog_timeout) noexcept {
  switch (policy.when) {
    case RestartWhen::never: return false;
    case RestartWhen::always: return true;
    case RestartWhen::on_failure: return watchdog_timeout || !ended_well(policy, wait_status);
    case RestartWhen::on_abnormal: return watchdog_timeout || (wait_status >= 0 && WIFSIGNALED(wait_status));
  }
  return false;
}

milliseconds Backoff::peek() const noexcept {
  milliseconds d = policy_.delay;
  for (unsigned i = 0; i < steps_ && d < policy_.max_delay; ++i) d *= 2;
  return std::min(d, std::max(policy_.max_delay, policy_.delay));
}

milliseconds Backoff::next() noexcept {
  milliseconds d = peek();
  if (d < policy_.max_delay) ++steps_;
  return d;
}

bool RestartBudget::spend(Clock::time_point now) {
  std::erase_if(taken_, [&](Clock::time_point t) { return now - t >= interval_; });
  if (taken_.size() >= limit_) return false;
  taken_.push_back(now);
  return true;
}

unsigned RestartBudget::used(Clock::time_point now) const {
  return static_cast<unsigned>(
      std::count_if(taken_.begin(), taken_.end(), [&](Clock::time_point t) { return now - t < interval_; }));
}

std::string_view to_string(SupervisorPhase phase) noexcept {
  switch (phase) {
    case SupervisorPhase::starting: return "starting";
    case SupervisorPhase::running: return "running";
    case SupervisorPhase::backoff: return "backoff";
    case SupervisorPhase::stopping: return "stopping";
    case SupervisorPhase::stopped: return "stopped";
    case SupervisorPhase::finished: return "finished";
    case SupervisorPhase::failed: return "failed";
  }
  return "starting";
}

// ---- the state file ---------------------------------------------------------------

namespace {

std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

template <typename T>
bool number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool identity(std::string_view text, ProcessIdentity& out) {
  size_t space = text.find(' ');
  return space != std::string_view::npos && number(text.substr(0, space), out.pid) &&
         number(text.substr(space + 1), out.start_time);
}

std::optional<SupervisorPhase> phase_named(std::string_view text) {
  for (int i = 0; i <= static_cast<int>(SupervisorPhase::failed); ++i) {
    auto p = static_cast<SupervisorPhase>(i);
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

// One "KEY VALUE" line into `s`; false when malformed.
bool apply_line(std::string_view key, std::string_view value, SupervisorState& s) {
  if (key == "supervisor") return identity(value, s.supervisor);
  if (key == "child") return identity(value, s.child);
  if (key == "phase") {
    auto p = phase_named(value);
    if (p) s.phase = *p;
    return p.has_value();
  }
  if (key == "generation") return number(value, s.generation);
  if (key == "restarts") return number(value, s.restarts);
  if (key == "last-status") return number(value, s.last_status);
  if (key == "delay-ms") return number(value, s.delay_ms);
  if (key == "next-start-ms") return number(value, s.next_start_ms);
  if (key == "log-blocked") {
    s.log_blocked = value == "1";
    return value == "0" || value == "1";
  }
  if (key == "reason") {
    s.reason = value;
    return true;
  }
  if (key == "log-error") {
    s.log_error = value;
    return true;
  }
  if (key == "last-end-reason") {
    s.last_end_reason = value;
    return true;
  }
  return true;  // unknown keys: a later version's
}

}  // namespace

std::string format_supervisor_state(const SupervisorState& s) {
  std::string out = "welld-supervisor 1\n";
  auto line = [&](std::string_view key, const std::string& value) {
    out.append(key).append(" ").append(value).append("\n");
  };
  auto id = [](const ProcessIdentity& p) { return std::to_string(p.pid) + " " + std::to_string(p.start_time); };
  line("supervisor", id(s.supervisor));
  line("phase", std::string(to_string(s.phase)));
  line("generation", std::to_string(s.generation));
  line("child", id(s.child));
  line("restarts", std::to_string(s.restarts));
  line("last-status", std::to_string(s.last_status));
  line("delay-ms", std::to_string(s.delay_ms));
  line("next-start-ms", std::to_string(s.next_start_ms));
  line("log-blocked", s.log_blocked ? "1" : "0");
  if (!s.reason.empty()) line("reason", one_line(s.reason));
  if (!s.log_error.empty()) line("log-error", one_line(s.log_error));
  if (!s.last_end_reason.empty()) line("last-end-reason", one_line(s.last_end_reason));
  return out;
}

std::optional<SupervisorState> parse_supervisor_state(std::string_view text) {
  constexpr std::string_view kHeader = "welld-supervisor 1\n";
  if (!text.starts_with(kHeader)) return std::nullopt;
  text.remove_prefix(kHeader.size());
  SupervisorState s;
  std::vector<std::string_view> seen;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, space);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return std::nullopt;
    seen.push_back(key);
    if (!apply_line(key, line.substr(space + 1), s)) return std::nullopt;
  }
  if (std::find(seen.begin(), seen.end(), "supervisor") == seen.end() ||
      std::find(seen.begin(), seen.end(), "phase") == seen.end()) {
    return std::nullopt;
  }
  return s;
}

std::string supervisor_state_path(const std::string& pidfile) {
  std::string path;
  if (make_absolute(pidfile, path)) path = pidfile;
  return parent_directory(path) + "/." + base_name(path) + ".supervisor";
}

std::optional<SupervisorState> read_supervisor_state(const std::string& pidfile, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<SupervisorState> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  std::string path = supervisor_state_path(pidfile);
  DirTrust trust;
  UniqueFd dir(open_trusted_dir(parent_directory(path).c_str(), &trust));
  if (!dir) return fail(trust.problem != DirTrust::Problem::none ? describe(trust) : std::strerror(trust.error));
  UniqueFd fd(::openat(dir.get(), base_name(path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return fail(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(path + ": not a regular file");
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fail(path + ": not owned by root or the caller, or writable by others");
  }
  char buf[4096];
  ssize_t got = ::read(fd.get(), buf, sizeof buf);
  if (got < 0) return fail(path + ": " + std::strerror(errno));
  auto state = parse_supervisor_state(std::string_view(buf, static_cast<size_t>(got)));
  if (!state) return fail(path + ": not a supervisor state");
  return state;
}

void remove_supervisor_state(const std::string& pidfile, const ProcessIdentity& supervisor) {
  auto state = read_supervisor_state(pidfile);
  if (!state || state->supervisor.pid != supervisor.pid || state->supervisor.start_time != supervisor.start_time) {
    return;
  }
  std::string path = supervisor_state_path(pidfile);
  UniqueFd dir(open_trusted_dir(parent_directory(path).c_str()));
  if (dir) ::unlinkat(dir.get(), base_name(path).c_str(), 0);
}

std::optional<AbandonedChild> end_abandoned_child(const std::string& pidfile, const StopPolicy& policy) {
  auto state = read_supervisor_state(pidfile);
  if (!state || state->child.pid <= 0 || state->child.start_time == 0) return std::nullopt;
  Process supervisor;
  if (!Process::open(state->supervisor.pid, state->supervisor.start_time, supervisor)) {
    return std::nullopt;  // alive: the child is its own to stop
  }
  Process child;
  if (Process::open(state->child.pid, state->child.start_time, child)) return std::nullopt;  // gone
  AbandonedChild out{.pid = child.pid()};
  out.stop = stop_process(child, scope_of(child), policy);
  return out;
}

// ---- the supervisor ------------------------------------------------------------------

namespace {

constexpr size_t kReadSize = size_t{64} * 1024;
constexpr int kPipeSize = 1 << 20;
constexpr milliseconds kLogRetry{1000};
constexpr size_t kTailLines = 10;
constexpr int kDatagramsPerWakeup = 64;  // the child's notify socket: bounded, as the readiness wait's

// welld run's signals: every catchable one but the synchronous faults (a
// fault of our own: caught and returned from, it would repeat forever), and
// SIGCHLD for the reaping.
std::vector<int> forwarded_signals() {
  static constexpr int kNever[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
  std::vector<int> sigs;
  for (int sig = 1; sig < 32; ++sig) {
    if (std::find(std::begin(kNever), std::end(kNever), sig) == std::end(kNever)) sigs.push_back(sig);
  }
  // glibc keeps 32 and 33 for itself: SIGRTMIN is the first one a program may use.
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) sigs.push_back(sig);
  return sigs;
}

long long epoch_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A one-shot CLOCK_MONOTONIC timer; readable when it fires.
class Timer {
 public:
  Timer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {}
  bool valid() const { return static_cast<bool>(fd_); }
  int fd() const { return armed_ ? fd_.get() : -1; }
  void arm(milliseconds after) {
    itimerspec spec{};
    long long ms = std::max<long long>(after.count(), 0);
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    // A zero it_value would disarm: no delay is the shortest one, 1 ns.
    spec.it_value.tv_nsec = ms == 0 ? 1 : static_cast<long>(ms % 1000) * 1000000L;
    armed_ = ::timerfd_settime(fd_.get(), 0, &spec, nullptr) == 0;
  }
  void disarm() {
    itimerspec spec{};
    ::timerfd_settime(fd_.get(), 0, &spec, nullptr);
    armed_ = false;
  }
  // After poll saw it readable: consume the expiration.
  void fired() {
    std::uint64_t n = 0;
    while (::read(fd_.get(), &n, sizeof n) < 0 && errno == EINTR) {
    }
    armed_ = false;
  }
  // Whether it fired since it was last armed (consumed now). A re-arm or a
  // disarm resets the expirations (timerfd_settime), so a poll result that a
  // re-arm made stale reads false here.
  bool take_expiry() {
    std::uint64_t n = 0;
    ssize_t got = 0;
    do {
      got = ::read(fd_.get(), &n, sizeof n);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(sizeof n)) return false;
    armed_ = false;
    return true;
  }

 private:
  UniqueFd fd_;
  bool armed_ = false;
};

// The child's last lines since its start, for a failed start's message.
class LineTail {
 public:
  void clear() {
    lines_.clear();
    partial_.clear();
  }
  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      size_t nl = bytes.find('\n');
      partial_.append(bytes.substr(0, nl));
      if (partial_.size() > LogWriter::kLineMax) partial_.resize(LogWriter::kLineMax);
      if (nl == std::string_view::npos) return;
      push(partial_);
      partial_.clear();
      bytes.remove_prefix(nl + 1);
    }
  }
  // Made terminal-safe here, only when asked (a failed start): the lines
  // kept on the way are raw, so a busy log pays a copy, not a rendering.
  std::vector<std::string> lines() const {
    std::vector<std::string> all;
    for (const auto& line : lines_) all.push_back(terminal_safe(line));
    if (!partial_.empty()) all.push_back(terminal_safe(partial_));
    if (all.size() > kTailLines) all.erase(all.begin(), all.end() - static_cast<long>(kTailLines));
    return all;
  }

 private:
  void push(const std::string& line) {
    if (line.empty()) return;
    if (lines_.size() == kTailLines) lines_.pop_front();
    lines_.push_back(line);
  }
  std::deque<std::string> lines_;
  std::string partial_;
};

// One output pipe of the child and the writer its lines go to.
struct Output {
  UniqueFd read;
  UniqueFd write;
  LogWriter* writer = nullptr;
  LogSource source = LogSource::out;
  bool held = false;  // not read while the writer is blocked
};

std::error_code make_output(Output& out) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {errno, std::system_category()};
  out.read = UniqueFd(fds[0]);
  out.write = UniqueFd(fds[1]);
  // Only our end is non-blocking: the child's writes block when the pipe is full.
  if (::fcntl(out.read.get(), F_SETFL, O_NONBLOCK) != 0) return {errno, std::system_category()};
  ::fcntl(out.write.get(), F_SETPIPE_SZ, kPipeSize);  // best effort: the default 64 KiB works too
  return {};
}

// The loop's poll set: signals, the child's pidfd, the restart timer, the log
// retry timer, the notify socket, the watchdog timer, then the log pipes.
constexpr size_t kOutputsAt = 6;

class Supervisor {
 public:
  explicit Supervisor(const SupervisorConfig& config)
      : config_(config), backoff_(config.restart), budget_(config.restart) {}

  SupervisorResult run();

 private:
  enum class Next { go_on, done };

  std::error_code set_up(std::string& why);
  std::error_code open_logs(std::string& why);
  StartResult start_child();
  Next after_start(const StartResult& started, bool first);
  void deliver_deferred_signals();
  Next child_ended(int wait_status);
  Next schedule_restart(int wait_status);
  Next restart();
  void stop_child();
  void release_child();
  Next on_signals(const std::vector<int>& signals);
  WatchAction during_start();
  // welld run (config_.init): signals forwarded, the tree ended at the end.
  WatchAction during_start_forwarding();
  Next forward_signals(const std::vector<int>& signals);
  void forward(int sig, bool from_kernel);
  void end_leftovers();
  bool leftovers_gone_within(milliseconds timeout);
  SupervisorResult finish_run() {
    if (config_.init) end_leftovers();
    result_.last_status = state_.last_status;
    result_.restarts = state_.restarts;
    return result_;
  }
  Next serve(const std::vector<pollfd>& p);
  void reap();
  void drain(Output& out, bool all = false);
  void drain_all() {
    for (Output* o : outputs()) drain(*o, true);
  }
  void hold(Output& out);
  void retry_logs();
  void end_abandoned();
  std::error_code prepare_watchdog(StartRequest& request);
  void arm_watchdog();
  void end_watchdog();
  Next on_notify();
  Next watchdog_expired();
  std::vector<Output*> outputs() {
    std::vector<Output*> v;
    for (Output* o : {&out_, &err_}) {
      if (o->read) v.push_back(o);
    }
    return v;
  }
  void publish();
  void unpublish() {
    if (state_dir_) ::unlinkat(state_dir_.get(), state_name_.c_str(), 0);
  }
  // A failed first start leaves nothing: the log files this supervisor
  // created that nothing was written to go (a file that was there stays).
  void remove_unused_logs() {
    out_writer_.remove_if_unused();
    err_writer_.remove_if_unused();
  }
  void finish(SupervisorEnd end, std::string message) {
    result_.end = end;
    result_.message = std::move(message);
  }

  const SupervisorConfig& config_;
  Backoff backoff_;
  RestartBudget budget_;
  SupervisorState state_;
  SupervisorResult result_;
  std::optional<SignalWakeup> signals_;
  Timer restart_timer_;
  Timer retry_timer_;
  LogWriter out_writer_;
  LogWriter err_writer_;
  Output out_;
  Output err_;
  LineTail tail_;
  Process child_;
  ServiceScope scope_;
  Clock::time_point ready_at_{};
  bool stop_requested_ = false;
  bool reload_pending_ = false;
  bool child_reaped_ = false;
  bool restart_now_ = false;                    // no restart delay: start on this wake-up, without the timer
  bool final_end_ = false;                      // run: a TERM or INT was forwarded, no restart
  std::vector<std::pair<int, bool>> deferred_;  // run: {signal, from the kernel} that came during a start
  int child_status_ = -1;
  UniqueFd state_dir_;
  std::string state_name_;
  // The watchdog (config_.watchdog above zero): the child's notify socket for
  // its life, the timer its pings re-arm, and this child's timeout.
  NotifyServer notify_;
  Timer watchdog_timer_;
  milliseconds watchdog_timeout_{0};
  bool watchdog_ended_ = false;  // the supervisor ended the child: its watchdog expired
};

std::error_code Supervisor::open_logs(std::string& why) {
  if (config_.stdout_log) {
    if (auto ec = LogWriter::open(*config_.stdout_log, out_writer_, &why)) return ec;
    if (auto ec = make_output(out_)) return ec;
    out_.writer = &out_writer_;
  }
  if (config_.same_log && config_.stdout_log) {
    if (auto ec = make_output(err_)) return ec;
    err_.writer = &out_writer_;
    err_.source = LogSource::err;
  } else if (config_.stderr_log) {
    if (auto ec = LogWriter::open(*config_.stderr_log, err_writer_, &why)) return ec;
    if (auto ec = make_output(err_)) return ec;
    err_.writer = &err_writer_;
    err_.source = LogSource::err;
  }
  return {};
}

std::error_code Supervisor::set_up(std::string& why) {
  static constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD};
  std::vector<int> forwarded = forwarded_signals();
  signals_.emplace(config_.init ? std::span<const int>(forwarded) : std::span<const int>(kSignals));
  if (auto ec = signals_->error()) {
    why = "cannot catch signals";
    return ec;
  }
  if (!restart_timer_.valid() || !retry_timer_.valid() || !watchdog_timer_.valid()) {
    why = "cannot create a timer";
    return {errno, std::system_category()};
  }
  // What the child forks and abandons is ours to reap (and a MAINPID=
  // process whose parent exits becomes our child).
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    why = "cannot become a child subreaper";
    return {errno, std::system_category()};
  }
  if (!config_.pidfile.empty()) {
    std::string path = supervisor_state_path(config_.pidfile);
    DirTrust trust;
    state_dir_ = UniqueFd(open_trusted_dir(parent_directory(path).c_str(), &trust));
    if (!state_dir_) {
      why = "cannot open the directory of " + path + ": " +
            (trust.problem != DirTrust::Problem::none ? describe(trust) : std::strerror(trust.error));
      return {trust.error, std::system_category()};
    }
    state_name_ = base_name(path);
  }
  state_.supervisor = {::getpid(), process_start_time(::getpid())};
  if (auto ec = open_logs(why)) {
    if (why.empty()) why = "cannot open the log";
    return ec;
  }
  end_abandoned();
  // A state file a SIGKILLed supervisor left is replaced before the first
  // start: the one the first start's report is read against is this one's.
  publish();
  return {};
}

// What a SIGKILLed supervisor of this PID file left running is ended before
// the first start, which would otherwise run a second copy beside it.
void Supervisor::end_abandoned() {
  if (config_.pidfile.empty()) return;
  auto left = end_abandoned_child(config_.pidfile, config_.child.rollback);
  if (!left || !config_.on_event) return;
  std::string how = "ended it";
  if (left->stop.outcome == StopOutcome::killed) how = "ended it with SIGKILL";
  if (left->stop.outcome == StopOutcome::failed) how = "could not end it: " + left->stop.reason;
  config_.on_event("pid " + std::to_string(left->pid) + " was left running by a supervisor that was killed; " + how);
}

void Supervisor::publish() {
  if (!state_dir_) return;
  std::vector<Output*> outs = outputs();
  state_.log_blocked = std::any_of(outs.begin(), outs.end(), [](const Output* o) { return o->held; });
  std::string text = format_supervisor_state(state_);
  std::string temp = state_name_ + ".new";
  auto create = [&] {
    return UniqueFd(
        ::openat(state_dir_.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  };
  UniqueFd fd = create();
  if (!fd && errno == EEXIST) {  // left by a supervisor that died while publishing
    ::unlinkat(state_dir_.get(), temp.c_str(), 0);
    fd = create();
  }
  if (!fd) return;
  ::fchmod(fd.get(), 0644);
  // Its block allocated first (best effort): ext4 writes a file renamed over
  // another out to disk at the rename when its blocks are still delayed
  // (auto_da_alloc), a disk write per publish that a state file does not need.
  ::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(text.size()));
  bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fd.reset();
  if (!ok || ::renameat(state_dir_.get(), temp.c_str(), state_dir_.get(), state_name_.c_str()) != 0) {
    ::unlinkat(state_dir_.get(), temp.c_str(), 0);
  }
}

WatchAction Supervisor::during_start() {
  if (config_.init) return during_start_forwarding();
  for (int sig : signals_->take()) {
    switch (sig) {
      case SIGTERM:
      case SIGINT: stop_requested_ = true; break;
      case SIGHUP: reload_pending_ = true; break;
      case SIGUSR1:
        for (Output* o : outputs()) o->writer->reopen();
        break;
      case SIGALRM:
        for (Output* o : outputs()) o->writer->rotate();
        break;
      default: break;  // SIGCHLD: the start reaps its own; USR2: a start is a restart already
    }
  }
  return stop_requested_ ? WatchAction::cancel : WatchAction::keep;
}

StartResult Supervisor::start_child() {
  StartRequest request = config_.child;
  Options& o = request.options;
  o.detach = false;
  o.session = config_.init ? config_.init->session : SessionMode::new_session;
  o.parent_death_signal = SIGKILL;
  o.collect_exit_status = false;
  if (out_.write) o.stdout_fd = out_.write.get();
  if (err_.write) o.stderr_fd = err_.write.get();
  request.adopt_orphans = true;
  request.watch.push_back({signals_->fd(), [this] { return during_start(); }});
  for (Output* out : outputs()) {
    request.watch.push_back({out->read.get(), [this, out] {
                               drain(*out);
                               return out->held ? WatchAction::drop : WatchAction::keep;
                             }});
  }
  tail_.clear();
  ++state_.generation;
  state_.phase = SupervisorPhase::starting;
  state_.child = {0, 0};
  // In exec mode the start is over once the spawn returns (the supervisor
  // waits in clone until the exec): the publish of its outcome follows at
  // once, and a "starting" state would be replaced before anyone could read it.
  if (request.ready.mode != ReadyMode::exec) publish();
  if (auto ec = prepare_watchdog(request)) {
    StartResult r;
    r.outcome = StartOutcome::not_prepared;
    r.status.step = Step::ready;
    r.status.error = ec.value();
    r.message = "cannot open the watchdog's notify socket: " + ec.message();
    return r;
  }
  return start_daemon(request);
}

// The child's watchdog settings and its notify socket for life: with
// ready=notify the readiness socket is kept (start_daemon moves it here),
// else one is opened now. Before the child is ready its datagrams are only
// drained: the timer runs from readiness on.
std::error_code Supervisor::prepare_watchdog(StartRequest& request) {
  end_watchdog();
  watchdog_ended_ = false;
  watchdog_timeout_ = config_.watchdog;
  if (config_.watchdog.count() <= 0) return {};
  Options& o = request.options;
  o.watchdog_pid = true;
  o.environment.set.push_back("WATCHDOG_USEC=" + std::to_string(config_.watchdog.count() * 1000));
  if (request.ready.mode == ReadyMode::notify) {
    request.keep_notify = &notify_;
    return {};
  }
  if (auto ec = NotifyServer::open("", notify_)) return ec;
  o.environment.set.push_back("NOTIFY_SOCKET=" + notify_.address());
  request.watch.push_back({notify_.fd(), [this] {
                             std::error_code ec;
                             for (int i = 0; i < kDatagramsPerWakeup && notify_.receive(ec); ++i) {
                             }
                             return ec ? WatchAction::drop : WatchAction::keep;
                           }});
  return {};
}

void Supervisor::arm_watchdog() {
  if (notify_.fd() >= 0 && watchdog_timeout_.count() > 0) {
    watchdog_timer_.arm(watchdog_timeout_);
  } else {
    watchdog_timer_.disarm();
  }
}

void Supervisor::end_watchdog() {
  watchdog_timer_.disarm();
  notify_ = NotifyServer();
}

// The child's datagrams: only those of its tree count (the child and its
// descendants; the kernel vouches for the sender's PID), the rest are
// ignored. Bounded per wake-up, as the readiness wait is.
Supervisor::Next Supervisor::on_notify() {
  std::error_code ec;
  for (int handled = 0; handled < kDatagramsPerWakeup && child_ && notify_.fd() >= 0; ++handled) {
    auto d = notify_.receive(ec);
    if (!d) break;
    if (!is_in_tree(d->sender, child_.pid())) continue;
    const NotifyMessage& m = d->message;
    if (m.watchdog_usec) {
      // Microseconds, rounded up to the timer's milliseconds.
      watchdog_timeout_ = milliseconds((*m.watchdog_usec + 999) / 1000);
    }
    if (m.watchdog_trigger) return watchdog_expired();
    if (m.watchdog || m.watchdog_usec) arm_watchdog();
  }
  return Next::go_on;
}

// No ping in time (or WATCHDOG=trigger): SIGABRT, so that it dumps core,
// then the stop policy (its timeout, then SIGKILL of its session), as systemd
// does; the end is abnormal whatever its status.
Supervisor::Next Supervisor::watchdog_expired() {
  watchdog_timer_.disarm();
  if (!child_) return Next::go_on;
  StopPolicy abort_policy = config_.child.rollback;
  abort_policy.signal = SIGABRT;
  StopResult stopped = stop_process(child_, scope_, abort_policy);  // reaps the child (ours) as it waits
  reap();
  watchdog_ended_ = true;
  return child_ended(stopped.wait_status >= 0 ? stopped.wait_status : child_reaped_ ? child_status_ : -1);
}

void Supervisor::drain(Output& out, bool all) {
  if (out.held) return;
  char buf[kReadSize];
  // Bounded per wake-up so one busy pipe cannot starve the signals (all: until empty).
  for (int reads = 0; all || reads < 16; ++reads) {
    ssize_t n = ::read(out.read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    std::string_view bytes(buf, static_cast<size_t>(n));
    if (state_.phase == SupervisorPhase::starting) tail_.feed(bytes);  // only a failed start shows it
    out.writer->write(bytes, out.source);
    if (out.writer->blocked()) {
      hold(out);
      return;
    }
  }
}

void Supervisor::hold(Output& out) {
  bool was = state_.log_blocked;
  for (Output* o : outputs()) {
    if (o->writer == out.writer) o->held = true;
  }
  state_.log_error = out.writer->path() + ": " + out.writer->last_error().message();
  if (retry_timer_.fd() < 0) retry_timer_.arm(kLogRetry);
  if (!was) publish();
}

void Supervisor::retry_logs() {
  bool still = false;
  for (Output* o : outputs()) {
    if (!o->held) continue;
    if (!o->writer->blocked() || !o->writer->retry()) {
      o->held = false;
    } else {
      still = true;
    }
  }
  if (still) {
    retry_timer_.arm(kLogRetry);
    return;
  }
  state_.log_error.clear();
  publish();
  for (Output* o : outputs()) drain(*o);
}

// The child ended or a start failed: restart it, or end.
Supervisor::Next Supervisor::schedule_restart(int wait_status) {
  state_.last_status = wait_status;
  state_.last_end_reason = watchdog_ended_ ? "watchdog timeout" : "";
  const std::string why = watchdog_ended_ ? "watchdog timeout: " : "";
  bool restart = !final_end_ && restarts_after(config_.restart, wait_status, watchdog_ended_);
  watchdog_ended_ = false;
  if (!restart) {
    state_.phase = SupervisorPhase::finished;
    state_.reason = why + "the program " + describe_wait_status(wait_status) + "; not restarted (" +
                    std::string(to_string(config_.restart.when)) + ")";
    publish();
    finish(SupervisorEnd::finished, state_.reason);
    return Next::done;
  }
  auto now = Clock::now();
  if (ready_at_ != Clock::time_point{} && now - ready_at_ >= config_.restart.reset_after) backoff_.reset();
  ready_at_ = {};
  if (!budget_.spend(now)) {
    state_.phase = SupervisorPhase::failed;
    state_.reason = "failed: " + std::to_string(config_.restart.limit) +
                    (config_.restart.limit == 1 ? " restart in " : " restarts in ") +
                    format_duration_ms(config_.restart.interval) + "; last: " + why + "the program " +
                    describe_wait_status(wait_status);
    publish();
    finish(SupervisorEnd::gave_up, state_.reason);
    return Next::done;
  }
  milliseconds delay = backoff_.next();
  bool was_running = state_.phase == SupervisorPhase::running;
  state_.phase = SupervisorPhase::backoff;
  state_.delay_ms = delay.count();
  state_.next_start_ms = epoch_ms() + delay.count();
  state_.reason = why + "the program " + describe_wait_status(wait_status) + "; restarting in " +
                  format_duration_ms(delay);
  if (delay.count() > 0) {
    restart_timer_.arm(delay);
  } else {
    // No delay is no delay: the start follows on this wake-up, with no trip
    // through the timer (run()), and the publish of a running child's end
    // is left to the start's own, which comes at once. A failed start's end
    // is published: the next start, in exec mode, publishes only its outcome.
    restart_now_ = true;
    if (!was_running) publish();
    return Next::go_on;
  }
  publish();
  return Next::go_on;
}

// The next start, a restart (after its delay, at once, or asked for).
Supervisor::Next Supervisor::restart() {
  restart_now_ = false;
  ++state_.restarts;
  return after_start(start_child(), false);
}

// A failed start's message ends with the program's last lines in its log, as
// start_daemon's does for --output files.
StartResult with_tail(const StartResult& r, const std::vector<std::string>& lines, const std::string& where) {
  StartResult out = r;
  if (r || lines.empty() || r.outcome == StartOutcome::cancelled) return out;
  out.output_tail.insert(out.output_tail.end(), lines.begin(), lines.end());
  out.output_discarded = false;
  out.message += "; its last output" + (where.empty() ? std::string() : " in " + where) + ":";
  for (const auto& line : lines) out.message += (&line == &lines.front() ? " " : " | ") + line;
  return out;
}

Supervisor::Next Supervisor::after_start(const StartResult& started, bool first) {
  if (!started) drain_all();  // what it wrote before it failed
  std::string where = out_.writer != nullptr ? out_.writer->path() : err_.writer != nullptr ? err_.writer->path() : "";
  StartResult r = with_tail(started, tail_.lines(), where);
  if (first && config_.on_first_start) config_.on_first_start(r);
  if (stop_requested_ || r.outcome == StartOutcome::cancelled) {
    drain_all();
    unpublish();
    if (first) remove_unused_logs();
    finish(first ? SupervisorEnd::first_start_failed : SupervisorEnd::stopped, r.message);
    return Next::done;
  }
  if (!r) {
    end_watchdog();
    drain_all();
    for (Output* o : outputs()) o->writer->flush_tail();
    if (first) {
      unpublish();  // nothing is left of a failed start
      remove_unused_logs();
      result_.first = r;
      finish(SupervisorEnd::first_start_failed, r.message);
      return Next::done;
    }
    // A failed restart ends like a child that died at once.
    return schedule_restart(r.ready.wait_status >= 0 ? r.ready.wait_status : W_EXITCODE(1, 0));
  }
  // The recorded process (a MAINPID= one included) is the child from now on.
  if (Process::open_child(r.main.pid, child_) && Process::open(r.main.pid, r.main.start_time, child_)) {
    return schedule_restart(-1);  // gone already
  }
  scope_ = scope_of(child_);
  child_reaped_ = false;
  child_status_ = -1;
  ready_at_ = Clock::now();
  state_.child = r.main;
  for (Output* o : outputs()) o->writer->set_syslog_pid(r.main.pid);
  state_.phase = SupervisorPhase::running;
  state_.reason.clear();
  state_.delay_ms = 0;
  state_.next_start_ms = 0;
  publish();
  arm_watchdog();  // from readiness on
  deliver_deferred_signals();
  return Next::go_on;
}

// What came for the child during its start reaches it once it is ready: the
// forwarded signals (welld run), a reload.
void Supervisor::deliver_deferred_signals() {
  for (auto [sig, from_kernel] : std::exchange(deferred_, {})) forward(sig, from_kernel);
  if (reload_pending_) {
    reload_pending_ = false;
    child_.signal(config_.child.options.reload_signal != 0 ? config_.child.options.reload_signal : SIGHUP);
  }
}

// Reap every child that ended (the abandoned ones of the child's tree too);
// note the child's own status.
void Supervisor::reap() {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return;
    if (child_ && info.si_pid == child_.pid()) {
      child_reaped_ = true;
      child_status_ = wait_status_of(info);
    }
  }
}

// The child is gone: everything it wrote into the log, its PID file removed.
void Supervisor::release_child() {
  drain_all();
  for (Output* o : outputs()) o->writer->flush_tail();
  if (!config_.child.options.pidfile.empty()) {
    remove_pidfile(config_.child.options.pidfile.c_str(), state_.child);
  }
  child_ = Process();
  state_.child = {0, 0};
  end_watchdog();
}

Supervisor::Next Supervisor::child_ended(int wait_status) {
  release_child();
  return schedule_restart(wait_status);
}

void Supervisor::stop_child() {
  state_.phase = SupervisorPhase::stopping;
  publish();
  if (!child_) return;
  stop_process(child_, scope_, config_.child.rollback);
  reap();
  release_child();
}

Supervisor::Next Supervisor::on_signals(const std::vector<int>& signals) {
  if (config_.init) return forward_signals(signals);
  for (int sig : signals) {
    switch (sig) {
      case SIGTERM:
      case SIGINT:
        restart_timer_.disarm();
        stop_child();
        unpublish();  // the stop removes the PID file next
        finish(SupervisorEnd::stopped, "stopped");
        return Next::done;
      case SIGHUP:
        if (child_) {
          child_.signal(config_.child.options.reload_signal != 0 ? config_.child.options.reload_signal : SIGHUP);
        }
        break;
      case SIGUSR1:
        for (Output* o : outputs()) o->writer->reopen();
        break;
      case SIGALRM:
        for (Output* o : outputs()) o->writer->rotate();
        break;
      case SIGUSR2: {
        restart_timer_.disarm();
        stop_child();
        if (restart() == Next::done) return Next::done;
        break;
      }
      case SIGCHLD: reap(); break;
      default: break;
    }
  }
  return Next::go_on;
}

// One wake-up of the loop: what poll found ready in `p` (signals, the
// child's pidfd, the restart and retry timers, the child's notify socket and
// its watchdog timer, then the log pipes from kOutputsAt on).
Supervisor::Next Supervisor::serve(const std::vector<pollfd>& p) {
  std::vector<Output*> outs = outputs();
  for (size_t i = kOutputsAt; i < p.size(); ++i) {
    if (p[i].revents != 0) drain(*outs[i - kOutputsAt]);
  }
  if (p[3].revents != 0) {
    retry_timer_.fired();
    retry_logs();
  }
  if (p[0].revents != 0 && on_signals(signals_->take()) == Next::done) return Next::done;
  if (p[1].revents != 0) reap();
  // Ended: reaped here, or (not our child) gone with a status we cannot know.
  bool ended = child_reaped_ || (child_.pollable() && p[1].revents != 0);
  if (child_ && ended && child_ended(child_reaped_ ? child_status_ : -1) == Next::done) return Next::done;
  if (p[4].revents != 0 && on_notify() == Next::done) return Next::done;
  // Stale when a ping (or anything above) re-armed or disarmed it meanwhile.
  if (p[5].revents != 0 && watchdog_timer_.take_expiry() && watchdog_expired() == Next::done) return Next::done;
  if (p[2].revents != 0) {
    restart_timer_.fired();
    return restart();
  }
  return Next::go_on;
}

SupervisorResult Supervisor::run() {
  std::string why;
  if (auto ec = set_up(why)) {
    remove_unused_logs();
    finish(SupervisorEnd::error, why + ": " + ec.message());
    return result_;
  }
  if (after_start(start_child(), true) == Next::done) return finish_run();
  if (config_.release_idle_memory) release_idle_memory();
  for (;;) {
    std::vector<pollfd> p = {
        {signals_->fd(), POLLIN, 0},      {child_ && child_.pollable() ? child_.fd() : -1, POLLIN, 0},
        {restart_timer_.fd(), POLLIN, 0}, {retry_timer_.fd(), POLLIN, 0},
        {notify_.fd(), POLLIN, 0},        {watchdog_timer_.fd(), POLLIN, 0}};
    for (Output* o : outputs()) p.push_back({o->held ? -1 : o->read.get(), POLLIN, 0});
    // Restarts due one after another (failed starts, no delay) still see
    // what is ready between them: a stop comes first.
    if (::poll(p.data(), p.size(), restart_now_ ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      finish(SupervisorEnd::error, std::string("poll: ") + std::strerror(errno));
      stop_child();
      break;
    }
    if (serve(p) == Next::done) break;
    if (restart_now_ && restart() == Next::done) break;
  }
  return finish_run();
}

// ---- welld run: forwarding, reaping, the end of the tree (InitDuties) -------------

WatchAction Supervisor::during_start_forwarding() {
  for (int sig : signals_->take()) {
    if (sig == SIGTERM || sig == SIGINT) {
      stop_requested_ = true;
      if (result_.stop_signal == 0) result_.stop_signal = sig;
    } else if (sig != SIGCHLD) {  // SIGCHLD: the start reaps its own
      deferred_.emplace_back(sig, signals_->from_kernel(sig));
    }
  }
  return stop_requested_ ? WatchAction::cancel : WatchAction::keep;
}

Supervisor::Next Supervisor::forward_signals(const std::vector<int>& signals) {
  for (int sig : signals) {
    if (sig == SIGCHLD) {
      reap();
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      final_end_ = true;
      if (!child_) {  // between restarts: nobody to forward it to, the end is now
        restart_timer_.disarm();
        result_.stop_signal = sig;
        unpublish();
        finish(SupervisorEnd::stopped, "stopped");
        return Next::done;
      }
    }
    forward(sig, signals_->from_kernel(sig));
  }
  return Next::go_on;
}

void Supervisor::forward(int sig, bool from_kernel) {
  const InitDuties& init = *config_.init;
  int to = sig;
  for (auto [received, sent] : init.rewrite) {
    if (received == sig) {
      to = sent;
      break;
    }
  }
  if (to == 0) return;
  // What a terminal sends to its foreground process group (tty_ioctl(4),
  // termios(3) ISIG): a program in our group has it already.
  static constexpr int kTerminalSignals[] = {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH, SIGHUP};
  bool sent_by_terminal = from_kernel && init.session == SessionMode::inherit &&
                          std::find(std::begin(kTerminalSignals), std::end(kTerminalSignals), sig) !=
                              std::end(kTerminalSignals);
  if (!sent_by_terminal && child_ && !child_reaped_) {
    // The group's ID is the child's PID, which stays its own until we reap it.
    if (init.to_group) {
      ::kill(-child_.pid(), to);
    } else {
      child_.signal(to);
    }
  }
  // Job control: the shell waits for us, not for the program.
  if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) && ::getpid() != 1) ::raise(SIGSTOP);
}

// Every descendant still there, pinned (and found a descendant again once pinned).
std::vector<Process> pinned_descendants() {
  std::vector<Process> left;
  pid_t self = ::getpid();
  for (pid_t pid : descendants(self)) {
    Process p;
    if (Process::open(pid, process_start_time(pid), p) || p.has_exited()) continue;
    // Checked again on the pinned process. As PID 1 every process of the
    // namespace is ours (is_in_tree stops below PID 2).
    if (self != 1 && !is_in_tree(pid, self)) continue;
    left.push_back(std::move(p));
  }
  return left;
}

bool Supervisor::leftovers_gone_within(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    reap();
    // The last one to end is our child (its parent is gone, or is us): its SIGCHLD wakes us.
    if (pinned_descendants().empty()) return true;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{signals_->fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, INT_MAX)));
    signals_->take();  // SIGCHLD (reaped above); others have no one to go to now
  }
}

void Supervisor::end_leftovers() {
  reap();
  std::vector<Process> left = pinned_descendants();
  if (left.empty()) return;
  for (const Process& p : left) {
    p.signal(SIGTERM);
    p.signal(SIGCONT);  // a stopped process acts on its TERM only once continued
  }
  if (leftovers_gone_within(config_.init->grace)) return;
  for (const Process& p : pinned_descendants()) p.signal(SIGKILL);
  leftovers_gone_within(std::chrono::seconds(10));
}

}  // namespace

SupervisorResult supervise(const SupervisorConfig& config) {
  Supervisor supervisor(config);
  return supervisor.run();
}

}  // namespace welld
