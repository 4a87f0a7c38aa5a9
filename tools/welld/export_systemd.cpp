// welld export systemd: NAME.service (and NAME.socket for --listen). Type
// follows --ready: exec and notify are systemd's own, and --forking
// --program-pidfile FILE is Type=forking with PIDFile=FILE; the other modes
// run under `welld run --ready=...` with Type=notify, welld run telling
// systemd READY=1 once COMMAND is ready. See docs/interop.md for the whole
// table.
#include <fmt/format.h>
#include <sys/resource.h>

#include <cctype>

#include "export_format.hpp"
#include "export_quote.hpp"
#include "welld/duration.hpp"
#include "welld/listen.hpp"
#include "welld/parse.hpp"
#include "welld/signals.hpp"

namespace welld::cli {
namespace {

Mapping ready_mapping(const ExportInput& in) {
  return in.args.ready == "exec" || in.args.ready == "notify" ? Mapping::flex : Mapping::run;
}

// The log options systemd writes itself (append:FILE) unless welld's own log
// handling (rotation, ownership, timestamps, syslog) is asked for.
Mapping log_mapping(const ExportInput& in) {
  for (const char* o : {"log-owner", "log-mode", "log-max-size", "log-keep", "log-timestamps", "syslog"}) {
    if (in.has(o)) return Mapping::run;
  }
  return Mapping::native;
}

Mapping groups_mapping(const ExportInput& in) {
  return in.args.supplementary_groups == "none" ? Mapping::run : Mapping::flex;
}

constexpr OptionRule kRules[] = {
    {"name", Mapping::flex},
    {"user", Mapping::flex},
    {"group", Mapping::flex},
    {"supplementary-groups", Mapping::flex, groups_mapping},
    {"umask", Mapping::flex},
    {"chdir", Mapping::flex},
    {"env", Mapping::flex},
    {"keep-env", Mapping::run},
    {"inherit-env", Mapping::run},
    {"stdout", Mapping::native},
    {"stderr", Mapping::native},
    {"output", Mapping::native},
    {"nice", Mapping::native},
    {"rlimit", Mapping::native},
    {"keep-caps", Mapping::flex},
    {"no-new-privs", Mapping::flex},
    {"chroot", Mapping::flex},
    {"listen", Mapping::flex},
    {"ready", Mapping::flex, ready_mapping},
    {"ready-timeout", Mapping::flex},
    {"forking", Mapping::flex},
    {"program-pidfile", Mapping::flex},
    {"stop-signal", Mapping::native},
    {"stop-timeout", Mapping::native},
    {"reload-signal", Mapping::native},
    {"respawn", Mapping::native},
    {"success-exit", Mapping::native},
    {"restart-delay", Mapping::native},
    {"restart-limit", Mapping::native},
    {"watchdog", Mapping::native},
    {"log", Mapping::native, log_mapping},
    {"log-stdout", Mapping::native, log_mapping},
    {"log-stderr", Mapping::native, log_mapping},
    {"log-owner", Mapping::run},
    {"log-mode", Mapping::run},
    {"log-max-size", Mapping::run},
    {"log-keep", Mapping::run},
    {"log-timestamps", Mapping::run},
    {"syslog", Mapping::run},
    {"syslog-socket", Mapping::run},
    {"pidfile", Mapping::run},
    {"ready-file", Mapping::run},
    {"process-group", Mapping::run},
    {"rewrite", Mapping::run},
    {"grace", Mapping::run},
    {"pdeathsig", Mapping::run},
};

// Lines of a unit file; the first value a line cannot hold is the error.
class Unit {
 public:
  void line(std::string_view text) { text_ += fmt::format("{}\n", text); }
  void set(std::string_view key, std::string_view value) { text_ += fmt::format("{}={}\n", key, value); }
  // A plain value (User=, a path): %% doubled; refused when a line cannot hold it.
  void plain(std::string_view key, std::string_view option, std::string_view value, std::string_view prefix = "") {
    auto v = quote::systemd_plain(value);
    if (!v)
      fail(fmt::format("--{}: systemd cannot hold '{}' in {}= (control characters, or spaces at an end)", option, value,
                       key));
    if (v) set(key, fmt::format("{}{}", prefix, *v));
  }
  void path(std::string_view key, std::string_view option, std::string_view value, std::string_view prefix = "") {
    if (value.empty() || value.front() != '/') fail(fmt::format("--{}: systemd needs an absolute path", option));
    plain(key, option, value, prefix);
  }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const std::string& text() const { return text_; }
  const std::string& error() const { return error_; }

