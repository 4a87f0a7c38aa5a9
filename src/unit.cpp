// A systemd .service unit's meaning (see welld/unit.hpp): one small handler
// per directive, found in a table by name.
#include "welld/unit.hpp"

#include <dirent.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dir_stream.hpp"
#include "quoted.hpp"
#include "read_whole.hpp"
#include "welld/parse.hpp"
#include "welld/path.hpp"
#include "welld/privileges.hpp"
#include "welld/text.hpp"

namespace welld {

std::string UnitWarning::text() const { return fmt::format("{}: {}=: {}", where, directive, note); }

namespace {

constexpr std::chrono::milliseconds kInfinity = std::chrono::hours(24 * 365);

enum class ExecKind : std::uint8_t { start, start_pre, start_post, reload, stop };

struct RawExec {
  ExecKind kind;
  UnitEntry entry;
};

struct EnvFileRef {
  std::string path;
  bool optional = false;
  std::string where;
};

// What the specifiers stand for (systemd.unit(5) "Specifiers").
struct Specifiers {
  std::string name;      // %n
  std::string prefix;    // %p
  std::string instance;  // %i
  std::string user;      // %u: the caller's, as for systemd's system manager
  std::string home;      // %h
  std::string runtime;   // %t
  std::string state;     // %S
  std::string logs;      // %L
};

struct Loader {
  ServiceUnit unit;
  UnitLoadOptions options;
  Specifiers spec;
  std::vector<RawExec> exec;
  std::vector<EnvFileRef> env_files;
  std::array<std::optional<mode_t>, 3> dir_modes;  // runtime, state, logs
  std::string error;
};

std::string where(const UnitEntry& e) { return fmt::format("{}:{}", e.file, e.line); }

// A key from the file, fit for a one-line message.
std::string shown(std::string_view key) { return terminal_safe(key.substr(0, 64)); }

bool fail(Loader& l, const UnitEntry& e, const std::string& why) {
  l.error = fmt::format("{}: {}=: {}", where(e), shown(e.key), why);
  return false;
}

void warn(Loader& l, const UnitEntry& e, std::string note, bool not_enforced = false) {
  l.unit.warnings.push_back({.where = where(e),
                             .directive = shown(e.section) + "." + shown(e.key),
                             .note = std::move(note),
                             .not_enforced = not_enforced});
}

// ---- specifiers -----------------------------------------------------------

std::optional<std::string> specifier_value(const Specifiers& s, char c) {
  switch (c) {
    case 'n': return s.name;
    case 'N': return s.name.substr(0, s.name.rfind('.'));
    case 'p': return s.prefix;
    case 'i': return s.instance;
    case 'I': return unescape_unit_name(s.instance);
    case 'u': return s.user;
    case 'h': return s.home;
    case 't': return s.runtime;
    case 'S': return s.state;
    case 'L': return s.logs;
    case '%': return std::string("%");
    default: return std::nullopt;
  }
}

bool resolve_specifiers(const Loader& l, std::string_view text, std::string& out, std::string& why) {
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    auto value = i + 1 < text.size() ? specifier_value(l.spec, text[i + 1]) : std::nullopt;
    if (!value) {
      why = i + 1 < text.size() ? "unknown specifier %" + shown(text.substr(i + 1, 1)) + " (%% is a literal %)"
                                : "a lone % ends the value (%% is a literal %)";
      return false;
    }
    out += *value;
    ++i;
  }
  return true;
}

// The entry's value with its specifiers resolved; false (error set) when one is unknown.
bool value_of(Loader& l, const UnitEntry& e, std::string& out) {
  std::string why;
  return resolve_specifiers(l, e.value, out, why) || fail(l, e, why);
}

// ---- value forms ----------------------------------------------------------

std::optional<bool> parse_boolean(std::string_view v) {
  for (std::string_view t : {"1", "yes", "y", "true", "t", "on"}) {
    if (v == t) return true;
  }
  for (std::string_view f : {"0", "no", "n", "false", "f", "off"}) {
    if (v == f) return false;
  }
  return std::nullopt;
}

// One part of a time span ("90", "1.5s", "2min", "1d") through parse_duration.
std::optional<std::chrono::milliseconds> span_part(std::string_view number, std::string_view unit, std::string* error) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kUnits{{
      {"", "s"},
      {"s", "s"},
      {"sec", "s"},
      {"second", "s"},
      {"seconds", "s"},
      {"ms", "ms"},
      {"msec", "ms"},
      {"m", "m"},
      {"min", "m"},
      {"minutes", "m"},
      {"h", "h"},
      {"hr", "h"},
  }};
  long long factor = unit == "d" || unit == "day" || unit == "days" ? 24 : 1;
  std::string_view norm = factor == 24 ? "h" : std::string_view();
  for (const auto& [from, to] : kUnits) norm = unit == from ? to : norm;
  if (norm.empty()) {
    if (error != nullptr) *error = "unknown time unit " + detail::quoted(unit) + " (ms, s, min, h, d)";
    return std::nullopt;
  }
  auto part = parse_duration(std::string(number) + std::string(norm), error);
  if (part && part->count() > kInfinity.count() / factor) return kInfinity;
  return part ? std::optional(*part * factor) : std::nullopt;
}

