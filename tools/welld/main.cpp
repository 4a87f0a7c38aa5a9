// welld — start any program as a well-behaved daemon, control it, audit it.
#include <CLI/CLI.hpp>

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

int run(int argc, char** argv) {
  CLI::App app{"welld: run any program as a well-behaved Unix daemon, and control it", "welld"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.set_version_flag("--version", "welld 0.1.0");
  welld::cli::Action action;
  welld::cli::add_start_command(app, action);
  welld::cli::add_stop_command(app, action);
  welld::cli::add_status_command(app, action);
  welld::cli::add_reload_command(app, action);
  welld::cli::add_restart_command(app, action);
  welld::cli::add_audit_command(app, action);
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
  return action ? action() : welld::cli::exit_code::usage;
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
