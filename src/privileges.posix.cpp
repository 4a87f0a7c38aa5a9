// Step 13: drop privileges. Resolution (NSS) before fork; the switch after.
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>

#include <cerrno>
#include <charconv>

#include "welld/privileges.hpp"

namespace welld {
namespace {

bool parse_id(std::string_view text, unsigned long& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::error_code lookup_user(std::string_view user, passwd& pw, std::vector<char>& buf, bool& found) {
  passwd* result = nullptr;
  std::string name(user);
  unsigned long id = 0;
  for (;;) {
    int rc = parse_id(user, id) ? ::getpwuid_r(static_cast<uid_t>(id), &pw, buf.data(), buf.size(), &result)
                                : ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    found = result != nullptr;
    if (rc != 0 && rc != ENOENT && rc != ESRCH) return {rc, std::system_category()};
    return {};
  }
}

std::error_code lookup_group(std::string_view group, gid_t& gid, bool& found) {
  ::group g{};
  ::group* result = nullptr;
  std::vector<char> buf(4096);
  std::string name(group);
  unsigned long id = 0;
  for (;;) {
    int rc = parse_id(group, id) ? ::getgrgid_r(static_cast<gid_t>(id), &g, buf.data(), buf.size(), &result)
                                 : ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    found = result != nullptr;
    if (found) {
      gid = g.gr_gid;
    } else if (parse_id(group, id)) {
      // A numeric gid without a group entry is still a valid gid.
      gid = static_cast<gid_t>(id);
      found = true;
    }
    if (rc != 0 && rc != ENOENT && rc != ESRCH) return {rc, std::system_category()};
    return {};
  }
}

}  // namespace

std::error_code resolve_credentials(std::string_view user, std::string_view group, Credentials& out,
                                    std::string* what) {
  passwd pw{};
  std::vector<char> buf(4096);
  bool found = false;
  if (auto ec = lookup_user(user, pw, buf, found)) return ec;
  if (!found) {
    if (what != nullptr) *what = "unknown user '" + std::string(user) + "'";
    return {ENOENT, std::system_category()};
  }
  out.uid = pw.pw_uid;
  out.gid = pw.pw_gid;
  out.user = pw.pw_name;
  out.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  out.shell = pw.pw_shell != nullptr && *pw.pw_shell != '\0' ? pw.pw_shell : "/bin/sh";
  if (!group.empty()) {
    if (auto ec = lookup_group(group, out.gid, found)) return ec;
    if (!found) {
      if (what != nullptr) *what = "unknown group '" + std::string(group) + "'";
      return {ENOENT, std::system_category()};
    }
  }
  // The user's own supplementary groups, as initgroups(3) would set them;
  // computed here because initgroups is not async-signal-safe.
  int count = 32;
  out.groups.resize(static_cast<size_t>(count));
  while (::getgrouplist(out.user.c_str(), out.gid, out.groups.data(), &count) < 0) {
    out.groups.resize(static_cast<size_t>(count) + 32);
    count = static_cast<int>(out.groups.size());
  }
  out.groups.resize(static_cast<size_t>(count));
  return {};
}

std::error_code resolve_groups(const std::vector<std::string>& names, std::vector<gid_t>& out, std::string* what) {
  out.clear();
  for (const auto& name : names) {
    gid_t gid = 0;
    bool found = false;
    if (auto ec = lookup_group(name, gid, found)) return ec;
    if (!found) {
      if (what != nullptr) *what = "unknown group '" + name + "'";
      return {ENOENT, std::system_category()};
    }
    out.push_back(gid);
  }
  return {};
}

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

namespace {

// Permitted, effective and inheritable sets to exactly `caps` (raw capset).
int set_capabilities(const std::vector<int>& caps) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int cap : caps) {
    auto bit = 1U << (cap % 32);
    data[cap / 32].permitted |= bit;
    data[cap / 32].effective |= bit;
    data[cap / 32].inheritable |= bit;
  }
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

}  // namespace

// Raw system calls, not glibc's setuid family: in a multi-threaded process
// those signal every thread to change its credentials too, and spawn_daemon's
// daemon shares the memory (the thread list) of such a caller without being
// one of its threads. The daemon is a process of one thread: the raw call is
// the whole change.
std::error_code drop_privileges(const Credentials& creds) noexcept {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  auto call = [](long number, long a, long b = -1, long c = -1) { return ::syscall(number, a, b, c) == 0; };
  auto keep_id = -1L;  // setres[ug]id: leave this one unchanged
  if (!call(SYS_setgroups, static_cast<long>(creds.groups.size()), reinterpret_cast<long>(creds.groups.data()))) {
    return fail(errno);
  }
  if (!call(SYS_setgid, creds.gid)) return fail(errno);
  bool keep = !creds.keep_caps.empty() && creds.uid != 0;
  if (keep && ::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) return fail(errno);
  if (!call(SYS_setuid, creds.uid)) return fail(errno);
  if (keep) {
    if (set_capabilities(creds.keep_caps) != 0) return fail(errno);
    for (int cap : creds.keep_caps) {
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(cap), 0L, 0L) != 0) {
        return fail(errno);
      }
    }
    ::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
  }
  if (creds.uid != 0) {
    // Verify that root cannot be regained (a setuid that only changed the
    // effective uid would let this succeed).
    if (call(SYS_setuid, 0) || call(SYS_setresuid, keep_id, 0, keep_id)) return fail(EPERM);
    if (creds.gid != 0 && (call(SYS_setgid, 0) || call(SYS_setresgid, keep_id, 0, keep_id))) return fail(EPERM);
    gid_t now[256];
    int n = ::getgroups(256, now);
    if (n < 0) return fail(errno);
    for (int i = 0; i < n; ++i) {
      bool asked = now[i] == creds.gid;
      for (gid_t g : creds.groups) asked = asked || g == now[i];
      if (!asked) return fail(EPERM);
    }
  }
  return {};
}

}  // namespace welld