// systemd.time(7) spans: "90", "5s", "1min 30s", "1min30s", "infinity".
std::optional<std::chrono::milliseconds> parse_time_span(std::string_view v, std::string* error) {
  if (v == "infinity") return kInfinity;
  std::chrono::milliseconds total{0};
  size_t i = 0;
  bool any = false;
  while (i < v.size()) {
    while (i < v.size() && v[i] == ' ') ++i;
    size_t n = i;
    while (n < v.size() && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.')) ++n;
    size_t u = n;
    while (u < v.size() && v[u] != ' ' && (v[u] < '0' || v[u] > '9')) ++u;
    if (n == i) break;
    auto part = span_part(v.substr(i, n - i), v.substr(n, u - n), error);
    if (!part) return std::nullopt;
    total = std::min(total + *part, kInfinity);
    any = true;
    i = u;
  }
  if (!any || i < v.size()) {
    if (error != nullptr) *error = "invalid time span " + detail::quoted(v) + " (examples: 90, 5s, 1min 30s, infinity)";
    return std::nullopt;
  }
  return total;
}

// Space-separated words with quotes (Environment=, AmbientCapabilities=, RuntimeDirectory=...).
bool words_of(Loader& l, const UnitEntry& e, std::vector<std::string>& out) {
  std::string text;
  if (!value_of(l, e, text)) return false;
  std::string why;
  auto commands = split_command_words(text, &why);
  if (!commands || commands->size() != 1) return fail(l, e, commands ? "unexpected ';'" : why);
  out = std::move(commands->front());
  return true;
}

// ---- [Service] handlers -----------------------------------------------------

using Handler = bool (*)(Loader&, const UnitEntry&);

bool on_type(Loader& l, const UnitEntry& e) {
  static constexpr std::array<std::pair<std::string_view, ServiceType>, 5> kTypes{{
      {"simple", ServiceType::simple},
      {"exec", ServiceType::exec},
      {"notify", ServiceType::notify},
      {"forking", ServiceType::forking},
      {"oneshot", ServiceType::oneshot},
  }};
  for (const auto& [name, type] : kTypes) {
    if (e.value == name) {
      l.unit.type = type;
      return true;
    }
  }
  return fail(l, e, "welld runs Type=simple, exec, notify, forking and oneshot, not " + detail::quoted(e.value));
}

template <ExecKind kind>
bool on_exec(Loader& l, const UnitEntry& e) {
  if (e.value.empty()) {
    std::erase_if(l.exec, [](const RawExec& r) { return r.kind == kind; });
  } else {
    l.exec.push_back({kind, e});
  }
  return true;
}

template <std::string ServiceUnit::*field>
bool on_string(Loader& l, const UnitEntry& e) {
  return value_of(l, e, l.unit.*field);
}

bool on_supplementary_groups(Loader& l, const UnitEntry& e) {
  std::vector<std::string> words;
  if (!words_of(l, e, words)) return false;
  if (words.empty()) {
    l.unit.supplementary_groups.reset();
    return true;
  }
  if (!l.unit.supplementary_groups) l.unit.supplementary_groups.emplace();
  l.unit.supplementary_groups->insert(l.unit.supplementary_groups->end(), words.begin(), words.end());
  return true;
}

bool on_environment(Loader& l, const UnitEntry& e) {
  std::vector<std::string> words;
  if (!words_of(l, e, words)) return false;
  if (words.empty()) l.unit.environment.clear();
  for (auto& w : words) {
    if (w.find('=') == std::string::npos || w.front() == '=')
      return fail(l, e, "expected NAME=VALUE, got " + detail::quoted(w));
    l.unit.environment.push_back(std::move(w));
  }
  return true;
}

bool on_environment_file(Loader& l, const UnitEntry& e) {
  std::string path;
  if (!value_of(l, e, path)) return false;
  if (path.empty()) {
    l.env_files.clear();
    return true;
  }
  bool optional = path.front() == '-';
  if (optional) path.erase(0, 1);
  if (path.empty() || path.front() != '/')
    return fail(l, e, "expected an absolute path, got " + detail::quoted(e.value));
  l.env_files.push_back({.path = path, .optional = optional, .where = where(e)});
  return true;
}

bool on_working_directory(Loader& l, const UnitEntry& e) {
  std::string dir;
  if (!value_of(l, e, dir)) return false;
  l.unit.working_directory_optional = !dir.empty() && dir.front() == '-';
  if (l.unit.working_directory_optional) dir.erase(0, 1);
  if (!dir.empty() && dir != "~" && dir.front() != '/') return fail(l, e, "expected an absolute path or ~");
  l.unit.working_directory = dir;
  return true;
}

bool on_umask(Loader& l, const UnitEntry& e) {
  std::string why;
  l.unit.umask = parse_umask(e.value, &why);
  return l.unit.umask || fail(l, e, why);
}

bool on_nice(Loader& l, const UnitEntry& e) {
  int v = 0;
  auto [end, ec] = std::from_chars(e.value.data(), e.value.data() + e.value.size(), v);
  if (ec != std::errc() || end != e.value.data() + e.value.size() || v < -20 || v > 19) {
    return fail(l, e, "expected a niceness from -20 to 19");
  }
  l.unit.nice = v;
  return true;
}

bool on_limit(Loader& l, const UnitEntry& e) {
  std::string name = e.key.substr(5);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string why;
  auto limit = parse_rlimit(name + "=" + e.value, &why);  // "infinity" is systemd's "unlimited"
  if (!limit) return fail(l, e, why);
  std::erase_if(l.unit.rlimits, [&](const ResourceLimit& r) { return r.resource == limit->resource; });
  l.unit.rlimits.push_back(*limit);
  return true;
}

bool on_restart(Loader& l, const UnitEntry& e) {
  for (std::string_view ok : {"no", "always", "on-failure", "on-abnormal"}) {
    if (e.value == ok) {
      l.unit.restart = e.value;
      return true;
    }
  }
  return fail(l, e,
              fmt::format("{} is not supported (welld restarts: no, always, on-failure, on-abnormal)",
                          detail::quoted(e.value)));
}

template <std::optional<std::chrono::milliseconds> ServiceUnit::*field>
bool on_span(Loader& l, const UnitEntry& e) {
  std::string why;
  auto span = parse_time_span(e.value, &why);
  if (!span) return fail(l, e, why);
  l.unit.*field = *span;
  return true;
}

bool on_timeout(Loader& l, const UnitEntry& e) {
  return on_span<&ServiceUnit::timeout_start>(l, e) && on_span<&ServiceUnit::timeout_stop>(l, e);
}

bool on_start_limit_burst(Loader& l, const UnitEntry& e) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(e.value.data(), e.value.data() + e.value.size(), v);
  if (ec != std::errc() || end != e.value.data() + e.value.size()) return fail(l, e, "expected a count");
  l.unit.start_limit_burst = v;
  return true;
}

