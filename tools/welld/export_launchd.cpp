// welld export launchd: a property list (launchd.plist(5)) with Label,
// ProgramArguments, RunAtLoad and the keys below. launchd has no readiness
// protocol and stops with SIGTERM: other --ready modes are refused, another
// --stop-signal is welld run's rewrite of TERM.
#include <fmt/format.h>
#include <sys/resource.h>

#include "export_format.hpp"
#include "export_quote.hpp"
#include "welld/duration.hpp"
#include "welld/parse.hpp"
#include "welld/signals.hpp"

namespace welld::cli {
namespace {

const char* limit_key(int resource) {
  switch (resource) {
    case RLIMIT_CORE: return "Core";
    case RLIMIT_CPU: return "CPU";
    case RLIMIT_DATA: return "Data";
    case RLIMIT_FSIZE: return "FileSize";
    case RLIMIT_MEMLOCK: return "MemoryLock";
    case RLIMIT_NOFILE: return "NumberOfFiles";
    case RLIMIT_NPROC: return "NumberOfProcesses";
    case RLIMIT_RSS: return "ResidentSetSize";
    case RLIMIT_STACK: return "Stack";
    default: return nullptr;
  }
}

// Finite limits of launchd's kinds only; the others are welld run's.
Mapping rlimit_mapping(const ExportInput& in) {
  for (const auto& text : in.args.rlimits) {
    auto r = parse_rlimit(text);
    if (limit_key(r->resource) == nullptr || r->soft == RLIM_INFINITY || r->hard == RLIM_INFINITY) {
      return Mapping::run;
    }
  }
  return Mapping::flex;
}

Mapping env_mapping(const ExportInput& in) {
  for (const auto& e : in.args.env) {
    if (!quote::xml(e)) return Mapping::run;
  }
  return Mapping::flex;
}

Mapping ready_mapping(const ExportInput& in) { return in.args.ready == "exec" ? Mapping::flex : Mapping::refused; }

std::vector<std::string> stop_rewrite(const ExportInput& in) {
  return {"--rewrite=TERM:" + signal_name(*parse_signal(in.args.record_stop_signal))};
}

constexpr OptionRule kRules[] = {
    {"name", Mapping::flex},
    {"user", Mapping::flex},
    {"group", Mapping::flex},
    {"chdir", Mapping::flex},
    {"umask", Mapping::flex},
    {"env", Mapping::flex, env_mapping},
    {"nice", Mapping::flex},
    {"rlimit", Mapping::flex, rlimit_mapping},
    {"chroot", Mapping::flex},
    {"stdout", Mapping::native},
    {"stderr", Mapping::native},
    {"output", Mapping::native},
    {"log", Mapping::native},
    {"log-stdout", Mapping::native},
    {"log-stderr", Mapping::native},
    {"respawn", Mapping::native},
    {"stop-timeout", Mapping::native},
    {"stop-signal", Mapping::run, nullptr, stop_rewrite},
    {"ready", Mapping::flex, ready_mapping},
    {"ready-timeout", Mapping::run},
    {"forking", Mapping::run},
    {"program-pidfile", Mapping::run},
    {"supplementary-groups", Mapping::run},
    {"no-new-privs", Mapping::run},
    {"keep-caps", Mapping::run},
    {"listen", Mapping::run},
    {"pidfile", Mapping::run},
    {"keep-env", Mapping::run},
    {"inherit-env", Mapping::run},
    {"syslog", Mapping::run},
    {"syslog-socket", Mapping::run},
    {"rewrite", Mapping::run},
    {"grace", Mapping::run},
    {"pdeathsig", Mapping::run},
    {"process-group", Mapping::run},
    {"ready-file", Mapping::run},
};

class Plist {
 public:
  void key(std::string_view k) { text_ += fmt::format("\t<key>{}</key>\n", k); }
  void string(std::string_view indent, std::string_view value) {
    auto v = quote::xml(value);
    if (!v && error_.empty()) error_ = fmt::format("launchd: '{}' holds a character XML cannot", value);
    text_ += fmt::format("{}<string>{}</string>\n", indent, v.value_or(""));
  }
  void string_key(std::string_view k, std::string_view value) {
    key(k);
    string("\t", value);
  }
  void integer_key(std::string_view k, long long value) {
    text_ += fmt::format("\t<key>{}</key>\n\t<integer>{}</integer>\n", k, value);
  }
  void raw(std::string_view text) { text_ += text; }
  std::string text_;
  std::string error_;
};

void write_program(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  p.string_key("Label", in.service);
  p.key("ProgramArguments");
  p.raw("\t<array>\n");
  for (const auto& w : program_argv(in, plan)) p.string("\t\t", w);
  p.raw("\t</array>\n\t<key>RunAtLoad</key>\n\t<true/>\n");
}

void write_credentials(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  const StartArgs& a = in.args;
  if (plan.is_native("user")) {
    auto ug = parse_user_group(a.user);
    p.string_key("UserName", ug->user);
    if (!ug->group.empty()) p.string_key("GroupName", ug->group);
  }
  if (plan.is_native("group")) p.string_key("GroupName", a.group);
  if (plan.is_native("chdir")) p.string_key("WorkingDirectory", a.chdir);
  if (plan.is_native("chroot")) p.string_key("RootDirectory", a.chroot);
  if (plan.is_native("umask")) p.integer_key("Umask", *parse_umask(a.umask));
  if (plan.is_native("nice")) p.integer_key("Nice", *a.nice);
}

void write_environment(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  if (!plan.is_native("env")) return;
  p.key("EnvironmentVariables");
  p.raw("\t<dict>\n");
  for (const auto& e : in.args.env) {
    size_t eq = e.find('=');
    p.raw(fmt::format("\t\t<key>{}</key>\n", quote::xml(e.substr(0, eq)).value_or("")));
    p.string("\t\t", e.substr(eq + 1));
  }
  p.raw("\t</dict>\n");
}

void write_limits(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  if (!plan.is_native("rlimit")) return;
  for (bool soft : {true, false}) {
    p.key(soft ? "SoftResourceLimits" : "HardResourceLimits");
    p.raw("\t<dict>\n");
    for (const auto& text : in.args.rlimits) {
      auto r = parse_rlimit(text);
      p.raw(fmt::format("\t\t<key>{}</key>\n\t\t<integer>{}</integer>\n", limit_key(r->resource),
                        soft ? r->soft : r->hard));
    }
    p.raw("\t</dict>\n");
  }
}

void write_outputs(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  const StartArgs& a = in.args;
  auto file = [&](std::string_view option, const std::string& path, bool out, bool err) {
    if (!plan.is_native(option)) return;
    if (out) p.string_key("StandardOutPath", path);
    if (err) p.string_key("StandardErrorPath", path);
  };
  file("output", a.output, true, true);
  file("log", a.log, true, true);
  file("stdout", a.stdout_path, true, false);
  file("log-stdout", a.log_stdout, true, false);
  file("stderr", a.stderr_path, false, true);
  file("log-stderr", a.log_stderr, false, true);
}

void write_lifecycle(const ExportInput& in, const ExportPlan& plan, Plist& p) {
  const StartArgs& a = in.args;
  std::string when = a.respawn.empty() ? "never" : a.respawn;
  p.key("KeepAlive");
  if (when == "always") p.raw("\t<true/>\n");
  if (when == "never") p.raw("\t<false/>\n");
  if (when == "on-failure") p.raw("\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n");
  if (when == "on-abnormal") p.raw("\t<dict>\n\t\t<key>Crashed</key>\n\t\t<true/>\n\t</dict>\n");
  if (plan.is_native("stop-timeout")) {
    auto ms = parse_duration(a.record_stop_timeout)->count();
    p.integer_key("ExitTimeOut", (ms + 999) / 1000);
  }
}

bool generate(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error) {
  Plist p;
  p.raw(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<!-- Generated by welld export launchd (docs/interop.md). -->\n"
      "<plist version=\"1.0\">\n<dict>\n");
  write_program(in, plan, p);
  write_credentials(in, plan, p);
  write_environment(in, plan, p);
  write_limits(in, plan, p);
  write_outputs(in, plan, p);
  write_lifecycle(in, plan, p);
  p.raw("</dict>\n</plist>\n");
  error = p.error_;
  files.push_back({.path = in.service + ".plist", .text = p.text_});
  return error.empty();
}

}  // namespace

const ExportFormat kLaunchdFormat{
    .name = "launchd", .summary = "a property list (NAME.plist) for launchd", .rules = kRules, .generate = generate};

}  // namespace welld::cli
