// welld/environment.hpp — step 4: the environment a daemon starts with.
//
// By default everything is removed except an allowlist (kDefaultAllowlist):
// PATH (set to kDefaultPath when absent), LANG, LANGUAGE, LC_*, TZ.
// Variables that change how the dynamic loader, libc or an interpreter behaves
// (kDenylist: LD_PRELOAD, LD_LIBRARY_PATH, MALLOC_*, ...) are removed even when
// the whole environment is inherited, unless named explicitly in `keep`.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace welld {

inline constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Names (fnmatch(3) globs) kept by default.
inline constexpr std::string_view kDefaultAllowlist[] = {"PATH", "LANG", "LANGUAGE", "LC_*", "TZ"};

/// Names (globs) never inherited unless named in EnvironmentPolicy::keep by an
/// exact name or a glob that is not "*".
inline constexpr std::string_view kDenylist[] = {
    "LD_*",           "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES",      "LOCALDOMAIN", "LOCPATH", "MALLOC_*",
    "GLIBC_TUNABLES", "NIS_PATH",   "NLSPATH",     "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR",  "TZDIR",
    "PYTHONPATH",     "PYTHONHOME", "PERL5LIB",    "PERL5OPT",         "RUBYLIB",     "RUBYOPT", "NODE_OPTIONS",
    "BASH_ENV",       "ENV",        "IFS",
};

struct EnvironmentPolicy {
  bool inherit = false;           // keep everything (minus kDenylist) instead of the allowlist
  std::vector<std::string> keep;  // extra names or globs to keep (also lifts the denylist)
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

}  // namespace welld
