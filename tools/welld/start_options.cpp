// The options of welld start, restart and the supervisor: see start_options.hpp.
#include "start_options.hpp"

#include <fmt/core.h>
#include <sys/wait.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <csignal>

#include "command.hpp"
#include "exit_codes.hpp"
#include "welld/listen.hpp"
#include "welld/parse.hpp"
#include "welld/privileges.hpp"

namespace welld::cli {
namespace {

CLI::Validator non_empty() {
  return {[](const std::string& s) { return s.empty() ? std::string("empty value") : std::string(); }, "NONEMPTY",
          "non-empty"};
}

void add_supervision_options(CLI::App& sub, StartArgs& a) {
  sub.add_flag("--respawn{always}", a.respawn,
               "run COMMAND under a supervisor that restarts it: always (the default), on-failure (a non-zero exit "
               "or a signal), on-abnormal (a signal) or never");
  sub.add_option("--success-exit", a.success_exit, "CODE,...: exit statuses that count as success, besides 0")
      ->check(non_empty());
  sub.add_option("--restart-delay", a.restart_delay, "first delay before a restart (default 100ms), doubled each time")
      ->check(non_empty());
  sub.add_option("--restart-max-delay", a.restart_max_delay, "longest delay before a restart (default 30s)")
      ->check(non_empty());
  sub.add_option("--restart-limit", a.restart_limit,
                 "COUNT/INTERVAL: give up after COUNT restarts within INTERVAL (default 5/10s)")
      ->check(non_empty());
  sub.add_option("--watchdog", a.watchdog,
                 "with a supervisor: the program must send sd_notify WATCHDOG=1 at least this often once ready "
                 "(WATCHDOG_USEC); else it is aborted (SIGABRT) and stopped, an abnormal end")
      ->check(non_empty());
  sub.add_option("--child-pidfile", a.child_pidfile,
                 "with a supervisor: also record the program itself in FILE (the supervisor is in --pidfile)")
      ->check(non_empty());
  sub.add_option("--log", a.log, "with a supervisor: the program's stdout and stderr into FILE, line by line")
      ->check(non_empty());
  sub.add_option("--log-stdout", a.log_stdout, "the program's stdout into FILE (a supervisor reads it)")
      ->check(non_empty());
  sub.add_option("--log-stderr", a.log_stderr, "the program's stderr into FILE (a supervisor reads it)")
      ->check(non_empty());
  sub.add_option("--log-owner", a.log_owner, "USER[:GROUP] owning a log file welld creates (default root)")
      ->check(non_empty());
  sub.add_option("--log-mode", a.log_mode, "mode of a log file welld creates, octal (default 0640)")
      ->check(non_empty());
  sub.add_option("--log-max-size", a.log_max_size, "rotate a log before it grows past SIZE (64K, 10M; default: never)")
      ->check(non_empty());
  sub.add_option("--log-keep", a.log_keep, "rotated logs kept: FILE.1 ... FILE.N (default 10)")->check(non_empty());
  sub.add_flag("--syslog{daemon}", a.syslog,
               "the program's output to syslog, as FACILITY[.LEVEL] (default daemon; stdout info, stderr err), "
               "tagged with --name")
      ->check(non_empty());
  sub.add_option("--syslog-socket", a.syslog_socket, "the syslog socket (default /dev/log)")->check(non_empty());
  sub.add_option("--log-timestamps", a.log_timestamps, "prefix each log line: rfc3339 or tai64n")
      ->check(CLI::IsMember({"rfc3339", "tai64n", "none"}));
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// An exec error that means "not installed or not executable" (LSB 5); others
// (EAGAIN from RLIMIT_NPROC, ENOMEM, E2BIG, EMFILE...) are plain failures.
bool not_installed(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case EACCES:
    case ENOEXEC:
    case EISDIR:
    case ELIBBAD:
    case ETXTBSY: return true;
    default: return false;
  }
}

// The exit code for a failed start (LSB).
int start_exit_code(const Status& st) {
  if (st.already_running()) return exit_code::failure;
  if (st.step == Step::prepare) return exit_code::usage;
  if (st.step == Step::drop_privileges && st.error == ENOENT && st.pid < 0) return exit_code::usage;
  if (st.step == Step::exec) return not_installed(st.error) ? exit_code::not_installed : exit_code::failure;
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
    o.rlimits.push_back(*spec);
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

// --stop-signal, --stop-timeout, --reload-signal: into the options (recorded
// with the identity) and the rollback policy. False with `error` set.
bool parse_stop_settings(const StartArgs& a, StartRequest& request, std::string& error) {
  if (!a.record_stop_signal.empty()) {
    auto sig = parse_signal(a.record_stop_signal, &error);
    if (!sig) return false;
    request.options.stop_signal = *sig;
    request.rollback.signal = *sig;
  }
  if (!a.record_stop_timeout.empty()) {
    auto timeout = parse_duration(a.record_stop_timeout, &error);
    if (!timeout) return false;
    request.options.stop_timeout = *timeout;
    request.rollback.timeout = *timeout;
  }
  if (!a.record_reload_signal.empty()) {
    auto sig = parse_signal(a.record_reload_signal, &error);
    if (!sig) return false;
    request.options.reload_signal = *sig;
  }
  return true;
}

}  // namespace

std::string StartArgs::display_name() const {
  if (!name.empty()) return name;
  if (!command.empty()) return basename_of(command.front());
  std::string base = basename_of(pidfile);  // restart -p FILE of a supervisor: as the control verbs say it
  if (base.size() > 4 && base.ends_with(".pid")) base.resize(base.size() - 4);
  return base;
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
  sub.add_flag("--forking", a.forking,
               "COMMAND forks its server and exits 0 (systemd's Type=forking): ready once --program-pidfile names "
               "a new process of its tree, which welld then records and supervises");
  sub.add_option("--program-pidfile", a.program_pidfile,
                 "with --forking: the PID file COMMAND writes itself (read, never trusted)")
      ->check(non_empty());
  sub.add_option("--ready-timeout", a.ready_timeout,
                 "give up (and stop the daemon) after this long (default 60s; EXTEND_TIMEOUT_USEC= extends it)");
  sub.add_option("--stop-signal", a.record_stop_signal,
                 "signal that stops the daemon, e.g. INT for PostgreSQL (recorded for stop/reload/restart; also "
                 "ends a failed start; default TERM)")
      ->check(non_empty());
  sub.add_option("--stop-timeout", a.record_stop_timeout,
                 "how long a stop waits before SIGKILL (recorded for stop/reload/restart; also bounds a failed "
                 "start's rollback; default 10s)")
      ->check(non_empty());
  sub.add_option("--reload-signal", a.record_reload_signal,
                 "signal that makes the daemon reload (recorded for stop/reload/restart; default HUP)")
      ->check(non_empty());
  add_supervision_options(sub, a);
  sub.add_option("command", a.command, "COMMAND [ARG...] after --")->required()->expected(1, -1);
  sub.positionals_at_end(true);
}

namespace {

// --forking --program-pidfile FILE: the readiness of a self-forking program.
std::optional<ReadySpec> forking_spec(const StartArgs& a, std::string& error) {
  if (a.forking != !a.program_pidfile.empty()) {
    error = "--forking and --program-pidfile FILE go together";
    return std::nullopt;
  }
  if (a.ready != "exec") {
    error = "--forking is COMMAND's readiness already: drop --ready " + a.ready;
    return std::nullopt;
  }
  return ReadySpec{.mode = ReadyMode::forking, .path = a.program_pidfile};
}

}  // namespace

int build_request(const StartArgs& a, std::string_view verb, StartRequest& request) {
  if (!make_options(a, verb, request.options)) return exit_code::usage;
  std::string error;
  bool forking = a.forking || !a.program_pidfile.empty();
  auto spec = forking ? forking_spec(a, error) : parse_ready_spec(a.ready, &error);
  auto timeout = spec ? parse_duration(a.ready_timeout, &error) : std::nullopt;
  if (!spec || !timeout || !parse_stop_settings(a, request, error)) {
    error_line(verb, error);
    return exit_code::usage;
  }
  for (const auto& text : a.listen) {
    auto listen = parse_listen_spec(text, &error);
    if (!listen) {
      error_line(verb, error);
      return exit_code::usage;
    }
    request.listen.push_back(*listen);
  }
  request.command = a.command;
  request.ready = *spec;
  request.ready_timeout = *timeout;
  request.ok_if_running = a.ok_if_running;
  return 0;
}

namespace {

bool parse_restart(const StartArgs& a, RestartPolicy& p, std::string& error) {
  auto when = parse_restart_when(a.respawn.empty() ? "never" : a.respawn, &error);
  if (!when) return false;
  p.when = *when;
  for (const auto& code : split_list(a.success_exit)) {
    int v = -1;
    auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), v);
    if (ec != std::errc() || end != code.data() + code.size() || v < 0 || v > 255) {
      error = "--success-exit: expected exit statuses 0 to 255, got '" + code + "'";
      return false;
    }
    p.success_exits.push_back(v);
  }
  for (auto [text, into] : {std::pair{&a.restart_delay, &p.delay}, std::pair{&a.restart_max_delay, &p.max_delay}}) {
    if (text->empty()) continue;
    auto d = parse_duration(*text, &error);
    if (!d) return false;
    *into = *d;
  }
  if (p.max_delay < p.delay) p.max_delay = p.delay;
  return a.restart_limit.empty() || parse_restart_limit(a.restart_limit, p, &error);
}

bool parse_log_file(const StartArgs& a, const std::string& path, LogSpec& spec, std::string& error) {
  LogFileSpec file;
  file.path = path;
  if (!a.log_owner.empty()) {
    auto ug = parse_user_group(a.log_owner, &error);
    Credentials creds;
    std::string what;
    if (!ug) return false;
    if (resolve_credentials(ug->user, ug->group, creds, &what)) {
      error = "--log-owner: " + what;
      return false;
    }
    file.owner = creds.uid;
    file.group = creds.gid;
  }
  if (!a.log_mode.empty()) {
    auto mode = parse_umask(a.log_mode, &error);  // the same octal form
    if (!mode) {
      error = "--log-mode: expected an octal mode such as 0640, got '" + a.log_mode + "'";
      return false;
    }
    file.mode = *mode;
  }
  if (!a.log_max_size.empty()) {
    auto size = parse_size(a.log_max_size, &error);
    if (!size) return false;
    file.max_size = *size;
  }
  if (!a.log_keep.empty()) {
    auto keep = parse_size(a.log_keep, &error);
    if (!keep || *keep < 1 || *keep > 1000) {
      error = "--log-keep: expected 1 to 1000, got '" + a.log_keep + "'";
      return false;
    }
    file.keep = static_cast<unsigned>(*keep);
  }
  spec.file = file;
  return true;
}

// What every log of the program shares: timestamps and syslog.
bool parse_log_base(const StartArgs& a, LogSpec& base, std::string& error) {
  if (a.log_timestamps == "rfc3339") base.timestamps = LogTimestamps::rfc3339;
  if (a.log_timestamps == "tai64n") base.timestamps = LogTimestamps::tai64n;
  if (a.syslog.empty()) return true;
  auto prio = parse_syslog_priority(a.syslog, &error);
  if (!prio) return false;
  SyslogSpec s;
  s.facility = prio->facility;
  if (prio->level) s.out_level = s.err_level = *prio->level;
  if (!a.syslog_socket.empty()) s.socket = a.syslog_socket;
  s.tag = a.display_name();
  base.syslog = s;
  return true;
}

bool parse_logs(const StartArgs& a, SupervisorConfig& c, std::string& error) {
  LogSpec base;
  if (!parse_log_base(a, base, error)) return false;
  if (!a.log.empty() && (!a.log_stdout.empty() || !a.log_stderr.empty())) {
    error = "give either --log or --log-stdout/--log-stderr";
    return false;
  }
  if ((!a.log.empty() || !a.log_stdout.empty() || !a.log_stderr.empty() || !a.syslog.empty()) &&
      (!a.output.empty() || !a.stdout_path.empty() || !a.stderr_path.empty())) {
    error = "--log, --log-stdout, --log-stderr and --syslog replace --output, --stdout and --stderr";
    return false;
  }
  const std::string& out_path = a.log.empty() ? a.log_stdout : a.log;
  if (!out_path.empty() || base.syslog) {
    LogSpec out = base;
    if (!out_path.empty() && !parse_log_file(a, out_path, out, error)) return false;
    c.stdout_log = out;
    c.same_log = a.log_stdout.empty() && a.log_stderr.empty();
  }
  if (!a.log_stderr.empty() || (!a.log_stdout.empty() && base.syslog)) {
    LogSpec err = base;
    if (!a.log_stderr.empty() && !parse_log_file(a, a.log_stderr, err, error)) return false;
    c.stderr_log = err;
  }
  return true;
}

bool parse_watchdog(const StartArgs& a, std::chrono::milliseconds& watchdog, std::string& error) {
  if (a.watchdog.empty()) return true;
  auto d = parse_duration(a.watchdog, &error);
  if (!d) return false;
  if (d->count() <= 0) {
    error = "--watchdog: expected a duration above zero, e.g. 10s, got '" + a.watchdog + "'";
    return false;
  }
  watchdog = *d;
  return true;
}

}  // namespace

