#include "welld/listen.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "quoted.hpp"
#include "sockaddr.hpp"
#include "welld/path.hpp"

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

const char* tcp_refusal(HostPortError why) {
  switch (why) {
    case HostPortError::brackets: return "tcp:[ADDRESS]:PORT";
    case HostPortError::port: return "PORT must be 1-65535";
    case HostPortError::host: break;
  }
  return "HOST must be a numeric IPv4 or IPv6 address";
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
    if (!unix_path_address(spec.path)) return fail("unix:PATH with a path of 1 to 107 bytes");
    spec.name = sanitized_name("unix-" + base_name(spec.path));
    return spec;
  }
  if (text.rfind("tcp:", 0) != 0) return fail("tcp:[HOST:]PORT or unix:PATH");
  HostPortError why{};
  auto address = parse_host_port(text.substr(4), "127.0.0.1", &why);
  if (!address) return fail(tcp_refusal(why));
  spec.host = std::move(address->host);
  spec.port = address->port;
  spec.name = "tcp-" + std::to_string(spec.port);
  return spec;
}

std::error_code bind_listener(const ListenSpec& spec, UniqueFd& out) {
  auto err = [] { return std::error_code(errno, std::system_category()); };
  if (spec.unix_socket) {
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) == 0) {
      // Only a stale socket is replaced: never a symlink or a regular file.
      if (!S_ISSOCK(st.st_mode)) return {EEXIST, std::system_category()};
      ::unlink(spec.path.c_str());
    }
  }
  auto address = spec.unix_socket ? unix_path_address(spec.path) : ip_address(spec.host, spec.port);
  if (!address) return {EINVAL, std::system_category()};
  UniqueFd fd(::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return err();
  int one = 1;
  if (!spec.unix_socket) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), address->get(), address->length) != 0) return err();
  if (::listen(fd.get(), SOMAXCONN) != 0) return err();
  out = std::move(fd);
  return {};
}

void pass_listeners(const std::vector<UniqueFd>& sockets, const std::vector<ListenSpec>& specs,
                    const std::vector<ListenFd>& inherited, Options& options) {
  size_t count = sockets.size() + inherited.size();
  if (count == 0) return;
  std::string names;
  for (size_t i = 0; i < count; ++i) {
    bool bound_here = i < sockets.size();
    int fd = bound_here ? sockets[i].get() : inherited[i - sockets.size()].fd;
    options.pass_fds.push_back({fd, 3 + static_cast<int>(i)});
    names += (i == 0 ? "" : ":") + (bound_here ? specs[i].name : inherited[i - sockets.size()].name);
  }
  options.environment.set.push_back("LISTEN_FDS=" + std::to_string(count));
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
