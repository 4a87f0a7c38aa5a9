// welld/readiness.hpp — knowing when a started daemon is ready, by protocol.
//
//   exec              the program was exec'd (spawn_daemon's own success)
//   notify            systemd's sd_notify: READY=1 on a private NOTIFY_SOCKET
//   fd[:N]            s6's notification fd: a newline on fd N (default 3, or
//                     the first fd after the --listen sockets)
//   tcp:[HOST:]PORT   a TCP connect succeeds (HOST default 127.0.0.1; [v6])
//   unix:PATH         a connect to the unix socket PATH succeeds
//   file:PATH         PATH exists (inotify on its directory, no polling)
//   forking           systemd's Type=forking (welld's --forking
//                     --program-pidfile PATH): the program forks its real
//                     server and its own process exits 0; ready once PATH, the
//                     program's own PID file, names a new process of its tree
//                     (see "Forking" below). Not a --ready value.
//
// Use: check_not_ready() before anything else (before binding listen
// sockets), prepare(options) before spawn_daemon (it adds NOTIFY_SOCKET or the
// pipe to the options), spawned() right after a successful spawn, then wait().
// start.hpp's start_daemon does all of it.
//
// Probes (tcp, unix, file) are only the daemon's: a check that is already true
// before the start is refused (check_not_ready), a probe success counts only
// while the daemon is alive, and for tcp and unix the listening socket must be
// held by one of daemon_processes(): its inode (/proc/net/tcp, tcp6, unix) is
// matched against their fds, or for unix the listener's SO_PEERCRED pid is one
// of them. A listener of another process never counts.
// Everything is event-driven: wait() polls the daemon's pidfd, the protocol's
// fd and a caller's cancel fd together; only tcp and unix retry connects, with
// a bounded backoff (1 ms doubling to 100 ms) that still wakes on those fds.
// Without pidfd_open (Linux before 5.3, valgrind) the daemon is pinned by its
// /proc/PID directory, which does not poll: wait() then looks at the daemon's
// state after every wake-up, with the same backoff, so without pidfd_open an
// exit is noticed within 100 ms (and a long wait wakes ten times a second).
// The exit status is still collected when the daemon is the caller's child.
// The waiter never kills anything: on failure the caller cleans up, through
// the processes the waiter pinned (daemon(), main_process()), never by number.
//
// Forking: the program's PID file is data from the daemon, never trusted
// (read_program_pidfile in pidfile.hpp refuses a symbolic link, a file that
// is not regular, hard-linked, owned by anyone but root, the caller or the
// daemon's user, or writable by group or others). Its PID counts only when it
// names a process of the daemon (daemon_processes(): with adopt_orphans, the
// daemon's orphans are the caller's children) that started no earlier than
// the daemon and is not the caller: it is pinned first (pidfd, start time),
// checked after, and becomes main_process(), as an accepted MAINPID= does.
// Until the daemon's own process has exited, nothing is read; a non-zero exit
// (or one whose status cannot be known) is outcome exited. After an exit 0
// the file is read on every change of its directory (inotify; where the
// directory does not exist yet, every 100 ms at most) until it names such a
// process, or the timeout: ReadyResult::reason then says what the file said
// (missing, refused, a PID that is not the daemon's). When nothing of the
// daemon is left to write it, the wait ends at once (exited, status 0).
//
// sd_notify datagrams are untrusted (the daemon may be hostile after its
// privilege drop). Only datagrams from the daemon's tree count. A MAINPID=
// is pinned the moment it is accepted: a pidfd and the start time read right
// then, and the "is it in the daemon's tree" check runs after pinning, so it
// applies to the pinned process. A main process that has exited by READY=1
// (its PID may belong to anyone by then) is dropped: the result then names
// no main process and the caller keeps the daemon's own PID. The drain of
// queued datagrams is bounded per wake-up, so a flood cannot hold wait()
// past its deadline, a cancel or the daemon's exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "welld/daemon.hpp"
#include "welld/notify.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"
#include "welld/unique_fd.hpp"

struct pollfd;  // <poll.h>