int build_supervision(const StartArgs& a, std::string_view verb, StartRequest child, SupervisorConfig& config) {
  std::string error;
  if (!parse_restart(a, config.restart, error) || !parse_logs(a, config, error) ||
      !parse_watchdog(a, config.watchdog, error)) {
    error_line(verb, error);
    return exit_code::usage;
  }
  if (a.pidfile.empty()) {
    error_line(verb, "a supervisor (--respawn, --watchdog, --log, --syslog) needs --pidfile: it names the supervisor");
    return exit_code::usage;
  }
  child.options.pidfile = a.child_pidfile;
  config.pidfile = a.pidfile;
  config.child = std::move(child);
  return 0;
}

void add_run_options(CLI::App& sub, StartArgs& a) {
  sub.add_option("--notify-fd", a.notify_fd,
                 "s6 readiness upward: write a newline on this fd of welld's once COMMAND is ready, then close it")
      ->check(CLI::Range(3, INT_MAX));
  sub.add_option("--ready-file", a.ready_file, "create FILE (atomically, holding COMMAND's PID) once COMMAND is ready")
      ->check(non_empty());
  sub.add_flag("--process-group", a.process_group,
               "COMMAND gets a session and process group of its own, and signals go to the whole group");
  sub.add_option("--rewrite", a.rewrite,
                 "SIG:SIG: forward the first signal as the second; SIG:0 drops it (repeatable)");
  sub.add_option("--grace", a.grace,
                 "when COMMAND ends: what is left of its tree gets TERM, this long, then KILL (default 5s)")
      ->check(non_empty());
  sub.add_option("--pdeathsig", a.pdeathsig, "the signal welld gets when its own parent dies (forwarded as any other)")
      ->check(non_empty());
}

