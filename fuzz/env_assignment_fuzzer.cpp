// valid_assignment (--env NAME=VALUE) and sanitized_environment/denied_names
// over a fuzzed environment and policy.
//
// Input: lines; the first byte of a line says what the rest is:
//   e  an entry of the caller's environment (a C string: cut at the first NUL)
//   k  a --keep-env name or glob
//   s  a --env assignment (checked with valid_assignment first, as the CLI does)
//   i  --inherit-env
// Every line's text is also checked with valid_assignment on its own.
#include <fnmatch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "invariant.hpp"
#include "welld/environment.hpp"

namespace {

std::string_view name_of(std::string_view entry) { return entry.substr(0, entry.find('=')); }

bool matches(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

template <typename Range>
bool matches_any(const Range& patterns, std::string_view name) {
  return std::any_of(std::begin(patterns), std::end(patterns), [&](const auto& p) { return matches(p, name); });
}

void check_valid_assignment(std::string_view text) {
  static_assert(noexcept(welld::valid_assignment(text)));
  size_t eq = text.find('=');
  bool expected = eq != std::string_view::npos && eq > 0 && text.substr(0, eq).find('\0') == std::string_view::npos;
  WELLD_FUZZ_REQUIRE(welld::valid_assignment(text) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  check_valid_assignment(text);

  welld::EnvironmentPolicy policy;
  std::vector<std::string> environment;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    std::string_view arg = line.substr(1);
    check_valid_assignment(arg);
    switch (line.front()) {
      case 'e': environment.emplace_back(arg.substr(0, arg.find('\0')).substr(0, 256)); break;
      case 'k':
        // fnmatch(3) is exponential in the number of '*': keep globs plausible.
        if (arg.size() <= 32 && std::count(arg.begin(), arg.end(), '*') <= 3) policy.keep.emplace_back(arg);
        break;
      case 's':
        if (welld::valid_assignment(arg)) policy.set.emplace_back(arg);
        break;
      case 'i': policy.inherit = true; break;
      default: break;
    }
  }
  std::vector<char*> environ_array;
  environ_array.reserve(environment.size() + 1);
  for (auto& e : environment) environ_array.push_back(e.data());
  environ_array.push_back(nullptr);

  auto result = welld::sanitized_environment(policy, environ_array.data());
  std::set<std::string_view> from_caller(environment.begin(), environment.end());
  std::map<std::string_view, std::string_view> last_set;  // name -> the last --env for it
  for (const auto& s : policy.set) last_set[name_of(s)] = s;
  // Only a glob-free name equal to a denied variable's lifts the denylist.
  auto explicitly_kept = [&](std::string_view name) {
    return std::any_of(policy.keep.begin(), policy.keep.end(),
                       [&](const std::string& p) { return p.find_first_of("*?[") == std::string::npos && p == name; });
  };
  auto manager_dropped = [&](std::string_view name) {
    return policy.inherit && matches_any(welld::kManagerVariables, name) && !matches_any(policy.keep, name);
  };

  std::set<std::string_view> names;
  for (const auto& entry : result) {
    std::string_view name = name_of(entry);
    WELLD_FUZZ_REQUIRE(welld::valid_assignment(entry));
    WELLD_FUZZ_REQUIRE(names.insert(name).second);  // each name once
    auto set = last_set.find(name);
    if (set != last_set.end()) {
      WELLD_FUZZ_REQUIRE(entry == set->second);  // --env wins, the last one
      continue;
    }
    if (name == "PATH" && entry == std::string("PATH=").append(welld::kDefaultPath) && !from_caller.contains(entry)) {
      continue;  // the default PATH
    }
    // Otherwise it is the caller's, and allowed to pass.
    WELLD_FUZZ_REQUIRE(from_caller.count(entry) == 1);
    WELLD_FUZZ_REQUIRE(!welld::is_denied_variable(name) || explicitly_kept(name));
    WELLD_FUZZ_REQUIRE(!manager_dropped(name));
    WELLD_FUZZ_REQUIRE(policy.inherit || matches_any(welld::kDefaultAllowlist, name) || matches_any(policy.keep, name));
  }
  WELLD_FUZZ_REQUIRE(names.count("PATH") == 1);
  for (const auto& [name, assignment] : last_set) {
    WELLD_FUZZ_REQUIRE(std::find(result.begin(), result.end(), assignment) != result.end());
  }

  for (const auto& name : welld::denied_names(policy, environ_array.data())) {
    WELLD_FUZZ_REQUIRE(welld::is_denied_variable(name) && !explicitly_kept(name));
    WELLD_FUZZ_REQUIRE(
        std::any_of(environment.begin(), environment.end(), [&](const std::string& e) { return name_of(e) == name; }));
  }
  return 0;
}
