// What every fuzz target uses to state an invariant: when it does not hold,
// say which one (file:line and the condition) and abort, so that libFuzzer
// records the input as a crash and the replay test fails.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "welld/text.hpp"

#define WELLD_FUZZ_REQUIRE(condition)                                                        \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace welld::fuzz {

/// The sentinel a target puts in the error string before a call.
inline constexpr std::string_view kUntouched = "(untouched)";

/// The parsers promise "a value or a one-line error": when `accepted`, the
/// error string was left alone (it still holds kUntouched); otherwise it is a
/// non-empty single line of bounded length (the input is quoted, not echoed
/// in full), since the CLI prints it as one line on stderr.
inline void require_error_contract(bool accepted, const std::string& error) {
  if (accepted) {
    WELLD_FUZZ_REQUIRE(error == kUntouched);
    return;
  }
  WELLD_FUZZ_REQUIRE(!error.empty() && error != kUntouched);
  WELLD_FUZZ_REQUIRE(error.find('\n') == std::string::npos);
  WELLD_FUZZ_REQUIRE(error.find('\r') == std::string::npos);
  WELLD_FUZZ_REQUIRE(error.find('\0') == std::string::npos);
  WELLD_FUZZ_REQUIRE(error.size() <= 512);
  // Terminal-safe: no control, C1, bidi control or invalid UTF-8 (text.hpp).
  WELLD_FUZZ_REQUIRE(welld::terminal_safe(error) == error);
}

inline std::string_view as_text(const unsigned char* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace welld::fuzz
