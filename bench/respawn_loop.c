/* respawn_loop PROGRAM [ARG...] — the least a supervisor can do to restart a
 * program: posix_spawn it (glibc's is clone with CLONE_VM | CLONE_VFORK, as
 * welld's spawn), wait for it, spawn it again, forever. No decision, no log,
 * no state, no PID file, none of daemon(7)'s steps: fds, signals, environment
 * and the working directory pass through. bench/supervise.sh runs it beside
 * the supervisors as the floor of a restart on this machine (the kernel's
 * exit, wake-up, reaping, clone and exec, and the program's dynamic loading).
 * It stops when it is killed, or when the program cannot be spawned. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: respawn_loop PROGRAM [ARG...]\n");
    return 2;
  }
  for (;;) {
    pid_t pid = 0;
    int err = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
    if (err != 0) {
      fprintf(stderr, "respawn_loop: cannot spawn %s: %s\n", argv[1], strerror(err));
      return 1;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
}
