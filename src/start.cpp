// The start transaction: see welld/start.hpp.
#include "welld/start.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "welld/parse.hpp"
#include "welld/path.hpp"
#include "welld/pidfile.hpp"
#include "welld/text.hpp"

namespace welld {
namespace {

constexpr size_t kTailBytes = 4096;
constexpr size_t kTailLines = 10;

std::string absolute(const std::string& path) {
  std::string out;
  return make_absolute(path, out) ? path : out;
}

bool readable_now(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

// A log the daemon appends to, and its size before the spawn.
struct OutputLog {
  std::string path;
  off_t size_before = 0;
};

std::vector<OutputLog> output_logs(const Options& o) {
  std::vector<OutputLog> logs;
  for (const std::string* p : {&o.stdout_path, &o.stderr_path}) {
    if (p->empty()) continue;
    std::string path = absolute(*p);
    if (std::any_of(logs.begin(), logs.end(), [&](const OutputLog& l) { return l.path == path; })) continue;
    struct stat st {};
    logs.push_back({path, ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0});
  }
  return logs;
}

// The last lines `log` gained since the spawn: at most kTailBytes read from
// its end (never before size_before), a line cut by that limit dropped, at
// most kTailLines kept, each made terminal-safe. Only a regular file is read
// (O_NOFOLLOW, O_NONBLOCK: a FIFO put there does not block us).
std::vector<std::string> tail_of(const OutputLog& log) {
  std::vector<std::string> lines;
  UniqueFd fd(::open(log.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= log.size_before) return lines;
  off_t from = std::max(log.size_before, st.st_size - static_cast<off_t>(kTailBytes));
  std::string text(static_cast<size_t>(st.st_size - from), '\0');
  ssize_t got = ::pread(fd.get(), text.data(), text.size(), from);
  if (got <= 0) return lines;
  text.resize(static_cast<size_t>(got));
  size_t at = 0;
  if (from > log.size_before) {  // cut mid-line: start after the first newline
    at = text.find('\n');
    at = at == std::string::npos ? text.size() : at + 1;
  }
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line{text.data() + at, end - at};
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.push_back(terminal_safe(line));
    at = end + 1;
  }
  if (lines.size() > kTailLines) lines.erase(lines.begin(), lines.end() - static_cast<long>(kTailLines));
  return lines;
}

// Stop `p` (pinned) by the one stop sequence; keep the worst result
// (failed, then killed, then stopped).
void roll_back(const Process& p, const StopPolicy& policy, StartResult& r) {
  if (!p) return;
  r.stopped.push_back(p.pid());
  StopResult s = stop_process(p, scope_of(p), policy);
  auto rank = [](StopOutcome o) { return o == StopOutcome::failed ? 2 : o == StopOutcome::killed ? 1 : 0; };
  if (rank(s.outcome) > rank(r.rollback.outcome)) r.rollback = s;
}

// Stop the main process and the daemon, then every process of the daemon
// left (pinned by the start time read with it). Returns how many were left
// besides those two.
size_t roll_back_all(const ReadinessWaiter& waiter, const StopPolicy& policy, StartResult& r) {
  roll_back(waiter.main_process(), policy, r);
  roll_back(waiter.daemon(), policy, r);
  size_t left = 0;
  // A second pass catches what the first one's victims forked meanwhile.
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<ProcessIdentity> rest = waiter.daemon_processes();
    if (rest.empty()) break;
    for (const auto& id : rest) {
      Process p;
      if (Process::open(id.pid, id.start_time, p)) continue;
      if (std::find(r.stopped.begin(), r.stopped.end(), id.pid) == r.stopped.end()) ++left;
      roll_back(p, policy, r);
    }
  }
  return left;
}

void remove_pidfiles(const std::string& pidfile, pid_t daemon, const ReadinessWaiter& waiter) {
  if (pidfile.empty()) return;
  remove_pidfile(pidfile.c_str(), daemon);
  if (waiter.main_process()) remove_pidfile(pidfile.c_str(), waiter.main_process().pid());
}

std::string exit_text(int wait_status) {
  if (wait_status < 0) return "exited";
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "was killed by signal " + std::to_string(WTERMSIG(wait_status));
}

// With --ok-if-running, a PID file naming a live daemon is outcome
// already_running (checked before the readiness precheck can refuse).
bool already_running_holder(const StartRequest& request, const Options& options, StartResult& r) {
  if (!request.ok_if_running || options.pidfile.empty() || request.command.empty()) return false;
  PidfileInfo info = inspect_pidfile(options.pidfile);
  if (info.state != PidfileState::running && info.state != PidfileState::unverified) return false;
  r.outcome = StartOutcome::already_running;
  r.status.holder = info.pid;
  r.main.pid = info.pid;
  r.message = base_name(request.command.front()) + " is already running (pid " + std::to_string(info.pid) + ")";
  return true;
}

}  // namespace

std::string to_string(const ListenSpec& spec) {
  if (spec.unix_socket) return "unix:" + spec.path;
  if (spec.host.find(':') != std::string::npos) return "tcp:[" + spec.host + "]:" + std::to_string(spec.port);
  return "tcp:" + spec.host + ":" + std::to_string(spec.port);
}

std::string to_string(const ReadySpec& spec) {
  switch (spec.mode) {
    case ReadyMode::exec: return "exec";
    case ReadyMode::notify: return spec.path.empty() ? "notify" : "notify:" + spec.path;
    case ReadyMode::fd: return spec.fd < 0 ? "fd" : "fd:" + std::to_string(spec.fd);
    case ReadyMode::tcp:
      return spec.host.find(':') != std::string::npos ? "tcp:[" + spec.host + "]:" + std::to_string(spec.port)
                                                      : "tcp:" + spec.host + ":" + std::to_string(spec.port);
    case ReadyMode::unix_socket: return "unix:" + spec.path;
    case ReadyMode::file: return "file:" + spec.path;
    case ReadyMode::forking: return "forking:" + spec.path;
  }
  return "exec";
}

// A linear sequence of steps, each with its own early return (one transaction:
// readiness checks, listeners, spawn, readiness, MAINPID, rollback).
// NOLINTNEXTLINE(readability-function-size,readability-function-cognitive-complexity)
StartResult start_daemon(const StartRequest& request) {
  StartResult r;
  // Step::prepare for the request and its sockets, Step::ready for readiness.
  auto fail = [&r](StartOutcome outcome, int error, std::string message, Step step = Step::prepare) {
    r.outcome = outcome;
    r.status.step = step;
    r.status.error = error;
    r.message = std::move(message);
    return r;
  };
  Options options = request.options;
  const ReadySpec& spec = request.ready;
  if (request.command.empty()) return fail(StartOutcome::invalid, EINVAL, "no command to start");
  // The listen sockets take fds 3, 4, ...: an explicit readiness fd among
  // them would silently replace one (the default fd goes after them).
  int sockets_end = 3 + static_cast<int>(request.listen.size() + request.inherited_listen.size());
  if (spec.mode == ReadyMode::fd && spec.fd >= 3 && spec.fd < sockets_end) {
    return fail(StartOutcome::invalid, EBUSY,
                "--ready=" + to_string(spec) + " collides with the --listen socket at fd " + std::to_string(spec.fd) +
                    " (the sockets take fds 3 to " + std::to_string(sockets_end - 1) +
                    "); use fd:" + std::to_string(sockets_end) + " or higher, or plain --ready=fd");
  }
  // Two writers of one file: the program's PID would replace welld's record.
  if (spec.mode == ReadyMode::forking && !options.pidfile.empty() && absolute(spec.path) == absolute(options.pidfile)) {
    return fail(StartOutcome::invalid, EINVAL,
                "the program's own PID file cannot be welld's --pidfile " + absolute(options.pidfile));
  }
  ReadinessWaiter waiter(spec);
  // Before our own sockets exist: a probe already answered is someone else's.
  if (auto ec = waiter.check_not_ready()) {
    // A running daemon is why its probe answers: --ok-if-running says so, whatever --ready is.
    if (already_running_holder(request, options, r)) return r;
    return fail(StartOutcome::not_prepared, ec.value(),
                "cannot use --ready=" + to_string(spec) + ": " + waiter.unreachable_reason(), Step::ready);
  }
  // Bound before anything forks and before the daemon drops privileges.
  std::vector<UniqueFd> sockets(request.listen.size());
  for (size_t i = 0; i < request.listen.size(); ++i) {
    if (auto ec = bind_listener(request.listen[i], sockets[i])) {
      std::string why = ec == std::errc::file_exists ? "the path exists and is not a socket" : ec.message();
      fail(StartOutcome::not_prepared, ec.value(), "cannot bind " + to_string(request.listen[i]) + ": " + why);
      r.status.subject = to_string(request.listen[i]);
      return r;
    }
  }
  pass_listeners(sockets, request.listen, request.inherited_listen, options);
  if (auto ec = waiter.prepare(options)) {
    std::string why = !waiter.unreachable_reason().empty() ? waiter.unreachable_reason() : ec.message();
    return fail(StartOutcome::not_prepared, ec.value(),
                "cannot prepare readiness (" + to_string(waiter.spec()) + "): " + why, Step::ready);
  }
  // The forking hand-off (MAINPID=child, READY=1, exit) and self-daemonizing
  // programs keep their processes in our tree: we are their subreaper.
  if (request.adopt_orphans && spec.mode != ReadyMode::exec) {
    if (auto ec = waiter.adopt_orphans()) {
      return fail(StartOutcome::not_prepared, ec.value(), "cannot become a child subreaper: " + ec.message(),
                  Step::ready);
    }
  }
  if (readable_now(request.cancel_fd)) {
    return fail(StartOutcome::cancelled, EINTR, "interrupted before starting");
  }
  std::vector<OutputLog> logs = output_logs(options);
  r.output_discarded = logs.empty() && options.stdout_fd < 0 && options.stderr_fd < 0 && !options.inherit_stdio;
  r.status = spawn_daemon(options, request.command);
  waiter.spawned();
  sockets.clear();  // the daemon has them: a probe must reach its copies, not ours
  if (r.status.already_running() && request.ok_if_running) {
    r.outcome = StartOutcome::already_running;
    r.main.pid = r.status.holder;
    r.message = base_name(request.command.front()) + " is already running (pid " + std::to_string(r.status.holder) +
                ")";
    return r;
  }
  if (!r.status) {
    r.outcome = StartOutcome::spawn_failed;
    r.message = r.status.message();
    return r;
  }
  const pid_t daemon = r.status.pid;
  r.main = {daemon, process_start_time(daemon)};
  r.ready = waiter.wait(daemon, request.ready_timeout, request.cancel_fd, request.on_status, request.watch);
  const ReadyResult& ready = r.ready;
  std::string pidfile = absolute(options.pidfile);
  bool cancelled = ready.outcome == ReadyOutcome::cancelled || readable_now(request.cancel_fd);
  if (ready.outcome == ReadyOutcome::ready && !cancelled) {
    if (ready.main_pid > 0 && ready.main_pid != daemon) {
      ProcessIdentity main{ready.main_pid, ready.main_start_time};
      if (!options.pidfile.empty()) {
        // Exactly the identity pinned when MAINPID= was accepted.
        if (auto ec = replace_pidfile(pidfile.c_str(), daemon, main)) {
          roll_back_all(waiter, request.rollback, r);
          remove_pidfiles(pidfile, daemon, waiter);
          r.outcome = StartOutcome::record_failed;
          r.message = "cannot record the main process (pid " + std::to_string(ready.main_pid) + ") in the PID file " +
                      pidfile + ": " + ec.message() + "; stopped the daemon";
          return r;
        }
      }
      r.main = main;
    }
    if (request.keep_notify != nullptr && spec.mode == ReadyMode::notify) *request.keep_notify = waiter.take_notify();
    r.outcome = StartOutcome::started;
    r.message = "ready";
    return r;
  }
  size_t left = roll_back_all(waiter, request.rollback, r);
  remove_pidfiles(pidfile, daemon, waiter);
  if (cancelled) {
    r.outcome = StartOutcome::cancelled;
    r.message = "interrupted while waiting; stopped the daemon";
    return r;
  }
  r.message = ready.message();
  switch (ready.outcome) {
    case ReadyOutcome::exited: r.outcome = StartOutcome::exited; break;
    case ReadyOutcome::failed: r.outcome = StartOutcome::not_ready; break;
    case ReadyOutcome::timed_out:
      r.outcome = StartOutcome::timed_out;
      r.message += " (" + format_duration_ms(request.ready_timeout) + "); stopped it";
      break;
    case ReadyOutcome::error: r.outcome = StartOutcome::wait_failed; break;
    case ReadyOutcome::ready:
    case ReadyOutcome::cancelled: break;
  }
  if (r.outcome == StartOutcome::exited && left > 0 && spec.mode != ReadyMode::forking) {
    std::string name = base_name(request.command.front());
    r.outcome = StartOutcome::daemonized_itself;
    r.message = name + " daemonizes itself: its main process " + exit_text(ready.wait_status) +
                " before it was ready and left " + std::to_string(left) + " process" + (left == 1 ? "" : "es") +
                " running (stopped); run it in the foreground (e.g. nginx -g 'daemon off;')";
  }
  if (r.outcome == StartOutcome::exited) {
    for (const auto& log : logs) {
      auto lines = tail_of(log);
      r.output_tail.insert(r.output_tail.end(), lines.begin(), lines.end());
      if (!lines.empty()) {
        r.message += "; its last output in " + log.path + ":";
        for (const auto& line : lines) r.message += (&line == &lines.front() ? " " : " | ") + line;
      }
    }
  }
  return r;
}

}  // namespace welld