namespace welld {

enum class ReadyMode { exec, notify, fd, tcp, unix_socket, file, forking };

struct ReadySpec {
  ReadyMode mode = ReadyMode::exec;
  int fd = -1;       // fd mode: the daemon's fd number (-1: default)
  std::string host;  // tcp: numeric IPv4/IPv6 address
  int port = 0;      // tcp
  std::string path;  // unix, file, forking: the program's PID file (absolute once prepared)
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
  pid_t main_pid = -1;   // notify: a MAINPID= accepted from the daemon's tree (pinned: main_process())
  unsigned long long main_start_time = 0;  // its start time, read when it was pinned
  std::error_code error;
  std::string reason;           // forking, not ready: what the program's PID file said (one line)
  std::string message() const;  // one line
};

/// What a watched fd's handler wants next (see ReadyWatch).
enum class WatchAction {
  keep,    // go on watching the fd
  drop,    // stop watching it for the rest of this wait (it would stay readable: a log that cannot be written)
  cancel,  // end the wait now, as cancel_fd does (outcome cancelled)
};

/// An fd of the caller's own loop that wait() serves while it waits (a
/// supervisor's log pipe and signal fd): whenever `fd` is readable, `on_ready`
/// runs. It runs on the waiting thread, between polls.
struct ReadyWatch {
  int fd = -1;
  std::function<WatchAction()> on_ready;
};

class ReadinessWaiter {
 public:
  explicit ReadinessWaiter(ReadySpec spec) : spec_(std::move(spec)) {}
  ~ReadinessWaiter();
  ReadinessWaiter(const ReadinessWaiter&) = delete;
  ReadinessWaiter& operator=(const ReadinessWaiter&) = delete;
  ReadinessWaiter(ReadinessWaiter&&) = delete;
  ReadinessWaiter& operator=(ReadinessWaiter&&) = delete;

  /// Refuse a probe that is already satisfied before the daemon exists: for
  /// tcp and unix, something accepts a connection (EADDRINUSE); for file, the
  /// file exists (EEXIST). unreachable_reason() then says what. Call it before
  /// binding listen sockets of the same address. Other modes: always empty.
  std::error_code check_not_ready();

  /// Create what the daemon needs before the fork and add it to `options`.
  /// `first_free_fd` is the lowest fd number not taken by options.pass_fds;
  /// -1 (the default) computes it: 3, or the fd after the highest pass_fds.
  /// Errors: EBUSY when fd:N names an fd that options.pass_fds already fills
  /// (the --listen sockets at 3, 4, ...); for notify:/PATH with options.user
  /// set, EACCES when that user cannot search a directory on the way to PATH
  /// (unreachable_reason() says which), and the errors of resolving the user.
  /// A path socket is then handed to the daemon's user: owner uid:gid, mode
  /// 0600, so only that user and root can send to it.
  std::error_code prepare(Options& options, int first_free_fd = -1);

  /// After prepare() failed with EACCES: e.g. "user www cannot reach the
  /// socket: no search permission on /run/private"; after check_not_ready()
  /// failed: e.g. "something already accepts connections on 127.0.0.1:80".
  const std::string& unreachable_reason() const noexcept { return unreachable_; }

  /// Make the caller a child subreaper until the waiter is destroyed. Call it
  /// before spawn_daemon: a descendant of the daemon whose parent exits is
  /// then adopted by the caller instead of init, so the forking hand-off
  /// (MAINPID=child, READY=1, exit) keeps the child in the daemon's tree
  /// whatever the timing. wait() accepts MAINPID= and datagrams from the
  /// caller's descendants (never from the caller itself) and reaps every
  /// adopted process that exits. Only for a launcher whose only children are
  /// the daemon and what it leaves behind (welld start): other children of
  /// the caller would be reaped too. When the caller exits, what it adopted
  /// goes on to init (or the next subreaper) as usual.
  std::error_code adopt_orphans();

  /// After a successful spawn: drop the caller's copy of the daemon's end.
  void spawned();

