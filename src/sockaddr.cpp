#include "sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

namespace welld {

static_assert(sizeof(sockaddr_un::sun_path) == kUnixPathMax + 1);

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

// A NUL would end the C string early: "127.0.0.1\0junk" is not an address.
bool numeric_address(const std::string& host) { return ip_address(host, 0).has_value(); }

std::optional<HostPort> parse_host_port(std::string_view text, std::string_view default_host, HostPortError* why) {
  auto fail = [&](HostPortError e) -> std::optional<HostPort> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  HostPort out;
  out.host = std::string(default_host);
  std::string_view port = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(HostPortError::brackets);
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else if (auto c = text.rfind(':'); c != std::string_view::npos) {
    out.host = std::string(text.substr(0, c));
    port = text.substr(c + 1);
  }
  auto p = parse_port(port);
  if (!p) return fail(HostPortError::port);
  if (!numeric_address(out.host)) return fail(HostPortError::host);
  out.port = *p;
  return out;
}

std::optional<SocketAddress> ip_address(const std::string& host, int port) {
  if (host.find('\0') != std::string::npos) return std::nullopt;
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof *v4;
    return a;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof *v6;
    return a;
  }
  return std::nullopt;
}

namespace {

// sun_path holds `name` verbatim; `terminated` adds its NUL to the length.
SocketAddress unix_address(std::string_view name, bool terminated) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, name.data(), name.size());
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (terminated ? 1 : 0));
  return a;
}

}  // namespace

std::optional<SocketAddress> unix_path_address(std::string_view path) {
  if (path.empty() || path.size() > kUnixPathMax || path.find('\0') != std::string_view::npos) return std::nullopt;
  return unix_address(path, true);
}

std::optional<SocketAddress> notify_socket_address(std::string_view name) {
  if (name.empty() || name.size() > kUnixPathMax || (name.front() != '/' && name.front() != '@')) return std::nullopt;
  bool abstract = name.front() == '@';
  SocketAddress a = unix_address(name, !abstract);
  if (abstract) reinterpret_cast<sockaddr_un*>(&a.storage)->sun_path[0] = '\0';
  return a;
}

}  // namespace welld
