// welld stop / status / reload: control a daemon by its PID file.
#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "command.hpp"
#include "unit_options.hpp"
#include "welld/control.hpp"
#include "welld/parse.hpp"
#include "welld/process.hpp"
#include "welld/supervise.hpp"
#include "welld/text.hpp"

namespace welld::cli {
namespace {

struct ControlArgs {
  std::string pidfile;
  std::string name;
  std::string exec;
  std::string signal;
  std::string timeout;
  bool trust_pidfile = false;
  bool json = false;
  std::string unit;  // --unit FILE.service: the PID file from the unit

  PidfileTrust trust() const { return {.trust_any = trust_pidfile, .exec = exec, .name = name}; }

  std::string display_name() const {
    if (!name.empty()) return name;
    std::string base = pidfile.substr(pidfile.rfind('/') + 1);
    if (base.size() > 4 && base.ends_with(".pid")) base.resize(base.size() - 4);
    return base;
  }
};

void add_common(CLI::App& sub, ControlArgs& a) {
  sub.add_option("-p,--pidfile", a.pidfile, "the daemon's PID file (required unless --unit)")
      ->check([](const std::string& s) { return s.empty() ? std::string("empty path") : std::string(); });
  sub.add_option("--unit", a.unit, "the systemd unit FILE.service welld start --unit started: its PID file")
      ->check([](const std::string& s) { return s.empty() ? std::string("empty path") : std::string(); });
  sub.add_option("--exec", a.exec,
                 "act only if the process runs this executable (compared by inode); also accepts a PID file "
                 "the daemon wrote itself");
  sub.add_option("--name", a.name,
                 "act only if the process's name (comm) is NAME; also accepts a PID file the daemon wrote itself");
}

void add_trust(CLI::App& sub, ControlArgs& a) {
  sub.add_flag("--trust-pidfile", a.trust_pidfile,
               "as root, act on a PID file that is not root-owned or is group/other-writable");
}

// --unit: the PID file it implies (unless -p). Else -p is required.
int resolve_unit(ControlArgs& a, std::string_view verb) {
  if (a.unit.empty()) {
    if (!a.pidfile.empty()) return 0;
    error_line(verb, "--pidfile is required");
    return exit_code::usage;
  }
  UnitTarget target;
  if (int code = unit_target(a.unit, verb, target)) return code;
  if (a.pidfile.empty()) a.pidfile = target.pidfile;
  return 0;
}

// The unit's ExecStop= or ExecReload= for the running daemon; `ran` false
// when there is none (or no unit, or nothing running).
int unit_commands(const ControlArgs& a, std::string_view verb, bool& ran) {
  ran = false;
  if (a.unit.empty()) return 0;
  DaemonLookup lookup = find_daemon(a.pidfile, a.trust());
  if (lookup.file.state != PidfileState::running || !lookup.mismatch.empty()) return 0;
  return run_unit_control_commands(a.unit, verb, lookup.file.pid, ran);
}

int failure_code(const std::error_code& ec) {
  return ec == std::errc::operation_not_permitted || ec == std::errc::permission_denied ? exit_code::privilege
                                                                                        : exit_code::failure;
}

// The state a supervisor published, when `file` names that supervisor (its
// identity: the live one, or for a stale file the one it recorded).
std::optional<SupervisorState> supervisor_of(const ControlArgs& a, const PidfileInfo& file) {
  if (file.state != PidfileState::running && file.state != PidfileState::stale) return std::nullopt;
  auto state = read_supervisor_state(a.pidfile);
  if (!state || state->supervisor.pid != file.pid || state->supervisor.start_time != file.start_time) {
    return std::nullopt;
  }
  return state;
}

// A stale supervisor PID file: the child its killed supervisor left running
// (a --forking server, a MAINPID= process) is ended too, with the stop's
// signal and timeout (TERM and 10 s when not given).
// False when it could not be ended.
bool end_abandoned(const ControlArgs& a, int sig, std::chrono::milliseconds timeout) {
  StopPolicy policy;
  if (sig != welld::kRecordedSignal) policy.signal = sig;
  if (timeout != welld::kRecordedTimeout) policy.timeout = timeout;
  auto left = end_abandoned_child(a.pidfile, policy);
  if (!left) return true;
  std::string name = a.display_name();
  if (left->stop.outcome == StopOutcome::failed) {
    error_line("stop", fmt::format("{}: cannot end pid {}, left running by its killed supervisor: {}", name, left->pid,
                                   left->stop.reason));
    return false;
  }
  fmt::print("{}: ended pid {}, left running by its killed supervisor\n", name, left->pid);
  return true;
}

int run_stop(const ControlArgs& a) {
  bool ran = false;
  if (int code = unit_commands(a, "stop", ran)) return code;  // ExecStop=, then the stop for what is left
  std::string error;
  // Not given: the settings recorded at start, else TERM and 10 s.
  std::optional<int> sig = welld::kRecordedSignal;
  std::optional<std::chrono::milliseconds> timeout = welld::kRecordedTimeout;
  if (!a.signal.empty()) sig = parse_signal(a.signal, &error);
  if (sig && !a.timeout.empty()) timeout = parse_duration(a.timeout, &error);
  if (!sig || !timeout) {
    error_line("stop", error);
    return exit_code::usage;
  }
  // A supervisor's published state goes with its PID file (also a failed one's).
  std::optional<SupervisorState> sup = supervisor_of(a, find_daemon(a.pidfile, a.trust()).file);
  StopResult r = stop_daemon(a.pidfile, *sig, *timeout, a.trust());
  if (sup && r.outcome == StopOutcome::not_running && !end_abandoned(a, *sig, *timeout)) return exit_code::failure;
  if (sup && (r.outcome == StopOutcome::stopped || r.outcome == StopOutcome::killed ||
              r.outcome == StopOutcome::not_running)) {
    remove_supervisor_state(a.pidfile, sup->supervisor);
  }
  std::string name = a.display_name();
  switch (r.outcome) {
    case StopOutcome::stopped: fmt::print("{} stopped (pid {})\n", name, r.pid); return exit_code::ok;
    case StopOutcome::killed:
      warning_line("stop", fmt::format("{} (pid {}) or a process of its service did not stop within {} after SIG{}; "
                                       "sent SIGKILL",
                                       name, r.pid, format_duration_ms(r.timeout), signal_name(r.signal)));
      fmt::print("{} killed (pid {})\n", name, r.pid);
      return exit_code::ok;
    case StopOutcome::not_running: fmt::print("{} is {}\n", name, r.reason); return exit_code::ok;
    case StopOutcome::refused: error_line("stop", r.reason); return exit_code::failure;
    case StopOutcome::failed: error_line("stop", r.reason); return failure_code(r.error);
  }
  return exit_code::failure;
}

// How the last child ended: "was killed by signal 6 (SIGABRT)", after why the
// supervisor ended it when it did ("watchdog timeout: ...").
std::string last_end(const SupervisorState& s) {
  std::string how = describe_wait_status(s.last_status);
  return s.last_end_reason.empty() ? how : printable(s.last_end_reason) + ": " + how;
}

std::string supervised_line(const SupervisorState& s) {
  std::string line;
  switch (s.phase) {
    case SupervisorPhase::running:
      line = fmt::format("child pid {}, up {}", s.child.pid, format_duration(process_uptime(s.child.pid)));
      break;
    case SupervisorPhase::backoff: {
      long long left = std::max(0LL, s.next_start_ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           std::chrono::system_clock::now().time_since_epoch())
                                                           .count());
      // Whole seconds once it is a second or more away ("restarting in 29s", not "29475ms").
      std::string in = left >= 1000 ? format_duration(std::chrono::seconds((left + 999) / 1000))
                                    : format_duration_ms(std::chrono::milliseconds(left));
      line = fmt::format("restarting in {} (delay {})", in, format_duration_ms(std::chrono::milliseconds(s.delay_ms)));
      break;
    }
    default: line = std::string(to_string(s.phase)); break;
  }
  line += fmt::format("; {} restart{}", s.restarts, s.restarts == 1 ? "" : "s");
  if (s.last_status >= 0 || !s.last_end_reason.empty()) line += "; last " + last_end(s);
  if (s.log_blocked) line += "; output held back: " + printable(s.log_error);
  return line;
}

std::string status_json(const ControlArgs& a, const PidfileInfo& file, std::string_view state,
                        const std::optional<SupervisorState>& sup) {
  std::string out = fmt::format(R"({{"name":{},"pidfile":{},"state":"{}")", json_string(a.display_name()),
                                json_string(a.pidfile), state);
  if (file.pid > 0) out += fmt::format(R"(,"pid":{})", file.pid);
  if (file.state == PidfileState::running) {
    out += fmt::format(R"(,"uptime_s":{},"command":{})", process_uptime(file.pid).count(),
                       json_string(process_command_line(file.pid)));
  }
  if (!file.reason.empty()) out += fmt::format(R"(,"reason":{})", json_string(file.reason));
  if (sup) {
    out += fmt::format(R"(,"supervisor":{{"phase":"{}","restarts":{},"last_status":{})", to_string(sup->phase),
                       sup->restarts, sup->last_status);
    if (sup->last_status >= 0 || !sup->last_end_reason.empty()) {
      out += fmt::format(R"(,"last_end":{})", json_string(last_end(*sup)));
    }
    if (!sup->last_end_reason.empty()) {
      out += fmt::format(R"(,"last_end_reason":{})", json_string(sup->last_end_reason));
    }
    if (sup->child.pid > 0) {
      out += fmt::format(R"(,"child_pid":{},"child_uptime_s":{})", sup->child.pid,
                         process_uptime(sup->child.pid).count());
    }
    if (sup->phase == SupervisorPhase::backoff) {
      out += fmt::format(R"(,"delay_ms":{},"next_start_ms":{})", sup->delay_ms, sup->next_start_ms);
    }
    out += fmt::format(R"(,"log_blocked":{})", sup->log_blocked ? "true" : "false");
    if (!sup->reason.empty()) out += fmt::format(R"(,"reason":{})", json_string(sup->reason));
    if (!sup->log_error.empty()) out += fmt::format(R"(,"log_error":{})", json_string(sup->log_error));
    out += "}";
  }
  return out + "}\n";
}

// One status: its exit code, its line, and its name in --json.
struct StatusReport {
  int code;
  std::string line;
  std::string_view state;
};

StatusReport status_of(const ControlArgs& a, const DaemonLookup& lookup, const std::optional<SupervisorState>& sup) {
  const PidfileInfo& file = lookup.file;
  std::string name = a.display_name();
  if (file.state == PidfileState::running && !lookup.mismatch.empty()) {
    // start-stop-daemon's --status: the file names a process that is not the program.
    return {exit_code::status_dead,
            fmt::format("{} is not running, but its PID file remains: {}", name, lookup.mismatch), "dead"};
  }
  switch (file.state) {
    case PidfileState::running:
      if (sup) {
        return {exit_code::ok,
                fmt::format("{} is supervised (supervisor pid {}, up {}): {}", name, file.pid,
                            format_duration(process_uptime(file.pid)), supervised_line(*sup)),
                "running"};
      }
      return {exit_code::ok,
              fmt::format("{} is running (pid {}, up {}): {}", name, file.pid,
                          format_duration(process_uptime(file.pid)), printable(process_command_line(file.pid))),
              "running"};
    case PidfileState::absent: return {exit_code::status_not_running, name + " is not running", "not-running"};
    case PidfileState::stale:
      if (sup && sup->phase == SupervisorPhase::failed) {
        return {exit_code::status_dead, fmt::format("{} {}", name, printable(sup->reason)), "failed"};
      }
      if (sup && sup->phase == SupervisorPhase::finished) {
        return {exit_code::status_not_running, fmt::format("{} is not running: {}", name, printable(sup->reason)),
                "finished"};
      }
      return {exit_code::status_dead, fmt::format("{} is not running, but its PID file remains: {}", name, file.reason),
              "dead"};
    case PidfileState::invalid:
    case PidfileState::unverified:
    case PidfileState::unreadable:
    case PidfileState::untrusted: break;
  }
  return {exit_code::status_unknown, fmt::format("{}: status unknown: {}", a.pidfile, file.reason), "unknown"};
}

int run_status(const ControlArgs& a) {
  DaemonLookup lookup = find_daemon(a.pidfile, a.trust());
  std::optional<SupervisorState> sup = supervisor_of(a, lookup.file);
  StatusReport report = status_of(a, lookup, sup);
  if (a.json) {
    write_all(1, status_json(a, lookup.file, report.state, sup));
  } else if (report.code == exit_code::status_unknown) {
    error_line("status", report.line);
  } else {
    write_all(1, report.line + "\n");
  }
  return report.code;
}

int run_reload(const ControlArgs& a) {
  bool ran = false;
  if (a.signal.empty()) {  // ExecReload= instead of the signal
    if (int code = unit_commands(a, "reload", ran)) return code;
    if (ran) {
      fmt::print("reloaded {} (ExecReload=)\n", a.display_name());
      return exit_code::ok;
    }
  }
  std::string error;
  // Not given: the reload signal recorded at start, else HUP.
  std::optional<int> sig = welld::kRecordedSignal;
  if (!a.signal.empty()) sig = parse_signal(a.signal, &error);
  if (!sig) {
    error_line("reload", error);
    return exit_code::usage;
  }
  SignalResult r = signal_daemon(a.pidfile, *sig, a.trust());
  std::string name = a.display_name();
  switch (r.outcome) {
    case SignalOutcome::sent:
      if (r.blocked) {
        warning_line("reload", fmt::format("{} (pid {}) blocks SIG{}: it stays pending unless the daemon reads it "
                                           "(signalfd, sigwait)",
                                           name, r.pid, signal_name(r.signal)));
      }
      fmt::print("sent SIG{} to {} (pid {})\n", signal_name(r.signal), name, r.pid);
      return exit_code::ok;
    case SignalOutcome::ignored:
      error_line("reload", fmt::format("{} (pid {}) ignores SIG{}: not sent, it would have no effect (use --signal, "
                                       "or welld start --reload-signal)",
                                       name, r.pid, signal_name(r.signal)));
      return exit_code::failure;
    case SignalOutcome::not_running: error_line("reload", name + " is " + r.reason); return exit_code::not_running;
    case SignalOutcome::refused: error_line("reload", r.reason); return exit_code::failure;
    case SignalOutcome::failed: error_line("reload", r.reason); return failure_code(r.error);
  }
  return exit_code::failure;
}

int run_reopen_logs(const ControlArgs& a) {
  DaemonLookup lookup = find_daemon(a.pidfile, a.trust());
  std::string name = a.display_name();
  if (lookup.file.state != PidfileState::running) {
    error_line("reopen-logs", name + " is not running");
    return exit_code::not_running;
  }
  if (!supervisor_of(a, lookup.file)) {
    error_line("reopen-logs",
               fmt::format("{} (pid {}) is not a welld supervisor: it has no logs to reopen", name, lookup.file.pid));
    return exit_code::failure;
  }
  SignalResult r = signal_daemon(a.pidfile, SIGUSR1, a.trust());
  if (r.outcome == SignalOutcome::sent) {
    fmt::print("{} reopens its logs (pid {})\n", name, r.pid);
    return exit_code::ok;
  }
  error_line("reopen-logs", r.reason);
  return r.outcome == SignalOutcome::not_running ? exit_code::not_running : failure_code(r.error);
}

}  // namespace

