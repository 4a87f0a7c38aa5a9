/* welld.h — the C API of libwelld.
 *
 *   struct welld_options opts = WELLD_OPTIONS_INIT;
 *   opts.pidfile = "/run/hello.pid";
 *   int step = welld_daemonize(&opts, &state, my_init, my_run);
 *   if (step != 0) { fprintf(stderr, "%s\n", welld_last_message()); return 1; }
 *
 * welld_daemonize performs the fifteen steps of daemon(7) (see welld/step.hpp
 * for the numbering, stable across releases) and returns in the original
 * process: 0 once the daemon ran `init` successfully, or the number of the step
 * that failed. `init` and `run` run only in the daemon; run's return value is
 * the daemon's exit status. Details of the last failure in this thread:
 * welld_last_errno(), welld_last_message().
 */
#ifndef WELLD_WELLD_H
#define WELLD_WELLD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct welld_options {
  const char* pidfile;         /* NULL: none; relative: against the caller's cwd */
  const char* chdir;           /* NULL: "/" */
  int umask;                   /* -1: 0 (daemon(7)) */
  const char* stdout_path;     /* NULL: /dev/null; else appended to */
  const char* stderr_path;     /* NULL: /dev/null */
  const char* const* keep_env; /* NULL-terminated names or globs, or NULL */
  const char* const* set_env;  /* NULL-terminated NAME=VALUE, or NULL */
  int inherit_env;             /* nonzero: keep all but the denylist */
  const int* keep_fds;         /* fds >= 3 to keep open */
  size_t keep_fds_count;
  const char* user;  /* NULL: keep the current user */
  const char* group; /* NULL: the user's primary group */
};

#define WELLD_OPTIONS_INIT \
  { NULL, NULL, -1, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL }

/* This header is C too: typedef, not `using`. NOLINTBEGIN(modernize-use-using) */
typedef int (*welld_init_fn)(void* data); /* 0 on success, else a code for the caller */
typedef int (*welld_run_fn)(void* data);  /* the daemon's exit status */
/* NOLINTEND(modernize-use-using) */

/* 0 on success, else the failed step (1..15 the daemon(7) steps, 16+ welld's). */
int welld_daemonize(const struct welld_options* options, void* data, welld_init_fn init, welld_run_fn run);

/* Foreground mode (systemd, s6, containers): returns the failed step, or 0
 * with *exit_status set to run's return value. */
int welld_run_foreground(const struct welld_options* options, void* data, welld_init_fn init, welld_run_fn run,
                         int* exit_status);

/* Starting a program as a daemon, the whole transaction of `welld start`
 * (welld/start.hpp's start_daemon): listen sockets, readiness, spawn, wait,
 * MAINPID and rollback.
 *
 *   const char* argv[] = {"/usr/bin/memcached", "-p", "11211", NULL};
 *   struct welld_start_request req = WELLD_START_REQUEST_INIT;
 *   req.options.pidfile = "/run/memcached.pid";
 *   req.argv = argv;
 *   req.ready = "tcp:127.0.0.1:11211";
 *   if (welld_start(&req) != WELLD_STARTED) { fprintf(stderr, "%s\n", welld_last_message()); return 1; }
 *
 * Returns a welld_start_outcome. welld_last_pid() is the recorded main process
 * (or the PID file's holder for WELLD_ALREADY_RUNNING); welld_last_step() and
 * welld_last_errno() the failed step and errno, welld_last_message() one line
 * (with the program's last output lines when it exited before it was ready). */
enum welld_start_outcome {
  WELLD_STARTED = 0,
  WELLD_ALREADY_RUNNING = 1,         /* ok_if_running, and the PID file names a live daemon */
  WELLD_START_INVALID = 2,           /* the request contradicts itself or cannot be parsed */
  WELLD_START_NOT_PREPARED = 3,      /* a listen socket, the readiness check or its setup failed */
  WELLD_START_SPAWN_FAILED = 4,      /* one of the fifteen steps or the exec failed */
  WELLD_START_EXITED = 5,            /* the program exited before it was ready */
  WELLD_START_DAEMONIZED_ITSELF = 6, /* ...leaving processes behind (stopped): run it in the foreground */
  WELLD_START_NOT_READY = 7,         /* it reported failure (ERRNO=), or closed its readiness fd */
  WELLD_START_TIMED_OUT = 8,
  WELLD_START_CANCELLED = 9, /* cancel_fd became readable */
  WELLD_START_WAIT_FAILED = 10,
  WELLD_START_RECORD_FAILED = 11 /* MAINPID= could not be written to the PID file */
};

/* This header is C too: typedef, not `using`. NOLINTNEXTLINE(modernize-use-using) */
typedef void (*welld_status_fn)(void* data, const char* text); /* sd_notify STATUS= (untrusted text) */

struct welld_start_request {
  struct welld_options options;
  const char* const* argv;   /* NULL-terminated; argv[0] resolved through the daemon's PATH */
  const char* const* listen; /* NULL-terminated "tcp:[HOST:]PORT" / "unix:PATH", or NULL */
  const char* ready;         /* as --ready: "exec" (NULL), "notify", "fd[:N]", "tcp:...", "unix:...", "file:..." */
  long ready_timeout_ms;     /* 0: 60000 */
  int cancel_fd;             /* -1: none; readable: roll back, WELLD_START_CANCELLED */
  int ok_if_running;         /* nonzero: a live holder is WELLD_ALREADY_RUNNING */
  int adopt_orphans;         /* nonzero: child subreaper while waiting (launchers only: see start.hpp) */
  int stop_signal;           /* 0: SIGTERM; how the rollback stops the daemon */
  long stop_timeout_ms;      /* 0: 10000; then SIGKILL */
  welld_status_fn on_status; /* NULL: STATUS= texts are dropped */
  void* status_data;
};

#define WELLD_START_REQUEST_INIT \
  { WELLD_OPTIONS_INIT, NULL, NULL, NULL, 0, -1, 0, 0, 0, 0, NULL, NULL }

int welld_start(const struct welld_start_request* request);

/* The step of the last failure in this thread (0: none). */
int welld_last_step(void);

/* Short stable name of a step: "pidfile", "chdir", ... */
const char* welld_strstep(int step);

/* The errno (or init's code) of the last failure in this thread. */
int welld_last_errno(void);

/* The daemon's PID after a successful welld_daemonize (in the original process). */
pid_t welld_last_pid(void);

/* A one-line description of the last failure in this thread. */
const char* welld_last_message(void);

#ifdef __cplusplus
}
#endif

#endif /* WELLD_WELLD_H */
