/* peak_rss CMD [ARG...] — run CMD (posix_spawn, so no copy of this process
 * is measured) and print the peak resident set size, in KiB, of CMD and the
 * descendants it waited for (wait4's rusage). */
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid;
  if (posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) return 1;
  int status = 0;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) != pid) return 1;
  printf("%ld\n", usage.ru_maxrss);
  return 0;
}
