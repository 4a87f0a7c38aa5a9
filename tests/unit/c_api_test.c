/* The C API, compiled as C: daemonize, check the result, stop the daemon;
 * then a failure that names its step. Exit 0 means every check held. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "welld/welld.h"

static int init_ok(void* data) {
  (void)data;
  return 0;
}

static int run_forever(void* data) {
  (void)data;
  for (;;) pause();
  return 0;
}

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
      return 1;                                                         \
    }                                                                   \
  } while (0)

int main(void) {
  char dir[] = "/tmp/welld-c-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char pidfile[256];
  snprintf(pidfile, sizeof pidfile, "%s/c.pid", dir);

  struct welld_options opts = WELLD_OPTIONS_INIT;
  opts.pidfile = pidfile;
  int step = welld_daemonize(&opts, NULL, init_ok, run_forever);
  CHECK(step == 0);
  pid_t pid = welld_last_pid();
  CHECK(pid > 1);
  FILE* f = fopen(pidfile, "r");
  CHECK(f != NULL);
  char text[32] = {0};
  CHECK(fgets(text, sizeof text, f) != NULL);
  fclose(f);
  char* end = NULL;
  long written = strtol(text, &end, 10);
  CHECK(end != text);
  CHECK(written == pid);
  CHECK(kill(pid, SIGKILL) == 0);

  struct welld_options bad = WELLD_OPTIONS_INIT;
  bad.chdir = "/nonexistent/welld";
  step = welld_daemonize(&bad, NULL, init_ok, run_forever);
  CHECK(step == 11);
  CHECK(strcmp(welld_strstep(step), "chdir") == 0);
  CHECK(welld_last_errno() == ENOENT);
  CHECK(strstr(welld_last_message(), "/nonexistent/welld") != NULL);

  unlink(pidfile);
  rmdir(dir);
  puts("c api ok");
  return 0;
}
