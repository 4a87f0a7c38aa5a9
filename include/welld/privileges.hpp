// welld/privileges.hpp — step 13: dropping root.
//
// Names are resolved before forking (resolve_credentials allocates and may
// talk to NSS, or in welld-static reads /etc/passwd and /etc/group);
// drop_privileges is async-signal-safe and runs in the daemon.
// Order: setgroups, setgid, setuid; then it verifies that setuid(0) and
// setgid(0) fail and that no supplementary group survives that was not asked
// for. Anything off is an error (EPERM), never a silent success.
// Capabilities to keep (e.g. CAP_NET_BIND_SERVICE) survive the switch as
// ambient capabilities: PR_SET_KEEPCAPS across setuid, then capset and
// PR_CAP_AMBIENT_RAISE. They are raised with the raw capset(2) call because
// libcap's cap_t API allocates, which is not allowed between fork and exec.
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
  std::vector<int> keep_caps;  // capabilities kept as ambient across the switch
};

/// Resolve supplementary group names (or numeric gids) to replace the user's
/// own groups. ENOENT with `what` set for an unknown group; EINVAL with `what`
/// set for a numeric gid outside 0..4294967294 (see resolve_credentials).
std::error_code resolve_groups(const std::vector<std::string>& names, std::vector<gid_t>& out,
                               std::string* what = nullptr);

/// Capability names ("cap_net_bind_service" or "net_bind_service",
/// case-insensitive) to numbers, through libcap. EINVAL with `what` set.
std::error_code resolve_capabilities(const std::vector<std::string>& names, std::vector<int>& out,
                                     std::string* what = nullptr);

/// Resolve `user` (a name or a numeric uid) and optionally `group` (name or
/// gid; default: the user's primary group). Supplementary groups are the
/// user's own (getgrouplist, like initgroups). A numeric uid without a passwd
/// entry is used as it is: user name the digits, HOME /, primary gid the same
/// number. Names are looked up through NSS (nsswitch.conf);
/// in welld-static, in /etc/passwd and /etc/group only. Errors: ENOENT for an
/// unknown user or group name (`what` says which, and in welld-static that
/// only those files were read); EINVAL for a numeric id (digits only)
/// outside 0..4294967294 (`what`: "user id 4294967296 is out of range (0 to
/// 4294967294)"): a wider number would wrap (4294967296 is uid 0), and
/// 4294967295 is (uid_t)-1, "unchanged" to setresuid(2); others from NSS.
std::error_code resolve_credentials(std::string_view user, std::string_view group, Credentials& out,
                                    std::string* what = nullptr);

/// What resolve_credentials and resolve_groups cannot see, for a program's
/// help: "" through NSS (libwelld, welld); in welld-static, "names are looked
/// up in /etc/passwd and /etc/group only" (numeric ids always work).
std::string_view name_lookup_limits();

/// Switch to `creds`. Async-signal-safe.
std::error_code drop_privileges(const Credentials& creds) noexcept;

}  // namespace welld
