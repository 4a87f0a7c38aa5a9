// wait_status.hpp — a child's end: waitid's siginfo as a wait status, and a
// wait status as words. The one place for both (wait(2), waitid(2)).
#pragma once

#include <signal.h>

#include "welld/process.hpp"

namespace welld {

/// What waitpid would have stored for the child waitid(WEXITED) reported in
/// `info`: W_EXITCODE(status, 0) for CLD_EXITED, the signal for CLD_KILLED,
/// the signal with the core flag (WCOREFLAG, 0x80) for CLD_DUMPED, so that
/// WIFSIGNALED, WTERMSIG and WCOREDUMP read it as they read waitpid's.
int wait_status_of(const siginfo_t& info) noexcept;

// describe_wait_status, the words for a wait status, is public: welld/process.hpp.

}  // namespace welld
