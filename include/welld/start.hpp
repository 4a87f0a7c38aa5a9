// welld/start.hpp — start a program as a daemon, as one transaction.
//
//   welld::StartResult r = welld::start_daemon({
//       .options = {.pidfile = "/run/redis.pid", .user = "redis"},
//       .command = {"/usr/bin/redis-server", "--supervised", "systemd"},
//       .ready = {.mode = welld::ReadyMode::notify},
//   });
//   if (!r) { std::fprintf(stderr, "%s\n", r.message.c_str()); return 1; }
//
// start_daemon is what `welld start` does, with no printing: bind the listen
// sockets (before anything forks, so "address in use" comes first and a
// privileged port needs no privilege later), refuse a readiness check that is
// already true, prepare readiness (the readiness fd goes after the sockets
// unless the request names one), spawn_daemon, wait for readiness, record an
// accepted MAINPID= in the PID file (the pinned identity), and roll back on
// any failure. It returns once the daemon is ready (outcome started) or when
// nothing it created is left: no process, no PID file, no socket.
//
// Rollback goes through control.hpp's stop_process (the one stop sequence):
// the pinned main process and daemon get request.rollback.signal, then
// SIGKILL after rollback.timeout; then every process left of the daemon (see
// ReadinessWaiter::daemon_processes: its descendants, the processes adopted
// while the caller is a subreaper, and its session) is stopped the same way.
// A process is signalled only through a pidfd pinned with its start time.
//
// A main process that exits before it is ready and leaves other processes
// behind (a server started without its foreground flag: nginx without
// "daemon off;", which forks and calls setsid) is reported as
// daemonized_itself; those processes are stopped. Only a caller that is a
// subreaper (adopt_orphans) sees processes that left the session.
//
// A self-forking program (ready.mode forking, systemd's Type=forking): its
// own process must exit 0, then its own PID file (ready.path) must name a new
// process of its tree (readiness.hpp, "Forking"), which is recorded in the
// PID file as an accepted MAINPID= is, and is StartResult::main. Its parent's
// exit is collected whatever collect_exit_status says. With adopt_orphans
// its server is found wherever it went; without, only in the daemon's
// session. The two PID files must differ (invalid).
//
// When the program exits before it is ready and its output goes to a file,
// StartResult::output_tail holds its last lines written since this start
// (at most 4 KiB read, at most 10 lines, made terminal-safe), and message
// ends with them. output_discarded says its output went to /dev/null.
//
// A foreground start (options.detach = false, see daemon.hpp "Foreground
// spawn"): the same transaction, with the program as the caller's own child.
// A program that exits before it is ready is reaped by the wait
// (ready.wait_status has its real status) and a rollback reaps what it stops:
// after any failed start no zombie is left. On success the caller owns the
// child (status.pid) and must wait for it; after a MAINPID= hand-off to
// another process (main.pid != status.pid) the child may already have
// exited: it is still the caller's to reap. The caller's own session is
// never taken for the daemon's (not for readiness, not for a rollback),
// whatever options.session says.
//
// Gotchas:
//  * adopt_orphans makes the caller a child subreaper during the start and
//    reaps every child of the caller that exits meanwhile: only for a
//    launcher whose only children are its daemons (welld start). Without it
//    notify's forking hand-off (MAINPID=child, then exit) still works when
//    the child is still in the daemon's tree, and self-daemonizing programs
//    are found only through their session.
//  * cancel_fd: when it becomes readable the start rolls back and returns
//    cancelled. welld start passes the eventfd its signal handlers write to
//    (tools/welld/interrupts.hpp); a library caller may pass any fd of its
//    own (a pipe, an eventfd, a signalfd). It is also checked right before
//    the spawn and right after it (a cancel during the spawn rolls back).
//  * Options::collect_exit_status is the caller's choice; welld start sets it.
//    It changes nothing for a foreground start, whose child is the caller's.
//  * adopt_orphans with a foreground start is allowed and works the same:
//    the daemon's orphans come to the caller, and every descendant of the
//    caller counts as the daemon's (for MAINPID=, for a rollback, and the
//    reaping during the wait). A supervisor with other children must not use
//    it: their exits would be reaped by start_daemon, and a failed start
//    would stop them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "welld/control.hpp"
#include "welld/daemon.hpp"
#include "welld/listen.hpp"
#include "welld/pidfile.hpp"
#include "welld/readiness.hpp"

