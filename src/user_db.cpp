// Passwd and group entries: glibc's NSS, or /etc/passwd and /etc/group only
// (see user_db.hpp). Compiled once per back end: WELLD_USER_DB_NSS is 1 in
// libwelld, 0 in welld-static, whose link must not pull in any NSS call.
#include "user_db.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#ifndef WELLD_USER_DB_NSS
#error "WELLD_USER_DB_NSS must be 0 (/etc/passwd and /etc/group) or 1 (NSS): see src/CMakeLists.txt"
#endif

namespace welld {
namespace {

std::error_code errno_code(int e) { return {e, std::system_category()}; }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// `path` open for reading; a missing file is an empty database (nullptr, no error).
std::error_code open_database(const char* path, File& out) {
  out.reset(std::fopen(path, "re"));
  if (!out && errno != ENOENT) return errno_code(errno);
  return {};
}

// Calls `match` on each entry of `path` (read by `next`, fgetpwent_r or
// fgetgrent_r) until it returns true. On ERANGE glibc puts the stream back
// before the entry, which is read again with a larger buffer.
template <typename Entry, typename Next, typename Match>
std::error_code scan(const char* path, Next next, Match match) {
  File f;
  if (auto ec = open_database(path, f); ec || !f) return ec;
  std::vector<char> buf(4096);
  for (;;) {
    Entry entry{};
    Entry* result = nullptr;
    errno = 0;
    int rc = next(f.get(), &entry, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // The end of the file, or a read error, which glibc also reports as ENOENT.
    if (std::ferror(f.get()) != 0) return errno_code(errno != 0 ? errno : EIO);
    if (rc == ENOENT || result == nullptr) return {};
    if (rc != 0) return errno_code(rc);
    if (match(*result)) return {};
  }
}

UserEntry entry_of(const passwd& pw) {
  return {.name = pw.pw_name != nullptr ? pw.pw_name : "",
          .uid = pw.pw_uid,
          .gid = pw.pw_gid,
          .home = pw.pw_dir != nullptr ? pw.pw_dir : "",
          .shell = pw.pw_shell != nullptr ? pw.pw_shell : ""};
}

#if WELLD_USER_DB_NSS
// getpwnam_r/getpwuid_r, getgrnam_r/getgrgid_r: `get` with a buffer grown on
// ERANGE, and `found` called with the entry while its strings (in the buffer)
// live. "Not found" is 0 with no result, or (some NSS modules) ENOENT or ESRCH.
template <typename Entry, typename Get, typename Found>
std::error_code nss_lookup(Get get, Found found) {
  std::vector<char> buf(4096);
  for (;;) {
    Entry entry{};
    Entry* result = nullptr;
    int rc = get(&entry, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (result != nullptr) found(*result);
    if (rc != 0 && rc != ENOENT && rc != ESRCH) return errno_code(rc);
    return {};
  }
}
#endif

}  // namespace

std::error_code find_user_in(const char* path, std::string_view name, std::optional<uid_t> uid,
                             std::optional<UserEntry>& out) {
  out.reset();
  return scan<passwd>(path, ::fgetpwent_r, [&](const passwd& pw) {
    if (uid ? pw.pw_uid != *uid : name != pw.pw_name) return false;
    out = entry_of(pw);
    return true;
  });
}

std::error_code find_group_in(const char* path, std::string_view name, std::optional<gid_t> gid,
                              std::optional<gid_t>& out) {
  out.reset();
  return scan<group>(path, ::fgetgrent_r, [&](const group& g) {
    if (gid ? g.gr_gid != *gid : name != g.gr_name) return false;
    out = g.gr_gid;
    return true;
  });
}

std::error_code group_list_in(const char* path, const std::string& user, gid_t primary, std::vector<gid_t>& out) {
  out.assign(1, primary);
  return scan<group>(path, ::fgetgrent_r, [&](const group& g) {
    for (char** member = g.gr_mem; member != nullptr && *member != nullptr; ++member) {
      if (user == *member && std::find(out.begin(), out.end(), g.gr_gid) == out.end()) out.push_back(g.gr_gid);
    }
    return false;
  });
}

#if WELLD_USER_DB_NSS

std::error_code find_user(std::string_view name, std::optional<UserEntry>& out) {
  out.reset();
  std::string n(name);
  return nss_lookup<passwd>(
      [&](passwd* e, char* b, size_t size, passwd** r) { return ::getpwnam_r(n.c_str(), e, b, size, r); },
      [&](const passwd& pw) { out = entry_of(pw); });
}

std::error_code find_user(uid_t uid, std::optional<UserEntry>& out) {
  out.reset();
  return nss_lookup<passwd>(
      [&](passwd* e, char* b, size_t size, passwd** r) { return ::getpwuid_r(uid, e, b, size, r); },
      [&](const passwd& pw) { out = entry_of(pw); });
}

std::error_code find_group(std::string_view name, std::optional<gid_t>& out) {
  out.reset();
  std::string n(name);
  return nss_lookup<group>(
      [&](group* e, char* b, size_t size, group** r) { return ::getgrnam_r(n.c_str(), e, b, size, r); },
      [&](const group& g) { out = g.gr_gid; });
}

std::error_code find_group(gid_t gid, std::optional<gid_t>& out) {
  out.reset();
  return nss_lookup<group>([&](group* e, char* b, size_t size, group** r) { return ::getgrgid_r(gid, e, b, size, r); },
                           [&](const group& g) { out = g.gr_gid; });
}

std::error_code group_list(const std::string& user, gid_t primary, std::vector<gid_t>& out) {
  int count = 32;
  out.resize(static_cast<size_t>(count));
  while (::getgrouplist(user.c_str(), primary, out.data(), &count) < 0) {
    out.resize(static_cast<size_t>(count) + 32);
    count = static_cast<int>(out.size());
  }
  out.resize(static_cast<size_t>(count));
  return {};
}

std::string_view user_db_limits() { return {}; }

#else

std::error_code find_user(std::string_view name, std::optional<UserEntry>& out) {
  return find_user_in("/etc/passwd", name, std::nullopt, out);
}

std::error_code find_user(uid_t uid, std::optional<UserEntry>& out) {
  return find_user_in("/etc/passwd", {}, uid, out);
}

std::error_code find_group(std::string_view name, std::optional<gid_t>& out) {
  return find_group_in("/etc/group", name, std::nullopt, out);
}

std::error_code find_group(gid_t gid, std::optional<gid_t>& out) { return find_group_in("/etc/group", {}, gid, out); }

std::error_code group_list(const std::string& user, gid_t primary, std::vector<gid_t>& out) {
  return group_list_in("/etc/group", user, primary, out);
}

std::string_view user_db_limits() { return "names are looked up in /etc/passwd and /etc/group only"; }

#endif

}  // namespace welld
