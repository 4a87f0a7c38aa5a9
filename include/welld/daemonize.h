/* daemonize.h — the seed's daemonize() C interface, as a drop-in over welld.
 *
 * A program written for the original "daemonize" library builds unchanged
 * against welld and gets welld's fifteen steps instead of the original ones:
 *
 *   #include "daemonize.h"
 *
 *   static int init(void *data) { return open_sockets(data) ? TRUE : FALSE; }
 *   static int loop(void *data) { return serve(data); }   // the daemon's exit status
 *
 *   int main(void) {
 *     DaemonStatus status = daemonize("/run/hello.pid", &state, init, loop);
 *     print_daemon_status(status, stderr);
 *     return status;
 *   }
 *
 *   cc *.c $(pkg-config --cflags --libs welld-daemonize)
 *   # or, in CMake: find_package(welld) and target_link_libraries(app welld::daemonize)
 *
 * (pkg-config's cflags name the directory of this header, so `"daemonize.h"`
 * and `<welld/daemonize.h>` both work.)
 *
 * Semantics, as in the original library:
 *  - daemonize() returns in the ORIGINAL process only: STATUS_INIT_SUCCESS
 *    once the daemon has run initialize_daemon successfully, or the code of
 *    what failed. When it fails, nothing is left behind: no daemon, no PID
 *    file (welld removes one the daemon wrote).
 *  - initialize_daemon(data) runs in the daemon, after the PID file is
 *    written; it returns non-zero (TRUE) on success and 0 (FALSE) on failure,
 *    which the original process sees as STATUS_CANNOT_INIT_DAEMON.
 *  - run_main_loop(data) runs in the daemon after the original process was
 *    told "initialized"; its return value is the daemon's exit status (0-255,
 *    as exit(3) takes it). The PID file is removed when it returns, then the
 *    daemon exits (atexit handlers and stdio buffers run, as with exit(3)).
 *  - The daemon has stdin, stdout and stderr on /dev/null, umask 0 and
 *    working directory "/".
 *
 * How welld's steps map onto the codes (the step numbers are welld's, see
 * welld/step.hpp and docs/daemonize.md; welld runs steps 1-4 in the first
 * child, so the caller's own fds, handlers and mask are left alone):
 *
 *   code DaemonStatus                          welld Step (number name)
 *   ---- -------------------------------------  ------------------------------------------
 *   0x0  STATUS_INIT_SUCCESS                   none: initialize_daemon returned TRUE
 *   0x1  STATUS_CANNOT_ATTACH_STD_FDS_TO_NULL   9 redirect-stdio
 *   0x2  STATUS_CANNOT_CHDIR                   11 chdir
 *   0x3  STATUS_CANNOT_CREATE_PID_FILE         12 pidfile: missing directory, unsafe
 *                                                 location, already running, I/O error
 *   0x4  STATUS_CANNOT_INIT_DAEMON             17 init: initialize_daemon returned FALSE
 *   0x5  STATUS_CANNOT_UNLINK_PID_FILE         never returned (see the gotchas)
 *   0x6  STATUS_CANNOT_CLOSE_NON_STD_FDS        1 close-fds
 *   0x7  STATUS_CANNOT_RESET_SIGNAL_HANDLERS    2 reset-signals
 *   0x8  STATUS_CANNOT_CLEAR_SIGNAL_MASK        3 empty-signal-mask
 *   0x9  STATUS_CANNOT_CREATE_PIPE              5 fork, errno EMFILE or ENFILE: the status
 *                                                 pipe (pipe2(2)'s errors; fork(2) has neither)
 *   0xa  STATUS_CANNOT_FORK_HELPER_PROCESS      5 fork, any other errno
 *   0xb  STATUS_CANNOT_READ_FROM_PIPE          14 report-initialized
 *   0xc  STATUS_CANNOT_SET_SID                  6 setsid
 *   0xd  STATUS_CANNOT_FORK_DAEMON_PROCESS      7 fork-again
 *   0xe  STATUS_UNKNOWN_DAEMON_ERROR           19 daemon-died: no report (killed, crashed,
 *                                                 exited inside initialize_daemon), and
 *                                                 every step the seed has no code for
 *                                                 (4, 8, 10, 13, 15, 16, 18, 20 and up)
 *
 * Beyond the original:
 *  - On failure, errno holds the failed step's system error (ENOENT for a PID
 *    file in a missing directory, EEXIST when another live instance holds the
 *    PID file, ...), or 0 when there is none (initialize_daemon returned
 *    FALSE, the daemon died). On success errno is unspecified.
 *  - print_daemon_status() prints one line per call; when `status` is what
 *    the last daemonize() call in this thread returned, the line goes on with
 *    welld's exact reason, e.g.
 *      "cannot create the PID file: already running (pid 812)"
 *  - pid_file NULL means no PID file; initialize_daemon NULL means nothing to
 *    initialize (success); run_main_loop NULL means exit status 0.
 *
 * Gotchas:
 *  - STATUS_CANNOT_UNLINK_PID_FILE is never returned. daemonize() has
 *    returned long before the main loop ends; the original library turned a
 *    failed removal into the daemon's exit status (with the test inverted).
 *    Here the exit status is always run_main_loop's return value, and welld
 *    removes the PID file only while it still holds the daemon's own PID.
 *  - A live instance is refused (STATUS_CANNOT_CREATE_PID_FILE, errno EEXIST);
 *    a stale PID file (its process gone, or welld's identity record in it
 *    naming another process than the one now at that PID) is replaced. A plain
 *    PID file, as the original wrote it, whose PID is alive and older than the
 *    file counts as live (see welld/pidfile.hpp). The original refused any
 *    existing file.
 *  - A relative pid_file is resolved against the caller's working directory
 *    before anything forks (the original resolved it against "/", after the
 *    chdir).
 *  - The daemon's environment is sanitized (welld's allowlist: PATH, LANG,
 *    LANGUAGE, LC_*, TZ; see docs/daemonize.md). A daemon that needs a variable
 *    must be started by welld's own API (welld.h: keep_env, set_env).
 *  - The caller keeps its fds, signal handlers and mask: the original closed
 *    the caller's fds and reset its handlers before forking.
 *  - Call daemonize() before starting threads; initialize_daemon runs in a
 *    forked copy of the calling thread only. Signal handlers installed before
 *    daemonize() are reset in the daemon: install them in initialize_daemon.
 *  - The daemon is a child of init (or of the nearest child subreaper), never
 *    of the caller, so the caller cannot wait(2) for it.
 */
