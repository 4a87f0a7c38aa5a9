// sd_notify(3) client: one datagram to the AF_UNIX socket in NOTIFY_SOCKET.
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "after_fork.hpp"
#include "sockaddr.hpp"
#include "welld/notify.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

std::error_code notify_socket(std::string_view socket, std::string_view state) {
  // A leading '@' names an abstract socket: the address starts with a NUL.
  auto address = notify_socket_address(socket);
  if (!address) return {EINVAL, std::system_category()};
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return {errno, std::system_category()};
  ssize_t n;
  do {
    n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, address->get(), address->length);
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

namespace {

// A decimal of at most `max`, else nothing (the one decimal parser).
std::optional<long long> bounded_number(std::string_view v, long long max) {
  unsigned long long n = 0;
  if (!detail::parse_decimal(v.data(), v.size(), n) || n > static_cast<unsigned long long>(max)) return std::nullopt;
  return static_cast<long long>(n);
}

// One KEY=VALUE of a datagram into `m`; false when it is not understood.
bool apply_assignment(std::string_view key, std::string_view value, NotifyMessage& m) {
  if (key == "READY") m.ready = value == "1";
  else if (key == "RELOADING") m.reloading = value == "1";
  else if (key == "STOPPING") m.stopping = value == "1";
  else if (key == "WATCHDOG") {
    m.watchdog = value == "1";
    m.watchdog_trigger = value == "trigger";
  } else if (key == "WATCHDOG_USEC") {
    auto n = bounded_number(value, 1LL << 50);
    if (!n) return false;
    m.watchdog_usec = *n;
  } else if (key == "STATUS") m.status = std::string(value);
  else if (key == "ERRNO") {
    auto n = bounded_number(value, 4095);
    if (!n) return false;
    m.errno_value = static_cast<int>(*n);
  } else if (key == "MAINPID") {
    auto n = bounded_number(value, 0x7fffffff);
    if (!n || *n <= 1) return false;
    m.main_pid = static_cast<pid_t>(*n);
  } else if (key == "EXTEND_TIMEOUT_USEC") {
    auto n = bounded_number(value, 1LL << 50);
    if (!n) return false;
    m.extend_timeout_us = *n;
  } else {
    return false;
  }
  return true;
}

}  // namespace

NotifyMessage parse_notify_datagram(std::string_view data) {
  NotifyMessage m;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0 || !apply_assignment(line.substr(0, eq), line.substr(eq + 1), m)) {
      ++m.ignored;
    }
  }
  return m;
}

void NotifyServer::close() noexcept {
  // A path socket is ours to remove; an abstract one vanishes with the fd.
  if (fd_ && !address_.empty() && address_.front() == '/') ::unlink(address_.c_str());
  fd_.reset();
  address_.clear();
}

NotifyServer::~NotifyServer() { close(); }

NotifyServer::NotifyServer(NotifyServer&& other) noexcept
    : address_(std::move(other.address_)), fd_(std::move(other.fd_)) {
  other.address_.clear();
}

NotifyServer& NotifyServer::operator=(NotifyServer&& other) noexcept {
  if (this != &other) {
    close();
    address_ = std::move(other.address_);
    fd_ = std::move(other.fd_);
    other.address_.clear();
  }
  return *this;
}

std::error_code NotifyServer::open(const std::string& address, NotifyServer& out) {
  std::string name = address;
  if (name.empty()) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    name = "@welld/notify/" + std::to_string(::getpid()) + "/" + std::to_string(now.tv_nsec);
  }
  auto socket_address = notify_socket_address(name);
  if (!socket_address) return {EINVAL, std::system_category()};
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return {errno, std::system_category()};
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return {errno, std::system_category()};
  if (::bind(fd.get(), socket_address->get(), socket_address->length) != 0) return {errno, std::system_category()};
  out.address_ = name;
  out.fd_ = std::move(fd);
  return {};
}

namespace {

// The SCM_CREDENTIALS of a received message, or null. Fds passed with it
// (SCM_RIGHTS) are closed: nobody may hand us fds through this socket.
const ucred* credentials_of(msghdr& msg) {
  const ucred* cred = nullptr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      cred = reinterpret_cast<const ucred*>(CMSG_DATA(c));
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        ::close(passed);
      }
    }
  }
  return cred;
}

}  // namespace

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
    const ucred* cred = credentials_of(msg);
    bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) > sizeof data;
    if (cred == nullptr || truncated || n == 0 || cred->pid <= 0) continue;  // rejected: next one
    Datagram d;
    d.sender = cred->pid;
    d.uid = cred->uid;
    d.message = parse_notify_datagram(std::string_view(data, static_cast<size_t>(n)));
    return d;
  }
}

namespace notify_state {
std::string status(std::string_view text) { return "STATUS=" + std::string(text); }
std::string mainpid(pid_t pid) { return "MAINPID=" + std::to_string(pid); }
}  // namespace notify_state

}  // namespace welld
