// welld export s6 / runit: a service directory (run, finish, log/run, and
// for s6 notification-fd, down-signal, timeout-kill). The scripts are
// #!/bin/sh with one exec at the end: every manager's machine has sh, the
// quoting is one rule (quote::sh), and execline would add a dependency on a
// package runit users do not have. What sh cannot do (credentials, limits,
// readiness probes, sockets) is done by `welld run` as ./run's program.
// --log FILE names the log directory of s6-log / svlogd.
#include <fmt/format.h>

#include "export_format.hpp"
#include "export_quote.hpp"
#include "welld/duration.hpp"
#include "welld/parse.hpp"
#include "welld/signals.hpp"
#include "welld/supervise.hpp"

namespace welld::cli {
namespace {

enum class Manager { s6, runit };

// sh assigns only NAME=VALUE with a shell name; other names go to welld run.
Mapping env_mapping(const ExportInput& in) {
  for (const auto& e : in.args.env) {
    if (!quote::sh_name(e.substr(0, e.find('=')))) return Mapping::run;
  }
  return Mapping::flex;
}

bool fd_ready(const std::string& ready) { return ready == "fd" || ready.starts_with("fd:"); }

Mapping s6_ready_mapping(const ExportInput& in) {
  return in.args.ready == "exec" || fd_ready(in.args.ready) ? Mapping::flex : Mapping::run;
}

// runit has no readiness protocol: only exec (its "up" is the exec).
Mapping runit_ready_mapping(const ExportInput& in) {
  return in.args.ready == "exec" ? Mapping::flex : Mapping::refused;
}

std::string signal_word(const std::string& text) { return signal_name(*parse_signal(text)); }

// s6-svc -h and sv reload send SIGHUP: another reload signal is welld run's
// rewrite of it.
Mapping reload_mapping(const ExportInput& in) {
  return signal_word(in.args.record_reload_signal) == "HUP" ? Mapping::native : Mapping::run;
}
std::vector<std::string> reload_rewrite(const ExportInput& in) {
  return {"--rewrite=HUP:" + signal_word(in.args.record_reload_signal)};
}
// runsv stops with SIGTERM (then SIGCONT): another stop signal is a rewrite.
std::vector<std::string> stop_rewrite(const ExportInput& in) {
  return {"--rewrite=TERM:" + signal_word(in.args.record_stop_signal)};
}

// What both managers take alike.
constexpr OptionRule kCommonRules[] = {
    {"name", Mapping::flex},
    {"chdir", Mapping::flex},
    {"umask", Mapping::flex},
    {"env", Mapping::flex, env_mapping},
    {"stdout", Mapping::native},
    {"stderr", Mapping::native},
    {"output", Mapping::native},
    {"ready-timeout", Mapping::run},
    {"forking", Mapping::run},  // the foreground proxy: welld run --forking stays in the foreground
    {"program-pidfile", Mapping::run},
    {"reload-signal", Mapping::native, reload_mapping, reload_rewrite},
    {"respawn", Mapping::native},
    {"success-exit", Mapping::native},
    {"log", Mapping::native},
    {"log-timestamps", Mapping::native},
    {"syslog", Mapping::run},
    {"syslog-socket", Mapping::run},
    {"user", Mapping::run},
    {"group", Mapping::run},
    {"supplementary-groups", Mapping::run},
    {"chroot", Mapping::run},
    {"no-new-privs", Mapping::run},
    {"nice", Mapping::run},
    {"rlimit", Mapping::run},
    {"keep-caps", Mapping::run},
    {"listen", Mapping::run},
    {"pidfile", Mapping::run},
    {"keep-env", Mapping::run},
    {"inherit-env", Mapping::run},
    {"rewrite", Mapping::run},
    {"grace", Mapping::run},
    {"pdeathsig", Mapping::run},
    {"process-group", Mapping::run},
    {"ready-file", Mapping::run},
};

constexpr OptionRule kS6Rules[] = {
    {"ready", Mapping::flex, s6_ready_mapping}, {"stop-signal", Mapping::native}, {"stop-timeout", Mapping::native},
    {"log-max-size", Mapping::native},          {"log-keep", Mapping::native},
};

constexpr OptionRule kRunitRules[] = {
    {"ready", Mapping::flex, runit_ready_mapping},
    {"stop-signal", Mapping::run, nullptr, stop_rewrite},
};

std::string words(const std::vector<std::string>& list) {
  std::vector<std::string> quoted;
  quoted.reserve(list.size());
  for (const auto& w : list) quoted.push_back(quote::sh(w));
  return fmt::format("{}", fmt::join(quoted, " "));
}

// The s6 notification fd of ./run: --ready=fd:N itself, or 3 for a welld
// run that tells s6 (--notify-fd) once its own --ready mode (or --forking:
// the program's PID file names its server) says so. runit has none.
int notification_fd(const ExportInput& in, const ExportPlan& plan, Manager m) {
  const std::string& ready = in.args.ready;
  if (m == Manager::runit) return -1;
  if (in.args.forking) return 3;  // always through welld run
  if (ready == "exec") return -1;
  if (plan.via_welld) return 3;
  return ready == "fd" ? 3 : std::stoi(ready.substr(3));
}

std::string redirections(const ExportInput& in, const ExportPlan& plan) {
  const StartArgs& a = in.args;
  std::string s;
  if (plan.is_native("log")) s += "exec 2>&1\n";  // both streams into log/run
  if (plan.is_native("output")) s += fmt::format("exec >>{} 2>&1\n", quote::sh(a.output));
  if (plan.is_native("stdout")) s += fmt::format("exec >>{}\n", quote::sh(a.stdout_path));
  if (plan.is_native("stderr")) s += fmt::format("exec 2>>{}\n", quote::sh(a.stderr_path));
  return s;
}

std::string run_script(const ExportInput& in, ExportPlan plan, Manager m, std::string_view format) {
  const StartArgs& a = in.args;
  std::string s = fmt::format("#!/bin/sh\n# Generated by welld export {} (docs/interop.md).\n", format);
  s += redirections(in, plan);
  if (plan.is_native("chdir")) s += fmt::format("cd {} || exit 111\n", quote::sh(a.chdir));
  if (plan.is_native("umask")) s += fmt::format("umask {:04o}\n", *parse_umask(a.umask));
  if (plan.is_native("env")) {
    for (const auto& e : a.env) {
      size_t eq = e.find('=');
      s += fmt::format("{}={}\nexport {}\n", e.substr(0, eq), quote::sh(e.substr(eq + 1)), e.substr(0, eq));
    }
  }
  if (plan.via_welld && notification_fd(in, plan, m) > 0) plan.welld_args.emplace_back("--notify-fd=3");
  return s + fmt::format("exec {}\n", words(program_argv(in, plan)));
}

// The test that means "do not restart" for an exit: s6 and runit give ./finish
// the exit code (s6: 256 after a signal; runit: -1).
std::string no_restart_test(const ExportInput& in, Manager m) {
  const std::string& when = in.args.respawn.empty() ? "always" : in.args.respawn;
  std::string signaled = m == Manager::s6 ? "256" : "-1";
  if (when == "never") return "true";
  if (when == "on-abnormal") return fmt::format("[ \"$1\" != {} ]", signaled);
  std::string codes = "0";
  for (const auto& c : split_list(in.args.success_exit)) codes += "|" + c;
  return fmt::format("case \"$1\" in {}) true ;; *) false ;; esac", codes);
}

std::string finish_script(const ExportInput& in, Manager m, std::string_view format) {
  // s6: exit 125 means "permanent failure, do not restart"; runit: want it down.
  std::string stay_down = m == Manager::s6 ? "exit 125" : "exec sv down .";
  return fmt::format(
      "#!/bin/sh\n# Generated by welld export {} (docs/interop.md): --respawn={}.\nif {}; then\n"
      "\t{}\nfi\nexit 0\n",
      format, in.args.respawn, no_restart_test(in, m), stay_down);
}

std::string s6_log_script(const ExportInput& in) {
  const StartArgs& a = in.args;
  std::string directives;
  if (a.log_timestamps == "tai64n") directives += " t";
  if (a.log_timestamps == "rfc3339") directives += " T";
  if (!a.log_keep.empty()) directives += fmt::format(" n{}", *parse_size(a.log_keep));
  if (!a.log_max_size.empty()) directives += fmt::format(" s{}", *parse_size(a.log_max_size));
  return fmt::format(
      "#!/bin/sh\n# Generated by welld export s6 (docs/interop.md): --log is s6-log's directory.\n"
      "mkdir -p -- {0} || exit 111\nexec s6-log --{1} {0}\n",
      quote::sh(a.log), directives);
}

std::string svlogd_script(const ExportInput& in) {
  const StartArgs& a = in.args;
  std::string flags = a.log_timestamps == "tai64n" ? " -t" : a.log_timestamps == "rfc3339" ? " -ttt" : "";
  return fmt::format(
      "#!/bin/sh\n# Generated by welld export runit (docs/interop.md): --log is svlogd's directory.\n"
      "mkdir -p -- {0} || exit 111\nexec svlogd{1} {0}\n",
      quote::sh(a.log), flags);
}

bool check_log(const ExportInput& in, const ExportPlan& plan, std::string& error) {
  bool other = in.has("log-timestamps") || in.has("log-max-size") || in.has("log-keep");
  if (other && !plan.is_native("log")) error = "--log-timestamps, --log-max-size and --log-keep go with --log here";
  return error.empty();
}

void add_finish(const ExportInput& in, const ExportPlan& plan, Manager m, std::string_view format,
                std::vector<OutputFile>& files) {
  if (plan.is_native("respawn") && in.args.respawn != "always") {
    files.push_back({.path = in.service + "/finish", .text = finish_script(in, m, format), .mode = 0755});
  }
}

bool generate_s6(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error) {
  if (!check_log(in, plan, error)) return false;
  const std::string& dir = in.service;
  files.push_back({.path = dir + "/run", .text = run_script(in, plan, Manager::s6, "s6"), .mode = 0755});
  add_finish(in, plan, Manager::s6, "s6", files);
  if (int fd = notification_fd(in, plan, Manager::s6); fd > 0)
    files.push_back({.path = dir + "/notification-fd", .text = fmt::format("{}\n", fd)});
  if (plan.is_native("stop-signal")) {
    files.push_back(
        {.path = dir + "/down-signal", .text = fmt::format("SIG{}\n", signal_word(in.args.record_stop_signal))});
  }
  if (plan.is_native("stop-timeout")) {
    auto ms = parse_duration(in.args.record_stop_timeout);
    files.push_back({.path = dir + "/timeout-kill", .text = fmt::format("{}\n", ms->count())});
  }
  if (plan.is_native("log")) files.push_back({.path = dir + "/log/run", .text = s6_log_script(in), .mode = 0755});
  return true;
}

bool generate_runit(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error) {
  if (!check_log(in, plan, error)) return false;
  files.push_back({.path = in.service + "/run", .text = run_script(in, plan, Manager::runit, "runit"), .mode = 0755});
  add_finish(in, plan, Manager::runit, "runit", files);
  if (plan.is_native("log")) {
    files.push_back({.path = in.service + "/log/run", .text = svlogd_script(in), .mode = 0755});
  }
  return true;
}

}  // namespace

const ExportFormat kS6Format{.name = "s6",
                             .summary = "a service directory: run, finish, notification-fd, log/run (s6-log)",
                             .rules = kS6Rules,
                             .generate = generate_s6,
                             .more_rules = kCommonRules};

const ExportFormat kRunitFormat{.name = "runit",
                                .summary = "a service directory: run, finish, log/run (svlogd)",
                                .rules = kRunitRules,
                                .generate = generate_runit,
                                .more_rules = kCommonRules};

}  // namespace welld::cli
