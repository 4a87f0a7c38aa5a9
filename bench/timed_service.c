/* timed_service MODE STAMPFILE — a service that timestamps one event with
 * CLOCK_MONOTONIC (nanoseconds, written to STAMPFILE):
 *   exit-on-term   on SIGTERM: write the time, then _exit(0) at once
 *   notify         send READY=1 to $NOTIFY_SOCKET (sd_notify protocol), the
 *                  time taken right before the send, written right after it;
 *                  then wait for SIGTERM
 * timed_service listen PORT DELAY_MS — a service that becomes usable a known
 * delay after its exec: it sleeps DELAY_MS, listens on 127.0.0.1:PORT, sends
 * READY=1 when $NOTIFY_SOCKET is set, then answers each connection with
 * "ok\n" until SIGTERM (bench/usable_after.c times it). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "arg.h"

static const char* g_stamp;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Write the instant `ns` to the stamp file, whole, in one write. */
static void write_stamp(int fd, long long ns) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld\n", ns);
  (void)!write(fd, buf, (size_t)n);
  close(fd);
}

static int open_stamp(void) { return open(g_stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); }

static void stamp(void) {
  int fd = open_stamp();
  if (fd >= 0) write_stamp(fd, now_ns());
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
  /* The instant of READY=1 is the send; the stamp file is written after it,
   * so that its creation is not counted as readiness latency (the reader
   * waits for the file). */
  int stamp_fd = open_stamp();
  long long sent = now_ns();
  sendto(fd, "READY=1", 7, 0, (struct sockaddr*)&addr, alen);
  close(fd);
  if (stamp_fd >= 0) write_stamp(stamp_fd, sent);
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) _exit(1);
  return fd;
}

static int serve(int port, long delay_ms) {
  struct timespec delay = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
  nanosleep(&delay, NULL);
  int fd = listen_on(port);
  g_stamp = "/dev/null";
  notify_ready();
  for (;;) {
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) continue;
    (void)!write(conn, "ok\n", 3);
    close(conn);
  }
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "listen") == 0) return serve((int)arg_long(argv[2]), arg_long(argv[3]));
  if (argc != 3) return 2;
  g_stamp = argv[2];
  signal(SIGTERM, strcmp(argv[1], "exit-on-term") == 0 ? on_term : SIG_DFL);
  if (strcmp(argv[1], "notify") == 0) notify_ready();
  for (;;) pause();
}
