// parse_rlimit (--rlimit NAME=SOFT[:HARD]).
#include <sys/resource.h>

#include <cctype>
#include <cstdint>
#include <string>

#include "invariant.hpp"
#include "welld/parse.hpp"

namespace {

using welld::fuzz::kUntouched;
using welld::fuzz::require_error_contract;

struct Name {
  const char* name;
  int resource;
};

// The documented names, independently of the parser's own table.
constexpr Name kNames[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

const char* name_of(int resource) {
  for (const auto& n : kNames) {
    if (n.resource == resource) return n.name;
  }
  return nullptr;
}

std::string value_text(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  std::string error(kUntouched);
  auto spec = welld::parse_rlimit(text, &error);
  require_error_contract(spec.has_value(), error);
  if (!spec) return 0;
  const char* name = name_of(spec->resource);
  WELLD_FUZZ_REQUIRE(name != nullptr);
  // The name before '=' is that resource's (case-insensitively, RLIMIT_ allowed).
  std::string given(text.substr(0, text.find('=')));
  for (char& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  WELLD_FUZZ_REQUIRE(given == name || given == std::string("rlimit_") + name);
  // setrlimit(2) would accept the pair: soft <= hard, infinity only as the
  // largest value; finite values stay far from the sentinel.
  if (spec->hard != RLIM_INFINITY) {
    WELLD_FUZZ_REQUIRE(spec->soft != RLIM_INFINITY && spec->soft <= spec->hard);
    WELLD_FUZZ_REQUIRE(spec->hard <= (rlim_t{1} << 62));
  }
  if (spec->soft != RLIM_INFINITY) WELLD_FUZZ_REQUIRE(spec->soft <= (rlim_t{1} << 62));
  // Written back canonically, it parses to the same limits.
  std::string canonical = std::string(name) + "=" + value_text(spec->soft) + ":" + value_text(spec->hard);
  auto again = welld::parse_rlimit(canonical);
  WELLD_FUZZ_REQUIRE(again && again->resource == spec->resource && again->soft == spec->soft &&
                     again->hard == spec->hard);
  return 0;
}
