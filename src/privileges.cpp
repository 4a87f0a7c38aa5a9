// Step 13: drop privileges. Resolution (user_db: NSS, or /etc/passwd and
// /etc/group in welld-static) before fork, here; the switch after (after_fork.cpp).
#include <fmt/core.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>

#include "user_db.hpp"
#include "welld/privileges.hpp"

namespace welld {
namespace {

// The largest valid id: (uid_t)-1 and (gid_t)-1 mean "unchanged" to
// setresuid(2) and chown(2), and anything wider would wrap (4294967296 to 0).
constexpr unsigned long long kMaxId = 4294967294ULL;

enum class Id { name, number, out_of_range };

// A user or group given as digits only is a number; one outside
// 0..kMaxId is refused rather than truncated to uid_t/gid_t.
Id parse_id(std::string_view text, unsigned long& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) return Id::name;
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > kMaxId) return Id::out_of_range;
  out = static_cast<unsigned long>(value);
  return Id::number;
}

std::error_code out_of_range(std::string_view kind, std::string_view text, std::string* what) {
  if (what != nullptr) *what = std::string(kind) + " id " + std::string(text) + " is out of range (0 to 4294967294)";
  return {EINVAL, std::system_category()};
}

// `user` (a name, or digits: a uid) in the user database. A uid without an
// entry is still a uid: it runs as itself, with the gid of the same number.
std::error_code lookup_user(std::string_view user, std::optional<UserEntry>& entry, std::string* what) {
  unsigned long id = 0;
  Id kind = parse_id(user, id);
  if (kind == Id::out_of_range) return out_of_range("user", user, what);
  if (kind == Id::name) return find_user(user, entry);
  if (auto ec = find_user(static_cast<uid_t>(id), entry)) return ec;
  if (!entry) {
    entry = UserEntry{
        .name = std::string(user), .uid = static_cast<uid_t>(id), .gid = static_cast<gid_t>(id), .home = "/"};
  }
  return {};
}

std::error_code lookup_group(std::string_view group, gid_t& gid, bool& found, std::string* what) {
  unsigned long id = 0;
  Id kind = parse_id(group, id);
  if (kind == Id::out_of_range) return out_of_range("group", group, what);
  std::optional<gid_t> entry;
  if (auto ec = kind == Id::number ? find_group(static_cast<gid_t>(id), entry) : find_group(group, entry)) return ec;
  // A numeric gid without a group entry is still a valid gid.
  if (!entry && kind == Id::number) entry = static_cast<gid_t>(id);
  found = entry.has_value();
  if (found) gid = *entry;
  return {};
}

std::error_code unknown(std::string_view kind, std::string_view name, std::string* what) {
  if (what != nullptr) {
    *what = fmt::format("unknown {} '{}'", kind, name);
    if (!user_db_limits().empty()) *what += fmt::format(" ({})", user_db_limits());
  }
  return {ENOENT, std::system_category()};
}

}  // namespace

std::error_code resolve_credentials(std::string_view user, std::string_view group, Credentials& out,
                                    std::string* what) {
  std::optional<UserEntry> entry;
  if (auto ec = lookup_user(user, entry, what)) return ec;
  if (!entry) return unknown("user", user, what);
  out.uid = entry->uid;
  out.gid = entry->gid;
  out.user = entry->name;
  out.home = entry->home;
  out.shell = !entry->shell.empty() ? entry->shell : "/bin/sh";
  if (!group.empty()) {
    bool found = false;
    if (auto ec = lookup_group(group, out.gid, found, what)) return ec;
    if (!found) return unknown("group", group, what);
  }
  // The user's own supplementary groups, as initgroups(3) would set them;
  // computed here because initgroups is not async-signal-safe.
  return group_list(out.user, out.gid, out.groups);
}

std::error_code resolve_groups(const std::vector<std::string>& names, std::vector<gid_t>& out, std::string* what) {
  out.clear();
  for (const auto& name : names) {
    gid_t gid = 0;
    bool found = false;
    if (auto ec = lookup_group(name, gid, found, what)) return ec;
    if (!found) return unknown("group", name, what);
    out.push_back(gid);
  }
  return {};
}

std::string_view name_lookup_limits() { return user_db_limits(); }

std::error_code resolve_capabilities(const std::vector<std::string>& names, std::vector<int>& out, std::string* what) {
  out.clear();
  for (const auto& name : names) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("cap_", 0) != 0) lower.insert(0, "cap_");
    cap_value_t value = 0;
    if (::cap_from_name(lower.c_str(), &value) != 0 || value < 0 || value > 63) {
      if (what != nullptr) *what = "unknown capability '" + name + "'";
      return {EINVAL, std::system_category()};
    }
    out.push_back(value);
  }
  return {};
}

}  // namespace welld
