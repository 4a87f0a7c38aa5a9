/* timed_service MODE STAMPFILE — a service that timestamps one event with
 * CLOCK_MONOTONIC (nanoseconds, written to STAMPFILE):
 *   exit-on-term   on SIGTERM: write the time, then _exit(0) at once
 *   notify         send READY=1 to $NOTIFY_SOCKET (sd_notify protocol) right
 *                  after writing the time, then wait for SIGTERM */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char* g_stamp;

static void stamp(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  int fd = open(g_stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, buf, (size_t)n);
    close(fd);
  }
}

static void on_term(int sig) {
  (void)sig;
  stamp();
  _exit(0);
}

static void notify_ready(void) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == NULL) return;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof addr.sun_path) return;
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
  stamp();
  sendto(fd, "READY=1", 7, 0, (struct sockaddr*)&addr, alen);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  g_stamp = argv[2];
  signal(SIGTERM, strcmp(argv[1], "exit-on-term") == 0 ? on_term : SIG_DFL);
  if (strcmp(argv[1], "notify") == 0) notify_ready();
  for (;;) pause();
}
