// Readiness: see welld/readiness.hpp.
#include "welld/readiness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "pidfd.linux.hpp"
#include "quoted.hpp"

namespace welld {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

// A NUL would end the C string early: "127.0.0.1\0junk" is not an address.
bool numeric_address(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return host.find('\0') == std::string::npos &&
         (::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1);
}

std::string absolute(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof cwd) != nullptr ? std::string(cwd) + "/" + path : path;
}

// One connect attempt to the spec's tcp or unix address.
bool try_connect(const ReadySpec& spec) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_UNIX;
  if (spec.mode == ReadyMode::tcp) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, spec.host.c_str(), &v4->sin_addr) == 1) {
      family = v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(spec.port));
      len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, spec.host.c_str(), &v6->sin6_addr) == 1) {
      family = v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(spec.port));
      len = sizeof *v6;
    } else {
      return false;
    }
  } else {
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    un->sun_family = AF_UNIX;
    if (spec.path.size() >= sizeof un->sun_path) return false;
    std::memcpy(un->sun_path, spec.path.c_str(), spec.path.size() + 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + spec.path.size() + 1);
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::optional<ReadySpec> parse_ready_spec(std::string_view text, std::string* error) {
  ReadySpec spec;
  auto colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  std::string_view arg = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  bool has_arg = colon != std::string_view::npos;
  const std::string forms = " (exec, notify[:@NAME|PATH], fd[:N], tcp:[HOST:]PORT, unix:PATH, file:PATH)";
  if (kind == "exec" && !has_arg) {
    spec.mode = ReadyMode::exec;
  } else if (kind == "notify") {
    spec.mode = ReadyMode::notify;
    spec.path = std::string(arg);
    // NOTIFY_SOCKET, an environment string, cannot carry a NUL.
    if (has_arg && (arg.size() < 2 || arg.size() >= 100 || (arg.front() != '@' && arg.front() != '/') ||
                    arg.find('\0') != std::string_view::npos)) {
      set(error, "invalid --ready notify socket " + detail::quoted(arg, 100) + ": @NAME or an absolute path");
      return std::nullopt;
    }
  } else if (kind == "fd") {
    spec.mode = ReadyMode::fd;
    if (has_arg) {
      auto n = parse_port(arg);
      if (!n || *n < 3 || *n > 1024) {
        set(error, "invalid --ready fd number " + detail::quoted(arg, 20) + ": 3 to 1024");
        return std::nullopt;
      }
      spec.fd = *n;
    }
  } else if (kind == "tcp" && has_arg) {
    spec.mode = ReadyMode::tcp;
    spec.host = "127.0.0.1";
    std::string_view port = arg;
    if (!arg.empty() && arg.front() == '[') {
      auto close = arg.find(']');
      if (close == std::string_view::npos || close + 1 >= arg.size() || arg[close + 1] != ':') {
        set(error, "invalid --ready address " + detail::quoted(text, 100) + ": tcp:[ADDRESS]:PORT");
        return std::nullopt;
      }
      spec.host = std::string(arg.substr(1, close - 1));
      port = arg.substr(close + 2);
    } else if (auto c = arg.rfind(':'); c != std::string_view::npos) {
      spec.host = std::string(arg.substr(0, c));
      port = arg.substr(c + 1);
    }
    auto p = parse_port(port);
    if (!p || !numeric_address(spec.host)) {
      set(error, "invalid --ready address " + detail::quoted(text, 100) +
                     ": tcp:[HOST:]PORT with a numeric HOST and PORT 1-65535");
      return std::nullopt;
    }
    spec.port = *p;
  } else if ((kind == "unix" || kind == "file") && has_arg && !arg.empty() && arg.size() < 4096 &&
             arg.find('\0') == std::string_view::npos) {
    spec.mode = kind == "unix" ? ReadyMode::unix_socket : ReadyMode::file;
    spec.path = std::string(arg);
    if (spec.mode == ReadyMode::unix_socket && spec.path.size() >= sizeof(sockaddr_un::sun_path)) {
      set(error, "--ready unix path too long (at most 107 bytes)");
      return std::nullopt;
    }
  } else {
    set(error, "invalid --ready mode " + detail::quoted(text, 100) + forms);
    return std::nullopt;
  }
  return spec;
}

std::string ReadyResult::message() const {
  switch (outcome) {
    case ReadyOutcome::ready: return "ready";
    case ReadyOutcome::exited: {
      if (wait_status < 0) return "the daemon exited before it was ready";
      if (WIFEXITED(wait_status)) {
        return "the daemon exited with status " + std::to_string(WEXITSTATUS(wait_status)) + " before it was ready";
      }
      const char* name = ::sigabbrev_np(WTERMSIG(wait_status));
      return "the daemon was killed by signal " + std::to_string(WTERMSIG(wait_status)) +
             (name != nullptr ? std::string(" (SIG") + name + ")" : "") + " before it was ready";
    }
    case ReadyOutcome::timed_out: return "the daemon did not become ready in time";
    case ReadyOutcome::failed:
      if (daemon_errno > 0) {
        return "the daemon reported failure: ERRNO=" + std::to_string(daemon_errno) + " (" +
               std::system_category().message(daemon_errno) + ")";
      }
      return "the daemon closed its readiness fd without writing a newline";
    case ReadyOutcome::cancelled: return "interrupted while waiting for the daemon";
    case ReadyOutcome::error: return "cannot wait for readiness: " + error.message();
  }
  return "unknown";
}

std::error_code ReadinessWaiter::prepare(Options& options, int first_free_fd) {
  switch (spec_.mode) {
    case ReadyMode::exec:
    case ReadyMode::tcp: return {};
    case ReadyMode::unix_socket:
    case ReadyMode::file: spec_.path = absolute(spec_.path); return {};
    case ReadyMode::notify: {
      std::string address = spec_.path;
      if (!address.empty() && address.front() == '/') {
        // A path socket can be reached by whoever can reach the path: it is
        // the caller's choice; the credentials check still applies.
      }
      if (auto ec = NotifyServer::open(address, notify_)) return ec;
      options.environment.set.push_back("NOTIFY_SOCKET=" + notify_.address());
      return {};
    }
    case ReadyMode::fd: {
      if (spec_.fd < 0) spec_.fd = first_free_fd;
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) return {errno, std::system_category()};
      pipe_read_.reset(fds[0]);
      pipe_write_.reset(fds[1]);
      options.pass_fds.push_back({pipe_write_.get(), spec_.fd});
      return {};
    }
  }
  return {};
}