bool on_kill_signal(Loader& l, const UnitEntry& e) {
  std::string why;
  l.unit.kill_signal = parse_signal(e.value, &why);
  return l.unit.kill_signal || fail(l, e, why);
}

bool on_kill_mode(Loader& l, const UnitEntry& e) {
  if (e.value == "control-group" || e.value == "mixed") {
    l.unit.kill_mode = e.value;
    return true;
  }
  if (e.value != "process" && e.value != "none") return fail(l, e, "expected control-group, mixed, process or none");
  l.unit.kill_mode = e.value;
  warn(l, e, "welld's stop ends the daemon's whole session (as control-group does)");
  return true;
}

bool on_ambient_capabilities(Loader& l, const UnitEntry& e) {
  std::vector<std::string> words;
  if (!words_of(l, e, words)) return false;
  if (words.empty()) l.unit.ambient_capabilities.clear();
  if (!words.empty() && words.front().starts_with("~")) return fail(l, e, "an inverted list (~) is not supported");
  l.unit.ambient_capabilities.insert(l.unit.ambient_capabilities.end(), words.begin(), words.end());
  return true;
}

bool on_no_new_privileges(Loader& l, const UnitEntry& e) {
  auto v = parse_boolean(e.value);
  if (!v) return fail(l, e, "expected yes or no");
  l.unit.no_new_privileges = *v;
  return true;
}

