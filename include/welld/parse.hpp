// welld/parse.hpp — parsers for what users type. Each is total: any input gives
// a value or a one-line error, never a crash (they are fuzzed).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace welld {

/// "250ms", "10s", "2m", "1h", "1.5s", or a bare number of seconds ("10").
/// Between 0 and 1 year.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error = nullptr);

/// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2". Returns the signal number.
std::optional<int> parse_signal(std::string_view text, std::string* error = nullptr);

/// "TERM" for 15; "RTMIN+2"; the number as text when unnamed.
std::string signal_name(int sig);

/// An octal file-mode mask: "022", "0027", "7". At most 0777.
std::optional<mode_t> parse_umask(std::string_view text, std::string* error = nullptr);

struct UserGroup {
  std::string user;
  std::string group;  // empty when not given
};

/// "USER" or "USER:GROUP" (names or numeric ids). Both parts non-empty when present.
std::optional<UserGroup> parse_user_group(std::string_view text, std::string* error = nullptr);

struct RlimitSpec {
  int resource = -1;
  rlim_t soft = 0;
  rlim_t hard = 0;
};

/// The items of a comma-separated list (--supplementary-groups, --keep-caps):
/// "a,b,,c" gives a, b, c. Empty items are skipped; nothing else is changed.
std::vector<std::string> split_list(std::string_view text);

/// "nofile=1024", "nofile=1024:4096", "core=unlimited", "as=1G:2G", "memlock=64K".
/// Names: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile,
/// nproc, rss, rtprio, rttime, sigpending, stack (optionally prefixed RLIMIT_).
/// Without HARD, hard = soft. K/M/G/T suffixes are powers of 1024.
std::optional<RlimitSpec> parse_rlimit(std::string_view text, std::string* error = nullptr);

/// Human duration: "3d 4h", "12m 5s", "0s".
std::string format_duration(std::chrono::seconds d);

}  // namespace welld
