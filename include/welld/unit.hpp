// welld/unit.hpp — a systemd .service unit read without systemd.
//
//   welld::UnitLoad load = welld::load_service_unit("/lib/systemd/system/redis.service");
//   if (!load.error.empty()) { std::fprintf(stderr, "%s\n", load.error.c_str()); return 1; }
//   for (const auto& w : load.unit.warnings) std::fprintf(stderr, "%s\n", w.text().c_str());
//
// The reader follows systemd.syntax(7): [Section] headers, Key=Value lines,
// comments (# and ;) on lines of their own, a backslash at the end of a line
// continues it. Drop-ins FILE.d/*.conf are read after the unit, in lexical
// order; an empty assignment (ExecStartPre=, Environment=) resets a list. The
// matching NAME.socket beside the unit gives the listen sockets (ListenStream=).
//
// ServiceUnit is what the unit means, in plain fields: command lines split
// into words (systemd.service(5) "Command lines": quotes, C escapes, $VAR and
// ${VAR} from Environment= and EnvironmentFile=, specifiers). Turning it into
// a start is the caller's: `welld start --unit` maps it onto the same options
// its flags set (tools/welld/unit_options.cpp).
//
// Every directive welld does not implement is one UnitWarning (file:line and
// its name); the sandboxing ones (ProtectSystem=, PrivateTmp=...) are marked
// `not_enforced`, and with UnitLoadOptions::strict they are errors.
//
// Gotchas:
//  * Specifiers (%n %N %p %i %I %t %S %L %h %u %%) are resolved at load time,
//    as for systemd's system manager: %u and %h are the caller's user and
//    home (not User='s), %t %S %L are /run, /var/lib and /var/log for root
//    (else $XDG_RUNTIME_DIR, ~/.local/state, ~/.local/state/log). An unknown
//    specifier is an error. WorkingDirectory=~ is User='s home.
//  * EnvironmentFile= is read at load time: a file an ExecStartPre= creates is
//    not seen (systemd reads it right before each command).
//  * Every parser here is total (fuzzed): a value or an error naming
//    FILE:LINE, never a crash.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "welld/listen.hpp"
#include "welld/resource_limit.hpp"

namespace welld {

/// One Key=Value line of a unit file, continuation lines joined.
struct UnitEntry {
  std::string section;  // "Service", "Unit", ...
  std::string key;
  std::string value;  // leading and trailing whitespace removed
  std::string file;
  int line = 0;  // the line the entry starts on (1-based)
};

/// Parse the text of one unit file (`file` is only for messages). Errors:
/// "FILE:LINE: ..." in `error`.
std::optional<std::vector<UnitEntry>> parse_unit_text(std::string_view text, const std::string& file,
                                                      std::string* error = nullptr);

struct ExecCommand {
  std::vector<std::string> argv;  // argv[0] is the program (a path or a name)
  bool ignore_failure = false;    // "-": a failing exit does not count
  bool full_privileges = false;   // "+" or "!": runs without User=/Group=/capabilities
  std::string where;              // "FILE:LINE" for messages
};

/// The words of a command line, split and unescaped as systemd.service(5)
/// says (no specifiers, no variables): "a 'b c' d\"e" gives a, b c, d"e. A
/// lone unquoted ";" separates commands: one vector of words per command.
/// Errors: an unfinished quote, an unknown escape.
std::optional<std::vector<std::vector<std::string>>> split_command_words(std::string_view text,
                                                                         std::string* error = nullptr);

/// "${A}" and "$A" replaced from `env` (NAME=VALUE): ${A} inside a
/// word, $A as a whole word split at whitespace into several; $$ is "$"; an
/// unset variable is empty (a whole-word $A then gives no word).
std::vector<std::string> expand_variables(const std::vector<std::string>& words, const std::vector<std::string>& env);

/// The assignments of an EnvironmentFile= text: KEY=VALUE lines, # and ;
/// comments, values in '' or "" (with \ escapes in ""), a backslash continues
/// a line. Errors name the line.
std::optional<std::vector<std::string>> parse_environment_file(std::string_view text, const std::string& file,
                                                               std::string* error = nullptr);

/// systemd's unit-name unescaping (%I): "-" is "/", "\xNN" is byte NN.
std::string unescape_unit_name(std::string_view text);

enum class ServiceType { simple, exec, notify, forking, oneshot };

/// RuntimeDirectory=, StateDirectory=, LogsDirectory=: a directory under
/// /run, /var/lib or /var/log owned by the service's user.
struct ManagedDirectory {
  std::string base;  // "/run", "/var/lib", "/var/log"
  std::string name;  // relative, may contain "/"
  mode_t mode = 0755;
  std::string variable;  // RUNTIME_DIRECTORY, STATE_DIRECTORY, LOGS_DIRECTORY
};

struct UnitWarning {
  std::string where;      // FILE:LINE
  std::string directive;  // "Section.Key" as in the file: "Service.ProtectSystem"
  std::string note;       // why it is not applied
  bool not_enforced = false;

