// welld export supervisord: one [program:NAME] section, for a file under
// supervisord's [include] (conf.d/NAME.conf). command= is split by shlex
// (POSIX); the values go through supervisord's INI parser (inline comments
// after white space, %-expansion); environment= through shlex in non-POSIX
// mode. A value that cannot survive those is passed to welld run instead.
#include <fmt/format.h>

#include "export_format.hpp"
#include "export_quote.hpp"
#include "welld/duration.hpp"
#include "welld/parse.hpp"
#include "welld/signals.hpp"

namespace welld::cli {
namespace {

Mapping env_mapping(const ExportInput& in) {
  for (const auto& e : in.args.env) {
    size_t eq = e.find('=');
    if (!quote::sh_name(e.substr(0, eq)) || !quote::supervisord_value(e.substr(eq + 1))) return Mapping::run;
  }
  return Mapping::flex;
}

Mapping ready_mapping(const ExportInput& in) { return in.args.ready == "exec" ? Mapping::flex : Mapping::refused; }

// autorestart=unexpected restarts after an exit status outside exitcodes=,
// and after a signal: on-failure. on-abnormal (only after a signal) has no word.
Mapping respawn_mapping(const ExportInput& in) {
  return in.args.respawn == "on-abnormal" ? Mapping::refused : Mapping::native;
}

std::string signal_word(const std::string& text) { return signal_name(*parse_signal(text)); }

// stopsignal= takes these names only; another is welld run's rewrite of TERM.
Mapping stop_signal_mapping(const ExportInput& in) {
  std::string name = signal_word(in.args.record_stop_signal);
  for (const char* ok : {"TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"}) {
    if (name == ok) return Mapping::native;
  }
  return Mapping::run;
}
std::vector<std::string> stop_rewrite(const ExportInput& in) {
  return {"--rewrite=TERM:" + signal_word(in.args.record_stop_signal)};
}

constexpr OptionRule kRules[] = {
    {"name", Mapping::flex},
    {"chdir", Mapping::flex},
    {"umask", Mapping::flex},
    {"env", Mapping::flex, env_mapping},
    {"stdout", Mapping::native},
    {"stderr", Mapping::native},
    {"output", Mapping::native},
    {"log", Mapping::native},
    {"log-stdout", Mapping::native},
    {"log-stderr", Mapping::native},
    {"log-max-size", Mapping::native},
    {"log-keep", Mapping::native},
    {"ready", Mapping::flex, ready_mapping},
    {"ready-timeout", Mapping::run},
    {"forking", Mapping::run},
    {"program-pidfile", Mapping::run},
    {"respawn", Mapping::native, respawn_mapping},
    {"success-exit", Mapping::native},
    {"stop-signal", Mapping::native, stop_signal_mapping, stop_rewrite},
    {"stop-timeout", Mapping::native},
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
    {"syslog", Mapping::run},
    {"syslog-socket", Mapping::run},
    {"log-timestamps", Mapping::run},
    {"rewrite", Mapping::run},
    {"grace", Mapping::run},
    {"pdeathsig", Mapping::run},
    {"process-group", Mapping::run},
    {"ready-file", Mapping::run},
};

class Section {
 public:
  void set(std::string_view key, std::string_view value) { text_ += fmt::format("{}={}\n", key, value); }
  void plain(std::string_view key, std::string_view option, std::string_view value) {
    auto v = quote::supervisord_plain(value);
    if (!v && error_.empty()) error_ = fmt::format("--{}: supervisord cannot hold '{}' in {}=", option, value, key);
    if (v) set(key, *v);
  }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  std::string text_;
  std::string error_;
};

void write_command(const ExportInput& in, const ExportPlan& plan, Section& s) {
  std::vector<std::string> words;
  for (const auto& w : program_argv(in, plan)) {
    auto q = quote::supervisord_word(w);
    if (!q)
      s.fail(
          fmt::format("supervisord cannot hold the argument '{}' (a newline next to white space or a "
                      "comment character)",
                      w));
    words.push_back(q.value_or(""));
  }
  s.set("command", fmt::format("{}", fmt::join(words, " ")));
}

void write_environment(const ExportInput& in, const ExportPlan& plan, Section& s) {
  if (!plan.is_native("env")) return;
  std::vector<std::string> pairs;
  for (const auto& e : in.args.env) {
    size_t eq = e.find('=');
    pairs.push_back(e.substr(0, eq) + "=" + *quote::supervisord_value(e.substr(eq + 1)));
  }
  s.set("environment", fmt::format("{}", fmt::join(pairs, ",")));
}

void write_logs(const ExportInput& in, const ExportPlan& plan, Section& s) {
  const StartArgs& a = in.args;
  auto file = [&](std::string_view option, const std::string& path, bool out, bool err) {
    if (!plan.is_native(option)) return;
    if (out) s.plain("stdout_logfile", option, path);
    if (err && !out) s.plain("stderr_logfile", option, path);
    if (out && err) s.set("redirect_stderr", "true");
  };
  file("output", a.output, true, true);
  file("log", a.log, true, true);
  file("stdout", a.stdout_path, true, false);
  file("log-stdout", a.log_stdout, true, false);
  file("stderr", a.stderr_path, false, true);
  file("log-stderr", a.log_stderr, false, true);
  for (const char* stream : {"stdout", "stderr"}) {
    if (plan.is_native("log-max-size"))
      s.set(fmt::format("{}_logfile_maxbytes", stream), fmt::format("{}", *parse_size(a.log_max_size)));
    if (plan.is_native("log-keep")) s.set(fmt::format("{}_logfile_backups", stream), a.log_keep);
  }
}

void write_lifecycle(const ExportInput& in, const ExportPlan& plan, Section& s) {
  const StartArgs& a = in.args;
  std::string when = a.respawn.empty() ? "never" : a.respawn;
  s.set("autostart", "true");
  s.set("autorestart", when == "always" ? "true" : when == "on-failure" ? "unexpected" : "false");
  if (plan.is_native("success-exit")) s.set("exitcodes", "0," + a.success_exit);
  if (plan.is_native("stop-signal")) s.set("stopsignal", signal_word(a.record_stop_signal));
  if (plan.is_native("stop-timeout")) {
    auto ms = parse_duration(a.record_stop_timeout)->count();
    s.set("stopwaitsecs", fmt::format("{}", (ms + 999) / 1000));
  }
  // welld's stop ends the whole service; so does supervisord's with these.
  s.set("stopasgroup", "true");
  s.set("killasgroup", "true");
}

bool generate(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error) {
  Section s;
  s.text_ = fmt::format("; Generated by welld export supervisord (docs/interop.md).\n[program:{}]\n", in.service);
  write_command(in, plan, s);
  if (plan.is_native("chdir")) s.plain("directory", "chdir", in.args.chdir);
  if (plan.is_native("umask")) s.set("umask", fmt::format("{:03o}", *parse_umask(in.args.umask)));
  write_environment(in, plan, s);
  write_lifecycle(in, plan, s);
  write_logs(in, plan, s);
  error = s.error_;
  files.push_back({.path = in.service + ".conf", .text = s.text_});
  return error.empty();
}

}  // namespace

const ExportFormat kSupervisordFormat{
    .name = "supervisord", .summary = "a [program:NAME] section (NAME.conf)", .rules = kRules, .generate = generate};

}  // namespace welld::cli
