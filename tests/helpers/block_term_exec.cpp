// block_term_exec PROGRAM [ARG...] — exec PROGRAM with SIGTERM blocked and
// SIGHUP ignored, as a careless parent (a shell script, a CI runner) would.
#include <signal.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  signal(SIGHUP, SIG_IGN);
  execv(argv[1], argv + 1);
  std::perror("execv");
  return 127;
}
