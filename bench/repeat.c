/* repeat N CMD [ARG...] — run CMD N times in a row, each waited for, with no
 * shell between the runs (hyperfine -N times the whole sequence). CMD's exit
 * statuses are not judged; only a failed spawn is an error. */
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "arg.h"

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  long n = arg_long(argv[1]);
  for (long i = 0; i < n; ++i) {
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) return 1;
    int status = 0;
    waitpid(pid, &status, 0);
  }
  return 0;
}
