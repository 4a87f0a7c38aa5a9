// How verbs plug into the welld CLI: main() creates one CLI11 subcommand per
// verb; each verb file defines one define_*_command that gives it its options
// and, when it is chosen, stores the action to run. main() parses, then runs
// the action and exits with its code.
#pragma once

#include "cli11.hpp"

#include <functional>
#include <string>
#include <string_view>

#include "exit_codes.hpp"

namespace welld::cli {

using Action = std::function<int()>;

/// write(2) all of `text` to `fd`, retrying on EINTR; false on any error
/// (EPIPE when the reader is gone and SIGPIPE is ignored). Never throws.
bool write_all(int fd, std::string_view text);

/// "welld: VERB: MESSAGE" on stderr: the one error line every verb prints.
void error_line(std::string_view verb, std::string_view message);
/// "welld: VERB: warning: MESSAGE" on stderr.
void warning_line(std::string_view verb, std::string_view message);

/// Text another process chose (a daemon's STATUS=, its command line, a
/// process name), fit for a terminal: welld::terminal_safe (C0, DEL, C1, bidi
/// controls and invalid UTF-8 become '?'; valid printable UTF-8 is kept).
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
/// welld run: COMMAND in the foreground, welld its parent, PID 1 or subreaper (run_command.cpp).
void define_run_command(CLI::App& sub, Action& action);
void define_audit_command(CLI::App& sub, Action& action);
/// welld export FORMAT: a service definition for another manager (export_command.cpp).
void define_export_command(CLI::App& sub, Action& action);
void define_reopen_logs_command(CLI::App& sub, Action& action);
/// Hidden verb: the supervisor of `welld start --respawn` (supervise_launch.hpp).
void define_supervise_command(CLI::App& sub, Action& action);
/// Hidden verb: `welld completion bash|zsh|fish` prints a completion script
/// walking every other verb's options (main() defines them all for it).
void define_completion_command(CLI::App& sub, Action& action);

}  // namespace welld::cli
