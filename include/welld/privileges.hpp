// welld/privileges.hpp — step 13: dropping root.
//
// Names are resolved before forking (resolve_credentials allocates and may
// talk to NSS); drop_privileges is async-signal-safe and runs in the daemon.
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
/// own groups. ENOENT with `what` set for an unknown group.
std::error_code resolve_groups(const std::vector<std::string>& names, std::vector<gid_t>& out,
                               std::string* what = nullptr);

/// Capability names ("cap_net_bind_service" or "net_bind_service",
/// case-insensitive) to numbers, through libcap. EINVAL with `what` set.
std::error_code resolve_capabilities(const std::vector<std::string>& names, std::vector<int>& out,
                                     std::string* what = nullptr);

/// Resolve `user` (a name or a numeric uid) and optionally `group` (name or
/// gid; default: the user's primary group). Supplementary groups are the
/// user's own (getgrouplist, like initgroups). Errors: ENOENT for an unknown
/// user or group (`what` says which), others from NSS.
std::error_code resolve_credentials(std::string_view user, std::string_view group, Credentials& out,
                                    std::string* what = nullptr);

/// Switch to `creds`. Async-signal-safe.
std::error_code drop_privileges(const Credentials& creds) noexcept;

}  // namespace welld
