// welld start / restart: the fifteen steps, then exec COMMAND in the daemon.
#include <fmt/core.h>

#include <unistd.h>
#include <climits>
#include <csignal>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "interrupts.hpp"
#include "welld/control.hpp"
#include "welld/daemon.hpp"
#include "welld/listen.hpp"
#include "welld/parse.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"
#include "welld/readiness.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace welld::cli {
namespace {

struct StartArgs {
  std::string pidfile;
  std::string chdir;
  std::string umask = "022";
  std::string stdout_path;
  std::string stderr_path;
  std::string output;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> keep_env;
  bool inherit_env = false;
  bool ok_if_running = false;
  std::string user;
  std::string group;
  std::string supplementary_groups;
  std::string chroot;
  bool no_new_privs = false;
  std::optional<int> nice;
  std::vector<std::string> rlimits;
  std::string keep_caps;
  std::vector<std::string> listen;
  std::string ready = "exec";
  std::string ready_timeout = "60s";
  std::vector<std::string> command;
  // restart only: how to stop the running instance first
  std::string stop_signal = "TERM";
  std::string stop_timeout = "10s";
};

CLI::Validator non_empty() {
  return {[](const std::string& s) { return s.empty() ? std::string("empty value") : std::string(); }, "NONEMPTY",
          "non-empty"};
}

void add_start_options(CLI::App& sub, StartArgs& a) {
  sub.add_option("-p,--pidfile", a.pidfile, "PID file written by the daemon (relative: against the current directory)")
      ->check(non_empty());
  sub.add_option("--chdir", a.chdir, "working directory of the daemon (default /)")->check(non_empty());
  sub.add_option("--umask", a.umask,
                 "umask of the daemon, octal (default 022 like systemd services; the library's "
                 "default is 0)");
  sub.add_option("--env", a.env, "set NAME=VALUE in the daemon's environment (repeatable)");
  sub.add_option("--keep-env", a.keep_env, "keep NAME from this environment; globs like 'LC_*' allowed (repeatable)");
  sub.add_flag("--inherit-env", a.inherit_env,
               "keep the whole environment except dangerous loader variables (LD_*, MALLOC_*...)");
  auto* out = sub.add_option("--stdout", a.stdout_path, "append the daemon's stdout to FILE")->check(non_empty());
  auto* err = sub.add_option("--stderr", a.stderr_path, "append the daemon's stderr to FILE")->check(non_empty());
  sub.add_option("--output", a.output, "append both stdout and stderr to FILE")
      ->check(non_empty())
      ->excludes(out)
      ->excludes(err);
  sub.add_option("--name", a.name, "name used in messages (default: the command's name)");
  sub.add_flag("--ok-if-running", a.ok_if_running, "exit 0 when already running (LSB start)");
  sub.add_option("-u,--user", a.user, "run as USER[:GROUP] (names or ids), with USER's own groups")->check(non_empty());
  sub.add_option("-g,--group", a.group, "primary group (default: the user's)")->check(non_empty());
  sub.add_option("--supplementary-groups", a.supplementary_groups,
                 "G1,G2,... instead of the user's own groups, or 'none'")
      ->check(non_empty());
  sub.add_option("--chroot", a.chroot,
                 "chroot to DIR after writing the PID file and opening logs (those are host paths; "
                 "--chdir and COMMAND are inside DIR)")
      ->check(non_empty());
  sub.add_flag("--no-new-privs", a.no_new_privs, "set PR_SET_NO_NEW_PRIVS: setuid binaries cannot gain privileges");
  sub.add_option("--nice", a.nice, "scheduling niceness, -20..19")->check(CLI::Range(-20, 19));
  sub.add_option("--rlimit", a.rlimits, "NAME=SOFT[:HARD], e.g. nofile=4096 or core=unlimited (repeatable)");
  sub.add_option("--keep-caps", a.keep_caps,
                 "CAP,... capabilities kept across --user as ambient ones, e.g. cap_net_bind_service")
      ->check(non_empty());
  sub.add_option("--listen", a.listen,
                 "tcp:[HOST:]PORT or unix:PATH: bind and listen before forking (and before dropping privileges), "
                 "pass as LISTEN_FDS from fd 3 (repeatable)");
  sub.add_option("--ready", a.ready,
                 "when start returns: exec (default), notify[:@NAME|PATH] (sd_notify READY=1), fd[:N] (s6: a "
                 "newline on fd N, default 3), tcp:[HOST:]PORT, unix:PATH (a connect succeeds), file:PATH (exists)");
  sub.add_option("--ready-timeout", a.ready_timeout,
                 "give up (and stop the daemon) after this long (default 60s; EXTEND_TIMEOUT_USEC= extends it)");
  sub.add_option("command", a.command, "COMMAND [ARG...] after --")->required()->expected(1, -1);
  sub.positionals_at_end(true);
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The exit code for a failed start (LSB).
int start_exit_code(const Status& st) {
  if (st.already_running()) return exit_code::failure;
  if (st.step == Step::prepare) return exit_code::usage;
  if (st.step == Step::drop_privileges && st.error == ENOENT && st.pid < 0) return exit_code::usage;
  if (st.step == Step::exec) return exit_code::not_installed;
  if (st.error == EPERM || st.error == EACCES) return exit_code::privilege;
  return exit_code::failure;
}

// Build library Options from the command line; on error prints and returns false.
bool make_options(const StartArgs& a, std::string_view verb, Options& o) {
  std::string error;
  auto mask = parse_umask(a.umask, &error);
  if (!mask) {
    error_line(verb, error);
    return false;
  }
  for (const auto& e : a.env) {
    if (!valid_assignment(e)) {
      error_line(verb, fmt::format("--env: expected NAME=VALUE, got '{}'", e));
      return false;
    }
  }
  if (!a.user.empty()) {
    auto ug = parse_user_group(a.user, &error);
    if (!ug) {
      error_line(verb, error);
      return false;
    }
    if (!ug->group.empty() && !a.group.empty()) {
      error_line(verb, "give the group either in --user USER:GROUP or in --group, not both");
      return false;
    }
    o.user = ug->user;
    o.group = ug->group.empty() ? a.group : ug->group;
  } else if (!a.group.empty() || !a.supplementary_groups.empty() || !a.keep_caps.empty()) {
    error_line(verb, "--group, --supplementary-groups and --keep-caps need --user");
    return false;
  }
  if (!a.supplementary_groups.empty()) {
    o.supplementary_groups = a.supplementary_groups == "none" ? std::vector<std::string>{}
                                                              : split_list(a.supplementary_groups);
  }
  if (!a.keep_caps.empty()) o.keep_caps = split_list(a.keep_caps);
  for (const auto& text : a.rlimits) {
    auto spec = parse_rlimit(text, &error);
    if (!spec) {
      error_line(verb, error);
      return false;
    }
    o.rlimits.push_back({spec->resource, spec->soft, spec->hard});
  }
  o.chroot = a.chroot;
  o.no_new_privs = a.no_new_privs;
  o.nice = a.nice;
  o.pidfile = a.pidfile;
  o.chdir = a.chdir;
  o.umask = *mask;
  o.stdout_path = a.output.empty() ? a.stdout_path : a.output;
  o.stderr_path = a.output.empty() ? a.stderr_path : a.output;
  o.environment = {.inherit = a.inherit_env, .keep = a.keep_env, .set = a.env};
  // welld exits as soon as the daemon is up, so it can reap the daemon if it
  // dies first and say how it died.
  o.collect_exit_status = true;
  return true;
}

void warn_denied(const Options& o, std::string_view verb) {
  for (const auto& name : denied_names(o.environment, environ)) {
    warning_line(verb, fmt::format("not passing {} (dangerous in a daemon; --keep-env {} passes it)", name, name));
  }
}

// A start that failed after the daemon was created: stop it (TERM, then
// KILL) and remove its PID file, so that nothing is left behind.
void clean_up(pid_t pid, pid_t main_pid, const std::string& pidfile) {
  for (pid_t target : {main_pid, pid}) {
    if (target <= 0) continue;
    Process process;
    if (Process::open(target, 0, process)) continue;
    process.signal(SIGTERM);
    if (!process.wait_exit(std::chrono::seconds(5))) {
      process.signal(SIGKILL);
      process.wait_exit(std::chrono::seconds(5));
    }
  }
  if (!pidfile.empty()) {
    remove_pidfile(pidfile.c_str(), pid);
    if (main_pid > 0) remove_pidfile(pidfile.c_str(), main_pid);
  }
}

std::string absolute_path(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof cwd) != nullptr ? std::string(cwd) + "/" + path : path;
}

int run_start(const StartArgs& a, std::string_view verb) {
  Options options;
  if (!make_options(a, verb, options)) return exit_code::usage;
  std::string error;
  auto spec = parse_ready_spec(a.ready, &error);
  auto timeout = spec ? parse_duration(a.ready_timeout, &error) : std::nullopt;
  if (!spec || !timeout) {
    error_line(verb, error);
    return exit_code::usage;
  }
  std::vector<ListenSpec> listen_specs;
  for (const auto& text : a.listen) {
    auto listen = parse_listen_spec(text, &error);
    if (!listen) {
      error_line(verb, error);
      return exit_code::usage;
    }
    listen_specs.push_back(*listen);
  }
  warn_denied(options, verb);
  std::string name = a.name.empty() ? basename_of(a.command.front()) : a.name;
  std::string prefix = a.name.empty() ? "" : a.name + ": ";
  // Sockets are bound here, before anything forks and before the daemon drops
  // privileges: errors come first, and a privileged port needs no privilege later.
  std::vector<UniqueFd> sockets(listen_specs.size());
  for (size_t i = 0; i < listen_specs.size(); ++i) {
    if (auto ec = bind_listener(listen_specs[i], sockets[i])) {
      std::string why = ec == std::errc::file_exists ? "the path exists and is not a socket" : ec.message();
      error_line(verb, prefix + fmt::format("cannot bind {}: {}", a.listen[i], why));
      return ec == std::errc::permission_denied ? exit_code::privilege : exit_code::failure;
    }
  }
  pass_listeners(sockets, listen_specs, options);
  // Interrupts are caught from here on, so that a start interrupted while it
  // waits cleans up after itself (exit 128 + signal).
  std::optional<Interrupts> interrupts;
  if (spec->mode != ReadyMode::exec) interrupts.emplace();
  ReadinessWaiter waiter(*spec);
  if (auto ec = waiter.prepare(options, 3 + static_cast<int>(options.pass_fds.size()))) {
    error_line(verb, prefix + "cannot prepare readiness (" + a.ready + "): " + ec.message());
    return exit_code::failure;
  }
  Status st = spawn_daemon(options, a.command);
  waiter.spawned();
  if (st.already_running() && a.ok_if_running) {
    fmt::print("{} is already running (pid {})\n", name, st.holder);
    return exit_code::ok;
  }
  if (!st) {
    error_line(verb, prefix + st.message());
    return start_exit_code(st);
  }
  if (spec->mode == ReadyMode::exec) return exit_code::ok;
  ReadyResult ready = waiter.wait(st.pid, *timeout, interrupts->fd(), [&](std::string_view text) {
    fmt::print("{}: {}\n", name, printable(text));
    std::fflush(stdout);
  });
  if (ready.outcome == ReadyOutcome::ready) {
    if (ready.main_pid > 0 && ready.main_pid != st.pid && !options.pidfile.empty()) {
      replace_pidfile(absolute_path(options.pidfile).c_str(), st.pid, ready.main_pid);
    }
    return exit_code::ok;
  }
  clean_up(st.pid, ready.main_pid, absolute_path(options.pidfile));
  if (ready.outcome == ReadyOutcome::cancelled) {
    int sig = interrupts->caught();
    error_line(verb, prefix + fmt::format("interrupted by SIG{} while waiting; stopped the daemon", signal_name(sig)));
    return 128 + sig;
  }
  std::string what = ready.message();
  if (ready.outcome == ReadyOutcome::timed_out) what += fmt::format(" ({}); stopped it", a.ready_timeout);
  error_line(verb, prefix + what);
  return exit_code::failure;
}

std::string restart_stop(const StartArgs& a, std::string_view verb, int& code) {
  std::string error;
  auto sig = parse_signal(a.stop_signal, &error);
  auto timeout = sig ? parse_duration(a.stop_timeout, &error) : std::nullopt;
  if (!sig || !timeout) {
    code = exit_code::usage;
    return error;
  }
  if (a.pidfile.empty()) {
    code = exit_code::usage;
    return "--pidfile is required";
  }
  StopResult r = stop_daemon(a.pidfile, *sig, *timeout);
  if (r.outcome == StopOutcome::refused || r.outcome == StopOutcome::failed) {
    code = r.error == std::errc::operation_not_permitted ? exit_code::privilege : exit_code::failure;
    return r.reason;
  }
  if (r.outcome == StopOutcome::killed) {
    warning_line(verb, fmt::format("pid {} did not stop within {}; sent SIGKILL", r.pid, a.stop_timeout));
  }
  code = exit_code::ok;
  return {};
}

}  // namespace

void define_start_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  sub.footer(verb_footer("welld start [OPTIONS] -- COMMAND [ARG...]",
                         "0 started (or already running with --ok-if-running), 1 failure (e.g. already running), 2 "
                         "usage or bad option, 4 no permission, 5 COMMAND not found or not executable"));
  add_start_options(sub, *args);
  sub.callback([args, &action] { action = [args] { return run_start(*args, "start"); }; });
}

void define_restart_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<StartArgs>();
  sub.footer(verb_footer("welld restart -p FILE [OPTIONS] -- COMMAND [ARG...]", "as for stop, then as for start"));
  add_start_options(sub, *args);
  sub.add_option("--signal", args->stop_signal, "signal to stop the running instance (default TERM)");
  sub.add_option("--timeout", args->stop_timeout, "wait this long before SIGKILL (default 10s)");
  sub.callback([args, &action] {
    action = [args] {
      int code = 0;
      std::string error = restart_stop(*args, "restart", code);
      if (code != exit_code::ok) {
        error_line("restart", error);
        return code;
      }
      return run_start(*args, "restart");
    };
  });
}

}  // namespace welld::cli