void define_reopen_logs_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld reopen-logs -p FILE (or send the supervisor SIGUSR1)", exit_codes_text("reopen-logs")));
  add_common(sub, *args);
  add_trust(sub, *args);
  sub.callback([args, &action] {
    action = [args] {
      if (int code = resolve_unit(*args, "reopen-logs")) return code;
      return run_reopen_logs(*args);
    };
  });
}

void define_stop_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld stop -p FILE [--signal SIG] [--timeout DURATION]", exit_codes_text("stop")));
  add_common(sub, *args);
  add_trust(sub, *args);
  sub.add_option("--signal", args->signal,
                 "signal to send first (default: the one recorded at start, else TERM; TERM, SIGTERM or 15)");
  sub.add_option("--timeout", args->timeout,
                 "then SIGKILL after this long (default: the one recorded at start, else 10s; 250ms, 10s, 2m)");
  sub.callback([args, &action] {
    action = [args] {
      if (int code = resolve_unit(*args, "stop")) return code;
      return run_stop(*args);
    };
  });
}

void define_status_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld status -p FILE [--json]", exit_codes_text("status")));
  add_common(sub, *args);
  sub.add_flag("--json", args->json, "one JSON object: the state, the process and, for a supervisor, its child");
  sub.callback([args, &action] {
    action = [args] {
      if (int code = resolve_unit(*args, "status")) return code;
      return run_status(*args);
    };
  });
}

void define_reload_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld reload -p FILE [--signal SIG]", exit_codes_text("reload")));
  add_common(sub, *args);
  add_trust(sub, *args);
  sub.add_option("--signal", args->signal, "signal to send (default: the one recorded at start, else HUP)");
  sub.callback([args, &action] {
    action = [args] {
      if (int code = resolve_unit(*args, "reload")) return code;
      return run_reload(*args);
    };
  });
}

}  // namespace welld::cli
