// parse_duration, parse_signal/signal_name and parse_umask on the same input.
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "invariant.hpp"
#include "welld/parse.hpp"

namespace {

using welld::fuzz::kUntouched;
using welld::fuzz::require_error_contract;

constexpr long long kYearMs = 366LL * 24 * 3600 * 1000;

// The documented grammar: DIGITS[.D{1,3}][ms|s|m|min|h].
bool duration_shaped(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0) return false;
  if (i < text.size() && text[i] == '.') {
    size_t digits = 0;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) ++digits;
    if (digits < 1 || digits > 3) return false;
  }
  std::string_view unit = text.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "min" || unit == "h";
}

void check_duration(std::string_view text) {
  std::string error(kUntouched);
  auto d = welld::parse_duration(text, &error);
  require_error_contract(d.has_value(), error);
  WELLD_FUZZ_REQUIRE(welld::parse_duration(text) == d);  // the error pointer changes nothing
  if (!d) return;
  WELLD_FUZZ_REQUIRE(duration_shaped(text));
  long long ms = d->count();
  WELLD_FUZZ_REQUIRE(ms >= 0 && ms <= kYearMs);  // "between 0 and 1 year"
  // Any accepted value, written the plain way, parses back to itself.
  WELLD_FUZZ_REQUIRE(welld::parse_duration(std::to_string(ms) + "ms") == d);
  if (ms % 1000 == 0) {
    WELLD_FUZZ_REQUIRE(welld::parse_duration(std::to_string(ms / 1000) + "s") == d);
    WELLD_FUZZ_REQUIRE(welld::parse_duration(std::to_string(ms / 1000)) == d);
  }
  // format_duration's short forms ("12s") are durations too.
  long long s = ms / 1000;
  std::string human = welld::format_duration(std::chrono::seconds(s));
  WELLD_FUZZ_REQUIRE(!human.empty());
  if (s < 60) WELLD_FUZZ_REQUIRE(welld::parse_duration(human) == std::chrono::milliseconds(s * 1000));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_signal(std::string_view text) {
  std::string error(kUntouched);
  auto sig = welld::parse_signal(text, &error);
  require_error_contract(sig.has_value(), error);
  WELLD_FUZZ_REQUIRE(welld::parse_signal(lower(text)) == sig);  // names are case-insensitive
  if (!sig) return;
  WELLD_FUZZ_REQUIRE(*sig >= 1 && *sig <= SIGRTMAX);
  // signal_name gives what parse_signal reads back, with or without "SIG".
  std::string name = welld::signal_name(*sig);
  WELLD_FUZZ_REQUIRE(!name.empty());
  WELLD_FUZZ_REQUIRE(welld::parse_signal(name) == sig);
  if (!std::isdigit(static_cast<unsigned char>(name.front()))) {
    WELLD_FUZZ_REQUIRE(welld::parse_signal("SIG" + name) == sig);
  }
}

void check_signal_name(std::string_view text) {
  // Any int at all, not only the valid ones, has a name.
  int n = 0;
  std::memcpy(&n, text.data(), std::min(sizeof n, text.size()));
  std::string name = welld::signal_name(n);
  WELLD_FUZZ_REQUIRE(!name.empty());
  if (n >= 1 && n <= SIGRTMAX) WELLD_FUZZ_REQUIRE(welld::parse_signal(name) == n);
}

void check_umask(std::string_view text) {
  std::string error(kUntouched);
  auto mask = welld::parse_umask(text, &error);
  require_error_contract(mask.has_value(), error);
  // The whole definition: 1 to 4 octal digits, at most 0777.
  bool octal = !text.empty() && text.size() <= 4 && text.find_first_not_of("01234567") == std::string_view::npos;
  bool expected = octal && std::stoul(std::string(text), nullptr, 8) <= 0777;
  WELLD_FUZZ_REQUIRE(mask.has_value() == expected);
  if (!mask) return;
  WELLD_FUZZ_REQUIRE(*mask <= 0777);
  char octal_text[8];
  std::snprintf(octal_text, sizeof octal_text, "%o", static_cast<unsigned>(*mask));
  WELLD_FUZZ_REQUIRE(welld::parse_umask(octal_text) == mask);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  check_duration(text);
  check_signal(text);
  check_signal_name(text);
  check_umask(text);
  return 0;
}
