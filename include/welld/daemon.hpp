// welld/daemon.hpp — daemonize the calling program, or run it in the foreground.
//
//   auto st = welld::daemonize({.pidfile = "/run/web.pid", .user = "www"},
//                              [] { return open_sockets(); },   // in the daemon
//                              [] { return serve(); });         // in the daemon
//   if (!st) { std::fprintf(stderr, "%s\n", st.message().c_str()); return 1; }
//   return 0;   // original process: the daemon is initialized
//
// daemonize() performs the fifteen steps of daemon(7) (see welld/step.hpp) and
// returns in the *original* process once the daemon reported that `init`
// succeeded, or with the step that failed and its errno (or init's own code).
// `init` and `run` execute only in the daemon; daemonize never returns there.
//
// Where each step runs. Steps 1-4 (close fds, reset signals and mask, clean
// the environment) are done in the first child rather than in the caller:
// daemonize returns to its caller, whose fds, handlers and environment must
// survive. Everything that can fail for a reason the caller controls (paths,
// user names, option conflicts) is checked before the first fork (Step::prepare
// or the step it concerns); everything after fork is async-signal-safe, except
// the caller's own `init` and `run`.
//
// Gotchas:
//  * Call daemonize before starting threads: after fork only the calling thread
//    exists in the daemon, and `init` runs there.
//  * Signal handlers installed before daemonize are reset in the daemon (step 2);
//    install them in `init` (welld::ServiceLoop does).
//  * A relative pidfile, stdout or stderr path is resolved against the caller's
//    working directory before anything forks (the daemon then chdirs); when
//    that directory cannot be named (deleted, longer than PATH_MAX) the call
//    fails instead. The directories of the PID file and the logs must be a
//    trusted chain (see welld/pidfile.hpp, "Trust"); they are opened before
//    the fork and the daemon writes through those fds. With a chroot, daemonize and
//    run_foreground close the PID file's host directory before `init` (an
//    open fd to it would let the daemon leave the chroot), so the file stays
//    behind at exit as a stale file (its identity no longer matches).
//  * Step 4 overwrites, in the daemon, the bytes of every dropped variable in
//    the original environment block (what /proc/PID/environ shows): a
//    pointer from getenv() kept from before daemonize then reads "" for a
//    dropped variable. It needs /proc/self/stat (Step::sanitize_environment
//    otherwise).
//  * Failure leaves nothing behind: on error the daemon has exited and the PID
//    file (if it wrote one) is removed before daemonize returns.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "welld/environment.hpp"
#include "welld/fds.hpp"
#include "welld/path.hpp"
#include "welld/resource_limit.hpp"
#include "welld/step.hpp"

namespace welld {

/// An fd of the caller that the daemon receives at a chosen number, without
/// close-on-exec (socket activation puts sockets at 3, 4, ...; s6's readiness
/// protocol puts a pipe at the fd the service expects).
struct FdMapping {
  int from = -1;
  int to = -1;
};

/// What the child does about its session and process group (step 6) when it
/// stays the caller's child (Options::detach = false). A detached daemon
/// always gets a new session.
enum class SessionMode {
  new_session,        // setsid(): its own session and process group, no controlling terminal
  new_process_group,  // setpgid(0, 0): its own process group in the caller's session
  inherit,            // nothing: the caller's session and process group (and terminal)
};

struct Options {
  std::string pidfile;              // empty: no PID file
  std::string chdir;                // empty: "/"
  std::optional<mode_t> umask;      // default 0 (daemon(7)); welld start uses 022
  std::string stdout_path;          // empty: /dev/null; else appended to (created 0640)
  std::string stderr_path;          // empty: /dev/null; else appended to
  EnvironmentPolicy environment;    // default: allowlist only
  bool keep_environment = false;    // opt out of step 4 entirely
  std::vector<int> keep_fds;        // fds that survive step 1
  std::vector<FdMapping> pass_fds;  // fds placed at fixed numbers in the daemon (to >= 3)
  bool listen_pid = false;          // set LISTEN_PID to the daemon's own PID (sd_listen_fds)
  bool watchdog_pid = false;        // set WATCHDOG_PID to the daemon's own PID (sd_watchdog_enabled)
  CloseMethod close_method = CloseMethod::automatic;
  std::string user;   // empty: keep the current user
  std::string group;  // empty: the user's primary group
  // Supplementary groups after the drop: unset means the user's own (as
  // initgroups(3) sets them); an empty list means none.
  std::optional<std::vector<std::string>> supplementary_groups;
  std::vector<std::string> keep_caps;  // e.g. "cap_net_bind_service"; needs `user`
  // chroot(2) into this directory after the PID file and logs are opened:
  // pidfile, stdout_path and stderr_path are host paths; chdir and the program
  // path (spawn_daemon) are inside the new root.
  std::string chroot;
  bool no_new_privs = false;           // PR_SET_NO_NEW_PRIVS in the daemon
  std::optional<int> nice;             // setpriority(2) before the drop
  std::vector<ResourceLimit> rlimits;  // setrlimit(2) before the drop
  // When true, the caller is a child subreaper while daemonize runs, so that a
  // daemon dying before it reports can be reaped and its exit status given.
  // The daemon then stays the caller's child until the caller exits: use it in
  // launchers that exit right after (welld start does), not in long-lived ones.
  bool collect_exit_status = false;
  // false: the program stays the caller's own child (see "Foreground spawn"
  // at spawn_daemon): one fork, no second fork, no intermediate.
  bool detach = true;
  // Step 6 for a child that stays the caller's (detach = false); with
  // detach, anything but new_session is refused.
  SessionMode session = SessionMode::new_session;
  // Only with detach = false (else refused): the signal the child gets when
  // the caller's thread that spawned it exits (PR_SET_PDEATHSIG); 0: none.
  int parent_death_signal = 0;
  // Only with detach = false (else refused): fds 0, 1 and 2 stay what the
  // caller has (its terminal, say) instead of /dev/null, where no path or fd
  // is given for them.
  bool inherit_stdio = false;
  // A caller's fd that becomes the daemon's fd 1 / fd 2 in step 9 (a pipe the
  // caller reads, for a log), detached or not: -1 for none. Not together with
  // the matching *_path. The caller keeps its own fd; the daemon gets a copy.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Stop settings recorded beside the PID file's identity, so that stop,
  // reload and restart use them unless told otherwise (0: not recorded; the
  // control verbs' own defaults apply). Only with a pidfile.
  int stop_signal = 0;
  std::chrono::milliseconds stop_timeout{0};
  int reload_signal = 0;
};

/// Outcome of daemonize / spawn_daemon, in the original process.
struct Status {
  Step step = Step::none;  // Step::none on success
  int error = 0;           // errno of the failed step; init's code for Step::init
  pid_t pid = -1;          // the daemon's PID, when one was created
  pid_t holder = -1;       // with a pidfile EEXIST: the PID already running
  int wait_status = -1;    // raw waitpid status when the daemon died and was reaped
  std::string subject;     // what the step was about (a path, a user name)
  std::string detail;      // why welld itself refused (an unsafe directory...)