namespace {

bool parse_rewrite(const std::string& text, std::pair<int, int>& out, std::string& error) {
  size_t colon = text.find(':');
  std::optional<int> from = colon == std::string::npos ? std::nullopt : parse_signal(text.substr(0, colon), &error);
  std::string to_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  std::optional<int> to = to_text == "0" ? std::optional<int>(0) : from ? parse_signal(to_text, &error) : std::nullopt;
  if (!from || !to) {
    error = fmt::format("--rewrite: expected SIG:SIG or SIG:0, got '{}'", text);
    return false;
  }
  out = {*from, *to};
  return true;
}

bool parse_init(const StartArgs& a, bool foreground_tty, InitDuties& init, std::string& error) {
  auto grace = parse_duration(a.grace, &error);
  if (!grace) return false;
  init.grace = *grace;
  for (const auto& text : a.rewrite) {
    std::pair<int, int> r;
    if (!parse_rewrite(text, r, error)) return false;
    init.rewrite.push_back(r);
  }
  // Job control needs the program in the terminal's foreground group, ours;
  // without a terminal it gets a session of its own, as a supervised one does.
  init.to_group = a.process_group;
  init.session = foreground_tty && !a.process_group ? SessionMode::inherit : SessionMode::new_session;
  return true;
}

}  // namespace

