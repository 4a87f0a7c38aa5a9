// welld/listen.hpp — socket activation, both sides.
//
// Caller side (welld start --listen): parse a spec, bind and listen before
// anything forks (so errors such as "port in use" or "permission denied" are
// reported while nothing exists yet, and a privileged port can be bound before
// the privilege drop), then hand the sockets over with pass_listeners().
//
// Daemon side: listen_fds() is sd_listen_fds_with_names(3) without libsystemd.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "welld/daemon.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

struct ListenSpec {
  bool unix_socket = false;
  std::string host;  // tcp: numeric address (default 127.0.0.1)
  int port = 0;      // tcp
  std::string path;  // unix
  std::string name;  // the LISTEN_FDNAMES entry: "tcp-8080", "unix-web.sock"
};

/// "tcp:[HOST:]PORT", "tcp:[::1]:PORT", "unix:PATH".
std::optional<ListenSpec> parse_listen_spec(std::string_view text, std::string* error = nullptr);

/// socket (close-on-exec), bind, listen. For unix: a stale socket file at
/// PATH is replaced; a symlink or any other file is refused (EEXIST).
std::error_code bind_listener(const ListenSpec& spec, UniqueFd& out);

struct ListenFd {
  int fd = -1;
  std::string name;  // "unknown" when LISTEN_FDNAMES does not name it
};

/// Put `sockets` (then `inherited`: sockets bound earlier, e.g. the ones a
/// supervisor received and keeps across restarts) at fds 3, 4, ... of the
/// daemon with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (set by the daemon to
/// its own PID).
void pass_listeners(const std::vector<UniqueFd>& sockets, const std::vector<ListenSpec>& specs,
                    const std::vector<ListenFd>& inherited, Options& options);

/// The sockets passed by socket activation (sd_listen_fds): empty unless
/// LISTEN_PID is our PID and LISTEN_FDS is a count. They start at fd 3 and
/// are made close-on-exec. With `unset_env`, the three variables are removed
/// so that children do not believe the sockets are theirs.
std::vector<ListenFd> listen_fds(bool unset_env = false);

}  // namespace welld
