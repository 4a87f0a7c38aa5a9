// welld/fds.hpp — closing inherited file descriptors (step 1).
//
// Gotchas:
//  * close_inherited_fds is async-signal-safe: it allocates nothing, so it may be
//    called between fork() and exec(). The /proc fallback reads the directory
//    with getdents64 into a stack buffer for that reason (opendir allocates).
//  * fds 0, 1 and 2 are always kept; so is every fd named in `keep`.
#pragma once

#include <span>
#include <system_error>

namespace welld {

enum class CloseMethod {
  automatic,     // close_range(2), then /proc/self/fd, then the bounded loop
  close_range,   // only close_range(2) (Linux >= 5.9); fails with ENOSYS if absent
  proc_self_fd,  // only the /proc/self/fd listing
  bounded_loop,  // only close() over 3..min(RLIMIT_NOFILE, kMaxLoopFd)
};

/// The loop fallback never goes above this fd number: with RLIMIT_NOFILE at 2^30
/// (common in containers) an unbounded loop takes minutes. It is the last resort,
/// used only when both close_range and /proc are unavailable.
inline constexpr int kMaxLoopFd = 65536;

/// Close every fd >= 3 that is not in `keep`. Returns the method that succeeded
/// through `used` (when non-null), or an errno-based error when none could run.
/// Async-signal-safe.
std::error_code close_inherited_fds(std::span<const int> keep, CloseMethod method = CloseMethod::automatic,
                                    CloseMethod* used = nullptr) noexcept;

}  // namespace welld