  explicit operator bool() const noexcept { return step == Step::none; }
  bool already_running() const noexcept { return step == Step::pidfile && error == EEXIST; }
  std::error_code step_code() const noexcept { return make_error_code(step); }
  std::error_code errno_code() const noexcept { return {error, std::system_category()}; }
  /// One line, e.g. "cannot write the PID file /run/x.pid: Permission denied".
  std::string message() const;
};

using InitFn = std::function<int()>;  // 0 on success, else a code reported to the caller
using RunFn = std::function<int()>;   // the daemon's exit status

/// Daemonize (see the top of this file).
Status daemonize(const Options& options, const InitFn& init, const RunFn& run);

/// The same fifteen steps, then execve(argv[0] resolved through the daemon's
/// PATH, argv, the sanitized environment) in the daemon instead of callbacks.
/// Success means the exec happened; Status::pid is the program's PID.
/// Unlike daemonize, it copies nothing of the caller: the intermediate and
/// the daemon are created as posix_spawn creates a child (clone with
/// CLONE_VM | CLONE_VFORK, on stacks of their own), and the calling thread
/// sleeps until the daemon has exec'd or failed. Safe to call from a
/// multi-threaded program; calls from several threads take turns.
///
/// Foreground spawn (Options::detach = false), for a supervisor or a
/// foreground `welld run`: the program stays the caller's own child. One
/// child is made (the same clone, the same rules): steps 1-4, step 6 as
/// Options::session says (a failed setpgid is reported as Step::setsid), no
/// second fork (Step::fork_again never happens), steps 9-13, then exec.
/// Status::pid is that child. On success spawn_daemon does not reap it: the
/// caller owns it and must wait for it (waitpid, or a pidfd), and gets its
/// real exit status. On failure it has been reaped: nothing is left. The PID
/// file's service record names the child's session only when it has one of
/// its own (SessionMode::new_session): stop never ends the caller's session.
/// daemonize takes detach = false too: returns once `init` succeeded, with
/// the child not reaped.
///
/// Options::parent_death_signal (detach = false only): the child sets
/// PR_SET_PDEATHSIG after the privilege drop (a credential change clears it),
/// then exits without exec if the caller has already died (its parent is no
/// longer the caller). Gotchas (prctl(2)):
///  * the "parent" is the caller's *thread* that called spawn_daemon: when
///    that thread exits, the child gets the signal although the process
///    lives on. Spawn from a thread that lives as long as the children.
///  * exec of a set-user-ID or set-group-ID program, or of one with file
///    capabilities, clears it: such a program is not signalled.
///  * it is not inherited by the program's own children.
/// Failing to set it (EINVAL: not a signal) is refused before the fork.
Status spawn_daemon(const Options& options, const std::vector<std::string>& argv);

/// Foreground mode for systemd, s6 and containers: no fork, no setsid, fds
/// left to the manager. Applies step 4 (the environment policy, in this
/// process: see welld/environment.hpp; the manager's NOTIFY_SOCKET, LISTEN_PID,
/// LISTEN_FDS, LISTEN_FDNAMES, WATCHDOG_PID and WATCHDOG_USEC are kept;
/// keep_environment leaves the environment alone), umask, chdir, the PID file
/// and the privilege drop, runs `init`, then reports readiness (sd_notify
/// READY=1 when NOTIFY_SOCKET is set), runs `run`, sends STOPPING=1 and removes
/// the PID file. Returns the failed step as a Status; on success the Status is
/// ok and `*exit_status` (when non-null) receives run's return value.
/// Options that only make sense with forking (stdio, fds, detach, session,
/// parent_death_signal) are ignored here: the manager decides them.
Status run_foreground(const Options& options, const InitFn& init, const RunFn& run, int* exit_status = nullptr);

}  // namespace welld
