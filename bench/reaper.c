/* reaper CMD [ARG...] — run CMD as a child subreaper, then kill (SIGKILL, by
 * PID) whatever orphaned descendants are left. The benchmarks start hundreds
 * of daemons with tools whose stop commands differ; this is the safety net
 * that leaves the machine as it was. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t parent_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE* f = fopen(path, "r");
  if (f == NULL) return -1;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char* close = strrchr(buf, ')');
  int ppid = -1;
  if (close == NULL || sscanf(close + 2, "%*c %d", &ppid) != 1) return -1;
  return ppid;
}

/* Kill every process whose parent is us; returns how many were found. */
static int kill_orphans(void) {
  int found = 0;
  DIR* proc = opendir("/proc");
  struct dirent* e;
  while ((e = readdir(proc)) != NULL) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid > 0 && parent_of(pid) == getpid()) {
      kill(pid, SIGKILL);
      ++found;
    }
  }
  closedir(proc);
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  return found;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t child = fork();
  if (child == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  /* Reap as we go: orphaned daemons that exit become our zombies, and a
   * zombie still has a /proc entry that waiters would mistake for a live
   * process. */
  int status = 0;
  for (;;) {
    int st = 0;
    pid_t done = waitpid(-1, &st, 0);
    if (done == child) {
      status = st;
      break;
    }
    if (done < 0 && errno != EINTR) break;
  }
  int total = 0;
  for (int round = 0; round < 50; ++round) {
    int n = kill_orphans();
    total += n;
    if (n == 0) break;
    usleep(20000);
  }
  if (total > 0) fprintf(stderr, "reaper: killed %d leftover process(es)\n", total);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
