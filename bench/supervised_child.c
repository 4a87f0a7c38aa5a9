/* supervised_child MODE ARG... — the program every supervisor supervises in
 * bench/supervise.sh, and the clock that measures it (no supervisor is
 * instrumented: everything is timed from the supervised side).
 *
 *   stamp FILE          first thing in main, read CLOCK_MONOTONIC (START);
 *                       append "START EXIT\n" to FILE, EXIT read just before
 *                       the write, and exit 0 at once. A restart latency is
 *                       the next line's START minus this line's EXIT.
 *   flood BYTES [STAMP] write CLOCK_MONOTONIC (ns) to STAMP, then BYTES/100
 *                       numbered lines of 100 bytes to stdout, as fast as
 *                       it can (64 KiB writes). With STAMP it then sleeps (a
 *                       restart would write them again); without, it exits
 *                       (the reference output for a checksum).
 *   wait-bytes BYTES TIMEOUT_S DIR PREFIX...
 *                       poll (every 1 ms) the sizes of DIR's regular files
 *                       whose names start with a PREFIX; once they add up to
 *                       BYTES, print CLOCK_MONOTONIC (ns) and exit 0; after
 *                       TIMEOUT_S seconds print the bytes seen and exit 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int stamp(const char* file, long long start) {
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  char line[64];
  int n = snprintf(line, sizeof line, "%lld %lld\n", start, now_ns());
  return write_all(fd, line, (size_t)n) == 0 ? 0 : 1;
}

enum { LINE = 100, BUFFER = 64 * 1024 };

static int flood(long long bytes, const char* stamp_file) {
  if (stamp_file != NULL) {
    int fd = open(stamp_file, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
    char text[32];
    int n = snprintf(text, sizeof text, "%lld\n", now_ns());
    if (fd < 0 || write_all(fd, text, (size_t)n) != 0) return 1;
    close(fd);
  }
  static char buffer[BUFFER];
  size_t used = 0;
  long long lines = bytes / LINE;
  if (lines < 0 || lines > 9999999999LL) return 2; /* the number has 10 digits */
  for (long long i = 1; i <= lines; ++i) {
    if (used + LINE > sizeof buffer) {
      if (write_all(1, buffer, used) != 0) return 1;
      used = 0;
    }
    /* "0000000042 " then a fixed filler to 99 bytes, then the newline. */
    char* line = buffer + used;
    char number[24];
    snprintf(number, sizeof number, "%010lld ", i);
    memcpy(line, number, 11);
    memset(line + 11, 'x', LINE - 12);
    line[LINE - 1] = '\n';
    used += LINE;
  }
  if (write_all(1, buffer, used) != 0) return 1;
  if (stamp_file == NULL) return 0;
  for (;;) pause();
}

static long long bytes_in(const char* dir, char** prefixes, int count) {
  DIR* d = opendir(dir);
  if (d == NULL) return 0;
  long long total = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    for (int i = 0; i < count; ++i) {
      struct stat st;
      if (strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) == 0 &&
          fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        total += st.st_size;
        break;
      }
    }
  }
  closedir(d);
  return total;
}

static int wait_bytes(long long bytes, long long timeout_s, const char* dir, char** prefixes, int count) {
  long long deadline = now_ns() + timeout_s * 1000000000LL;
  long long seen = 0;
  const struct timespec ms = {0, 1000000};
  while ((seen = bytes_in(dir, prefixes, count)) < bytes) {
    if (now_ns() > deadline) {
      printf("timeout %lld\n", seen);
      return 1;
    }
    nanosleep(&ms, NULL);
  }
  printf("%lld\n", now_ns());
  return 0;
}

/* A non-negative decimal argument; exits 2 (usage) otherwise. */
static long long number(const char* text) {
  char* end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0) {
    fprintf(stderr, "supervised_child: not a count: %s\n", text);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  long long start = now_ns();
  if (argc == 3 && strcmp(argv[1], "stamp") == 0) return stamp(argv[2], start);
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "flood") == 0)
    return flood(number(argv[2]), argc == 4 ? argv[3] : NULL);
  if (argc >= 6 && strcmp(argv[1], "wait-bytes") == 0)
    return wait_bytes(number(argv[2]), number(argv[3]), argv[4], argv + 5, argc - 5);
  fprintf(stderr,
          "usage: supervised_child stamp FILE | flood BYTES [STAMP] | wait-bytes BYTES TIMEOUT_S DIR PREFIX...\n");
  return 2;
}
