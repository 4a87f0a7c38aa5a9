// Quoting for the files `welld export` writes: each target's own rules for
// one argument or value, so that what the manager hands the program is byte
// for byte what was given on the command line. Every function is total: a
// quoted text, or false / an error for what the target cannot carry. UTF-8
// (and any other byte >= 0x80) passes through unchanged.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace welld::cli::quote {

/// POSIX sh: one word in single quotes, a ' as '\'' ("it's" -> 'it'\''s').
/// Also what Python's shlex.split (supervisord's command=) reads back.
std::string sh(std::string_view word);

/// A name sh can assign and export: [A-Za-z_][A-Za-z0-9_]*.
bool sh_name(std::string_view name);

/// systemd, one word of ExecStart= (systemd.service(5), "Command lines"): in
/// double quotes, `\` `"` as \\ \", newline, tab and the other control
/// characters as C escapes, `$` as $$ (no variable expansion), `%` as %% (no
/// specifier). A lone ";" (a command separator) as \;.
std::string systemd_exec_word(std::string_view word);

/// systemd, one NAME=VALUE of Environment=: in double quotes with the C
/// escapes and %% of systemd_exec_word; `$` stays (Environment= does not expand it).
std::string systemd_environment(std::string_view assignment);

/// systemd, a plain value (User=, WorkingDirectory=, a path after append:):
/// `%` as %%. Nothing for a value a unit file line cannot hold unquoted: a
/// control character, or white space at either end.
std::optional<std::string> systemd_plain(std::string_view value);

/// supervisord, one word of command= (its INI file, then shlex.split): sh()'s
/// quoting, `%` as %% (supervisord's %(name)s expansion). A newline is
/// written as a continuation line, which the INI parser strips: nothing when
/// a newline has white space around it, ends the word or starts a comment
/// (# or ;) on its next line. A ; or # after white space (an inline comment
/// for the INI parser) is written outside the quotes, as \; or \#.
std::optional<std::string> supervisord_word(std::string_view word);

/// supervisord, a plain value (directory=, a log file): `%` as %%. Nothing
/// for control characters, white space at either end, or a ; or # after
/// white space (an inline comment there).
std::optional<std::string> supervisord_plain(std::string_view value);

/// supervisord, the VALUE of one KEY=VALUE in environment= (split by shlex
/// in non-POSIX mode: no escapes, quotes stripped from both ends): in double
/// quotes, or single ones when it holds a double quote, `%` as %%. Nothing
/// when it holds both quotes, starts or ends with one, has a ; or # after
/// white space, or a newline supervisord_word could not write.
std::optional<std::string> supervisord_value(std::string_view value);

/// XML character data and attribute values: & < > " ' as entities. Nothing
/// for a character XML 1.0 cannot hold (control characters but tab, newline, CR).
std::optional<std::string> xml(std::string_view text);

/// A JSON string, quotes included: \" \\ and control characters escaped.
std::string json(std::string_view text);

/// Docker Compose: `$` as $$ (its variable interpolation), then json().
std::string compose_json(std::string_view text);

}  // namespace welld::cli::quote