struct DirectoryKind {
  std::string_view key;
  std::string_view variable;
  size_t index;
};
constexpr std::array<DirectoryKind, 3> kDirectoryKinds{{
    {"RuntimeDirectory", "RUNTIME_DIRECTORY", 0},
    {"StateDirectory", "STATE_DIRECTORY", 1},
    {"LogsDirectory", "LOGS_DIRECTORY", 2},
}};

const DirectoryKind& directory_kind(std::string_view key) {
  for (const auto& k : kDirectoryKinds) {
    if (key.starts_with(k.key)) return k;
  }
  return kDirectoryKinds[0];
}

std::string directory_base(const Loader& l, size_t index) {
  return index == 0 ? l.spec.runtime : index == 1 ? l.spec.state : l.spec.logs;
}

bool on_directory(Loader& l, const UnitEntry& e) {
  const DirectoryKind& kind = directory_kind(e.key);
  std::vector<std::string> words;
  if (!words_of(l, e, words)) return false;
  std::string base = directory_base(l, kind.index);
  if (words.empty()) std::erase_if(l.unit.directories, [&](const ManagedDirectory& d) { return d.base == base; });
  for (auto& w : words) {
    if (w.front() == '/' || w == ".." || w.starts_with("../") || w.find("/../") != std::string::npos ||
        w.ends_with("/..")) {
      return fail(l, e, "expected a relative path without '..', got " + detail::quoted(w));
    }
    l.unit.directories.push_back({.base = base, .name = std::move(w), .variable = std::string(kind.variable)});
  }
  return true;
}

bool on_directory_mode(Loader& l, const UnitEntry& e) {
  std::string why;
  auto mode = parse_umask(e.value, &why);  // the same octal form
  if (!mode) return fail(l, e, why);
  l.dir_modes.at(directory_kind(e.key).index) = *mode;
  return true;
}

bool on_remain_after_exit(Loader& l, const UnitEntry& e) {
  warn(l, e, "welld keeps no state for a oneshot unit: status reports it as not running");
  return true;
}

bool on_nothing(Loader& /*l*/, const UnitEntry& /*e*/) { return true; }

struct Directive {
  std::string_view section;
  std::string_view key;
  Handler handler;
};

