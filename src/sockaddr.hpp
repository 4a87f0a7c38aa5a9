// sockaddr.hpp — socket addresses: `[HOST:]PORT` text read once, and the
// sockaddr_in / sockaddr_in6 / sockaddr_un built from it in one place
// (--listen, --ready=tcp:/unix: probes, sd_notify sockets).
// Not for after fork: the parser allocates.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace welld {

/// A TCP endpoint as the user wrote it: HOST numeric (IPv4, or IPv6 without
/// its brackets), PORT 1-65535.
struct HostPort {
  std::string host;
  int port = 0;
};

/// Why `[HOST:]PORT` was refused, for callers that word each case apart.
enum class HostPortError {
  brackets,  // "[ADDRESS" without "]:" after it
  port,      // not a decimal 1-65535
  host,      // not a numeric IPv4 or IPv6 address (a name, or a NUL in it)
};

/// `PORT`, `HOST:PORT` or `[IPV6]:PORT`; HOST is `default_host` when absent.
/// The port is checked before the host. On refusal, nullopt and `*why` (when
/// given) says which part.
std::optional<HostPort> parse_host_port(std::string_view text, std::string_view default_host,
                                        HostPortError* why = nullptr);

/// A decimal port 1-65535, nothing else around it.
std::optional<int> parse_port(std::string_view text);

/// True when `host` is a numeric IPv4 or IPv6 address with no NUL in it.
bool numeric_address(const std::string& host);

/// A socket address ready for bind(2), connect(2) or sendto(2).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// sockaddr_in for a numeric IPv4 host, else sockaddr_in6 for a numeric IPv6
/// host; nullopt for anything else.
std::optional<SocketAddress> ip_address(const std::string& host, int port);

/// sockaddr_un for a filesystem path (NUL-terminated in the address); nullopt
/// when it is empty, holds a NUL or does not fit sun_path (at most 107 bytes).
std::optional<SocketAddress> unix_path_address(std::string_view path);

/// sockaddr_un for an sd_notify-style name: an absolute path, or "@NAME" for
/// the abstract socket NAME (the address starts with a NUL and has no
/// terminator, as systemd spells it); nullopt for anything else or too long.
std::optional<SocketAddress> notify_socket_address(std::string_view name);

/// The longest path a sockaddr_un holds with its terminating NUL.
inline constexpr size_t kUnixPathMax = 107;

}  // namespace welld
