// welld start / restart: the fifteen steps, then exec COMMAND in the daemon.
#include <fmt/core.h>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <climits>
#include <csignal>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "interrupts.hpp"
#include "start_options.hpp"
#include "supervise_launch.hpp"
#include "unit_options.hpp"
#include "welld/control.hpp"
#include "welld/daemon.hpp"
#include "welld/listen.hpp"
#include "welld/parse.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"
#include "welld/readiness.hpp"
#include "welld/start.hpp"
#include "welld/supervise.hpp"
#include "welld/unique_fd.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace welld::cli {
namespace {

void warn_denied(const Options& o, std::string_view verb) {
  for (const auto& name : denied_names(o.environment, environ)) {
    warning_line(verb, fmt::format("not passing {} (dangerous in a daemon; --keep-env {} passes it)", name, name));
  }
}

int run_start(const StartArgs& a, std::string_view verb) {
  if (a.supervised()) return run_supervised_start(a, verb);
  StartRequest request;
  if (int code = build_request(a, verb, request)) return code;
  warn_denied(request.options, verb);
  std::string name = a.display_name();
  std::string prefix = a.name.empty() ? "" : a.name + ": ";
  // Every terminating signal is caught from here on (interrupts.hpp), so that
  // a start interrupted at any point rolls back (exit 128 + signal).
  Interrupts interrupts;
  if (interrupts.error() != 0) {
    error_line(verb, prefix + "cannot catch signals: " + std::system_category().message(interrupts.error()));
    return exit_code::failure;
  }
  bool quiet = false;  // stdout went away (EPIPE): the start goes on without STATUS= lines
  request.cancel_fd = interrupts.fd();
  // welld start exits right after: its only children are the daemon's.
  request.adopt_orphans = true;
  request.on_status = [&](std::string_view text) {
    if (!quiet) quiet = !write_all(1, fmt::format("{}: {}\n", name, printable(text)));
  };
  StartResult r = start_daemon(request);
  if (r.outcome == StartOutcome::already_running) {
    write_all(1, fmt::format("{} is already running (pid {})\n", name, r.status.holder));
    return exit_code::ok;
  }
  if (r) return exit_code::ok;
  error_line(verb, prefix + start_failure_message(r, interrupts.caught()));
  return start_exit_code_of(r, interrupts.caught());
}

std::string restart_stop(const StartArgs& a, std::string_view verb, int& code) {
  std::string error;
  std::optional<int> sig = kRecordedSignal;
  std::optional<std::chrono::milliseconds> timeout = kRecordedTimeout;
  if (!a.stop_signal.empty()) sig = parse_signal(a.stop_signal, &error);
  if (sig && !a.stop_timeout.empty()) timeout = parse_duration(a.stop_timeout, &error);
  if (!sig || !timeout) {
    code = exit_code::usage;
    return error;
  }
  if (a.pidfile.empty()) {
    code = exit_code::usage;
    return "--pidfile is required";
  }
  StopResult r = stop_daemon(a.pidfile, *sig, *timeout);
  if (r.outcome == StopOutcome::refused || r.outcome == StopOutcome::failed) {
    code = r.error == std::errc::operation_not_permitted ? exit_code::privilege : exit_code::failure;
    return r.reason;
  }
  if (r.outcome == StopOutcome::killed) {
    warning_line(verb, fmt::format("pid {} did not stop within {}; sent SIGKILL", r.pid,
                                   a.stop_timeout.empty() ? "its stop timeout" : a.stop_timeout));
  }
  code = exit_code::ok;
  return {};
}

// restart -p FILE without a command, for a supervisor: its child is
// restarted under it (SIGUSR2); returns once the supervisor has published
// the outcome of the new start.
int restart_child(const StartArgs& a) {
  DaemonLookup lookup = find_daemon(a.pidfile);
  auto before = read_supervisor_state(a.pidfile);
  if (lookup.file.state != PidfileState::running || !before || before->supervisor.pid != lookup.file.pid ||
      before->supervisor.start_time != lookup.file.start_time) {
    error_line("restart",
               "COMMAND is required, except to restart the program of a running supervisor "
               "(welld start --respawn)");
    return exit_code::usage;
  }
  UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  std::string state_path = supervisor_state_path(a.pidfile);
  std::string dir = state_path.substr(0, std::max<size_t>(state_path.rfind('/'), 1));
  if (!watch || ::inotify_add_watch(watch.get(), dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    error_line("restart", "cannot watch " + dir + ": " + std::system_category().message(errno));
    return exit_code::failure;
  }
  if (auto ec = lookup.process.signal(SIGUSR2)) {
    error_line("restart", fmt::format("cannot signal the supervisor (pid {}): {}", lookup.file.pid, ec.message()));
    return ec == std::errc::operation_not_permitted ? exit_code::privilege : exit_code::failure;
  }
  std::string name = a.display_name();
  for (;;) {
    auto now = read_supervisor_state(a.pidfile);
    if (now && now->generation > before->generation && now->phase != SupervisorPhase::starting &&
        now->phase != SupervisorPhase::stopping) {
      if (now->phase == SupervisorPhase::running) {
        fmt::print("{} restarted (pid {})\n", name, now->child.pid);
        return exit_code::ok;
      }
      error_line("restart", name + ": " + printable(now->reason));
      return exit_code::failure;
    }
    pollfd p[2] = {{watch.get(), POLLIN, 0}, {lookup.process.fd(), POLLIN, 0}};
    if (::poll(p, lookup.process.pollable() ? 2 : 1, 1000) < 0 && errno != EINTR) break;
    if (p[1].revents != 0 || !lookup.process.present()) break;
    char buf[4096];
    while (::read(watch.get(), buf, sizeof buf) > 0) {
    }
  }
  error_line("restart", fmt::format("the supervisor (pid {}) ended during the restart", lookup.file.pid));
  return exit_code::failure;
}

}  // namespace

void define_start_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  sub.footer(verb_footer("welld start [OPTIONS] -- COMMAND [ARG...]", exit_codes_text("start")));
  add_start_options(sub, *args);
  add_unit_options(sub, *args);
  sub.callback([args, &action] {
    action = [args] {
      if (int code = expand_unit_args(*args, "start")) return code;
      return args->unit.empty() ? run_start(*args, "start") : start_unit(*args, "start", run_start);
    };
  });
}

void define_restart_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  sub.footer(
      verb_footer("welld restart -p FILE [OPTIONS] -- COMMAND [ARG...]\n"
                  "       welld restart -p FILE        (a supervisor: restart its program under it)",
                  exit_codes_text("restart")));
  add_start_options(sub, *args);
  sub.get_option("command")->required(false);
  sub.add_option("--signal", args->stop_signal,
                 "signal to stop the running instance (default: the --stop-signal recorded at its start, else TERM)");
  sub.add_option("--timeout", args->stop_timeout,
                 "wait this long before SIGKILL (default: the --stop-timeout recorded at its start, else 10s)");
  add_unit_options(sub, *args);
  sub.callback([args, &action] {
    action = [args] {
      if (int code = expand_unit_args(*args, "restart")) return code;
      if (args->command.empty()) return restart_child(*args);
      int code = 0;
      std::string error = restart_stop(*args, "restart", code);
      if (code != exit_code::ok) {
        error_line("restart", error);
        return code;
      }
      return args->unit.empty() ? run_start(*args, "restart") : start_unit(*args, "restart", run_start);
    };
  });
}

}  // namespace welld::cli
