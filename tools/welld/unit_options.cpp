// --unit FILE.service: see unit_options.hpp.
#include "unit_options.hpp"

#include <fmt/core.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include "command.hpp"
#include "exit_codes.hpp"
#include "welld/control.hpp"
#include "welld/parse.hpp"
#include "welld/path.hpp"
#include "welld/privileges.hpp"
#include "welld/process.hpp"
#include "welld/start.hpp"

namespace welld::cli {
namespace {

using namespace std::chrono_literals;

bool load(const StartArgs& a, std::string_view verb, const std::vector<std::string>& manager_env, bool warnings,
          ServiceUnit& out) {
  UnitLoad l = load_service_unit(a.unit, {.strict = a.strict_unit, .manager_environment = manager_env});
  if (!l.error.empty()) {
    error_line(verb, l.error);
    return false;
  }
  for (const auto& w : l.unit.warnings) {
    if (warnings) warning_line(verb, w.text());
  }
  out = std::move(l.unit);
  return true;
}

std::string stem_of(const ServiceUnit& u) { return u.name.substr(0, u.name.rfind('.')); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// User=, Group=, SupplementaryGroups=, AmbientCapabilities= as --user,
// --group, --supplementary-groups and --keep-caps.
bool credential_args(const ServiceUnit& u, StartArgs& a, std::string& error) {
  if (u.user.empty() && (!u.group.empty() || u.supplementary_groups)) {
    error = u.path + ": Group= and SupplementaryGroups= need User= under welld";
    return false;
  }
  if (u.user.empty()) return true;
  a.user = u.user;
  a.group = u.group;
  if (u.supplementary_groups)
    a.supplementary_groups = u.supplementary_groups->empty() ? "none" : join(*u.supplementary_groups);
  a.keep_caps = join(u.ambient_capabilities);
  return true;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// WorkingDirectory=, UMask=, Environment=, Nice=, Limit*=, RootDirectory=, NoNewPrivileges=.
void process_args(const ServiceUnit& u, StartArgs& a) {
  if (!u.working_directory.empty()) {
    bool missing = u.working_directory_optional && !is_directory(u.root_directory + u.working_directory);
    a.chdir = missing ? "/" : u.working_directory;
  }
  if (u.umask) a.umask = fmt::format("{:04o}", *u.umask);
  std::vector<std::string> env = u.environment;
  env.insert(env.end(), a.env.begin(), a.env.end());  // --env beside --unit wins
  a.env = std::move(env);
  if (u.nice) a.nice = u.nice;
  for (const auto& limit : u.rlimits) a.rlimits.push_back(rlimit_text(limit));
  if (!u.root_directory.empty()) a.chroot = u.root_directory;
  a.no_new_privs = a.no_new_privs || u.no_new_privileges;
}

// Type=, Timeout*=, KillSignal=, Restart*=, StartLimit*=, the .socket.
void lifecycle_args(const ServiceUnit& u, StartArgs& a) {
  a.ready = u.type == ServiceType::notify ? "notify" : "exec";
  if (u.type == ServiceType::forking) {  // --forking --program-pidfile PIDFILE: ready once PIDFile= names its server
    a.forking = true;
    a.program_pidfile = u.pidfile;
  }
  if (u.timeout_start) a.ready_timeout = format_duration_ms(*u.timeout_start);
  if (u.timeout_stop) a.record_stop_timeout = format_duration_ms(*u.timeout_stop);
  if (u.kill_signal) a.record_stop_signal = signal_name(*u.kill_signal);
  if (u.restart != "no") {
    a.respawn = u.restart;
    // systemd waits RestartSec= (default 100ms) each time: no backoff.
    a.restart_delay = a.restart_max_delay = format_duration_ms(u.restart_sec.value_or(100ms));
  }
  if (u.start_limit_burst || u.start_limit_interval) {
    a.restart_limit = fmt::format("{}/{}", u.start_limit_burst.value_or(5),
                                  format_duration_ms(u.start_limit_interval.value_or(10s)));
  }
  for (const auto& spec : u.listen) a.listen.push_back(to_string(spec));
}

bool translate(const ServiceUnit& u, StartArgs& a, std::string& error) {
  if (a.name.empty()) a.name = stem_of(u);
  if (a.pidfile.empty()) a.pidfile = unit_pidfile(u);
  a.command = u.exec_start.empty() ? std::vector<std::string>{} : u.exec_start.front().argv;
  bool privileged = !u.exec_start.empty() && u.exec_start.front().full_privileges;
  if (!privileged && !credential_args(u, a, error)) return false;
  process_args(u, a);
  lifecycle_args(u, a);
  return true;
}

// ---- commands run to their end --------------------------------------------------

// A fresh StartArgs for one command of the unit: its process settings, no
// PID file, no sockets, no supervisor.
StartArgs command_args(const ServiceUnit& u, const StartArgs& a, const ExecCommand& cmd,
                       const std::vector<std::string>& extra, std::string& error) {
  StartArgs c;
  c.name = a.name;
  c.command = cmd.argv;
  c.stdout_path = a.stdout_path;
  c.stderr_path = a.stderr_path;
  c.output = a.output;
  c.keep_env = a.keep_env;
  c.inherit_env = a.inherit_env;
  if (!cmd.full_privileges) (void)credential_args(u, c, error);  // checked by translate already
  process_args(u, c);
  c.env = a.env;  // the unit's, then --env's
  c.env.insert(c.env.end(), extra.begin(), extra.end());
  return c;
}

int wait_child(pid_t pid) {
  int ws = -1;
  while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  return ws;
}

// One command, to its end; `inherit`: its stdio is welld's (unless --output...).
int run_one(const ServiceUnit& u, const StartArgs& a, const ExecCommand& cmd, std::string_view verb,
            const std::vector<std::string>& extra, bool inherit) {
  std::string error;
  StartArgs c = command_args(u, a, cmd, extra, error);
  StartRequest r;
  if (int code = build_request(c, verb, r)) return code;
  r.options.detach = false;
  r.options.inherit_stdio = inherit;
  r.options.collect_exit_status = false;
  StartResult s = start_daemon(r);
  if (!s && s.outcome != StartOutcome::exited) {
    if (cmd.ignore_failure) return 0;
    error_line(verb, fmt::format("{}: {}", cmd.where, start_failure_message(s, 0)));
    return start_exit_code_of(s, 0);
  }
  int ws = s ? wait_child(s.status.pid) : s.ready.wait_status;
  if (cmd.ignore_failure || (ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) return 0;
  error_line(verb,
             fmt::format("{}: {} {}", cmd.where, cmd.argv.front(), ws >= 0 ? describe_wait_status(ws) : "failed"));
  return exit_code::failure;
}

int run_list(const ServiceUnit& u, const std::vector<ExecCommand>& cmds, const StartArgs& a, std::string_view verb,
             const std::vector<std::string>& extra, bool inherit) {
  for (const auto& cmd : cmds) {
    if (int code = run_one(u, a, cmd, verb, extra, inherit)) return code;
  }
  return 0;
}

std::error_code make_pidfile_directory(const ServiceUnit& u, const std::string& pidfile) {
  std::string dir = u.runtime_root + "/welld";
  if (parent_directory(pidfile) != dir || ::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return {};
  return {errno, std::system_category()};
}

int create_directories(const ServiceUnit& u, std::string_view verb) {
  Credentials creds{.uid = ::getuid(), .gid = ::getgid()};
  std::string what;
  if (!u.user.empty() && resolve_credentials(u.user, u.group, creds, &what)) {
    error_line(verb, what);
    return exit_code::usage;
  }
  if (auto ec = create_managed_directories(u.directories, creds.uid, creds.gid, u.root_directory, &what)) {
    error_line(verb, fmt::format("cannot create {}: {}", what, ec.message()));
    return exit_code::failure;
  }
  return 0;
}

// What comes before the start: the PID file's directory, the managed
// directories, ExecStartPre=.
int prepare(const ServiceUnit& u, const StartArgs& a, std::string_view verb, bool inherit) {
  if (auto ec = make_pidfile_directory(u, a.pidfile)) {
    error_line(verb, fmt::format("cannot create {}: {}", parent_directory(a.pidfile), ec.message()));
    return exit_code::failure;
  }
  if (int code = create_directories(u, verb)) return code;
  return run_list(u, u.exec_start_pre, a, verb, {}, inherit);
}

// ExecStartPost= with $MAINPID; when one fails the daemon is stopped.
int after_start(const StartArgs& a, std::string_view verb, pid_t mainpid, bool inherit) {
  std::vector<std::string> extra;
  if (mainpid > 0) extra.push_back(fmt::format("MAINPID={}", mainpid));
  ServiceUnit u;
  if (!load(a, verb, extra, false, u)) return exit_code::failure;
  return run_list(u, u.exec_start_post, a, verb, extra, inherit);
}

int start_and_post(const ServiceUnit& u, const StartArgs& a, std::string_view verb, const StartFn& start) {
  int code = start(a, verb);
  if (code != 0 || u.exec_start_post.empty()) return code;
  // welld's PID file names the main process (a forking unit's server, as start_daemon recorded it).
  DaemonLookup d = find_daemon(a.pidfile);
  code = after_start(a, verb, d.file.state == PidfileState::running ? d.file.pid : 0, true);
  if (code != 0) (void)stop_daemon(a.pidfile, kRecordedSignal, kRecordedTimeout);
  return code;
}

}  // namespace

void add_unit_options(CLI::App& sub, StartArgs& a) {
  auto* unit = sub.add_option("--unit", a.unit,
                              "run the systemd unit FILE.service (with FILE.service.d/*.conf and FILE.socket) "
                              "instead of COMMAND");
  unit->check([](const std::string& s) { return s.empty() ? std::string("empty path") : std::string(); });
  sub.add_flag("--strict-unit", a.strict_unit,
               "with --unit: refuse sandboxing directives welld does not enforce (ProtectSystem=, PrivateTmp=...)")
      ->needs(unit);
  auto* command = sub.get_option("command");
  command->required(false);
  unit->excludes(command);
}

int expand_unit_args(StartArgs& a, std::string_view verb) {
  int usage = verb == "run" ? exit_code::run_failure : exit_code::usage;
  if (a.unit.empty()) {
    if (!a.command.empty() || verb == "restart") return 0;
    error_line(verb, "command is required");
    return usage;
  }
  ServiceUnit u;
  // The supervisor reads the unit again: welld start said its warnings already.
  std::string_view said = verb == "supervise" ? "start" : verb;
  if (!load(a, said, {}, verb != "supervise", u)) return usage;
  if (!u.ambient_capabilities.empty() && u.user.empty() && verb != "supervise") {
    warning_line(verb,
                 u.path + ": AmbientCapabilities= without User=: the program runs as root, with every capability");
  }
  std::string error;
  if (!translate(u, a, error)) {
    error_line(said, error);
    return usage;
  }
  return 0;
}

std::string unit_pidfile(const ServiceUnit& unit) { return unit.runtime_root + "/welld/" + stem_of(unit) + ".pid"; }

int start_unit(const StartArgs& a, std::string_view verb, const StartFn& start) {
  ServiceUnit u;
  if (!load(a, verb, {}, false, u)) return exit_code::usage;
  // Running already: start says so (or exits 0 with --ok-if-running), and no command of the unit runs.
  if (find_daemon(a.pidfile).file.state == PidfileState::running) return start(a, verb);
  if (int code = prepare(u, a, verb, true)) return code;
  if (u.type != ServiceType::oneshot) return start_and_post(u, a, verb, start);
  if (int code = run_list(u, u.exec_start, a, verb, {}, true)) return code;
  return after_start(a, verb, 0, true);
}

int run_unit(const StartArgs& a, const RunFn& run) {
  ServiceUnit u;
  if (!load(a, "run", {}, false, u)) return exit_code::run_failure;
  if (prepare(u, a, "run", true) != 0) return exit_code::run_failure;
  if (u.type == ServiceType::oneshot) {
    bool ok = run_list(u, u.exec_start, a, "run", {}, true) == 0 && after_start(a, "run", 0, true) == 0;
    return ok ? 0 : exit_code::run_failure;
  }
  return run(a, [&a](pid_t pid) {
    // A failed ExecStartPost= ends the program as a stop would: welld run
    // forwards the signal to it and exits with 128+15.
    if (after_start(a, "run", pid, true) != 0) ::raise(SIGTERM);
  });
}

int unit_target(const std::string& path, std::string_view verb, UnitTarget& target) {
  StartArgs a;
  a.unit = path;
  ServiceUnit u;
  if (!load(a, verb, {}, false, u)) return exit_code::usage;
  target.pidfile = unit_pidfile(u);
  target.name = stem_of(u);
  return 0;
}

int run_unit_control_commands(const std::string& path, std::string_view verb, pid_t mainpid, bool& ran) {
  StartArgs a;
  a.unit = path;
  std::vector<std::string> extra{fmt::format("MAINPID={}", mainpid)};
  ServiceUnit u;
  if (!load(a, verb, extra, false, u)) return exit_code::usage;
  const auto& cmds = verb == "reload" ? u.exec_reload : u.exec_stop;
  ran = !cmds.empty();
  std::string error;
  if (!translate(u, a, error)) {
    error_line(verb, error);
    return exit_code::usage;
  }
  return run_list(u, cmds, a, verb, extra, true);
}

}  // namespace welld::cli