 private:
  std::string text_;
  std::string error_;
};

std::string limit_value(rlim_t v) { return v == RLIM_INFINITY ? "infinity" : fmt::format("{}", v); }

const char* limit_directive(int resource) {
  switch (resource) {
    case RLIMIT_AS: return "LimitAS";
    case RLIMIT_CORE: return "LimitCORE";
    case RLIMIT_CPU: return "LimitCPU";
    case RLIMIT_DATA: return "LimitDATA";
    case RLIMIT_FSIZE: return "LimitFSIZE";
    case RLIMIT_LOCKS: return "LimitLOCKS";
    case RLIMIT_MEMLOCK: return "LimitMEMLOCK";
    case RLIMIT_MSGQUEUE: return "LimitMSGQUEUE";
    case RLIMIT_NICE: return "LimitNICE";
    case RLIMIT_NOFILE: return "LimitNOFILE";
    case RLIMIT_NPROC: return "LimitNPROC";
    case RLIMIT_RSS: return "LimitRSS";
    case RLIMIT_RTPRIO: return "LimitRTPRIO";
    case RLIMIT_RTTIME: return "LimitRTTIME";
    case RLIMIT_SIGPENDING: return "LimitSIGPENDING";
    case RLIMIT_STACK: return "LimitSTACK";
    default: return nullptr;
  }
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string duration_of(const std::string& text) { return duration_text(*parse_duration(text)); }

std::string signal_of(const std::string& text) { return "SIG" + signal_name(*parse_signal(text)); }

void write_credentials(const ExportInput& in, const ExportPlan& plan, Unit& u) {
  const StartArgs& a = in.args;
  if (plan.is_native("user")) {
    auto ug = parse_user_group(a.user);
    u.plain("User", "user", ug->user);
    if (!ug->group.empty()) u.plain("Group", "user", ug->group);
  }
  if (plan.is_native("group")) u.plain("Group", "group", a.group);
  if (plan.is_native("supplementary-groups")) {
    u.plain("SupplementaryGroups", "supplementary-groups",
            fmt::format("{}", fmt::join(split_list(a.supplementary_groups), " ")));
  }
  if (plan.is_native("keep-caps")) {
    std::vector<std::string> caps;
    for (const auto& c : split_list(a.keep_caps))
      caps.push_back(upper(c.starts_with("cap_") || c.starts_with("CAP_") ? c : "cap_" + c));
    u.plain("AmbientCapabilities", "keep-caps", fmt::format("{}", fmt::join(caps, " ")));
  }
  if (plan.is_native("no-new-privs")) u.set("NoNewPrivileges", "yes");
}

void write_process(const ExportInput& in, const ExportPlan& plan, Unit& u) {
  const StartArgs& a = in.args;
  if (plan.is_native("umask")) u.set("UMask", fmt::format("{:04o}", *parse_umask(a.umask)));
  if (plan.is_native("chdir")) u.path("WorkingDirectory", "chdir", a.chdir);
  if (plan.is_native("chroot")) u.path("RootDirectory", "chroot", a.chroot);
  if (plan.is_native("env")) {
    for (const auto& e : a.env) u.set("Environment", quote::systemd_environment(e));
  }
  if (plan.is_native("nice")) u.set("Nice", fmt::format("{}", *a.nice));
  if (plan.is_native("rlimit")) {
    for (const auto& text : a.rlimits) {
      auto r = parse_rlimit(text);
      const char* key = limit_directive(r->resource);
      if (key == nullptr) u.fail(fmt::format("--rlimit: systemd has no directive for '{}'", text));
      if (key != nullptr) u.set(key, fmt::format("{}:{}", limit_value(r->soft), limit_value(r->hard)));
    }
  }
}

void write_output(const ExportInput& in, const ExportPlan& plan, Unit& u) {
  const StartArgs& a = in.args;
  auto to = [&](std::string_view option, const std::string& path, bool out, bool err) {
    if (!plan.is_native(option)) return;
    if (out) u.path("StandardOutput", option, path, "append:");
    if (err) u.path("StandardError", option, path, "append:");
  };
  to("output", a.output, true, true);
  to("stdout", a.stdout_path, true, false);
  to("stderr", a.stderr_path, false, true);
  to("log", a.log, true, true);
  to("log-stdout", a.log_stdout, true, false);
  to("log-stderr", a.log_stderr, false, true);
}

std::string restart_value(const std::string& when) {
  if (when == "never") return "no";
  return when;  // always, on-failure, on-abnormal: systemd's words too
}

void write_lifecycle(const ExportInput& in, const ExportPlan& plan, Unit& u) {
  const StartArgs& a = in.args;
  if (in.has("ready-timeout")) u.set("TimeoutStartSec", duration_of(a.ready_timeout));
  u.set("ExecReload", fmt::format("/bin/kill -s {} $MAINPID",
                                  a.record_reload_signal.empty() ? "SIGHUP" : signal_of(a.record_reload_signal)));
  if (plan.is_native("stop-signal")) u.set("KillSignal", signal_of(a.record_stop_signal));
  if (plan.is_native("stop-timeout")) u.set("TimeoutStopSec", duration_of(a.record_stop_timeout));
  u.set("Restart", restart_value(a.respawn.empty() ? "never" : a.respawn));
  if (plan.is_native("success-exit")) {
    u.set("SuccessExitStatus", fmt::format("{}", fmt::join(split_list(a.success_exit), " ")));
  }
  if (plan.is_native("restart-delay")) u.set("RestartSec", duration_of(a.restart_delay));
  if (plan.is_native("watchdog")) {
    if (plan.via_welld) u.fail("--watchdog: not with a welld run in between (systemd would watch welld)");
    u.set("WatchdogSec", duration_of(a.watchdog));
  }
}

std::string exec_line(const ExportInput& in, const ExportPlan& plan) {
  std::vector<std::string> words;
  for (const auto& w : program_argv(in, plan)) words.push_back(quote::systemd_exec_word(w));
  return fmt::format("{}", fmt::join(words, " "));
}

std::string service_text(const ExportInput& in, const ExportPlan& plan, std::string& error) {
  const StartArgs& a = in.args;
  Unit u;
  u.line("# Generated by welld export systemd (docs/interop.md).");
  u.line("[Unit]");
  u.set("Description", fmt::format("{} (welld export)", in.service));
  if (plan.is_native("restart-limit")) {
    RestartPolicy p;
    (void)parse_restart_limit(a.restart_limit, p);
    u.set("StartLimitBurst", fmt::format("{}", p.limit));
    u.set("StartLimitIntervalSec", duration_text(p.interval));
  }
  u.line("");
  u.line("[Service]");
  bool notify = plan.via_welld || a.ready == "notify";
  bool forking = plan.is_native("forking");
  u.set("Type", forking ? "forking" : notify ? "notify" : "exec");
  if (forking) u.path("PIDFile", "program-pidfile", a.program_pidfile);
  u.set("ExecStart", exec_line(in, plan));
  write_credentials(in, plan, u);
  write_process(in, plan, u);
  write_output(in, plan, u);
  write_lifecycle(in, plan, u);
  u.line("");
  u.line("[Install]");
  u.set("WantedBy", "multi-user.target");
  error = u.error();
  return u.text();
}

std::string socket_text(const ExportInput& in, std::string& error) {
  Unit u;
  u.line("# Generated by welld export systemd (docs/interop.md).");
  u.line("[Unit]");
  u.set("Description", fmt::format("{} sockets (welld export)", in.service));
  u.line("");
  u.line("[Socket]");
  for (const auto& text : in.args.listen) {
    auto spec = parse_listen_spec(text);
    if (spec->unix_socket) {
      u.path("ListenStream", "listen", spec->path);
    } else {
      bool v6 = spec->host.find(':') != std::string::npos;
      u.set("ListenStream",
            v6 ? fmt::format("[{}]:{}", spec->host, spec->port) : fmt::format("{}:{}", spec->host, spec->port));
    }
  }
  u.line("");
  u.line("[Install]");
  u.set("WantedBy", "sockets.target");
  error = u.error();
  return u.text();
}

bool generate(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error) {
  files.push_back({.path = in.service + ".service", .text = service_text(in, plan, error)});
  if (error.empty() && plan.is_native("listen")) {
    files.push_back({.path = in.service + ".socket", .text = socket_text(in, error)});
  }
  return error.empty();
}

}  // namespace

const ExportFormat kSystemdFormat{
    .name = "systemd", .summary = "NAME.service, and NAME.socket for --listen", .rules = kRules, .generate = generate};

}  // namespace welld::cli
