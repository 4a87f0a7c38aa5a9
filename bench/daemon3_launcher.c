/* daemon3_launcher PIDFILE PROGRAM [ARG...] — the glibc daemon(3) way, as
 * most hand-written daemons do it: daemon(0, 0), write the PID file, exec.
 * The baseline for system-call counts (it skips most of daemon(7)'s steps). */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  if (daemon(0, 0) != 0) return 1;
  FILE* f = fopen(argv[1], "w");
  if (f == NULL) return 1;
  fprintf(f, "%d\n", getpid());
  fclose(f);
  execv(argv[2], argv + 2);
  return 127;
}
