// A bounded backoff for checks that nothing can wake: 1 ms doubling to 100 ms.
// Readiness retries its tcp and unix connects with it, and a process pinned
// without pidfd_open (its /proc/PID directory, which poll(2) always reports
// readable) is looked at with it: a change is noticed within 100 ms, and a
// long wait costs ten wake-ups a second.
#pragma once

#include <algorithm>
#include <chrono>

namespace welld::detail {

class RetryBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{1};
  static constexpr std::chrono::milliseconds kLongest{100};

  /// How long to sleep before the next check: the current step, never more
  /// than `left`; each call doubles the step, up to kLongest.
  std::chrono::milliseconds next(std::chrono::milliseconds left) noexcept {
    std::chrono::milliseconds sleep = std::min(left, step_);
    step_ = std::min(step_ * 2, kLongest);
    return sleep;
  }

 private:
  std::chrono::milliseconds step_ = kFirst;
};

}  // namespace welld::detail
