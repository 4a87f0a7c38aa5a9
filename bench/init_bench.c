// init_bench: the timed measures of bench/init.sh, one init at a time.
//
//   init_bench latency N INIT...   signal-forward latency: INIT runs as PID 1
//                                  of a new PID namespace (unshare) with
//                                  `init_bench recorder` as its child; N times
//                                  SIGUSR1 is sent to INIT and the child
//                                  stamps its arrival (CLOCK_MONOTONIC, the
//                                  same clock across PID namespaces). Prints
//                                  "MEDIAN_US P90_US".
//   init_bench reap N INIT...      N orphans adopted by INIT (PID 1) end at
//                                  once; prints the milliseconds until INIT
//                                  has reaped every one (no zombie whose
//                                  parent is PID 1 left, seen from inside).
//   init_bench exec N INIT...      from the exec of INIT (not PID 1: no
//                                  unshare in the way) to the exec of its
//                                  child: N runs, prints "MEDIAN_US". With no
//                                  INIT, the child alone (the baseline).
//
// INIT is an init's command line up to where the child's goes (e.g. "tini
// --", "welld run --", "dumb-init"). The children (recorder, orphans, stamp)
// talk back through a FIFO named on their command line, since an init may
// close every inherited fd. Every process started is ended by PID (unshare's
// --kill-child takes the namespace with it).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arg.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(2);
}

static int write_all(int fd, const void* buf, size_t n) {
  const char* p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void* buf, size_t n) {
  char* p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

// ---- the children -------------------------------------------------------------------

// recorder FIFO: one stamp per SIGUSR1 (a zero stamp first: ready).
static int recorder(const char* fifo) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int fd = open(fifo, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  int64_t stamp = 0;
  if (write_all(fd, &stamp, sizeof stamp) != 0) return 1;
  for (;;) {
    if (sigwaitinfo(&set, NULL) != SIGUSR1) continue;
    stamp = now_ns();
    if (write_all(fd, &stamp, sizeof stamp) != 0) return 0;  // the driver is done
  }
}

// Zombies and live processes whose parent is PID 1, but `self`.
static int children_of_pid1(pid_t self, int* zombies) {
  int count = 0;
  *zombies = 0;
  DIR* dir = opendir("/proc");
  if (dir == NULL) return -1;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (strtol(e->d_name, NULL, 10) == self) continue;
    char path[300], text[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) continue;
    text[n] = '\0';
    char* close_paren = strrchr(text, ')');
    if (close_paren == NULL) continue;
    char state = close_paren[2];
    long ppid = strtol(close_paren + 4, NULL, 10);
    if (ppid != 1) continue;
    ++count;
    if (state == 'Z') ++*zombies;
  }
  closedir(dir);
  return count;
}

