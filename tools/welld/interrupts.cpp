#include "interrupts.hpp"

namespace welld::cli {

std::vector<int> Interrupts::signals() {
  std::vector<int> list = {SIGHUP,    SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
                           SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO,   SIGPWR};
#ifdef SIGSTKFLT
  list.push_back(SIGSTKFLT);
#endif
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) list.push_back(sig);
  return list;
}

Interrupts::Interrupts() : wakeup_(signals(), {.keep_ignored = true}) {
  if (wakeup_.fd() < 0) return;  // nothing is caught: the start does not go on
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  pipe_saved_ = ::sigaction(SIGPIPE, &ignore, &old_pipe_) == 0;
}

Interrupts::~Interrupts() {
  if (pipe_saved_) ::sigaction(SIGPIPE, &old_pipe_, nullptr);
}

}  // namespace welld::cli
