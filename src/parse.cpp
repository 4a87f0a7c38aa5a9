#include "welld/parse.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "quoted.hpp"
#include "welld/text.hpp"

namespace welld {

std::string detail::quoted(std::string_view text, size_t max) {
  std::string out = "'" + terminal_safe(text.substr(0, max));
  if (text.size() > max) out += "...";
  return out + "'";
}

namespace {

using detail::quoted;

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<long long> to_int(std::string_view s, long long max) {
  if (!all_digits(s)) return std::nullopt;
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v > max) return std::nullopt;
  return v;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error) {
  constexpr long long kYearMs = 366LL * 24 * 3600 * 1000;
  size_t digits_end = 0;
  while (digits_end < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits_end])) != 0)) {
    ++digits_end;
  }
  std::string_view whole = text.substr(0, digits_end);
  std::string_view rest = text.substr(digits_end);
  std::string_view fraction;
  if (!rest.empty() && rest.front() == '.') {
    size_t f = 1;
    while (f < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[f])) != 0)) ++f;
    fraction = rest.substr(1, f - 1);
    rest = rest.substr(f);
  }
  long long unit_ms = 0;
  if (rest.empty() || rest == "s") unit_ms = 1000;
  else if (rest == "ms") unit_ms = 1;
  else if (rest == "m" || rest == "min") unit_ms = 60000;
  else if (rest == "h") unit_ms = 3600000;
  auto number = to_int(whole, 1LL << 40);
  if (unit_ms == 0 || !number || (fraction.empty() && digits_end < text.size() && text[digits_end] == '.') ||
      fraction.size() > 3) {
    set(error, "invalid duration " + quoted(text) + " (examples: 250ms, 10s, 2m)");
    return std::nullopt;
  }
  long long frac_ms = 0;
  if (!fraction.empty()) {
    long long f = *to_int(fraction, 999);
    for (size_t i = fraction.size(); i < 3; ++i) f *= 10;
    if (f * unit_ms % 1000 != 0) {  // "1.5ms": no timer here is finer than a millisecond
      set(error, "invalid duration " + quoted(text) + " (whole milliseconds only)");
      return std::nullopt;
    }
    frac_ms = f * unit_ms / 1000;
  }
  if (*number > kYearMs / unit_ms || *number * unit_ms + frac_ms > kYearMs) {
    set(error, "duration " + quoted(text) + " is too long");
    return std::nullopt;
  }
  return std::chrono::milliseconds(*number * unit_ms + frac_ms);
}

std::optional<int> parse_signal(std::string_view text, std::string* error) {
  if (auto n = to_int(text, SIGRTMAX)) {
    if (*n >= 1) return static_cast<int>(*n);
  }
  std::string name = upper(text);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  for (int sig = 1; sig < SIGRTMIN; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  auto rt = [&](std::string_view prefix, int base, int direction) -> std::optional<int> {
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    std::string_view offset(name);
    offset.remove_prefix(prefix.size());
    if (offset.empty()) return base;
    if (offset.front() != (direction > 0 ? '+' : '-')) return std::nullopt;
    auto n = to_int(offset.substr(1), SIGRTMAX - SIGRTMIN);
    if (!n) return std::nullopt;
    int sig = base + direction * static_cast<int>(*n);
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return sig;
  };
  if (auto sig = rt("RTMIN", SIGRTMIN, 1)) return sig;
  if (auto sig = rt("RTMAX", SIGRTMAX, -1)) return sig;
  set(error, "unknown signal " + quoted(text) + " (examples: TERM, SIGHUP, 9)");
  return std::nullopt;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "RTMIN" : "RTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  const char* abbrev = sig > 0 ? ::sigabbrev_np(sig) : nullptr;
  return abbrev != nullptr ? abbrev : std::to_string(sig);
}

std::string signal_label(int sig) {
  bool named = (sig >= SIGRTMIN && sig <= SIGRTMAX) || (sig > 0 && ::sigabbrev_np(sig) != nullptr);
  return named ? "SIG" + signal_name(sig) : "signal " + std::to_string(sig);
}

std::optional<mode_t> parse_umask(std::string_view text, std::string* error) {
  bool octal = !text.empty() && text.size() <= 4;
  mode_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '7') octal = false;
    v = static_cast<mode_t>(v * 8 + static_cast<mode_t>(c - '0'));
  }
  if (!octal || v > 0777) {
    set(error, "invalid umask " + quoted(text) + " (an octal mask such as 022)");
    return std::nullopt;
  }
  return v;
}