constexpr std::array kDirectives = std::to_array<Directive>({
    {"Service", "Type", on_type},
    {"Service", "ExecStart", on_exec<ExecKind::start>},
    {"Service", "ExecStartPre", on_exec<ExecKind::start_pre>},
    {"Service", "ExecStartPost", on_exec<ExecKind::start_post>},
    {"Service", "ExecReload", on_exec<ExecKind::reload>},
    {"Service", "ExecStop", on_exec<ExecKind::stop>},
    {"Service", "PIDFile", on_string<&ServiceUnit::pidfile>},
    {"Service", "User", on_string<&ServiceUnit::user>},
    {"Service", "Group", on_string<&ServiceUnit::group>},
    {"Service", "SupplementaryGroups", on_supplementary_groups},
    {"Service", "Environment", on_environment},
    {"Service", "EnvironmentFile", on_environment_file},
    {"Service", "WorkingDirectory", on_working_directory},
    {"Service", "UMask", on_umask},
    {"Service", "Nice", on_nice},
    {"Service", "Restart", on_restart},
    {"Service", "RestartSec", on_span<&ServiceUnit::restart_sec>},
    {"Service", "StartLimitBurst", on_start_limit_burst},
    {"Service", "StartLimitIntervalSec", on_span<&ServiceUnit::start_limit_interval>},
    {"Unit", "StartLimitBurst", on_start_limit_burst},
    {"Unit", "StartLimitIntervalSec", on_span<&ServiceUnit::start_limit_interval>},
    {"Service", "TimeoutStartSec", on_span<&ServiceUnit::timeout_start>},
    {"Service", "TimeoutStopSec", on_span<&ServiceUnit::timeout_stop>},
    {"Service", "TimeoutSec", on_timeout},
    {"Service", "KillSignal", on_kill_signal},
    {"Service", "KillMode", on_kill_mode},
    {"Service", "AmbientCapabilities", on_ambient_capabilities},
    {"Service", "NoNewPrivileges", on_no_new_privileges},
    {"Service", "RootDirectory", on_string<&ServiceUnit::root_directory>},
    {"Service", "RuntimeDirectory", on_directory},
    {"Service", "StateDirectory", on_directory},
    {"Service", "LogsDirectory", on_directory},
    {"Service", "RuntimeDirectoryMode", on_directory_mode},
    {"Service", "StateDirectoryMode", on_directory_mode},
    {"Service", "LogsDirectoryMode", on_directory_mode},
    {"Service", "RemainAfterExit", on_remain_after_exit},
    // What a unit says about itself, for people: nothing to do.
    {"Unit", "Description", on_nothing},
    {"Unit", "Documentation", on_nothing},
});

// Sandboxing welld does not do (systemd.exec(5) "Sandboxing", "Security",
// "Capabilities", "System Call Filtering"): `--strict-unit` refuses them.
constexpr std::array kNotEnforced = std::to_array<std::string_view>({
    "CapabilityBoundingSet",
    "DevicePolicy",
    "DeviceAllow",
    "DynamicUser",
    "IPAddressAllow",
    "IPAddressDeny",
    "InaccessiblePaths",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "NoExecPaths",
    "ExecPaths",
    "PrivateDevices",
    "PrivateIPC",
    "PrivateMounts",
    "PrivateNetwork",
    "PrivateTmp",
    "PrivateUsers",
    "ProcSubset",
    "ProtectClock",
    "ProtectControlGroups",
    "ProtectHome",
    "ProtectHostname",
    "ProtectKernelLogs",
    "ProtectKernelModules",
    "ProtectKernelTunables",
    "ProtectProc",
    "ProtectSystem",
    "ReadOnlyPaths",
    "ReadWritePaths",
    "RemoveIPC",
    "RestrictAddressFamilies",
    "RestrictFileSystems",
    "RestrictNamespaces",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "SecureBits",
    "SystemCallArchitectures",
    "SystemCallErrorNumber",
    "SystemCallFilter",
    "TemporaryFileSystem",
    "BindPaths",
    "BindReadOnlyPaths",
});

bool not_enforced(std::string_view key) { return std::ranges::find(kNotEnforced, key) != kNotEnforced.end(); }

bool unknown_directive(Loader& l, const UnitEntry& e) {
  if (e.section == "Install") return true;  // only `systemctl enable` reads it
  if (e.section == "Service" && not_enforced(e.key)) {
    if (l.options.strict) return fail(l, e, "not enforced by welld (refused by --strict-unit)");
    warn(l, e, "not enforced by welld (--strict-unit refuses it)", true);
    return true;
  }
  warn(l, e, e.section == "Unit" ? "dependencies and ordering are not managed by welld: ignored" : "ignored");
  return true;
}

bool apply_entry(Loader& l, const UnitEntry& e) {
  if (e.section == "Service" && e.key.starts_with("Limit") && e.key.size() > 5) return on_limit(l, e);
  for (const auto& d : kDirectives) {
    if (d.section == e.section && d.key == e.key) return d.handler(l, e);
  }
  return unknown_directive(l, e);
}