void ReadinessWaiter::spawned() { pipe_write_.reset(); }

ReadyResult ReadinessWaiter::wait(pid_t daemon, milliseconds timeout, int cancel_fd,
                                  const std::function<void(std::string_view)>& on_status) {
  ReadyResult result;
  if (spec_.mode == ReadyMode::exec) {
    result.outcome = ReadyOutcome::ready;
    return result;
  }
  UniqueFd pidfd(sys::pidfd_open(daemon, 0));
  if (!pidfd) {
    result.error = {errno, std::system_category()};
    return result;
  }
  UniqueFd inotify;
  std::string file_dir, file_name;
  if (spec_.mode == ReadyMode::file) {
    inotify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    auto slash = spec_.path.rfind('/');
    file_dir = slash == 0 ? "/" : spec_.path.substr(0, slash);
    if (!inotify || ::inotify_add_watch(inotify.get(), file_dir.c_str(),
                                        IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE) < 0) {
      result.error = {errno, std::system_category()};
      return result;
    }
  }
  int protocol_fd = spec_.mode == ReadyMode::notify ? notify_.fd()
                    : spec_.mode == ReadyMode::fd   ? pipe_read_.get()
                    : spec_.mode == ReadyMode::file ? inotify.get()
                                                    : -1;
  auto deadline = Clock::now() + timeout;
  milliseconds backoff(1);
  std::string fd_text;
  for (;;) {
    // Checks that need no event: a connect, a file already there.
    if ((spec_.mode == ReadyMode::tcp || spec_.mode == ReadyMode::unix_socket) && try_connect(spec_)) {
      result.outcome = ReadyOutcome::ready;
      return result;
    }
    if (spec_.mode == ReadyMode::file && file_exists(spec_.path)) {
      result.outcome = ReadyOutcome::ready;
      return result;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.outcome = ReadyOutcome::timed_out;
      return result;
    }
    milliseconds wait_for = left;
    if (spec_.mode == ReadyMode::tcp || spec_.mode == ReadyMode::unix_socket) {
      wait_for = std::min(left, backoff);
      backoff = std::min(backoff * 2, milliseconds(100));
    }
    pollfd p[3] = {{pidfd.get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}, {protocol_fd, POLLIN, 0}};
    int n = ::poll(p, 3, static_cast<int>(wait_for.count()));
    if (n < 0 && errno != EINTR) {
      result.error = {errno, std::system_category()};
      return result;
    }
    if (n <= 0) continue;
    if (p[2].revents != 0) {
      if (spec_.mode == ReadyMode::notify) {
        std::error_code ec;
        while (auto d = notify_.receive(ec)) {
          if (!is_in_tree(d->sender, daemon)) continue;  // not the daemon's: ignored
          const NotifyMessage& m = d->message;
          if (m.status && on_status) on_status(*m.status);
          if (m.main_pid && is_in_tree(*m.main_pid, daemon)) result.main_pid = *m.main_pid;
          if (m.extend_timeout_us) {
            auto extended = Clock::now() + std::chrono::microseconds(*m.extend_timeout_us);
            if (extended > deadline) deadline = extended;
          }
          if (m.errno_value) {
            result.outcome = ReadyOutcome::failed;
            result.daemon_errno = *m.errno_value;
            return result;
          }
          if (m.ready) {
            result.outcome = ReadyOutcome::ready;
            return result;
          }
        }
      } else if (spec_.mode == ReadyMode::fd) {
        char buf[256];
        ssize_t got = ::read(pipe_read_.get(), buf, sizeof buf);
        if (got > 0 && std::memchr(buf, '\n', static_cast<size_t>(got)) != nullptr) {
          result.outcome = ReadyOutcome::ready;
          return result;
        }
        if (got == 0) {
          // Closed without a newline. If the daemon died, say so instead.
          pollfd dead{pidfd.get(), POLLIN, 0};
          if (::poll(&dead, 1, 100) <= 0) {
            result.outcome = ReadyOutcome::failed;
            return result;
          }
          p[0].revents = POLLIN;
        }
      } else if (spec_.mode == ReadyMode::file) {
        char events[4096];
        while (::read(inotify.get(), events, sizeof events) > 0) {
        }
        continue;  // re-check existence at the top
      }
    }
    if (p[0].revents != 0) {
      result.outcome = ReadyOutcome::exited;
      siginfo_t info{};
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info, WEXITED) == 0 &&
          info.si_pid == daemon) {
        result.wait_status = info.si_code == CLD_EXITED   ? W_EXITCODE(info.si_status, 0)
                             : info.si_code == CLD_DUMPED ? (info.si_status | 0x80)
                                                          : info.si_status;
      }
      return result;
    }
    if (p[1].revents != 0) {
      result.outcome = ReadyOutcome::cancelled;
      return result;
    }
  }
}

}  // namespace welld
