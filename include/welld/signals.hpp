// welld/signals.hpp — steps 2 and 3: signal dispositions and the mask.
//
// Both functions are async-signal-safe. A disposition the process set before
// daemonizing is gone afterwards: install handlers in the init callback.
#pragma once

#include <string>
#include <system_error>

namespace welld {

enum class SignalResetMethod {
  automatic,     // Linux: only the signals /proc/self/status shows caught or ignored; else every one
  every_signal,  // sigaction over 1..NSIG-1, the portable way
};

/// Set every signal's disposition to SIG_DFL (SIGKILL and SIGSTOP excepted).
std::error_code reset_signal_dispositions(SignalResetMethod method = SignalResetMethod::automatic) noexcept;

/// Unblock every signal.
std::error_code empty_signal_mask() noexcept;

/// A signal's name without "SIG": "TERM" for 15; "RTMIN", "RTMIN+2"; the
/// number as text when unnamed. The one renderer of signal names (parse_signal
/// in parse.hpp reads each back). Not for after fork (it allocates).
std::string signal_name(int sig);

/// "SIGTERM", "SIGRTMIN+2"; "signal 99" when unnamed.
std::string signal_label(int sig);

}  // namespace welld