namespace welld {

struct StartRequest {
  Options options;                   // the fifteen steps (pass_fds gains the sockets and the readiness fd)
  std::vector<std::string> command;  // argv; argv[0] resolved through the daemon's PATH
  std::vector<ListenSpec> listen;    // bound here, passed as LISTEN_FDS from fd 3
  ReadySpec ready;                   // default: exec
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(60);
  int cancel_fd = -1;                               // -1: none (see the top of this file)
  std::vector<ReadyWatch> watch;                    // the caller's fds served while waiting (readiness.hpp)
  std::vector<ListenFd> inherited_listen;           // sockets bound already (a supervisor's): after `listen`'s
  std::function<void(std::string_view)> on_status;  // sd_notify STATUS= texts (untrusted: see text.hpp)
  bool ok_if_running = false;                       // a live holder of the PID file is outcome already_running
  bool adopt_orphans = false;                       // be a child subreaper while waiting (see the top)
  // ready=notify: on success the notify socket is moved here instead of
  // closed, so that the daemon can go on talking to it for its whole life (a
  // supervisor's watchdog); null: closed once the start is over.
  NotifyServer* keep_notify = nullptr;
  StopPolicy rollback = {
      .signal = SIGTERM, .timeout = std::chrono::seconds(10), .kill_timeout = std::chrono::seconds(10)};
};

enum class StartOutcome {
  started,            // ready; main is the process recorded in the PID file
  already_running,    // ok_if_running and the PID file names a live daemon (status.holder)
  invalid,            // the request contradicts itself (e.g. fd:N on a listen socket): nothing was done
  not_prepared,       // a listen socket, the readiness check or the subreaper could not be set up
  spawn_failed,       // spawn_daemon failed (status: the step and errno)
  exited,             // the program exited before it was ready (ready.wait_status)
  daemonized_itself,  // ...and left processes behind: it forks into the background by itself
  not_ready,          // it reported failure (ERRNO=) or closed its readiness fd without a newline
  timed_out,          // not ready within ready_timeout (EXTEND_TIMEOUT_USEC= may extend it)
  cancelled,          // cancel_fd became readable
  wait_failed,        // welld could not wait (ready.error)
  record_failed,      // the accepted MAINPID= could not be recorded in the PID file
};

struct StartResult {
  StartOutcome outcome = StartOutcome::spawn_failed;
  // spawn_daemon's Status; before the spawn (invalid, not_prepared, cancelled)
  // {Step::prepare (the request, a socket: subject names it) or Step::ready
  // (the readiness check or its setup), errno}.
  Status status;
  ReadyResult ready;           // what the readiness wait saw
  ProcessIdentity main;        // started: the recorded process (pid, start time); else the daemon's PID
  std::vector<pid_t> stopped;  // the processes the rollback signalled (the daemon first)
  StopResult rollback{.outcome = StopOutcome::stopped};  // the worst of the rollback's stops: failed, killed, stopped
  std::vector<std::string> output_tail;                  // see the top of this file
  bool output_discarded = false;                         // stdout and stderr went to /dev/null
  std::string message;                                   // one line, no "welld:" prefix

  explicit operator bool() const noexcept {
    return outcome == StartOutcome::started || outcome == StartOutcome::already_running;
  }
};

/// The start transaction (see the top of this file).
StartResult start_daemon(const StartRequest& request);

/// "tcp:127.0.0.1:8080", "tcp:[::1]:8080", "unix:/run/x.sock": a listen spec as text.
std::string to_string(const ListenSpec& spec);

/// "fd:3", "tcp:127.0.0.1:80", ...: a readiness spec as --ready accepts it.
std::string to_string(const ReadySpec& spec);

}  // namespace welld
