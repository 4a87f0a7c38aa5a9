// welld/parse.hpp — parsers for what users type. Each is total: any input gives
// a value or a one-line error, never a crash (they are fuzzed). Durations are
// in duration.hpp, signal names in signals.hpp; both are included here.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "welld/duration.hpp"
#include "welld/resource_limit.hpp"
#include "welld/signals.hpp"

namespace welld {

/// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2". Returns the signal number
/// (signal_name in signals.hpp is its inverse).
std::optional<int> parse_signal(std::string_view text, std::string* error = nullptr);

/// An octal file-mode mask: "022", "0027", "7". At most 0777.
std::optional<mode_t> parse_umask(std::string_view text, std::string* error = nullptr);

struct UserGroup {
  std::string user;
  std::string group;  // empty when not given
};

/// "USER" or "USER:GROUP" (names or numeric ids). Both parts non-empty when present.
std::optional<UserGroup> parse_user_group(std::string_view text, std::string* error = nullptr);

/// A size in bytes: "4096", "64K", "10M" (K/M/G/T are powers of 1024, as for --rlimit).
std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error = nullptr);

/// What parse_rlimit returns is what Options::rlimits takes; the old name stays for source compatibility.
using RlimitSpec = ResourceLimit;

/// The items of a comma-separated list (--supplementary-groups, --keep-caps):
/// "a,b,,c" gives a, b, c. Empty items are skipped; nothing else is changed.
std::vector<std::string> split_list(std::string_view text);

/// "nofile=1024", "nofile=1024:4096", "core=unlimited", "as=1G:2G", "memlock=64K".
/// Names: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile,
/// nproc, rss, rtprio, rttime, sigpending, stack (optionally prefixed RLIMIT_).
/// Without HARD, hard = soft. K/M/G/T suffixes are powers of 1024.
std::optional<RlimitSpec> parse_rlimit(std::string_view text, std::string* error = nullptr);

/// The text parse_rlimit reads back as `limit`: "nofile=1024:4096",
/// "core=unlimited:unlimited"; empty for a resource it does not know.
std::string rlimit_text(const ResourceLimit& limit);

}  // namespace welld