// orphans N FIFO: N processes adopted by PID 1 end together; the time until
// none of them is left (reaped) goes into FIFO as milliseconds (text).
static int orphans(int n, const char* fifo) {
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return 1;
  pid_t intermediate = fork();
  if (intermediate < 0) return 1;
  if (intermediate == 0) {
    for (int i = 0; i < n; ++i) {
      pid_t c = fork();
      if (c < 0) _exit(1);
      if (c == 0) {
        close(gate[1]);
        char b;
        while (read(gate[0], &b, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
      }
    }
    _exit(0);
  }
  close(gate[0]);
  waitpid(intermediate, NULL, 0);
  pid_t self = getpid();
  int zombies = 0;
  while (children_of_pid1(self, &zombies) < n) usleep(1000);  // all adopted
  int64_t t0 = now_ns();
  close(gate[1]);  // every orphan reads EOF and exits
  while (children_of_pid1(self, &zombies) > 0) {
  }
  int64_t t1 = now_ns();
  int fd = open(fifo, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  dprintf(fd, "%.1f\n", (double)(t1 - t0) / 1e6);
  close(fd);
  return 0;
}

// stamp FIFO: the time this process began, into FIFO.
static int stamp(const char* fifo) {
  int64_t t = now_ns();
  int fd = open(fifo, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  int rc = write_all(fd, &t, sizeof t);
  close(fd);
  return rc == 0 ? 0 : 1;
}

// ---- the driver ------------------------------------------------------------------------

static char self_path[4096];

// argv of: [unshare...] INIT... SELF CHILD ARGS...
static char** command(int pid1, char** init, int n_init, const char* child, const char* a1, const char* a2) {
  static char* unshare[] = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"};
  int n_unshare = pid1 ? 5 : 0;
  char** argv = calloc((size_t)n_unshare + (size_t)n_init + 5, sizeof *argv);
  if (argv == NULL) die("calloc");
  int at = 0;
  for (int i = 0; i < n_unshare; ++i) argv[at++] = unshare[i];
  for (int i = 0; i < n_init; ++i) argv[at++] = init[i];
  argv[at++] = self_path;
  argv[at++] = (char*)child;
  if (a1 != NULL) argv[at++] = (char*)a1;
  if (a2 != NULL) argv[at++] = (char*)a2;
  return argv;
}

static pid_t spawn(char** argv) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

// The first child of `pid` (unshare's: the init, PID 1 inside).
static pid_t first_child(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
  for (int i = 0; i < 5000; ++i) {
    FILE* f = fopen(path, "re");
    char text[32] = "";
    if (f != NULL) {
      if (fgets(text, sizeof text, f) == NULL) text[0] = '\0';
      fclose(f);
    }
    long child = strtol(text, NULL, 10);
    if (child > 0) return (pid_t)child;
    usleep(1000);
  }
  return -1;
}

static int compare(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

static void end(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static int latency(int n, char** init, int n_init, const char* fifo) {
  pid_t top = spawn(command(1, init, n_init, "recorder", fifo, NULL));
  int fd = open(fifo, O_RDONLY | O_CLOEXEC);
  pid_t pid1 = first_child(top);
  int64_t stamp = -1;
  if (fd < 0 || pid1 < 0 || read_all(fd, &stamp, sizeof stamp) != 0) die("recorder");
  int64_t* took = calloc((size_t)n, sizeof *took);
  if (took == NULL) die("calloc");
  for (int i = 0; i < n; ++i) {
    int64_t t0 = now_ns();
    if (kill(pid1, SIGUSR1) != 0 || read_all(fd, &stamp, sizeof stamp) != 0) die("forward");
    took[i] = stamp - t0;
  }
  close(fd);
  end(top);
  qsort(took, (size_t)n, sizeof *took, compare);
  int64_t median = took[n / 2], p90 = took[n * 9 / 10];
  printf("%.1f %.1f\n", (double)median / 1e3, (double)p90 / 1e3);
  return 0;
}

static int reap(int n, char** init, int n_init, const char* fifo) {
  char count[16];
  snprintf(count, sizeof count, "%d", n);
  pid_t top = spawn(command(1, init, n_init, "orphans", count, fifo));
  FILE* f = fopen(fifo, "re");
  char text[64] = "";
  if (f == NULL || fgets(text, sizeof text, f) == NULL) die("orphans");
  fclose(f);
  char* text_end = NULL;
  double ms = strtod(text, &text_end);
  if (text_end == text) die("orphans");
  end(top);
  printf("%.1f\n", ms);
  return 0;
}

static int exec_time(int n, char** init, int n_init, const char* fifo) {
  // Read and write: a writer that is gone is no end of file between the two stamps.
  int fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
  if (fifo_fd < 0) die("fifo");
  int64_t* took = calloc((size_t)n, sizeof *took);
  if (took == NULL) die("calloc");
  for (int i = 0; i < n; ++i) {
    char** argv = command(0, init, n_init, "stamp", fifo, NULL);
    int64_t t0 = 0;
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      int null_fd = open("/dev/null", O_RDWR);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      // The stamp of this exec goes the same way as the child's: first.
      int fd = open(fifo, O_WRONLY | O_CLOEXEC);
      int64_t t = now_ns();
      if (fd < 0 || write_all(fd, &t, sizeof t) != 0) _exit(126);
      close(fd);
      execv(argv[0], argv);
      _exit(127);
    }
    int64_t t1 = 0;
    if (read_all(fifo_fd, &t0, sizeof t0) != 0 || read_all(fifo_fd, &t1, sizeof t1) != 0) die("stamps");
    waitpid(pid, NULL, 0);
    took[i] = t1 - t0;
    free(argv);
  }
  close(fifo_fd);
  qsort(took, (size_t)n, sizeof *took, compare);
  int64_t median = took[n / 2];
  printf("%.1f\n", (double)median / 1e3);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "recorder") == 0) return recorder(argv[2]);
  if (argc >= 4 && strcmp(argv[1], "orphans") == 0) return orphans((int)arg_long(argv[2]), argv[3]);
  if (argc >= 3 && strcmp(argv[1], "stamp") == 0) return stamp(argv[2]);
  if (argc < 3) {
    fprintf(stderr, "usage: init_bench latency|reap|exec N [INIT...]\n");
    return 2;
  }
  ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (len <= 0) die("readlink");
  self_path[len] = '\0';
  char dir[] = "/tmp/init-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) die("mkdtemp");
  chmod(dir, 0755);
  char fifo[64];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  if (mkfifo(fifo, 0666) != 0) die("mkfifo");
  int n = (int)arg_long(argv[2]);
  if (n < 1) n = 1;
  int rc = 2;
  if (strcmp(argv[1], "latency") == 0) rc = latency(n, argv + 3, argc - 3, fifo);
  if (strcmp(argv[1], "reap") == 0) rc = reap(n, argv + 3, argc - 3, fifo);
  if (strcmp(argv[1], "exec") == 0) rc = exec_time(n, argv + 3, argc - 3, fifo);
  unlink(fifo);
  rmdir(dir);
  return rc;
}