// ---- [Socket] -----------------------------------------------------------------

std::string listen_text(const std::string& v) {
  if (v.front() == '/') return "unix:" + v;
  if (v.find(':') == std::string::npos) return "tcp:0.0.0.0:" + v;  // a port alone: every IPv4 address
  return "tcp:" + v;
}

bool on_listen_stream(Loader& l, const UnitEntry& e, const std::string& socket_name) {
  std::string v;
  if (!value_of(l, e, v)) return false;
  if (v.empty()) {
    l.unit.listen.clear();
    return true;
  }
  std::string why;
  auto spec = parse_listen_spec(listen_text(v), &why);
  if (!spec) return fail(l, e, why);
  spec->name = socket_name;
  l.unit.listen.push_back(*spec);
  return true;
}

bool apply_socket_entry(Loader& l, const UnitEntry& e, const std::string& socket_name) {
  if (e.section != "Socket") return unknown_directive(l, e);
  if (e.key == "ListenStream") return on_listen_stream(l, e, socket_name);
  if (e.key == "ListenDatagram" || e.key == "ListenSequentialPacket" || e.key.starts_with("Listen")) {
    return fail(l, e, "welld passes stream sockets only (--listen tcp: or unix:)");
  }
  if (e.key == "Accept" && parse_boolean(e.value).value_or(false)) {
    return fail(l, e, "Accept=yes (a service instance per connection) is not supported");
  }
  if (e.key != "Accept") warn(l, e, "ignored");
  return true;
}

// ---- the end: commands, environment, directories ---------------------------

struct Prefix {
  bool ignore_failure = false;
  bool argv0 = false;
  bool no_expansion = false;
  bool full_privileges = false;
};

Prefix take_prefix(std::string_view& v) {
  Prefix p;
  for (; !v.empty(); v.remove_prefix(1)) {
    char c = v.front();
    if (c == '-') p.ignore_failure = true;
    else if (c == '@') p.argv0 = true;
    else if (c == ':') p.no_expansion = true;
    else if (c == '+' || c == '!') p.full_privileges = true;
    else break;
  }
  return p;
}

bool resolve_words(Loader& l, const UnitEntry& e, std::vector<std::string>& words) {
  std::string why;
  for (auto& w : words) {
    std::string out;
    if (!resolve_specifiers(l, w, out, why)) return fail(l, e, why);
    w = std::move(out);
  }
  return true;
}

// "@/bin/prog name args": welld execs argv[0] as the program, so argv[0]
// must be the program's own name (then it is dropped).
bool apply_argv0(Loader& l, const UnitEntry& e, std::vector<std::string>& argv) {
  if (argv.size() < 2 || base_name(argv[1]) != base_name(argv[0])) {
    return fail(l, e, "the @ prefix with an argv[0] other than the program's name is not supported");
  }
  argv.erase(argv.begin() + 1);
  return true;
}

bool exec_command(Loader& l, const RawExec& raw, const Prefix& p, std::vector<std::string> words, ExecCommand& out) {
  if (!resolve_words(l, raw.entry, words)) return false;
  if (!p.no_expansion) {
    std::vector<std::string> env = l.unit.environment;
    env.insert(env.end(), l.options.manager_environment.begin(), l.options.manager_environment.end());
    words = expand_variables(words, env);
  }
  if (words.empty()) return fail(l, raw.entry, "no command");
  if (p.argv0 && !apply_argv0(l, raw.entry, words)) return false;
  out = {.argv = std::move(words),
         .ignore_failure = p.ignore_failure,
         .full_privileges = p.full_privileges,
         .where = where(raw.entry)};
  return true;
}

std::vector<ExecCommand>& exec_list(ServiceUnit& u, ExecKind kind) {
  switch (kind) {
    case ExecKind::start_pre: return u.exec_start_pre;
    case ExecKind::start_post: return u.exec_start_post;
    case ExecKind::reload: return u.exec_reload;
    case ExecKind::stop: return u.exec_stop;
    case ExecKind::start: break;
  }
  return u.exec_start;
}