#ifndef WELLD_DAEMONIZE_H
#define WELLD_DAEMONIZE_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header is C too: typedef, not `using`. NOLINTBEGIN(modernize-use-using) */
typedef enum {
  STATUS_INIT_SUCCESS = 0x0,
  STATUS_CANNOT_ATTACH_STD_FDS_TO_NULL = 0x1,
  STATUS_CANNOT_CHDIR = 0x2,
  STATUS_CANNOT_CREATE_PID_FILE = 0x3,
  STATUS_CANNOT_INIT_DAEMON = 0x4,
  STATUS_CANNOT_UNLINK_PID_FILE = 0x5,
  STATUS_CANNOT_CLOSE_NON_STD_FDS = 0x6,
  STATUS_CANNOT_RESET_SIGNAL_HANDLERS = 0x7,
  STATUS_CANNOT_CLEAR_SIGNAL_MASK = 0x8,
  STATUS_CANNOT_CREATE_PIPE = 0x9,
  STATUS_CANNOT_FORK_HELPER_PROCESS = 0xa,
  STATUS_CANNOT_READ_FROM_PIPE = 0xb,
  STATUS_CANNOT_SET_SID = 0xc,
  STATUS_CANNOT_FORK_DAEMON_PROCESS = 0xd,
  STATUS_UNKNOWN_DAEMON_ERROR = 0xe
} DaemonStatus;
/* NOLINTEND(modernize-use-using) */

/* Daemonize the calling program (see the top of this file). Returns in the
 * original process only. */
DaemonStatus daemonize(const char* pid_file, void* data, int (*initialize_daemon)(void* data),
                       int (*run_main_loop)(void* data));

/* Print one line describing `status` to `file` (see "Beyond the original").
 * A value outside the enum prints "unknown daemon status N". */
void print_daemon_status(DaemonStatus status, FILE* file);

#ifdef __cplusplus
}
#endif

#endif /* WELLD_DAEMONIZE_H */
