/* measure_after_stamp STAMPFILE CMD [ARG...] — run CMD, and print how long
 * after the instant recorded in STAMPFILE (CLOCK_MONOTONIC ns, written by
 * timed_service during the run) CMD returned, in microseconds. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  unlink(argv[1]);
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY); /* only the figure goes to stdout */
    dup2(null_fd, 1);
    execv(argv[2], argv + 2);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  long long returned = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  FILE* f = fopen(argv[1], "r");
  char text[32] = {0};
  char* end = text;
  long long stamped = f != NULL && fgets(text, sizeof text, f) != NULL ? strtoll(text, &end, 10) : 0;
  if (f == NULL || end == text) {
    fprintf(stderr, "measure: no stamp in %s (command exit status %d)\n", argv[1], status);
    return 1;
  }
  fclose(f);
  printf("%.1f\n", (double)(returned - stamped) / 1000.0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
