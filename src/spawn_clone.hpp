// spawn_daemon's children, made without a copy of the caller's memory.
#pragma once

#include <sys/types.h>

#include "daemon_plan.hpp"

namespace welld::detail {

// Steps 5-8 and the daemon's steps up to its exec, by clone(CLONE_VM |
// CLONE_VFORK) twice: returns once the intermediate has exited, after the
// daemon's exec (or failure), which reports over `report_fd`. The
// intermediate's PID, or -1 with `error` set (and `what`, when it was the
// children's stacks that could not be made, named). One spawn at a time runs
// (the children's stacks are shared); the plan is only read.
// With plan.detach false, one clone: the child does steps 1-6 (step 6 as
// plan.session says) and the daemon's steps itself, and stays the caller's
// child; its PID is returned, once it has exec'd or failed (not reaped).
pid_t clone_daemon(const Plan& plan, int report_fd, int& error, const char*& what) noexcept;

}  // namespace welld::detail
