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
//    working directory before anything forks (the daemon then chdirs).
//  * Failure leaves nothing behind: on error the daemon has exited and the PID
//    file (if it wrote one) is removed before daemonize returns.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "welld/environment.hpp"
#include "welld/fds.hpp"
#include "welld/step.hpp"

namespace welld {

/// An fd of the caller that the daemon receives at a chosen number, without
/// close-on-exec (socket activation puts sockets at 3, 4, ...; s6's readiness
/// protocol puts a pipe at the fd the service expects).
struct FdMapping {
  int from = -1;
  int to = -1;
};

/// A resource limit for the daemon (setrlimit before the privilege drop).
struct ResourceLimit {
  int resource = -1;  // RLIMIT_NOFILE, ... (see parse_rlimit in parse.hpp)
  rlim_t soft = 0;
  rlim_t hard = 0;
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
Status spawn_daemon(const Options& options, const std::vector<std::string>& argv);

/// Foreground mode for systemd, s6 and containers: no fork, no setsid, fds and
/// environment left to the manager. Applies umask, chdir, the PID file and the
/// privilege drop, runs `init`, then reports readiness (sd_notify READY=1 when
/// NOTIFY_SOCKET is set), runs `run`, sends STOPPING=1 and removes the PID file.
/// Returns the failed step as a Status; on success the Status is ok and
/// `*exit_status` (when non-null) receives run's return value.
/// Options that only make sense with forking (stdio, environment, fds) are
/// ignored here: the manager decides them.
Status run_foreground(const Options& options, const InitFn& init, const RunFn& run, int* exit_status = nullptr);

/// Resolve a command name the way execvp would, against `path_env` (a PATH
/// value). Returns the path, or an empty string with `err` set (ENOENT,
/// EACCES). Names containing '/' are returned as they are when executable.
std::string resolve_executable(const std::string& name, const std::string& path_env, int& err);

}  // namespace welld
