// welld start with a supervisor, and `welld supervise`: see supervise_launch.hpp.
#include "supervise_launch.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "exit_codes.hpp"
#include "interrupts.hpp"
#include "unit_options.hpp"
#include "welld/listen.hpp"
#include "welld/path.hpp"
#include "welld/supervise.hpp"

namespace welld::cli {
namespace {

using namespace std::chrono_literals;

std::vector<std::string>& verb_arguments() {
  static std::vector<std::string> args;
  return args;
}

std::string self_executable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return {buf, static_cast<size_t>(n)};
}

// Copy what the supervisor wrote on its stderr to ours.
void forward(int from) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    write_all(2, std::string_view(buf, static_cast<size_t>(n)));
  }
}

// The supervisor's own start: the daemon is the supervisor.
StartRequest supervisor_request(const StartArgs& a, const StartRequest& child, int report_fd) {
  StartRequest s;
  s.options.pidfile = a.pidfile;
  s.options.umask = 022;
  // The supervisor makes the paths it was given absolute there, then leaves it.
  if (make_absolute(".", s.options.chdir)) s.options.chdir = "/";
  s.options.environment = child.options.environment;  // applied again to the program: the same result
  s.options.stderr_fd = report_fd;
  s.options.collect_exit_status = true;
  // The supervisor stops the program with its own policy before it exits.
  auto stop_time = child.rollback.timeout + child.rollback.kill_timeout + 5s;
  s.options.stop_signal = SIGTERM;
  s.options.stop_timeout = stop_time;
  s.options.reload_signal = SIGHUP;
  s.rollback = {.signal = SIGTERM, .timeout = stop_time, .kill_timeout = 10s};
  s.listen = child.listen;  // bound here, kept by the supervisor across restarts
  int ready_fd = 3 + static_cast<int>(child.listen.size());
  s.ready = {.mode = ReadyMode::fd, .fd = ready_fd};
  s.ready_timeout = child.ready_timeout + stop_time + 10s;
  s.adopt_orphans = true;
  s.ok_if_running = a.ok_if_running;
  s.command = {self_executable(), "supervise", "--supervisor-ready-fd", std::to_string(ready_fd)};
  s.command.insert(s.command.end(), verb_arguments().begin(), verb_arguments().end());
  return s;
}

// The supervisor starts in welld start's directory: the paths it was given
// relative to it are made absolute, then it goes to "/" (step 11) for good.
bool settle_paths(StartArgs& a) {
  for (std::string* p : {&a.pidfile, &a.child_pidfile, &a.program_pidfile, &a.stdout_path, &a.stderr_path, &a.output,
                         &a.log, &a.log_stdout, &a.log_stderr, &a.chroot, &a.syslog_socket}) {
    std::string out;
    if (!make_absolute(*p, out)) *p = out;
  }
  std::string chdir;
  if (a.chroot.empty() && !make_absolute(a.chdir, chdir)) a.chdir = chdir;
  for (const char* prefix : {"file:", "unix:", "notify:"}) {
    std::string_view ready = a.ready;
    if (!ready.starts_with(prefix) || ready.substr(std::strlen(prefix)).starts_with('@')) continue;
    std::string out;
    if (!make_absolute(std::string(ready.substr(std::strlen(prefix))), out)) a.ready = prefix + out;
  }
  return ::chdir("/") == 0;
}

