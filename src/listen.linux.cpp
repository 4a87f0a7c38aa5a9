#include "welld/listen.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "quoted.hpp"

namespace welld {
namespace {

std::optional<int> parse_number(std::string_view text, int lo, int hi) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

std::string sanitized_name(std::string text) {
  for (char& c : text) {
    if (c == ':' || c < ' ' || c > '~') c = '_';
  }
  return text;
}

}  // namespace

std::optional<ListenSpec> parse_listen_spec(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error != nullptr) *error = "invalid --listen " + detail::quoted(text, 100) + ": " + why;
    return std::nullopt;
  };
  ListenSpec spec;
  if (text.rfind("unix:", 0) == 0) {
    spec.unix_socket = true;
    spec.path = std::string(text.substr(5));
    if (spec.path.empty() || spec.path.size() >= sizeof(sockaddr_un::sun_path) ||
        spec.path.find('\0') != std::string::npos) {
      return fail("unix:PATH with a path of 1 to 107 bytes");
    }
    auto slash = spec.path.rfind('/');
    spec.name = sanitized_name("unix-" + spec.path.substr(slash == std::string::npos ? 0 : slash + 1));
    return spec;
  }
  if (text.rfind("tcp:", 0) != 0) return fail("tcp:[HOST:]PORT or unix:PATH");
  std::string_view rest = text.substr(4);
  spec.host = "127.0.0.1";
  std::string_view port = rest;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return fail("tcp:[ADDRESS]:PORT");
    }
    spec.host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
  } else if (auto c = rest.rfind(':'); c != std::string_view::npos) {
    spec.host = std::string(rest.substr(0, c));
    port = rest.substr(c + 1);
  }
  auto p = parse_number(port, 1, 65535);
  in_addr a4{};
  in6_addr a6{};
  if (!p) return fail("PORT must be 1-65535");
  // A NUL would end the C string early: "127.0.0.1\0junk" is not an address.
  if (spec.host.find('\0') != std::string::npos ||
      (::inet_pton(AF_INET, spec.host.c_str(), &a4) != 1 && ::inet_pton(AF_INET6, spec.host.c_str(), &a6) != 1)) {
    return fail("HOST must be a numeric IPv4 or IPv6 address");
  }
  spec.port = *p;
  spec.name = "tcp-" + std::to_string(spec.port);
  return spec;
}

std::error_code bind_listener(const ListenSpec& spec, UniqueFd& out) {
  auto err = [] { return std::error_code(errno, std::system_category()); };
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_UNIX;
  if (spec.unix_socket) {
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) == 0) {
      // Only a stale socket is replaced: never a symlink or a regular file.
      if (!S_ISSOCK(st.st_mode)) return {EEXIST, std::system_category()};
      ::unlink(spec.path.c_str());
    }
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, spec.path.c_str(), spec.path.size() + 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + spec.path.size() + 1);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, spec.host.c_str(), &v4->sin_addr) == 1) {
      family = v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(spec.port));
      len = sizeof *v4;
    } else {
      ::inet_pton(AF_INET6, spec.host.c_str(), &v6->sin6_addr);
      family = v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(spec.port));
      len = sizeof *v6;
    }
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return err();
  int one = 1;
  if (!spec.unix_socket) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return err();
  if (::listen(fd.get(), SOMAXCONN) != 0) return err();
  out = std::move(fd);
  return {};
}

void pass_listeners(const std::vector<UniqueFd>& sockets, const std::vector<ListenSpec>& specs, Options& options) {
  if (sockets.empty()) return;
  std::string names;
  for (size_t i = 0; i < sockets.size(); ++i) {
    options.pass_fds.push_back({sockets[i].get(), 3 + static_cast<int>(i)});
    names += (i == 0 ? "" : ":") + specs[i].name;
  }
  options.environment.set.push_back("LISTEN_FDS=" + std::to_string(sockets.size()));
  options.environment.set.push_back("LISTEN_FDNAMES=" + names);
  options.listen_pid = true;
}

std::vector<ListenFd> listen_fds(bool unset_env) {
  std::vector<ListenFd> fds;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* count_text = std::getenv("LISTEN_FDS");
  auto pid = pid_text != nullptr ? parse_number(pid_text, 1, 0x7fffffff) : std::nullopt;
  auto count = count_text != nullptr ? parse_number(count_text, 1, 4096) : std::nullopt;
  if (pid && count && *pid == ::getpid()) {
    std::string names = std::getenv("LISTEN_FDNAMES") != nullptr ? std::getenv("LISTEN_FDNAMES") : "";
    size_t start = 0;
    for (int i = 0; i < *count; ++i) {
      ListenFd entry{3 + i, "unknown"};
      if (start <= names.size() && !names.empty()) {
        size_t colon = names.find(':', start);
        entry.name = names.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        start = colon == std::string::npos ? names.size() + 1 : colon + 1;
      }
      int flags = ::fcntl(entry.fd, F_GETFD);
      if (flags < 0) continue;  // not open: nothing to hand out
      ::fcntl(entry.fd, F_SETFD, flags | FD_CLOEXEC);
      fds.push_back(std::move(entry));
    }
  }
  if (unset_env) {
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
  }
  return fds;
}

}  // namespace welld