  /// Wait for readiness of `daemon` (its pidfd is taken here). `on_status`
  /// receives sd_notify STATUS= texts as they arrive; `watch` are served
  /// meanwhile (see ReadyWatch).
  ReadyResult wait(pid_t daemon, std::chrono::milliseconds timeout, int cancel_fd,
                   const std::function<void(std::string_view)>& on_status = {},
                   const std::vector<ReadyWatch>& watch = {});

  const ReadySpec& spec() const noexcept { return spec_; }

  /// The notify socket (notify mode, after prepare()), handed to the caller:
  /// the daemon's NOTIFY_SOCKET then stays open as long as the caller keeps it.
  NotifyServer take_notify() noexcept { return std::move(notify_); }

  /// The daemon, pinned by wait() (empty before, or when it could not be).
  /// Still valid after wait() reaped it: a signal then fails with ESRCH and
  /// never reaches a process that reused the PID.
  const Process& daemon() const noexcept { return daemon_; }
  /// The accepted MAINPID= process, pinned when accepted; empty when none was
  /// accepted or it was dropped.
  const Process& main_process() const noexcept { return main_; }

  /// The processes of the daemon, read now from /proc (never the caller):
  /// the daemon and its descendants; with adopt_orphans, every descendant of
  /// the caller (orphans of the daemon's tree are the caller's children);
  /// and the processes of the daemon's session started no earlier than the
  /// daemon. Each with its start time, for pinning. Empty before wait().
  std::vector<ProcessIdentity> daemon_processes() const;

 private:
  // What a wake-up of wait() heard on the protocol's fd.
  enum class Heard {
    nothing,        // nothing final: look at the daemon and the cancel fd
    ready,          // READY=1, or a newline on the fd
    failed,         // ERRNO=, or the fd closed without a newline while the daemon lives
    daemon_exited,  // the fd closed because the daemon exited
    recheck,        // the watched directory changed: probe again
  };

  std::error_code prepare_notify(Options& options);
  std::error_code prepare_fd(Options& options, int first_free_fd);
  struct Waiting;  // one wait()'s state (readiness.cpp)
  std::error_code pin_daemon(pid_t daemon);
  bool probe_ready(bool daemon_gone) const;
  std::optional<ReadyOutcome> wake(Waiting& w);
  std::optional<ReadyOutcome> events(Waiting& w, std::vector<pollfd>& p);
  ReadyResult finish(Waiting& w, ReadyOutcome outcome);
  Heard heard(Waiting& w);
  Heard heard_notify(Waiting& w);
  Heard heard_fd();
  int exit_status(pid_t daemon);
  void accept_main_pid(pid_t pid, pid_t daemon, ReadyResult& result);
  bool from_daemon(pid_t pid, pid_t daemon) const;
  void reap_adopted(pid_t daemon);
  bool probe_is_daemons(const UniqueFd& connected) const;
  bool is_daemons(pid_t pid) const;
  // Forking (readiness_forking.cpp).
  std::error_code prepare_forking(Options& options);
  bool forking_main_found(ReadyResult& result);
  std::optional<ReadyOutcome> forking_parent_exited(Waiting& w);
  std::optional<ReadyOutcome> forking_check(Waiting& w);

  ReadySpec spec_;
  NotifyServer notify_;
  UniqueFd pipe_read_;
  UniqueFd pipe_write_;
  Process daemon_;
  Process main_;
  bool subreaper_set_ = false;  // we turned PR_SET_CHILD_SUBREAPER on (and turn it off)
  bool adopting_ = false;       // the caller is a subreaper: its descendants are the daemon's
  int daemon_status_ = -1;      // the daemon's wait status when reap_adopted reaped it
  bool daemon_reaped_ = false;
  pid_t daemon_pid_ = -1;                     // as given to wait()
  pid_t session_ = -1;                        // the daemon's session, read when it was pinned
  unsigned long long daemon_start_time_ = 0;  // its start time, read then
  std::string unreachable_;
  uid_t daemon_uid_ = 0;           // forking: the daemon's user (its PID file may be its own)
  bool parent_exited_ok_ = false;  // forking: the daemon's own process exited 0
};

}  // namespace welld