std::optional<UserGroup> parse_user_group(std::string_view text, std::string* error) {
  auto colon = text.find(':');
  UserGroup ug;
  ug.user = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) ug.group = std::string(text.substr(colon + 1));
  bool bad_chars = text.find('\0') != std::string_view::npos || text.find('\n') != std::string_view::npos;
  if (ug.user.empty() || (colon != std::string_view::npos && ug.group.empty()) ||
      ug.group.find(':') != std::string::npos || bad_chars) {
    set(error, "invalid user " + quoted(text) + " (USER or USER:GROUP)");
    return std::nullopt;
  }
  return ug;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  for (;;) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

namespace {

struct RlimitName {
  const char* name;
  int resource;
};

constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<rlim_t> parse_limit_value(std::string_view v) {
  if (v == "unlimited" || v == "infinity") return RLIM_INFINITY;
  unsigned shift = 0;
  if (!v.empty()) {
    switch (v.back()) {
      case 'K':
      case 'k': shift = 10; break;
      case 'M':
      case 'm': shift = 20; break;
      case 'G':
      case 'g': shift = 30; break;
      case 'T':
      case 't': shift = 40; break;
      default: break;
    }
  }
  if (shift != 0) v.remove_suffix(1);
  auto n = to_int(v, (1LL << 62) >> shift);
  if (!n) return std::nullopt;
  return static_cast<rlim_t>(*n) << shift;
}

}  // namespace

std::string rlimit_text(const ResourceLimit& limit) {
  auto value = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  for (const auto& r : kRlimits) {
    if (r.resource == limit.resource) return std::string(r.name) + "=" + value(limit.soft) + ":" + value(limit.hard);
  }
  return {};
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error) {
  std::optional<rlim_t> v = text == "unlimited" || text == "infinity" ? std::nullopt : parse_limit_value(text);
  if (!v) {
    set(error, "invalid size " + quoted(text) + " (bytes, or with K, M, G or T: 4096, 64K, 10M)");
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(*v);
}

std::optional<RlimitSpec> parse_rlimit(std::string_view text, std::string* error) {
  auto eq = text.find('=');
  std::string name(text.substr(0, eq));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.rfind("rlimit_", 0) == 0) name.erase(0, 7);
  RlimitSpec spec;
  for (const auto& r : kRlimits) {
    if (name == r.name) spec.resource = r.resource;
  }
  if (eq == std::string_view::npos || spec.resource < 0) {
    set(error, "invalid --rlimit " + quoted(text) +
                   " (NAME=SOFT[:HARD], NAME one of as, core, cpu, data, "
                   "fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)");
    return std::nullopt;
  }
  std::string_view values = text.substr(eq + 1);
  auto colon = values.find(':');
  auto soft = parse_limit_value(values.substr(0, colon));
  auto hard = colon == std::string_view::npos ? soft : parse_limit_value(values.substr(colon + 1));
  if (!soft || !hard) {
    set(error, "invalid --rlimit value " + quoted(values) + " (a number, optionally K/M/G/T, or unlimited)");
    return std::nullopt;
  }
  if (*hard != RLIM_INFINITY && (*soft == RLIM_INFINITY || *soft > *hard)) {
    set(error, "invalid --rlimit " + quoted(text) + ": the soft limit is above the hard limit");
    return std::nullopt;
  }
  spec.soft = *soft;
  spec.hard = *hard;
  return spec;
}

std::string format_duration(std::chrono::seconds d) {
  long long s = d.count() < 0 ? 0 : d.count();
  long long days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
  if (days > 0) return std::to_string(days) + "d " + std::to_string(hours) + "h";
  if (hours > 0) return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  if (minutes > 0) return std::to_string(minutes) + "m " + std::to_string(seconds) + "s";
  return std::to_string(seconds) + "s";
}

std::string format_duration_ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 != 0) return std::to_string(d.count()) + "ms";
  return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

}  // namespace welld
