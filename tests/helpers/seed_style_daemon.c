/* seed_style_daemon — a program written for the seed's daemonize() library,
 * in its style (TRUE/FALSE init, a main loop returning the exit status), for
 * tests/daemonize_drop_in_test.cpp. It includes "daemonize.h" and nothing of
 * welld's own.
 *
 *   seed_style_daemon PIDFILE|- TRUE|FALSE|EXIT DIR EXIT_STATUS
 *     The original process prints "status N errno E" on stdout and
 *     print_daemon_status() on stderr, and exits with the status.
 *     In the daemon, initialize_daemon writes DIR/init-ran ("pid N"), waits
 *     200 ms (a daemonize() returning before init is done would be seen), then
 *     returns FALSE, or with EXIT calls exit(9) there, or with TRUE writes DIR/environ (its environment, one
 *     NAME=VALUE a line: /proc/PID/environ shows the exec's, not the one
 *     daemonize() left) and DIR/initialized. The main loop waits
 *     for DIR/stop (or SIGTERM), writes DIR/loop-ended and returns EXIT_STATUS.
 *   seed_style_daemon --print
 *     print_daemon_status() for 0x0 .. 0xf on stdout, one line each.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define TRUE 1
#define FALSE 0

struct state {
  int init_result; /* TRUE, FALSE, or -1: exit(9) inside initialize_daemon */
  const char* dir;
  int exit_status;
};

static volatile sig_atomic_t terminated = 0;

static void on_term(int sig) {
  (void)sig;
  terminated = 1;
}

static void nap(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static int write_in(const char* dir, const char* name, const char* text) {
  char path[4096];
  FILE* f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "w");
  if (f == NULL) return FALSE;
  fputs(text, f);
  return fclose(f) == 0;
}

static int exists_in(const char* dir, const char* name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

extern char** environ;

static int write_environment(const char* dir) {
  char path[4096];
  FILE* f;
  char** e;
  snprintf(path, sizeof path, "%s/environ", dir);
  f = fopen(path, "w");
  if (f == NULL) return FALSE;
  for (e = environ; *e != NULL; e++) fprintf(f, "%s\n", *e);
  return fclose(f) == 0;
}

static int initialize_daemon(void* data) {
  struct state* s = data;
  char text[64];
  struct sigaction sa;
  snprintf(text, sizeof text, "pid %ld\n", (long)getpid());
  if (!write_in(s->dir, "init-ran", text)) return FALSE;
  nap(200);
  if (s->init_result < 0) exit(9);
  if (!s->init_result) return FALSE;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  if (sigaction(SIGTERM, &sa, NULL) != 0) return FALSE;
  return write_environment(s->dir) && write_in(s->dir, "initialized", text);
}

static int run_main_loop(void* data) {
  struct state* s = data;
  while (!terminated && !exists_in(s->dir, "stop")) nap(10);
  write_in(s->dir, "loop-ended", terminated ? "signal\n" : "stop file\n");
  return s->exit_status;
}

int main(int argc, char** argv) {
  struct state s;
  DaemonStatus status;
  int i;
  if (argc == 2 && strcmp(argv[1], "--print") == 0) {
    for (i = 0; i <= 0xf; i++) print_daemon_status((DaemonStatus)i, stdout);
    return 0;
  }
  if (argc != 5) {
    fprintf(stderr, "usage: seed_style_daemon PIDFILE|- TRUE|FALSE|EXIT DIR EXIT_STATUS\n");
    return 100;
  }
  s.init_result = strcmp(argv[2], "TRUE") == 0 ? TRUE : strcmp(argv[2], "EXIT") == 0 ? -1 : FALSE;
  s.dir = argv[3];
  s.exit_status = (int)strtol(argv[4], NULL, 10);
  status = daemonize(strcmp(argv[1], "-") == 0 ? NULL : argv[1], &s, initialize_daemon, run_main_loop);
  printf("status %d errno %d\n", (int)status, status == STATUS_INIT_SUCCESS ? 0 : errno);
  fflush(stdout);
  print_daemon_status(status, stderr);
  return status;
}