bool finish_exec(Loader& l, const RawExec& raw) {
  std::string_view v = raw.entry.value;
  Prefix p = take_prefix(v);
  std::string why;
  auto commands = split_command_words(v, &why);
  if (!commands) return fail(l, raw.entry, why);
  for (auto& words : *commands) {
    ExecCommand cmd;
    if (!exec_command(l, raw, p, std::move(words), cmd)) return false;
    exec_list(l.unit, raw.kind).push_back(std::move(cmd));
  }
  return true;
}

bool read_env_file(Loader& l, const EnvFileRef& f) {
  std::string text;
  if (auto ec = read_whole_file(f.path, text)) {
    if (f.optional && ec == std::errc::no_such_file_or_directory) return true;
    l.error = fmt::format("{}: EnvironmentFile=: cannot read {}: {}", f.where, f.path, ec.message());
    return false;
  }
  auto vars = parse_environment_file(text, f.path, &l.error);
  if (!vars) return false;
  l.unit.environment.insert(l.unit.environment.end(), vars->begin(), vars->end());
  return true;
}

void finish_directories(Loader& l) {
  std::array<std::string, 3> paths;
  for (auto& d : l.unit.directories) {
    size_t index = d.base == l.spec.runtime ? 0 : d.base == l.spec.state ? 1 : 2;
    d.mode = l.dir_modes.at(index).value_or(0755);
    paths.at(index) += (paths.at(index).empty() ? "" : ":") + d.base + "/" + d.name;
  }
  for (const auto& k : kDirectoryKinds) {
    if (!paths.at(k.index).empty()) l.unit.environment.push_back(std::string(k.variable) + "=" + paths.at(k.index));
  }
}

std::string home_of(const std::string& user) {
  Credentials creds;
  if (resolve_credentials(user, "", creds)) return "/";
  return creds.home.empty() ? "/" : creds.home;
}

bool check_commands(Loader& l) {
  const ServiceUnit& u = l.unit;
  std::string why;
  if (u.exec_start.empty() && u.type != ServiceType::oneshot) why = "no ExecStart=";
  if (u.exec_start.size() > 1 && u.type != ServiceType::oneshot) why = "several ExecStart= need Type=oneshot";
  if (u.type == ServiceType::forking && u.pidfile.empty()) why = "Type=forking needs PIDFile= (welld does not guess)";
  if (u.type == ServiceType::oneshot && u.exec_start.empty()) why = "no ExecStart=";
  if (!why.empty()) l.error = fmt::format("{}: {}", u.path, why);
  return why.empty();
}

bool finish(Loader& l) {
  for (const auto& f : l.env_files) {
    if (!read_env_file(l, f)) return false;
  }
  finish_directories(l);
  if (l.unit.working_directory == "~")
    l.unit.working_directory = home_of(l.unit.user.empty() ? l.spec.user : l.unit.user);
  for (const auto& raw : l.exec) {
    if (!finish_exec(l, raw)) return false;
  }
  return check_commands(l);
}

// ---- sources --------------------------------------------------------------------

struct Source {
  std::string path;
  std::string text;
};

struct UnitSources {
  std::string name;
  Source unit;
  std::vector<Source> dropins;
  Source socket;  // empty path: none
};

std::string caller_user() {
  Credentials creds;
  std::string uid = std::to_string(::getuid());
  return resolve_credentials(uid, "", creds) ? uid : creds.user;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v == '/' ? std::string(v) : fallback;
}

Specifiers specifiers_for(const std::string& name) {
  Specifiers s;
  s.name = name;
  std::string stem = name.substr(0, name.rfind('.'));
  size_t at = stem.find('@');
  s.prefix = stem.substr(0, at);
  s.instance = at == std::string::npos ? "" : stem.substr(at + 1);
  s.user = caller_user();
  s.home = home_of(s.user);
  bool root = ::geteuid() == 0;
  s.runtime = root ? "/run" : env_or("XDG_RUNTIME_DIR", "/run/user/" + std::to_string(::getuid()));
  s.state = root ? "/var/lib" : env_or("XDG_STATE_HOME", s.home + "/.local/state");
  s.logs = root ? "/var/log" : s.state + "/log";
  return s;
}

