// welld/privileges.hpp — step 13: dropping root.
//
// Names are resolved before forking (resolve_credentials allocates and may
// talk to NSS); drop_privileges is async-signal-safe and runs in the daemon.
// Order: setgroups, setgid, setuid; then it verifies that setuid(0) and
// setgid(0) fail and that no supplementary group survives that was not asked
// for. Anything off is an error (EPERM), never a silent success.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace welld {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;   // supplementary groups after the drop
  std::string user;            // for USER/LOGNAME
  std::string home;            // for HOME
  std::string shell;           // for SHELL
};

/// Resolve `user` (a name or a numeric uid) and optionally `group` (name or
/// gid; default: the user's primary group). Supplementary groups are the
/// user's own (getgrouplist, like initgroups). Errors: ENOENT for an unknown
/// user or group (`what` says which), others from NSS.
std::error_code resolve_credentials(std::string_view user, std::string_view group,
                                    Credentials& out, std::string* what = nullptr);

/// Switch to `creds`. Async-signal-safe.
std::error_code drop_privileges(const Credentials& creds) noexcept;

}  // namespace welld
