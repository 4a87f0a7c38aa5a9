// welld/notify.hpp — readiness by protocol: the sd_notify client.
//
// notify() speaks systemd's sd_notify(3) datagram protocol to the socket named
// by NOTIFY_SOCKET: a path, or an abstract name written with a leading '@'.
// No libsystemd is needed. Without NOTIFY_SOCKET it does nothing and succeeds,
// so a service can call it unconditionally.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>

namespace welld {

/// Send `state` ("READY=1", "STATUS=...\nREADY=1", ...) to NOTIFY_SOCKET.
/// Returns {} when sent or when NOTIFY_SOCKET is unset. When `unset_env`,
/// NOTIFY_SOCKET is removed from the environment afterwards (children then do
/// not talk to the manager in our name).
std::error_code notify(std::string_view state, bool unset_env = false);

/// Same, to an explicit socket address (path or "@abstract").
std::error_code notify_socket(std::string_view socket, std::string_view state);

namespace notify_state {
inline constexpr std::string_view ready = "READY=1";
inline constexpr std::string_view reloading = "RELOADING=1";
inline constexpr std::string_view stopping = "STOPPING=1";
inline constexpr std::string_view watchdog = "WATCHDOG=1";
std::string status(std::string_view text);   // "STATUS=text"
std::string mainpid(pid_t pid);              // "MAINPID=pid"
}  // namespace notify_state

}  // namespace welld
