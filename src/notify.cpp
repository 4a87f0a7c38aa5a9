// sd_notify(3) client: one datagram to the AF_UNIX socket in NOTIFY_SOCKET.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "welld/notify.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

std::error_code notify_socket(std::string_view socket, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A leading '@' names an abstract socket: the address starts with a NUL.
  if (socket.empty() || socket.size() >= sizeof addr.sun_path ||
      (socket.front() != '/' && socket.front() != '@')) {
    return {EINVAL, std::system_category()};
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  if (socket.front() == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() +
                                    (socket.front() == '@' ? 0 : 1));
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return {errno, std::system_category()};
  ssize_t n;
  do {
    n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return {errno, std::system_category()};
  return {};
}

std::error_code notify(std::string_view state, bool unset_env) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::error_code ec;
  if (socket != nullptr && *socket != '\0') ec = notify_socket(socket, state);
  if (unset_env) ::unsetenv("NOTIFY_SOCKET");
  return ec;
}

namespace notify_state {
std::string status(std::string_view text) { return "STATUS=" + std::string(text); }
std::string mainpid(pid_t pid) { return "MAINPID=" + std::to_string(pid); }
}  // namespace notify_state

}  // namespace welld
