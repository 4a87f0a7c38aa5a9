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
