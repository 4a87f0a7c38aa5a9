// welld stop / status / reload: control a daemon by its PID file.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "command.hpp"
#include "welld/control.hpp"
#include "welld/parse.hpp"
#include "welld/process.hpp"

namespace welld::cli {
namespace {

struct ControlArgs {
  std::string pidfile;
  std::string name;
  std::string signal;
  std::string timeout = "10s";
  bool trust_pidfile = false;

  std::string display_name() const {
    if (!name.empty()) return name;
    std::string base = pidfile.substr(pidfile.rfind('/') + 1);
    if (base.size() > 4 && base.ends_with(".pid")) base.resize(base.size() - 4);
    return base;
  }
};

void add_common(CLI::App& sub, ControlArgs& a) {
  sub.add_option("-p,--pidfile", a.pidfile, "the daemon's PID file")->required()->check([](const std::string& s) {
    return s.empty() ? std::string("empty path") : std::string();
  });
  sub.add_option("--name", a.name, "name used in messages (default: the PID file's name)");
}

void add_trust(CLI::App& sub, ControlArgs& a) {
  sub.add_flag("--trust-pidfile", a.trust_pidfile,
               "as root, act on a PID file that is not root-owned or is group/other-writable");
}

int failure_code(const std::error_code& ec) {
  return ec == std::errc::operation_not_permitted || ec == std::errc::permission_denied ? exit_code::privilege
                                                                                        : exit_code::failure;
}

int run_stop(const ControlArgs& a) {
  std::string error;
  auto sig = parse_signal(a.signal.empty() ? "TERM" : a.signal, &error);
  auto timeout = sig ? parse_duration(a.timeout, &error) : std::nullopt;
  if (!sig || !timeout) {
    error_line("stop", error);
    return exit_code::usage;
  }
  StopResult r = stop_daemon(a.pidfile, *sig, *timeout, {.trust_any = a.trust_pidfile});
  std::string name = a.display_name();
  switch (r.outcome) {
    case StopOutcome::stopped: fmt::print("{} stopped (pid {})\n", name, r.pid); return exit_code::ok;
    case StopOutcome::killed:
      warning_line("stop", fmt::format("{} (pid {}) did not stop within {} after SIG{}; sent SIGKILL", name, r.pid,
                                       a.timeout, signal_name(*sig)));
      fmt::print("{} killed (pid {})\n", name, r.pid);
      return exit_code::ok;
    case StopOutcome::not_running: fmt::print("{} is {}\n", name, r.reason); return exit_code::ok;
    case StopOutcome::refused: error_line("stop", r.reason); return exit_code::failure;
    case StopOutcome::failed: error_line("stop", r.reason); return failure_code(r.error);
  }
  return exit_code::failure;
}

int run_status(const ControlArgs& a) {
  DaemonLookup lookup = find_daemon(a.pidfile);
  const PidfileInfo& file = lookup.file;
  std::string name = a.display_name();
  switch (file.state) {
    case PidfileState::running:
      fmt::print("{} is running (pid {}, up {}): {}\n", name, file.pid, format_duration(process_uptime(file.pid)),
                 printable(process_command_line(file.pid)));
      return exit_code::ok;
    case PidfileState::absent: fmt::print("{} is not running\n", name); return exit_code::status_not_running;
    case PidfileState::stale:
      fmt::print("{} is not running, but its PID file remains: {}\n", name, file.reason);
      return exit_code::status_dead;
    case PidfileState::invalid:
    case PidfileState::unverified:
    case PidfileState::unreadable:
      error_line("status", fmt::format("{}: status unknown: {}", a.pidfile, file.reason));
      return exit_code::status_unknown;
  }
  return exit_code::status_unknown;
}

int run_reload(const ControlArgs& a) {
  std::string error;
  auto sig = parse_signal(a.signal.empty() ? "HUP" : a.signal, &error);
  if (!sig) {
    error_line("reload", error);
    return exit_code::usage;
  }
  SignalResult r = signal_daemon(a.pidfile, *sig, {.trust_any = a.trust_pidfile});
  std::string name = a.display_name();
  switch (r.outcome) {
    case SignalOutcome::sent:
      fmt::print("sent SIG{} to {} (pid {})\n", signal_name(*sig), name, r.pid);
      return exit_code::ok;
    case SignalOutcome::not_running: error_line("reload", name + " is " + r.reason); return exit_code::not_running;
    case SignalOutcome::refused: error_line("reload", r.reason); return exit_code::failure;
    case SignalOutcome::failed: error_line("reload", r.reason); return failure_code(r.error);
  }
  return exit_code::failure;
}

}  // namespace

void define_stop_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld stop -p FILE [--signal SIG] [--timeout DURATION]",
                         "0 stopped or not running, 1 failure or refused PID file, 2 usage, 4 no permission"));
  add_common(sub, *args);
  add_trust(sub, *args);
  sub.add_option("--signal", args->signal, "signal to send first (default TERM; TERM, SIGTERM or 15)");
  sub.add_option("--timeout", args->timeout, "then SIGKILL after this long (default 10s; 250ms, 10s, 2m)");
  sub.callback([args, &action] { action = [args] { return run_stop(*args); }; });
}

void define_status_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld status -p FILE",
                         "0 running, 1 dead but PID file exists, 3 not running, 4 unknown (unreadable or unverifiable "
                         "PID file), 2 usage"));
  add_common(sub, *args);
  sub.callback([args, &action] { action = [args] { return run_status(*args); }; });
}

void define_reload_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ControlArgs>();
  sub.footer(verb_footer("welld reload -p FILE [--signal SIG]",
                         "0 signal sent, 1 failure or refused PID file, 2 usage, 4 no permission, 7 not running"));
  add_common(sub, *args);
  add_trust(sub, *args);
  sub.add_option("--signal", args->signal, "signal to send (default HUP)");
  sub.callback([args, &action] { action = [args] { return run_reload(*args); }; });
}

}  // namespace welld::cli
