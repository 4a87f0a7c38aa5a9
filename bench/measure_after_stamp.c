/* measure_after_stamp STAMPFILE CMD [ARG...] — run CMD, and print how long
 * after the instant recorded in STAMPFILE (CLOCK_MONOTONIC ns, written by
 * timed_service during the run) CMD returned, in microseconds. The stamp
 * may be written just after CMD returns (timed_service writes it after the
 * event it times): the file is read until it holds a whole line, for up to
 * 5 s. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  char text[32] = {0};
  for (int tries = 0; tries < 50000 && strchr(text, '\n') == NULL; ++tries) {
    if (tries > 0) nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL); /* untimed: after `returned` */
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, text, sizeof text - 1);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
  }
  char* end = text;
  long long stamped = strtoll(text, &end, 10);
  if (end == text || *end != '\n') {
    fprintf(stderr, "measure: no stamp in %s (command exit status %d)\n", argv[1], status);
    return 1;
  }
  printf("%.1f\n", (double)(returned - stamped) / 1000.0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