int build_run(const StartArgs& a, StartRequest child, bool foreground_tty, SupervisorConfig& config) {
  std::string error;
  InitDuties init;
  if (!parse_restart(a, config.restart, error) || !parse_logs(a, config, error) ||
      !parse_init(a, foreground_tty, init, error)) {
    error_line("run", error);
    return exit_code::run_failure;
  }
  if (a.ok_if_running || !a.child_pidfile.empty()) {
    error_line("run", "--ok-if-running and --child-pidfile are start's: under run, --pidfile names COMMAND");
    return exit_code::run_failure;
  }
  // The server of a forking COMMAND is in the group of COMMAND's own
  // process, which has exited: there is no group of the server's to signal.
  if (a.forking && a.process_group) {
    error_line("run", "--process-group cannot be used with --forking (its server leads no process group)");
    return exit_code::run_failure;
  }
  // Where no --output, --stdout, --stderr or --log says otherwise, COMMAND
  // writes where welld does (its manager's journal, the container's log).
  child.options.inherit_stdio = true;
  child.options.collect_exit_status = false;
  config.child = std::move(child);
  config.init = init;
  return 0;
}

std::string start_failure_message(const StartResult& r, int interrupted_by) {
  std::string message = r.message;
  if (r.outcome == StartOutcome::cancelled && interrupted_by > 0) {
    message = fmt::format("interrupted by SIG{} {}", signal_name(interrupted_by),
                          r.status.pid > 0 ? "while waiting; stopped the daemon" : "before starting");
  }
  if (r.outcome == StartOutcome::exited && r.output_discarded) {
    message += "; its output went to /dev/null (--output FILE keeps it)";
  }
  return message;
}

// The exit code of a start that did not succeed (LSB).
int start_exit_code_of(const StartResult& r, int interrupted_by) {
  switch (r.outcome) {
    case StartOutcome::started:
    case StartOutcome::already_running: return exit_code::ok;
    case StartOutcome::invalid: return exit_code::usage;
    case StartOutcome::not_prepared:  // a socket that needs privilege to bind: 4
      return r.status.step == Step::prepare && (r.status.error == EACCES || r.status.error == EPERM)
                 ? exit_code::privilege
                 : exit_code::failure;
    case StartOutcome::spawn_failed: return start_exit_code(r.status);
    case StartOutcome::cancelled: return 128 + interrupted_by;
    default: return exit_code::failure;
  }
}

}  // namespace welld::cli
