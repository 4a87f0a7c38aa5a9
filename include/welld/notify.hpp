// welld/notify.hpp — readiness by protocol: the sd_notify client.
//
// notify() speaks systemd's sd_notify(3) datagram protocol to the socket named
// by NOTIFY_SOCKET: a path, or an abstract name written with a leading '@'.
// No libsystemd is needed. Without NOTIFY_SOCKET it does nothing and succeeds,
// so a service can call it unconditionally.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "welld/process.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

/// Send `state` ("READY=1", "STATUS=...\nREADY=1", ...) to NOTIFY_SOCKET.
/// Returns {} when sent or when NOTIFY_SOCKET is unset. When `unset_env`,
/// NOTIFY_SOCKET is removed from the environment afterwards (children then do
/// not talk to the manager in our name).
std::error_code notify(std::string_view state, bool unset_env = false);

/// Same, to an explicit socket address (path or "@abstract").
std::error_code notify_socket(std::string_view socket, std::string_view state);

/// One sd_notify datagram, parsed. Lines are KEY=VALUE; unknown keys and
/// malformed lines are ignored (they are counted in `ignored`).
struct NotifyMessage {
  bool ready = false;
  bool reloading = false;
  bool stopping = false;
  bool watchdog = false;                   // WATCHDOG=1: a keep-alive ping
  bool watchdog_trigger = false;           // WATCHDOG=trigger: act as if the watchdog expired now
  std::optional<long long> watchdog_usec;  // WATCHDOG_USEC=: a new watchdog timeout (0: off)
  std::optional<std::string> status;
  std::optional<int> errno_value;              // ERRNO=
  std::optional<pid_t> main_pid;               // MAINPID=
  std::optional<long long> extend_timeout_us;  // EXTEND_TIMEOUT_USEC=
  int ignored = 0;
};

/// Parse a datagram's payload (total: never throws, never reads past `data`).
NotifyMessage parse_notify_datagram(std::string_view data);

/// The receiving side (what `welld start --ready=notify` listens on).
///
/// Datagrams are untrusted: anyone who can reach the socket can send one.
/// The server turns on SO_PASSCRED so that every datagram carries the
/// sender's PID as checked by the kernel; receive() rejects datagrams without
/// credentials, larger than kMaxDatagram (MSG_TRUNC), or empty. Deciding
/// whether the PID is the daemon's is the caller's job (is_in_tree).
class NotifyServer {
 public:
  static constexpr size_t kMaxDatagram = 4096;

  /// Bind `address`: a path, "@name" for an abstract socket, or "" for a
  /// fresh abstract name. A path socket's directory should be private.
  static std::error_code open(const std::string& address, NotifyServer& out);

  NotifyServer() = default;
  NotifyServer(NotifyServer&& other) noexcept;
  /// Closes (and for a path, removes) the socket held before.
  NotifyServer& operator=(NotifyServer&& other) noexcept;
  NotifyServer(const NotifyServer&) = delete;
  NotifyServer& operator=(const NotifyServer&) = delete;
  ~NotifyServer();

  const std::string& address() const noexcept { return address_; }
  int fd() const noexcept { return fd_.get(); }

  struct Datagram {
    pid_t sender = -1;
    uid_t uid = 0;
    NotifyMessage message;
  };

  /// Receive one datagram without blocking. std::nullopt with `ec` empty
  /// when nothing (acceptable) was pending; rejected datagrams are skipped.
  std::optional<Datagram> receive(std::error_code& ec);

 private:
  void close() noexcept;

  std::string address_;
  UniqueFd fd_;
};

namespace notify_state {
inline constexpr std::string_view ready = "READY=1";
inline constexpr std::string_view reloading = "RELOADING=1";
inline constexpr std::string_view stopping = "STOPPING=1";
inline constexpr std::string_view watchdog = "WATCHDOG=1";
inline constexpr std::string_view watchdog_trigger = "WATCHDOG=trigger";
std::string status(std::string_view text);  // "STATUS=text"
std::string mainpid(pid_t pid);             // "MAINPID=pid"
}  // namespace notify_state

}  // namespace welld
