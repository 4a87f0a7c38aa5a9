#include "welld/environment.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace welld {
namespace {

std::string_view name_of(std::string_view assignment) { return assignment.substr(0, assignment.find('=')); }

bool matches(std::string_view pattern, std::string_view name) {
  std::string p(pattern);
  std::string n(name);
  return ::fnmatch(p.c_str(), n.c_str(), 0) == 0;
}

template <typename Range>
bool matches_any(const Range& patterns, std::string_view name) {
  return std::any_of(std::begin(patterns), std::end(patterns), [&](const auto& p) { return matches(p, name); });
}

// Named in `keep` explicitly enough to lift the denylist: any pattern but "*".
bool explicitly_kept(const EnvironmentPolicy& policy, std::string_view name) {
  return std::any_of(policy.keep.begin(), policy.keep.end(),
                     [&](const std::string& p) { return p != "*" && matches(p, name); });
}

bool denied(const EnvironmentPolicy& policy, std::string_view name) {
  return matches_any(kDenylist, name) && !explicitly_kept(policy, name);
}

bool kept(const EnvironmentPolicy& policy, std::string_view name) {
  if (denied(policy, name)) return false;
  return policy.inherit || matches_any(kDefaultAllowlist, name) || matches_any(policy.keep, name);
}

void assign(std::vector<std::string>& env, std::string_view assignment) {
  auto name = name_of(assignment);
  auto same = [&](const std::string& e) { return name_of(e) == name; };
  env.erase(std::remove_if(env.begin(), env.end(), same), env.end());
  env.emplace_back(assignment);
}

}  // namespace

bool valid_assignment(std::string_view assignment) noexcept {
  auto eq = assignment.find('=');
  return eq != std::string_view::npos && eq > 0 && assignment.substr(0, eq).find('\0') == std::string_view::npos;
}

std::vector<std::string> sanitized_environment(const EnvironmentPolicy& policy, char** from) {
  std::vector<std::string> env;
  for (char** e = from; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!valid_assignment(entry)) continue;
    if (kept(policy, name_of(entry))) assign(env, entry);
  }
  bool has_path = std::any_of(env.begin(), env.end(), [](const std::string& e) { return name_of(e) == "PATH"; });
  if (!has_path) assign(env, std::string("PATH=").append(kDefaultPath));
  for (const auto& s : policy.set) {
    if (valid_assignment(s)) assign(env, s);
  }
  return env;
}

std::vector<std::string> denied_names(const EnvironmentPolicy& policy, char** from) {
  std::vector<std::string> names;
  for (char** e = from; e != nullptr && *e != nullptr; ++e) {
    auto name = name_of(*e);
    bool wanted = policy.inherit || matches_any(kDefaultAllowlist, name) || matches_any(policy.keep, name);
    if (wanted && denied(policy, name)) names.emplace_back(name);
  }
  return names;
}

}  // namespace welld
