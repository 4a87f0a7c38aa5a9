// welld — start any program as a well-behaved daemon, control it, audit it.
#include <fmt/format.h>
#include "cli11.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "command.hpp"
#include "supervise_launch.hpp"
#include "welld/privileges.hpp"
#include "welld_version.hpp"

namespace {

// Every visible verb's exit codes (exit_codes.hpp), one line each.
std::string exit_codes_footer() {
  std::string text = "\nExit codes (LSB init-script actions):";
  for (const welld::cli::VerbExits& v : welld::cli::kVerbExits) {
    if (v.verb != "completion") text += fmt::format("\n  {}: {}", v.verb, welld::cli::exit_codes_text(v.verb));
  }
  // welld-static: where --user, --group and --groups come from.
  if (!welld::name_lookup_limits().empty())
    text += fmt::format("\n\nThis welld is static: {}.", welld::name_lookup_limits());
  return text;
}

struct Verb {
  const char* name;
  const char* summary;
  void (*define)(CLI::App& sub, welld::cli::Action& action);
};

constexpr Verb kVerbs[] = {
    {"start", "start COMMAND as a daemon; exit 0 once it runs", welld::cli::define_start_command},
    {"run", "run COMMAND in the foreground as its parent (or PID 1): readiness upward, signals forwarded",
     welld::cli::define_run_command},
    {"stop", "stop the daemon named by a PID file; exit 0 also when not running", welld::cli::define_stop_command},
    {"status", "is the daemon running? (LSB: 0 running, 1 dead, 3 not running, 4 unknown)",
     welld::cli::define_status_command},
    {"reload", "send the daemon its reload signal (default HUP); 7 when not running",
     welld::cli::define_reload_command},
    {"restart", "stop the daemon named by --pidfile (if running), then start COMMAND",
     welld::cli::define_restart_command},
    {"reopen-logs", "make a supervisor reopen its log files (after logrotate moved them)",
     welld::cli::define_reopen_logs_command},
    {"audit", "check a running process against the well-behaved-daemon rules", welld::cli::define_audit_command},
    {"export", "write a service definition (systemd, sysv, openrc, s6, runit, supervisord, launchd, docker)",
     welld::cli::define_export_command},
    // Hidden: what `welld start --respawn` runs as its supervisor.
    {"supervise", "", welld::cli::define_supervise_command},
    // Hidden; it walks every verb above, so they all get their options for it.
    {"completion", "print a bash, zsh or fish completion script", welld::cli::define_completion_command},
};

// Help, --version and CLI11's own messages: the only output through the
// standard streams, which are built here, on demand (cli11.hpp).
int print_through_cli11(const CLI::App& app, const CLI::Error& e) {
  const std::ios_base::Init standard_streams;
  return app.exit(e);
}

int run(int argc, char** argv) {
  CLI::App app{"welld: run any program as a well-behaved Unix daemon, and control it", "welld"};
  app.require_subcommand(1);
  app.set_version_flag("--version", welld::cli::kVersionLine, "print the version and the commit it was built from");
  welld::cli::Action action;
  welld::cli::set_verb_arguments(argc, argv);
  // Only the verb being run exists, with its options (when argv[1] names one):
  // each CLI11 subcommand is a few KiB of heap and code touched, and `welld
  // start` is on the critical path of every service start. Without a verb
  // (`welld --help`, a usage error) or for completion, every verb is defined;
  // the top-level footer only shows then.
  std::string_view chosen = argc > 1 ? argv[1] : "";
  bool named = false;
  for (const auto& verb : kVerbs) named = named || chosen == verb.name;
  if (chosen == "completion") named = false;
  // `welld --version` alone needs no verb at all.
  const bool version_only = argc == 2 && chosen == "--version";
  if (!named && !version_only) app.footer(exit_codes_footer());
  for (const auto& verb : kVerbs) {
    if (version_only) break;
    if (!named || chosen == verb.name) verb.define(*app.add_subcommand(verb.name, verb.summary), action);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return print_through_cli11(app, e);
  } catch (const CLI::CallForAllHelp& e) {
    return print_through_cli11(app, e);
  } catch (const CLI::CallForVersion& e) {
    return print_through_cli11(app, e);
  } catch (const CLI::ParseError& e) {
    // One line, no full help on error (s6 style).
    std::string verb = "usage";
    for (const auto* sub : app.get_subcommands()) verb = sub->get_name();
    welld::cli::error_line(verb, e.what());
    // run's own codes are COMMAND's: its usage error is one of welld's failures.
    return verb == "run" ? welld::cli::exit_code::run_failure : welld::cli::exit_code::usage;
  }
  int code = action ? action() : welld::cli::exit_code::usage;
  // The verb has finished and cleaned up after itself; tearing down the
  // command line's objects would only delay the exit that `welld start`'s
  // caller is waiting for. Flush what was printed, then go.
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // out of memory, say: one line, not an abort
    welld::cli::error_line("error", e.what());
    return welld::cli::exit_code::failure;
  }
}
