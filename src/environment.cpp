#include "welld/environment.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <set>

#include "proc.hpp"
#include "welld/unique_fd.hpp"

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

// Named in `keep` explicitly enough to lift the denylist: the exact name,
// with no glob character. A glob ('L*', '*?', '[A-Z]*') matches far more than
// its author had in mind, and never lifts it.
bool explicitly_kept(const EnvironmentPolicy& policy, std::string_view name) {
  return std::any_of(policy.keep.begin(), policy.keep.end(),
                     [&](const std::string& p) { return p.find_first_of("*?[") == std::string::npos && p == name; });
}

bool denied(const EnvironmentPolicy& policy, std::string_view name) {
  return is_denied_variable(name) && !explicitly_kept(policy, name);
}

// With `inherit`, the caller's own service-manager variables go unless kept.
bool manager_dropped(const EnvironmentPolicy& policy, std::string_view name) {
  return policy.inherit && matches_any(kManagerVariables, name) && !matches_any(policy.keep, name);
}

bool kept(const EnvironmentPolicy& policy, std::string_view name) {
  if (denied(policy, name) || manager_dropped(policy, name)) return false;
  return policy.inherit || matches_any(kDefaultAllowlist, name) || matches_any(policy.keep, name);
}

void assign(std::vector<std::string>& env, std::string_view assignment) {
  auto name = name_of(assignment);
  auto same = [&](const std::string& e) { return name_of(e) == name; };
  env.erase(std::remove_if(env.begin(), env.end(), same), env.end());
  env.emplace_back(assignment);
}

}  // namespace

bool is_loader_variable(std::string_view name) noexcept { return matches_any(kLoaderVariables, name); }

bool is_denied_variable(std::string_view name) noexcept {
  return matches_any(kLoaderVariables, name) || matches_any(kDenylist, name);
}

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

namespace {

// env_start and env_end (fields 50 and 51 of /proc/self/stat, proc(5); Linux 3.5).
std::error_code environment_block(std::uintptr_t& start, std::uintptr_t& end) {
  std::string text;
  ProcStat st;
  if (auto ec = read_proc_stat(0, text, st)) return ec;
  if (st.env_start == 0 || st.env_end <= st.env_start) return {ENOSYS, std::system_category()};
  start = st.env_start;
  end = st.env_end;
  return {};
}

}  // namespace

std::error_code dropped_environment_ranges(const std::vector<std::string>& kept, std::vector<ByteRange>& out) {
  out.clear();
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  if (auto ec = environment_block(start, end)) return ec;
  std::set<std::string_view> keep(kept.begin(), kept.end());
  // The block is this process's own memory (the initial stack): the kernel's
  // bounds are exactly where the strings it showed at exec are.
  auto* p = reinterpret_cast<char*>(start);   // NOLINT(performance-no-int-to-ptr)
  auto* stop = reinterpret_cast<char*>(end);  // NOLINT(performance-no-int-to-ptr)
  while (p < stop) {
    auto* nul = static_cast<char*>(std::memchr(p, '\0', static_cast<size_t>(stop - p)));
    char* entry_end = nul != nullptr ? nul : stop;
    auto size = static_cast<size_t>(entry_end - p);
    if (size > 0 && !keep.contains(std::string_view(p, size))) out.push_back({p, size});
    p = entry_end + 1;
  }
  return {};
}

}  // namespace welld
