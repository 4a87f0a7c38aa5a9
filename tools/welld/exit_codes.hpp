// The CLI's exit codes: the codes themselves (LSB init-script actions, see
// docs/welld.md, welld(1)) and, per verb, what each code means. The verbs'
// --help footers and `welld --help` are made from these tables, and a test
// checks that docs/welld.md and docs/audit.md list the same codes per verb.
#pragma once

#include <fmt/format.h>

#include <span>
#include <string>
#include <string_view>

namespace welld::cli {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;        // generic or unspecified error
inline constexpr int usage = 2;          // invalid or excess arguments
inline constexpr int privilege = 4;      // user had insufficient privilege
inline constexpr int not_installed = 5;  // program is not installed / not executable
inline constexpr int not_running = 7;    // program is not running
// status verb (LSB): 0 running, 1 dead but PID file exists, 3 not running, 4 unknown
inline constexpr int status_dead = 1;
inline constexpr int status_not_running = 3;
inline constexpr int status_unknown = 4;
// start: interrupted by signal n exits 128+n (shown as "128+n").
inline constexpr int signal_base = 128;
// run: the program's own status (shown as "n"), 128+n when killed by signal n;
// welld's own failures apart from them (as env(1), timeout(1), tini, docker run).
inline constexpr int program_status = -1;
inline constexpr int run_failure = 125;
inline constexpr int run_not_executable = 126;
inline constexpr int run_not_found = 127;
}  // namespace exit_code

struct ExitMeaning {
  int code;  // exit_code::signal_base: 128+n
  std::string_view meaning;
};

inline constexpr ExitMeaning kStartExits[] = {
    {exit_code::ok, "started (or already running with --ok-if-running)"},
    {exit_code::failure, "failure (e.g. already running)"},
    {exit_code::usage, "usage or bad option"},
    {exit_code::privilege, "no permission"},
    {exit_code::not_installed, "COMMAND not found or not executable"},
    {exit_code::signal_base,
     "interrupted by signal n (130 INT, 131 QUIT, 143 TERM...); the half-started daemon "
     "is stopped first"},
};
inline constexpr ExitMeaning kRunExits[] = {
    {exit_code::program_status, "COMMAND exited with status n (0 included)"},
    {exit_code::run_failure,
     "welld failed: usage, a setup error, or COMMAND could not start or be ready (the message says why)"},
    {exit_code::run_not_executable, "COMMAND not executable"},
    {exit_code::run_not_found, "COMMAND not found"},
    {exit_code::signal_base,
     "COMMAND was killed by signal n, or welld was interrupted by signal n before COMMAND was ready"},
};
inline constexpr ExitMeaning kStopExits[] = {
    {exit_code::ok, "stopped (nothing of the service is left) or not running"},
    {exit_code::failure, "failure, refused PID file or processes of the service left running (named)"},
    {exit_code::usage, "usage"},
    {exit_code::privilege, "no permission"},
};
// In the LSB order (the usage error last).
inline constexpr ExitMeaning kStatusExits[] = {
    {exit_code::ok, "running"},
    {exit_code::status_dead, "dead but PID file exists"},
    {exit_code::status_not_running, "not running"},
    {exit_code::status_unknown, "unknown (unreadable, unverifiable or untrusted PID file)"},
    {exit_code::usage, "usage"},
};
inline constexpr ExitMeaning kReloadExits[] = {
    {exit_code::ok, "signal sent"},
    {exit_code::failure, "failure, refused PID file or a signal the daemon ignores (not sent)"},
    {exit_code::usage, "usage"},
    {exit_code::privilege, "no permission"},
    {exit_code::not_running, "not running"},
};
inline constexpr ExitMeaning kReopenLogsExits[] = {
    {exit_code::ok, "the supervisor reopens its logs"},
    {exit_code::failure, "failure, refused PID file, or no supervisor with logs behind it"},
    {exit_code::usage, "usage"},
    {exit_code::privilege, "no permission"},
    {exit_code::not_running, "not running"},
};
inline constexpr ExitMeaning kAuditExits[] = {
    {exit_code::ok, "no rule fails (warnings allowed)"},
    {exit_code::failure, "a rule fails"},
    {exit_code::usage, "usage"},
    {exit_code::status_unknown, "the process cannot be inspected (gone, or permission denied)"},
};
inline constexpr ExitMeaning kExportExits[] = {
    {exit_code::ok, "definition written"},
    {exit_code::failure, "a file under -o DIR could not be written"},
    {exit_code::usage, "usage, a bad value, or an option the format cannot express (named)"},
};
inline constexpr ExitMeaning kCompletionExits[] = {
    {exit_code::ok, "script printed"},
    {exit_code::usage, "usage"},
};

struct VerbExits {
  std::string_view verb;
  std::span<const ExitMeaning> exits;  // empty: as `same_as` says
  std::string_view same_as;
};

// Every verb, in `welld --help` order. restart is a stop, then a start.
inline constexpr VerbExits kVerbExits[] = {
    {"start", kStartExits, {}},
    {"run", kRunExits, {}},
    {"stop", kStopExits, {}},
    {"status", kStatusExits, {}},
    {"reload", kReloadExits, {}},
    {"restart", {}, "as for stop, then as for start"},
    {"reopen-logs", kReopenLogsExits, {}},
    {"audit", kAuditExits, {}},
    {"export", kExportExits, {}},
    {"completion", kCompletionExits, {}},
};

/// "0", "1", ..., "128+n" or "n".
inline std::string exit_code_text(int code) {
  if (code == exit_code::program_status) return "n";
  return code == exit_code::signal_base ? std::string("128+n") : fmt::format("{}", code);
}

/// A verb's exit codes on one line: "0 running, 1 dead but PID file exists, ...".
inline std::string exit_codes_text(std::string_view verb) {
  for (const VerbExits& v : kVerbExits) {
    if (v.verb != verb) continue;
    if (v.exits.empty()) return std::string(v.same_as);
    std::string text;
    for (const ExitMeaning& e : v.exits) {
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", exit_code_text(e.code), e.meaning);
    }
    return text;
  }
  return {};
}

}  // namespace welld::cli
