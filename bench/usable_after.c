/* usable_after PORT INTERVAL_US LAUNCHER [ARG...] — the time until a service
 * is usable, as a script sees it: run LAUNCHER (which starts the service and
 * returns), then try a request on 127.0.0.1:PORT (connect, read the answer)
 * every INTERVAL_US microseconds until one succeeds. Prints the microseconds
 * from just before LAUNCHER's spawn to the first answer, and the attempts.
 * Untimed, before the spawn: waits (up to 5 s) until nothing listens on PORT,
 * so that a previous run's service cannot answer. No shell in the timing. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arg.h"

extern char** environ;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One request: 1 when the service answered, 0 when it did not (yet). */
static int request(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char answer[4];
  int ok = connect(fd, (struct sockaddr*)&addr, sizeof addr) == 0 && read(fd, answer, sizeof answer) > 0;
  close(fd);
  return ok;
}

static void sleep_us(long us) {
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  int port = (int)arg_long(argv[1]);
  long interval = arg_long(argv[2]);
  for (int i = 0; i < 5000 && request(port); ++i) sleep_us(1000);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0); /* only the figure goes to stdout */
  long long begin = now_ns();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[3], &actions, NULL, argv + 3, environ) != 0) return 1;
  int status = 0;
  waitpid(pid, &status, 0);
  long attempts = 1;
  long long limit = now_ns() + 5000000000LL;
  while (!request(port) && now_ns() < limit) {
    sleep_us(interval);
    ++attempts;
  }
  long long end = now_ns();
  if (end >= limit || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "usable_after: %s: exit status %d, no answer on port %d in 5 s\n", argv[3], status, port);
    return 1;
  }
  printf("%.1f\t%ld\n", (double)(end - begin) / 1000.0, attempts);
  return 0;
}