bool apply_file(Loader& l, const Source& src) {
  auto entries = parse_unit_text(src.text, src.path, &l.error);
  if (!entries) return false;
  return std::ranges::all_of(*entries, [&](const UnitEntry& e) { return apply_entry(l, e); });
}

bool apply_socket(Loader& l, const Source& src) {
  if (src.path.empty()) return true;
  auto entries = parse_unit_text(src.text, src.path, &l.error);
  if (!entries) return false;
  std::string socket_name = base_name(src.path);
  return std::ranges::all_of(*entries, [&](const UnitEntry& e) { return apply_socket_entry(l, e, socket_name); });
}

UnitLoad load_sources(const UnitSources& s, const UnitLoadOptions& options) {
  Loader l{.options = options, .spec = specifiers_for(s.name)};
  l.unit.name = s.name;
  l.unit.path = s.unit.path;
  l.unit.runtime_root = l.spec.runtime;
  bool ok = apply_file(l, s.unit) &&
            std::ranges::all_of(s.dropins, [&](const Source& d) { return apply_file(l, d); }) &&
            apply_socket(l, s.socket) && finish(l);
  if (!ok) return {.error = l.error};
  return {.unit = std::move(l.unit)};
}

// NAME.d/*.conf in lexical order.
std::error_code read_dropins(const std::string& dir, std::vector<Source>& out) {
  detail::DirStream d = detail::open_dir(dir.c_str());
  if (!d)
    return errno == ENOENT || errno == ENOTDIR ? std::error_code() : std::error_code(errno, std::system_category());
  std::vector<std::string> names;
  while (const dirent* ent = ::readdir(d.get())) {
    std::string_view n = ent->d_name;
    if (n.size() > 5 && n.ends_with(".conf")) names.emplace_back(n);
  }
  std::ranges::sort(names);
  for (const auto& n : names) {
    Source src{.path = dir};
    src.path += "/";
    src.path += n;
    if (auto ec = read_whole_file(src.path, src.text)) return ec;
    out.push_back(std::move(src));
  }
  return {};
}

// The file for `path`: itself, or for NAME@INST.service its template NAME@.service.
std::error_code read_unit(const std::string& path, const std::string& name, Source& out) {
  out.path = path;
  auto ec = read_whole_file(path, out.text);
  size_t at = name.find('@');
  if (ec != std::errc::no_such_file_or_directory || at == std::string::npos) return ec;
  out.path = parent_directory(path) + "/" + name.substr(0, at + 1) + name.substr(name.rfind('.'));
  return read_whole_file(out.path, out.text);
}

void read_socket(const UnitSources& s, Source& out) {
  std::string dir = parent_directory(s.unit.path);
  std::string stem = base_name(s.unit.path);
  stem = stem.substr(0, stem.rfind('.'));
  std::string path = dir + "/" + stem + ".socket";
  if (!read_whole_file(path, out.text)) out.path = path;
}

}  // namespace

UnitLoad load_service_unit(const std::string& path, const UnitLoadOptions& options) {
  UnitSources s;
  s.name = base_name(path);
  if (!s.name.ends_with(".service")) return {.error = path + ": expected a NAME.service file"};
  if (auto ec = read_unit(path, s.name, s.unit))
    return {.error = fmt::format("cannot read {}: {}", path, ec.message())};
  std::string dropin_dir = path + ".d";
  if (auto ec = read_dropins(dropin_dir, s.dropins)) {
    return {.error = fmt::format("cannot read {}: {}", dropin_dir, ec.message())};
  }
  read_socket(s, s.socket);
  return load_sources(s, options);
}

UnitLoad load_service_unit_text(const std::string& unit_name, std::string_view text,
                                const std::vector<std::pair<std::string, std::string>>& dropins,
                                std::string_view socket, const UnitLoadOptions& options) {
  UnitSources s{.name = unit_name, .unit = {.path = unit_name, .text = std::string(text)}};
  for (const auto& [path, body] : dropins) s.dropins.push_back({.path = path, .text = body});
  if (!socket.empty()) {
    std::string stem = unit_name.substr(0, unit_name.rfind('.'));
    s.socket = {.path = stem + ".socket", .text = std::string(socket)};
  }
  return load_sources(s, options);
}

}  // namespace welld