int run_supervise(StartArgs a, int ready_fd) {
  if (!settle_paths(a)) {
    error_line("start", std::string("cannot chdir to /: ") + std::strerror(errno));
    return exit_code::failure;
  }
  StartRequest child;
  if (int code = build_request(a, "start", child)) return code;
  SupervisorConfig config;
  if (int code = build_supervision(a, "start", std::move(child), config)) return code;
  // The sockets were bound by welld start and are ours for every restart.
  config.child.listen.clear();
  config.child.inherited_listen = listen_fds(true);
  std::string name = a.display_name();
  std::string prefix = a.name.empty() ? "" : a.name + ": ";
  bool reporting = true;  // stderr reaches welld start until the first start is over
  config.child.on_status = [&](std::string_view text) {
    if (reporting) write_all(2, fmt::format("{}: {}\n", name, printable(text)));
  };
  // This process is the supervisor and nothing else: its start-up need not
  // stay resident while it waits.
  config.release_idle_memory = true;
  config.on_event = [&](std::string_view line) {
    if (reporting) warning_line("start", prefix + std::string(line));
  };
  int code = exit_code::failure;
  config.on_first_start = [&](const StartResult& r) {
    reporting = false;
    if (r) {
      write_all(ready_fd, "\n");
      ::close(ready_fd);
      int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null_fd >= 0) {
        ::dup2(null_fd, 2);
        ::close(null_fd);
      }
      code = exit_code::ok;
      return;
    }
    error_line("start", prefix + start_failure_message(r, 0));
    code = start_exit_code_of(r, 0);
  };
  SupervisorResult result = supervise(config);
  switch (result.end) {
    case SupervisorEnd::stopped:
    case SupervisorEnd::finished: return exit_code::ok;
    case SupervisorEnd::first_start_failed: return code == exit_code::ok ? exit_code::failure : code;
    case SupervisorEnd::gave_up: return exit_code::failure;
    case SupervisorEnd::error:
      if (reporting) error_line("start", prefix + result.message);
      return exit_code::failure;
  }
  return exit_code::failure;
}

}  // namespace

void set_verb_arguments(int argc, char** argv) { verb_arguments().assign(argv + std::min(argc, 2), argv + argc); }

int run_supervised_start(const StartArgs& a, std::string_view verb) {
  StartRequest child;
  if (int code = build_request(a, verb, child)) return code;
  SupervisorConfig check;  // the settings are checked here, before anything starts
  if (int code = build_supervision(a, verb, child, check)) return code;
  std::string prefix = a.name.empty() ? "" : a.name + ": ";
  Interrupts interrupts;
  if (interrupts.error() != 0) {
    error_line(verb, prefix + "cannot catch signals: " + std::system_category().message(interrupts.error()));
    return exit_code::failure;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error_line(verb, prefix + "cannot make a pipe: " + std::system_category().message(errno));
    return exit_code::failure;
  }
  UniqueFd report(fds[0]);
  UniqueFd report_write(fds[1]);
  ::fcntl(report.get(), F_SETFL, O_NONBLOCK);
  StartRequest s = supervisor_request(a, child, report_write.get());
  if (s.command.front().empty()) {
    error_line(verb, prefix + "cannot find welld's own executable (/proc/self/exe)");
    return exit_code::failure;
  }
  s.cancel_fd = interrupts.fd();
  s.watch.push_back({report.get(), [&] {
                       forward(report.get());
                       return WatchAction::keep;
                     }});
  StartResult r = start_daemon(s);
  report_write.reset();
  forward(report.get());
  std::string name = a.display_name();
  if (r.outcome == StartOutcome::already_running) {
    write_all(1, fmt::format("{} is already running (pid {})\n", name, r.status.holder));
    return exit_code::ok;
  }
  if (r) return exit_code::ok;
  // The supervisor said why and chose the code; anything else is the supervisor's own start.
  int ws = r.ready.wait_status;
  if (r.outcome == StartOutcome::exited && ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) != 0) return WEXITSTATUS(ws);
  error_line(verb, prefix + start_failure_message(r, interrupts.caught()));
  return start_exit_code_of(r, interrupts.caught());
}

void define_supervise_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  auto ready_fd = std::make_shared<int>(-1);
  sub.group("");  // hidden: welld start runs it
  add_start_options(sub, *args);
  add_unit_options(sub, *args);
  sub.add_option("--supervisor-ready-fd", *ready_fd, "fd for the first start's newline")->required();
  // restart's own options come along in the arguments; the supervisor has no use for them.
  sub.add_option("--signal", args->stop_signal);
  sub.add_option("--timeout", args->stop_timeout);
  sub.callback([args, ready_fd, &action] {
    action = [args, ready_fd] {
      if (int code = expand_unit_args(*args, "supervise")) return code;
      return run_supervise(*args, *ready_fd);
    };
  });
}

}  // namespace welld::cli
