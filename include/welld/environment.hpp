// welld/environment.hpp — step 4: the environment a daemon starts with.
//
// By default everything is removed except an allowlist (kDefaultAllowlist):
// PATH (set to kDefaultPath when absent), LANG, LANGUAGE, LC_*, TZ.
// Denied variables (kLoaderVariables: LD_PRELOAD, LD_LIBRARY_PATH, MALLOC_*,
// ... which change how the dynamic loader and libc behave; kDenylist: shell
// and interpreter hooks such as BASH_ENV, BASH_FUNC_*, PS4, PYTHONPATH,
// JAVA_TOOL_OPTIONS) are removed even when the whole environment is
// inherited. Only a glob-free name in EnvironmentPolicy::keep that names a
// denied variable lets it through, and only that variable: a glob ('L*',
// '*?', '[A-Z]*') never does.
// With `inherit`, the service-manager protocol variables (kManagerVariables:
// NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*) are dropped too unless `keep` matches them: they
// were meant for the caller, and welld sets its own through `set`.
//
// daemonize() and run_foreground() apply the policy in the process itself:
// after the kept variables are copied, every byte of the original environment
// block (the one the kernel shows in /proc/PID/environ, from env_start to
// env_end) that holds no kept variable is overwritten with NULs, so neither
// /proc/PID/environ nor the memory holds a dropped variable. Variables the
// program itself added with setenv(3)/putenv(3) live outside that block and
// are only removed from `environ`.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace welld {

inline constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Names (fnmatch(3) globs) kept by default.
inline constexpr std::string_view kDefaultAllowlist[] = {"PATH", "LANG", "LANGUAGE", "LC_*", "TZ"};

/// Variables (globs) that change how the dynamic loader and libc behave in
/// every program: glibc's list of variables it ignores in setuid programs
/// (UNSECURE_ENVVARS) with LD_* and MALLOC_* as families, TMPDIR aside (in
/// kDenylist). The one list used by step 4 and by `welld audit`.
inline constexpr std::string_view kLoaderVariables[] = {
    "LD_*",     "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES",   "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
    "MALLOC_*", "NIS_PATH",   "NLSPATH",     "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR",
};

/// Further denied variables (globs): hooks of shells and interpreters a
/// daemon may run, and the temporary directory.
inline constexpr std::string_view kDenylist[] = {
    "TMPDIR",       "PYTHONPATH",        "PYTHONHOME", "PERL5LIB", "PERLLIB",     "PERL5OPT",  "RUBYLIB", "RUBYOPT",
    "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "BASH_ENV",   "ENV",      "BASH_FUNC_*", "SHELLOPTS", "PS4",     "IFS",
};

/// Service-manager protocol variables (globs) dropped with `inherit`.
inline constexpr std::string_view kManagerVariables[] = {"NOTIFY_SOCKET", "LISTEN_*", "WATCHDOG_*"};

/// True when `name` matches kLoaderVariables.
bool is_loader_variable(std::string_view name) noexcept;

/// True when `name` matches kLoaderVariables or kDenylist.
bool is_denied_variable(std::string_view name) noexcept;

struct EnvironmentPolicy {
  bool inherit = false;           // keep everything (minus the denied variables) instead of the allowlist
  std::vector<std::string> keep;  // extra names or globs to keep (a glob-free name also lifts the denylist)
  std::vector<std::string> set;   // NAME=VALUE assignments, applied last
};

/// True when `assignment` is NAME=VALUE with a non-empty NAME free of '='.
bool valid_assignment(std::string_view assignment) noexcept;

/// The environment (NAME=VALUE strings) that `policy` yields from `from`
/// (a null-terminated environ-style array). Invalid `set` entries are skipped:
/// validate them with valid_assignment first.
std::vector<std::string> sanitized_environment(const EnvironmentPolicy& policy, char** from);

/// Names removed from `from` only because of the denylist under `policy`
/// (for the CLI's one-line warning with --inherit-env).
std::vector<std::string> denied_names(const EnvironmentPolicy& policy, char** from);

/// The bytes of this process's original environment block (/proc/self/stat
/// fields env_start and env_end; what /proc/self/environ shows) that hold no
/// entry of `kept` (the final environment): the ranges step 4 overwrites.
/// ENOENT-style errors when /proc/self/stat cannot be read.
struct ByteRange {
  char* begin = nullptr;
  size_t size = 0;
};
std::error_code dropped_environment_ranges(const std::vector<std::string>& kept, std::vector<ByteRange>& out);

/// Overwrite `ranges` with NULs. Async-signal-safe (it runs after fork).
void scrub_environment_ranges(std::span<const ByteRange> ranges) noexcept;

}  // namespace welld
