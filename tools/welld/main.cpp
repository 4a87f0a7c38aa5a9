// welld — start any program as a well-behaved daemon, control it, audit it.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "command.hpp"

namespace {

constexpr const char* kExitCodes = R"(
Exit codes (LSB init-script actions):
  0  success (stop: also when it was not running)
  1  generic failure (e.g. already running, refused PID file)
  2  invalid or excess arguments
  4  insufficient privilege
  5  program not installed or not executable
  7  program is not running (reload)
  status: 0 running, 1 dead but PID file exists, 3 not running, 4 unknown
  start: 130/143 when interrupted by SIGINT/SIGTERM while waiting)";

struct Verb {
  const char* name;
  const char* summary;
  void (*define)(CLI::App& sub, welld::cli::Action& action);
};

constexpr Verb kVerbs[] = {
    {"start", "start COMMAND as a daemon; exit 0 once it runs", welld::cli::define_start_command},
    {"stop", "stop the daemon named by a PID file; exit 0 also when not running", welld::cli::define_stop_command},
    {"status", "is the daemon running? (LSB: 0 running, 1 dead, 3 not running, 4 unknown)",
     welld::cli::define_status_command},
    {"reload", "send the daemon its reload signal (default HUP); 7 when not running",
     welld::cli::define_reload_command},
    {"restart", "stop the daemon named by --pidfile (if running), then start COMMAND",
     welld::cli::define_restart_command},
    {"audit", "check a running process against the well-behaved-daemon rules", welld::cli::define_audit_command},
};

int run(int argc, char** argv) {
  CLI::App app{"welld: run any program as a well-behaved Unix daemon, and control it", "welld"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.set_version_flag("--version", "welld 0.1.0");
  welld::cli::Action action;
  // Only the verb being run gets its options (when argv[1] names one): building
  // every verb's options was most of welld's own start-up time, and `welld
  // start` is on the critical path of every service start.
  std::string_view chosen = argc > 1 ? argv[1] : "";
  bool named = false;
  for (const auto& verb : kVerbs) named = named || chosen == verb.name;
  for (const auto& verb : kVerbs) {
    auto* sub = app.add_subcommand(verb.name, verb.summary);
    if (!named || chosen == verb.name) verb.define(*sub, action);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, no full help on error (s6 style).
    std::string verb = "usage";
    for (const auto* sub : app.get_subcommands()) verb = sub->get_name();
    welld::cli::error_line(verb, e.what());
    return welld::cli::exit_code::usage;
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
