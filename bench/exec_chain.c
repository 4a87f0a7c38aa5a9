/* exec_chain PIDFILE PROGRAM [ARG...] — the least a launcher can do and still
 * report a failed exec: a child in a new session, a grandchild that writes the
 * PID file and execs, and a launcher that returns only once the exec happened
 * (a close-on-exec pipe reaches EOF) or failed (the errno comes through the
 * pipe). Created the way welld creates them (clone with CLONE_VM | CLONE_VFORK
 * on separate stacks), with none of daemon(7)'s other steps, no C++ runtime
 * and no command line to parse. bench/run times it as a lower bound for any
 * launcher that waits for the exec. Not a daemonizer: fds, signals,
 * environment and the working directory pass through. Built with _GNU_SOURCE
 * (clone, pipe2). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const size_t kStack = (size_t)64 * 1024;

struct chain {
  char** argv;
  int report_fd;
  char* grandchild_stack;
};

static int grandchild(void* arg) {
  struct chain* c = arg;
  int fd = open(c->argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char text[24];
    int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
    (void)!write(fd, text, (size_t)n);
    close(fd);
  }
  execv(c->argv[2], c->argv + 2);
  int err = errno;
  (void)!write(c->report_fd, &err, sizeof err);
  _exit(127);
}

static int child(void* arg) {
  struct chain* c = arg;
  setsid();
  /* Returns once the grandchild has exec'd or exited. */
  if (clone(grandchild, c->grandchild_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, c) < 0) {
    int err = errno;
    (void)!write(c->report_fd, &err, sizeof err);
  }
  _exit(0);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 1;
  char* stacks = mmap(NULL, 2 * kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stacks == MAP_FAILED) return 1;
  struct chain c = {argv, fds[1], stacks + 2 * kStack};
  pid_t pid = clone(child, stacks + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
  if (pid < 0) return 1;
  close(fds[1]);
  int err = 0;
  ssize_t got = read(fds[0], &err, sizeof err);
  waitpid(pid, NULL, 0);
  if (got > 0) {
    fprintf(stderr, "exec_chain: cannot execute %s: errno %d\n", argv[2], err);
    return 1;
  }
  return 0;
}
