// sd_notify(3) client: one datagram to the AF_UNIX socket in NOTIFY_SOCKET.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "welld/notify.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

std::error_code notify_socket(std::string_view socket, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A leading '@' names an abstract socket: the address starts with a NUL.
  if (socket.empty() || socket.size() >= sizeof addr.sun_path || (socket.front() != '/' && socket.front() != '@')) {
    return {EINVAL, std::system_category()};
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  if (socket.front() == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() + (socket.front() == '@' ? 0 : 1));
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return {errno, std::system_category()};
  ssize_t n;
  do {
    n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
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

NotifyMessage parse_notify_datagram(std::string_view data) {
  NotifyMessage m;
  auto number = [](std::string_view v, long long max) -> std::optional<long long> {
    if (v.empty() || v.size() > 19) return std::nullopt;
    long long n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
      if (n > max) return std::nullopt;  // checked per digit: 19 digits would overflow
    }
    return n;
  };
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      ++m.ignored;
      continue;
    }
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "READY") m.ready = value == "1";
    else if (key == "RELOADING") m.reloading = value == "1";
    else if (key == "STOPPING") m.stopping = value == "1";
    else if (key == "WATCHDOG") m.watchdog = value == "1";
    else if (key == "STATUS") m.status = std::string(value);
    else if (key == "ERRNO") {
      if (auto n = number(value, 4095)) m.errno_value = static_cast<int>(*n);
      else ++m.ignored;
    } else if (key == "MAINPID") {
      if (auto n = number(value, 0x7fffffff); n && *n > 1) m.main_pid = static_cast<pid_t>(*n);
      else ++m.ignored;
    } else if (key == "EXTEND_TIMEOUT_USEC") {
      if (auto n = number(value, 1LL << 50)) m.extend_timeout_us = *n;
      else ++m.ignored;
    } else {
      ++m.ignored;
    }
  }
  return m;
}

NotifyServer::~NotifyServer() {
  // A path socket is ours to remove; an abstract one vanishes with the fd.
  if (fd_ && !address_.empty() && address_.front() == '/') ::unlink(address_.c_str());
}

std::error_code NotifyServer::open(const std::string& address, NotifyServer& out) {
  std::string name = address;
  if (name.empty()) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    name = "@welld/notify/" + std::to_string(::getpid()) + "/" + std::to_string(now.tv_nsec);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() >= sizeof addr.sun_path || (name.front() != '/' && name.front() != '@')) {
    return {EINVAL, std::system_category()};
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name.front() == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name.front() == '@' ? 0 : 1));
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return {errno, std::system_category()};
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return {errno, std::system_category()};
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return {errno, std::system_category()};
  out.address_ = name;
  out.fd_ = std::move(fd);
  return {};
}

std::optional<NotifyServer::Datagram> NotifyServer::receive(std::error_code& ec) {
  ec.clear();
  for (;;) {
    char data[kMaxDatagram];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) ec = {errno, std::system_category()};
      return std::nullopt;
    }
    const ucred* cred = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
        cred = reinterpret_cast<const ucred*>(CMSG_DATA(c));
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // Nobody may hand us fds through this socket: close them.
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int passed = -1;
          std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          ::close(passed);
        }
      }
    }
    bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) > sizeof data;
    if (cred == nullptr || truncated || n == 0 || cred->pid <= 0) continue;  // rejected: next one
    Datagram d;
    d.sender = cred->pid;
    d.uid = cred->uid;
    d.message = parse_notify_datagram(std::string_view(data, static_cast<size_t>(n)));
    return d;
  }
}

bool is_in_tree(pid_t pid, pid_t root) {
  for (int depth = 0; depth < 128 && pid > 1; ++depth) {
    if (pid == root) return true;
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    char buf[512];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) return false;
    buf[n] = '\0';
    // "PID (COMM) STATE PPID ...": COMM may hold anything, so from the last ')'.
    const char* close = std::strrchr(buf, ')');
    if (close == nullptr) return false;
    std::string_view rest(close + 1);
    if (rest.size() < 2) return false;
    rest.remove_prefix(2);  // the blank and STATE
    size_t at = rest.find_first_not_of(" \t");
    int ppid = 0;
    if (at == std::string_view::npos ||
        std::from_chars(rest.data() + at, rest.data() + rest.size(), ppid).ec != std::errc()) {
      return false;
    }
    pid = ppid;
  }
  return false;
}

namespace notify_state {
std::string status(std::string_view text) { return "STATUS=" + std::string(text); }
std::string mainpid(pid_t pid) { return "MAINPID=" + std::to_string(pid); }
}  // namespace notify_state

}  // namespace welld
