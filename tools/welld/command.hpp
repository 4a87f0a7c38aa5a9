// How verbs plug into the welld CLI: each verb file defines one add_*_command
// that registers a CLI11 subcommand and, when it is chosen, stores the action
// to run. main() parses, then runs the action and exits with its code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string_view>

namespace welld::cli {

using Action = std::function<int()>;

// Exit codes shared by every verb (LSB init-script actions), see docs/welld.1.md.
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;         // generic or unspecified error
inline constexpr int usage = 2;           // invalid or excess arguments
inline constexpr int unimplemented = 3;   // (LSB) unimplemented feature
inline constexpr int privilege = 4;       // user had insufficient privilege
inline constexpr int not_installed = 5;   // program is not installed / not executable
inline constexpr int not_configured = 6;  // program is not configured
inline constexpr int not_running = 7;     // program is not running
// status verb (LSB): 0 running, 1 dead but PID file exists, 3 not running, 4 unknown
inline constexpr int status_dead = 1;
inline constexpr int status_not_running = 3;
inline constexpr int status_unknown = 4;
}  // namespace exit_code

/// "welld: VERB: MESSAGE" on stderr: the one error line every verb prints.
void error_line(std::string_view verb, std::string_view message);
/// "welld: VERB: warning: MESSAGE" on stderr.
void warning_line(std::string_view verb, std::string_view message);

/// A verb's --help footer: its usage line and its exit codes.
std::string verb_footer(std::string_view usage, std::string_view exit_codes);

void add_start_command(CLI::App& root, Action& action);
void add_stop_command(CLI::App& root, Action& action);
void add_status_command(CLI::App& root, Action& action);
void add_reload_command(CLI::App& root, Action& action);
void add_restart_command(CLI::App& root, Action& action);
void add_audit_command(CLI::App& root, Action& action);

}  // namespace welld::cli
