// welld run: COMMAND in the foreground, welld its parent (and maybe PID 1).
//
// The same start as welld start (start_options.hpp: one parser, one
// StartRequest), run by the supervisor core in this very process
// (welld/supervise.hpp, InitDuties): no detach of welld, every start
// start_daemon with Options::detach false. What is new here is the upward
// side: once COMMAND is ready (in any --ready mode), welld tells its own
// manager in the manager's protocol (sd_notify READY=1 to $NOTIFY_SOCKET, a
// newline on --notify-fd, --ready-file), and it exits with COMMAND's status.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "command.hpp"
#include "start_options.hpp"
#include "unit_options.hpp"
#include "welld/listen.hpp"
#include "welld/notify.hpp"
#include "welld/parse.hpp"
#include "welld/path.hpp"
#include "welld/supervise.hpp"
#include "welld/unique_fd.hpp"

namespace welld::cli {
namespace {

// welld is in its controlling terminal's foreground process group: an
// interactive shell ran it as a foreground job.
bool in_foreground_of_a_terminal() {
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
  return tty && ::tcgetpgrp(tty.get()) == ::getpgrp();
}

// COMMAND's end as welld run's exit code (a raw wait status).
int code_of_status(int wait_status) {
  if (wait_status >= 0 && WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (wait_status >= 0 && WIFSIGNALED(wait_status)) return exit_code::signal_base + WTERMSIG(wait_status);
  return exit_code::run_failure;  // not ours to know (a MAINPID= process that was not our child)
}

int code_of_failed_start(const StartResult& r, int stop_signal) {
  if (r.outcome == StartOutcome::cancelled && stop_signal > 0) return exit_code::signal_base + stop_signal;
  if (r.outcome == StartOutcome::spawn_failed && r.status.step == Step::exec) {
    switch (r.status.error) {
      case ENOENT:
      case ENOTDIR:
      case ELOOP:
      case ENAMETOOLONG: return exit_code::run_not_found;
      default: return exit_code::run_not_executable;
    }
  }
  // It exited before it was ready: its own status, unless that says success.
  if (r.outcome == StartOutcome::exited) {
    int code = code_of_status(r.ready.wait_status);
    if (code != 0) return code;
  }
  return exit_code::run_failure;
}

// FILE appears whole: written beside it, then renamed onto it.
bool create_ready_file(const std::string& path, pid_t pid, std::string& error) {
  std::string temp = parent_directory(path) + "/." + base_name(path) + ".welld-new";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  std::string text = fmt::format("{}\n", pid);
  bool ok = fd && write_all(fd.get(), text) && ::fsync(fd.get()) == 0;
  int saved = errno;
  fd.reset();
  if (ok && ::rename(temp.c_str(), path.c_str()) == 0) return true;
  if (ok) saved = errno;
  ::unlink(temp.c_str());
  error = fmt::format("cannot create {}: {}", path, std::system_category().message(saved));
  return false;
}

// Readiness upward, in every protocol welld's manager asked for.
class Upward {
 public:
  Upward(const StartArgs& a, std::string notify_socket)
      : notify_socket_(std::move(notify_socket)), notify_fd_(a.notify_fd), ready_file_(a.ready_file) {}

  void ready(pid_t pid, std::string_view name) {
    if (!notify_socket_.empty()) {
      std::string state = fmt::format("READY=1\n{}\n{}", notify_state::status(fmt::format("{} is ready", name)),
                                      notify_state::mainpid(pid));
      if (auto ec = notify_socket(notify_socket_, state)) {
        warning_line("run", fmt::format("cannot notify {}: {}", notify_socket_, ec.message()));
      }
    }
    if (notify_fd_ >= 0) {
      if (!write_all(notify_fd_, "\n")) {
        warning_line("run", fmt::format("cannot write to --notify-fd {}: {}", notify_fd_,
                                        std::system_category().message(errno)));
      }
      ::close(notify_fd_);
      notify_fd_ = -1;
    }
    std::string error;
    if (!ready_file_.empty() && !create_ready_file(ready_file_, pid, error)) warning_line("run", error);
    made_file_ = !ready_file_.empty() && error.empty();
    ready_ = true;
  }

  void status(std::string_view text) const {
    if (!notify_socket_.empty()) (void)notify_socket(notify_socket_, notify_state::status(text));
  }

  // Not ready any more: the file goes, the manager hears STOPPING=1.
  void ending() const {
    if (made_file_) ::unlink(ready_file_.c_str());
    if (ready_ && !notify_socket_.empty()) (void)notify_socket(notify_socket_, notify_state::stopping);
  }

 private:
  std::string notify_socket_;
  int notify_fd_;
  std::string ready_file_;
  bool made_file_ = false;
  bool ready_ = false;
};

// welld run socket-activated itself (LISTEN_PID is welld's, sockets from fd
// 3) and without --listen: the sockets go on to COMMAND, with LISTEN_PID
// rewritten to COMMAND's PID after the fork and LISTEN_FDNAMES kept, as
// catatonit does. The variables are welld's alone from here on.
void pass_on_activation(const StartArgs& a, StartRequest& child) {
  if (!a.listen.empty()) return;
  child.inherited_listen = listen_fds();
  if (child.inherited_listen.empty()) return;
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);
}

// `on_ready`: called with COMMAND's PID once it is first ready (a unit's ExecStartPost=).
int run_foreground(StartArgs a, const std::function<void(pid_t)>& on_ready = {}) {
  if (!a.pdeathsig.empty()) {
    std::string error;
    auto sig = parse_signal(a.pdeathsig, &error);
    if (!sig) {
      error_line("run", "--pdeathsig: " + error);
      return exit_code::run_failure;
    }
    pid_t parent = ::getppid();
    if (::prctl(PR_SET_PDEATHSIG, *sig) != 0) {
      error_line("run", "--pdeathsig: " + std::system_category().message(errno));
      return exit_code::run_failure;
    }
    if (::getppid() != parent) ::raise(*sig);  // it died before the prctl
  }
  if (a.notify_fd >= 0 && ::fcntl(a.notify_fd, F_GETFD) < 0) {
    error_line("run", fmt::format("--notify-fd {}: {}", a.notify_fd, std::system_category().message(errno)));
    return exit_code::run_failure;
  }
  if (!a.ready_file.empty() && make_absolute(a.ready_file, a.ready_file)) {
    error_line("run", "--ready-file: cannot make the path absolute");
    return exit_code::run_failure;
  }
  StartRequest child;
  if (build_request(a, "run", child) != 0) return exit_code::run_failure;
  pass_on_activation(a, child);
  SupervisorConfig config;
  if (build_run(a, std::move(child), in_foreground_of_a_terminal(), config) != 0) return exit_code::run_failure;
  // Our manager's socket is ours: COMMAND does not get it (the environment
  // policy drops it anyway; --ready=notify gives COMMAND a socket of its own).
  const char* manager = std::getenv("NOTIFY_SOCKET");
  Upward upward(a, manager != nullptr ? manager : "");
  ::unsetenv("NOTIFY_SOCKET");
  std::string name = a.display_name();
  std::string prefix = a.name.empty() ? "" : a.name + ": ";
  config.child.on_status = [&](std::string_view text) { upward.status(text); };
  // welld run is the program's init and nothing else: its start-up need not
  // stay resident through the wait (a container's idle RSS).
  config.release_idle_memory = true;
  StartResult first;
  config.on_first_start = [&](const StartResult& r) {
    first = r;
    if (r) {
      upward.ready(r.main.pid, name);
      if (on_ready) on_ready(r.main.pid);
    } else if (r.outcome != StartOutcome::cancelled) {
      error_line("run", prefix + start_failure_message(r, 0));
    }
  };
  SupervisorResult result = supervise(config);
  upward.ending();
  switch (result.end) {
    case SupervisorEnd::finished:
    case SupervisorEnd::gave_up: return code_of_status(result.last_status);
    case SupervisorEnd::stopped:
      return result.stop_signal > 0 ? exit_code::signal_base + result.stop_signal : exit_code::run_failure;
    case SupervisorEnd::first_start_failed: return code_of_failed_start(first, result.stop_signal);
    case SupervisorEnd::error: break;
  }
  error_line("run", prefix + result.message);
  return exit_code::run_failure;
}

}  // namespace

void define_run_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  sub.footer(verb_footer("welld run [OPTIONS] -- COMMAND [ARG...]", exit_codes_text("run")));
  add_start_options(sub, *args);
  add_run_options(sub, *args);
  add_unit_options(sub, *args);
  sub.callback([args, &action] {
    action = [args] {
      if (int code = expand_unit_args(*args, "run")) return code;
      if (args->unit.empty()) return run_foreground(*args);
      return run_unit(*args, [](const StartArgs& a, const std::function<void(pid_t)>& on_ready) {
        return run_foreground(a, on_ready);
      });
    };
  });
}

}  // namespace welld::cli
