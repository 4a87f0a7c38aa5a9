// user_db.hpp — where user and group names come from: the one place welld
// asks for a passwd or group entry (privileges.cpp resolves --user, --group
// and --groups through it; audit.cpp finds root's groups).
//
// Two back ends, chosen when user_db.cpp is compiled (WELLD_USER_DB_NSS):
//   1  glibc's NSS (getpwnam_r, getgrnam_r, getgrouplist): whatever
//      nsswitch.conf names (files, systemd, sss, ldap...). libwelld and welld.
//   0  the files /etc/passwd and /etc/group, read with fgetpwent_r and
//      fgetgrent_r, and nothing else. welld-static: a static glibc program
//      that calls NSS dlopens its modules (libnss_files.so.2...), which a
//      scratch container does not have, and the linker warns about it.
// The readers of one file (the *_in functions) are in both, so that the
// files back end can be tested with any file.
//
// Lookups return {} with `found` false for "no such entry" (also when the
// file is missing); an error_code only when the database could not be read.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace welld {

struct UserEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;   // pw_dir, "" when empty
  std::string shell;  // pw_shell, "" when empty
};

/// The user named `name`, or with uid `uid`.
std::error_code find_user(std::string_view name, std::optional<UserEntry>& out);
std::error_code find_user(uid_t uid, std::optional<UserEntry>& out);
/// The gid of the group named `name`, or whether group `gid` has an entry.
std::error_code find_group(std::string_view name, std::optional<gid_t>& out);
std::error_code find_group(gid_t gid, std::optional<gid_t>& out);
/// `primary` first, then every other group that lists `user` as a member
/// (getgrouplist(3)'s answer).
std::error_code group_list(const std::string& user, gid_t primary, std::vector<gid_t>& out);
/// What the back end cannot see, for messages: "" with NSS; "names are
/// looked up in /etc/passwd and /etc/group only" with the files back end.
std::string_view user_db_limits();

/// The files back end's readers, on `path` (a passwd(5) or group(5) file).
std::error_code find_user_in(const char* path, std::string_view name, std::optional<uid_t> uid,
                             std::optional<UserEntry>& out);
std::error_code find_group_in(const char* path, std::string_view name, std::optional<gid_t> gid,
                              std::optional<gid_t>& out);
std::error_code group_list_in(const char* path, const std::string& user, gid_t primary, std::vector<gid_t>& out);

}  // namespace welld
