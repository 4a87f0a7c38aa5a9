/* welld_start from C: readiness modes, the program's own error, a refused
 * request, a probe someone else already answers. Exit 0 means every check
 * held. Every daemon started is killed by PID before the next check. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "welld/welld.h"

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
      fprintf(stderr, "last message: %s\n", welld_last_message());      \
      return 1;                                                         \
    }                                                                   \
  } while (0)

static long pid_in(const char* path) {
  FILE* f = fopen(path, "r");
  if (f == NULL) return -1;
  char text[32] = {0};
  char* got = fgets(text, sizeof text, f);
  fclose(f);
  return got != NULL ? strtol(text, NULL, 10) : -1;
}

int main(void) {
  char dir[] = "/tmp/welld-c-start-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char pidfile[256], log[256], never[256];
  snprintf(pidfile, sizeof pidfile, "%s/c.pid", dir);
  snprintf(log, sizeof log, "%s/c.log", dir);
  snprintf(never, sizeof never, "file:%s/never", dir);

  /* s6 readiness on the default fd (3: no listen sockets). */
  const char* ready_argv[] = {"/bin/sh", "-c", "echo >&3; exec sleep 600", NULL};
  struct welld_start_request req = WELLD_START_REQUEST_INIT;
  req.options.pidfile = pidfile;
  req.argv = ready_argv;
  req.ready = "fd";
  CHECK(welld_start(&req) == WELLD_STARTED);
  pid_t pid = welld_last_pid();
  CHECK(pid > 1);
  CHECK(pid_in(pidfile) == pid);
  CHECK(welld_last_step() == 0);
  CHECK(kill(pid, SIGKILL) == 0);

  /* The program exits before it is ready: its own message is in the result. */
  const char* broken_argv[] = {"/bin/sh", "-c", "echo broken config line >&2; exit 3", NULL};
  struct welld_start_request broken = WELLD_START_REQUEST_INIT;
  broken.options.pidfile = pidfile;
  broken.options.stderr_path = log;
  broken.argv = broken_argv;
  broken.ready = never;
  unlink(pidfile);
  CHECK(welld_start(&broken) == WELLD_START_EXITED);
  CHECK(strstr(welld_last_message(), "broken config line") != NULL);
  CHECK(access(pidfile, F_OK) != 0);

  /* A --ready text that does not parse: nothing is started. */
  struct welld_start_request bad = WELLD_START_REQUEST_INIT;
  bad.argv = ready_argv;
  bad.ready = "carrier-pigeon";
  CHECK(welld_start(&bad) == WELLD_START_INVALID);
  CHECK(strstr(welld_last_message(), "carrier-pigeon") != NULL);

  /* A port someone else already listens on cannot tell readiness. */
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(listener >= 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  CHECK(bind(listener, (struct sockaddr*)&addr, sizeof addr) == 0);
  CHECK(listen(listener, 4) == 0);
  CHECK(getsockname(listener, (struct sockaddr*)&addr, &len) == 0);
  char tcp[64];
  snprintf(tcp, sizeof tcp, "tcp:127.0.0.1:%d", ntohs(addr.sin_port));
  const char* false_argv[] = {"/bin/false", NULL};
  struct welld_start_request taken = WELLD_START_REQUEST_INIT;
  taken.options.pidfile = pidfile;
  taken.argv = false_argv;
  taken.ready = tcp;
  CHECK(welld_start(&taken) == WELLD_START_NOT_PREPARED);
  CHECK(welld_last_errno() == EADDRINUSE);
  CHECK(strcmp(welld_strstep(welld_last_step()), "ready") == 0);
  CHECK(access(pidfile, F_OK) != 0);
  close(listener);

  unlink(log);
  rmdir(dir);
  puts("c api start ok");
  return 0;
}
