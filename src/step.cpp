#include "welld/step.hpp"

#include <string>

namespace welld {

std::string_view to_string(Step step) noexcept {
  switch (step) {
    case Step::none: return "none";
    case Step::close_fds: return "close-fds";
    case Step::reset_signals: return "reset-signals";
    case Step::empty_signal_mask: return "empty-signal-mask";
    case Step::sanitize_environment: return "sanitize-environment";
    case Step::fork: return "fork";
    case Step::setsid: return "setsid";
    case Step::fork_again: return "fork-again";
    case Step::intermediate_exit: return "intermediate-exit";
    case Step::redirect_stdio: return "redirect-stdio";
    case Step::set_umask: return "umask";
    case Step::chdir: return "chdir";
    case Step::pidfile: return "pidfile";
    case Step::drop_privileges: return "drop-privileges";
    case Step::report_initialized: return "report-initialized";
    case Step::exit_original: return "exit-original";
    case Step::prepare: return "prepare";
    case Step::init: return "init";
    case Step::exec: return "exec";
    case Step::daemon_died: return "daemon-died";
    case Step::ready: return "ready";
    case Step::limits: return "limits";
    case Step::chroot: return "chroot";
  }
  return "unknown";
}

std::string_view describe(Step step) noexcept {
  switch (step) {
    case Step::none: return "succeed";
    case Step::close_fds: return "close inherited file descriptors";
    case Step::reset_signals: return "reset signal dispositions";
    case Step::empty_signal_mask: return "empty the signal mask";
    case Step::sanitize_environment: return "sanitize the environment";
    case Step::fork: return "fork";
    case Step::setsid: return "create a new session";
    case Step::fork_again: return "fork the daemon";
    case Step::intermediate_exit: return "detach from the session leader";
    case Step::redirect_stdio: return "redirect standard streams to";
    case Step::set_umask: return "set the umask";
    case Step::chdir: return "change directory to";
    case Step::pidfile: return "write the PID file";
    case Step::drop_privileges: return "drop privileges to";
    case Step::report_initialized: return "report initialization";
    case Step::exit_original: return "exit";
    case Step::prepare: return "prepare";
    case Step::init: return "initialize";
    case Step::exec: return "execute";
    case Step::daemon_died: return "keep the daemon alive";
    case Step::ready: return "become ready";
    case Step::limits: return "set resource limits for";
    case Step::chroot: return "chroot to";
  }
  return "do an unknown step";
}

namespace {
class StepCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "welld.step"; }
  std::string message(int value) const override { return std::string(to_string(static_cast<Step>(value))); }
};
}  // namespace

const std::error_category& step_category() noexcept {
  static const StepCategory category;
  return category;
}

std::error_code make_error_code(Step step) noexcept { return {static_cast<int>(step), step_category()}; }

}  // namespace welld
