// welld/readiness.hpp — knowing when a started daemon is ready, by protocol.
//
//   exec              the program was exec'd (spawn_daemon's own success)
//   notify            systemd's sd_notify: READY=1 on a private NOTIFY_SOCKET
//   fd[:N]            s6's notification fd: a newline on fd N (default 3, or
//                     the first fd after the --listen sockets)
//   tcp:[HOST:]PORT   a TCP connect succeeds (HOST default 127.0.0.1; [v6])
//   unix:PATH         a connect to the unix socket PATH succeeds
//   file:PATH         PATH exists (inotify on its directory, no polling)
//
// Use: prepare(options) before spawn_daemon (it adds NOTIFY_SOCKET or the
// pipe to the options), spawned() right after a successful spawn, then wait().
// Everything is event-driven: wait() polls the daemon's pidfd, the protocol's
// fd and a caller's cancel fd together; only tcp and unix retry connects, with
// a bounded backoff (1 ms doubling to 100 ms) that still wakes on those fds.
// The waiter never kills anything: on failure the caller cleans up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "welld/daemon.hpp"
#include "welld/notify.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

enum class ReadyMode { exec, notify, fd, tcp, unix_socket, file };

struct ReadySpec {
  ReadyMode mode = ReadyMode::exec;
  int fd = -1;       // fd mode: the daemon's fd number (-1: default)
  std::string host;  // tcp: numeric IPv4/IPv6 address
  int port = 0;      // tcp
  std::string path;  // unix, file (absolute once prepared)
};

/// Parse a --ready value. Total; errors name the expected forms.
std::optional<ReadySpec> parse_ready_spec(std::string_view text, std::string* error = nullptr);

enum class ReadyOutcome {
  ready,      // the daemon is ready
  exited,     // the daemon exited first (wait_status, when it was our child)
  timed_out,  // the timeout passed (EXTEND_TIMEOUT_USEC may have extended it)
  failed,     // the daemon reported failure (ERRNO=), or the fd closed without a newline
  cancelled,  // cancel_fd became readable
  error,      // welld could not wait (error says why)
};

struct ReadyResult {
  ReadyOutcome outcome = ReadyOutcome::error;
  int wait_status = -1;  // exited: raw status, -1 when unknown
  int daemon_errno = 0;  // failed: the ERRNO= value
  pid_t main_pid = -1;   // notify: a MAINPID= accepted from the daemon's tree
  std::error_code error;
  std::string message() const;  // one line
};

class ReadinessWaiter {
 public:
  explicit ReadinessWaiter(ReadySpec spec) : spec_(std::move(spec)) {}

  /// Create what the daemon needs before the fork and add it to `options`.
  /// `first_free_fd` is the lowest fd number not taken by options.pass_fds.
  std::error_code prepare(Options& options, int first_free_fd = 3);

  /// After a successful spawn: drop the caller's copy of the daemon's end.
  void spawned();

  /// Wait for readiness of `daemon` (its pidfd is taken here). `on_status`
  /// receives sd_notify STATUS= texts as they arrive.
  ReadyResult wait(pid_t daemon, std::chrono::milliseconds timeout, int cancel_fd,
                   const std::function<void(std::string_view)>& on_status = {});

  const ReadySpec& spec() const noexcept { return spec_; }

 private:
  ReadySpec spec_;
  NotifyServer notify_;
  UniqueFd pipe_read_;
  UniqueFd pipe_write_;
  std::string socket_dir_;  // private directory of a path notify socket
};

}  // namespace welld
