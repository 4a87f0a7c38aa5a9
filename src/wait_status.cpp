#include "wait_status.hpp"

#include <sys/wait.h>

#include "welld/signals.hpp"

namespace welld {

int wait_status_of(const siginfo_t& info) noexcept {
  switch (info.si_code) {
    case CLD_EXITED: return W_EXITCODE(info.si_status, 0);
    case CLD_DUMPED: return info.si_status | WCOREFLAG;
    default: return info.si_status;
  }
}

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    std::string label = signal_label(sig);
    return "was killed by signal " + std::to_string(sig) + (label.rfind("SIG", 0) == 0 ? " (" + label + ")" : "");
  }
  return "ended (status unknown)";
}

}  // namespace welld
