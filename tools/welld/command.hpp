// How verbs plug into the welld CLI: main() creates one CLI11 subcommand per
// verb; each verb file defines one define_*_command that gives it its options
// and, when it is chosen, stores the action to run. main() parses, then runs
// the action and exits with its code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
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

/// Text another process chose (a daemon's STATUS=, its command line), fit for
/// a terminal: control characters (escape sequences, carriage returns) become
/// '?'; everything else, UTF-8 included, is kept.
std::string printable(std::string_view text);

/// A verb's --help footer: its usage line and its exit codes.
std::string verb_footer(std::string_view usage, std::string_view exit_codes);

// Each verb's options, footer and action, defined on its subcommand (which
// main() creates with the verb's name and one-line summary).
void define_start_command(CLI::App& sub, Action& action);
void define_stop_command(CLI::App& sub, Action& action);
void define_status_command(CLI::App& sub, Action& action);
void define_reload_command(CLI::App& sub, Action& action);
void define_restart_command(CLI::App& sub, Action& action);
void define_audit_command(CLI::App& sub, Action& action);

}  // namespace welld::cli