  /// "FILE:LINE: Section.Key=: NOTE", one line.
  std::string text() const;
};

struct ServiceUnit {
  std::string name;  // "redis.service", "getty@tty1.service"
  std::string path;  // the file read (a template's, for an instance)
  ServiceType type = ServiceType::simple;
  std::vector<ExecCommand> exec_start, exec_start_pre, exec_start_post, exec_reload, exec_stop;
  std::string pidfile;  // PIDFile=
  std::string user, group;
  std::optional<std::vector<std::string>> supplementary_groups;  // unset: the user's own
  std::vector<std::string> environment;                          // NAME=VALUE, later ones win
  std::string working_directory;                                 // empty: "/"; "~": the user's home
  bool working_directory_optional = false;                       // "-": a missing one is "/" (not an error)
  std::optional<mode_t> umask;
  std::optional<int> nice;
  std::vector<ResourceLimit> rlimits;
  std::string restart = "no";  // no, always, on-failure, on-abnormal
  std::optional<std::chrono::milliseconds> restart_sec;
  std::optional<unsigned> start_limit_burst;
  std::optional<std::chrono::milliseconds> start_limit_interval;
  std::optional<std::chrono::milliseconds> timeout_start, timeout_stop;
  std::optional<int> kill_signal;
  std::string kill_mode = "control-group";
  std::vector<std::string> ambient_capabilities;
  bool no_new_privileges = false;
  std::string root_directory;
  std::vector<ManagedDirectory> directories;
  std::vector<ListenSpec> listen;  // from NAME.socket
  std::vector<UnitWarning> warnings;
  std::string runtime_root;  // what %t stood for: /run for root
};

struct UnitLoadOptions {
  bool strict = false;  // sandboxing directives welld cannot enforce are errors
  // Variables only commands see, as the service manager sets them
  // ("MAINPID=123" for ExecReload=/bin/kill -HUP $MAINPID): they take part
  // in $VAR expansion but are not added to ServiceUnit::environment.
  std::vector<std::string> manager_environment;
};

struct UnitLoad {
  ServiceUnit unit;
  std::string error;  // empty on success; else one line starting FILE:LINE when there is one
};

/// Read `path` (for NAME@INST.service missing, NAME@.service beside it), its
/// drop-ins, its EnvironmentFile=s and NAME.socket, and give the unit's meaning.
UnitLoad load_service_unit(const std::string& path, const UnitLoadOptions& options = {});

/// The same from texts already read (for tests and fuzzing): `unit_name` as
/// "web@a.service"; `dropins` in the order they apply; `socket` may be empty.
/// EnvironmentFile= paths are still read from the file system.
UnitLoad load_service_unit_text(const std::string& unit_name, std::string_view text,
                                const std::vector<std::pair<std::string, std::string>>& dropins = {},
                                std::string_view socket = {}, const UnitLoadOptions& options = {});

/// Create the unit's RuntimeDirectory=, StateDirectory= and LogsDirectory=
/// (each component; missing ones created with the directory's mode, the last
/// one owned by uid:gid and given its mode even when it existed). No symbolic
/// link is followed: every component is opened with O_NOFOLLOW below its
/// already opened parent. `root` is prepended (RootDirectory=, "" for none).
/// On error `what` names the path.
std::error_code create_managed_directories(const std::vector<ManagedDirectory>& dirs, uid_t uid, gid_t gid,
                                           const std::string& root = {}, std::string* what = nullptr);

}  // namespace welld
