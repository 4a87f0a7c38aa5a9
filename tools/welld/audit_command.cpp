// welld audit: the daemon rules checked on any live process.
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <string>

#include "command.hpp"
#include "welld/audit.hpp"
#include "welld/pidfile.hpp"
#include "welld/text.hpp"

namespace welld::cli {
namespace {

struct AuditArgs {
  pid_t pid = 0;
  std::string pidfile;
  bool all = false;
  bool json = false;
};

std::string to_json(const AuditReport& r) {
  std::string out = fmt::format(R"({{"pid":{},"command":{},"verdict":"{}","rules":[)", r.pid, json_string(r.command),
                                to_string(r.overall()));
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const Finding& f = r.findings[i];
    out += fmt::format(R"({}{{"rule":"{}","verdict":"{}","evidence":[)", i == 0 ? "" : ",", f.rule,
                       to_string(f.verdict));
    for (size_t j = 0; j < f.evidence.size(); ++j) {
      if (j != 0) out += ',';
      out += json_string(f.evidence[j]);
    }
    out += "]}";
  }
  return out + "]}";
}

// Each line's verdict stands beside the evidence that caused it; a rule that
// passes says so on its first line.
void print_table(const AuditReport& r) {
  fmt::print("pid {} ({}): {}, {} warning(s), {} failure(s)\n", r.pid, printable(r.command), to_string(r.overall()),
             r.count(Verdict::warn), r.count(Verdict::fail));
  fmt::print("{:<20} {:<7} {}\n", "RULE", "VERDICT", "EVIDENCE");
  for (const Finding& f : r.findings) {
    for (size_t i = 0; i < f.evidence.size(); ++i) {
      Verdict line = f.line_verdict(i);
      bool show = line != Verdict::pass || (i == 0 && f.verdict == Verdict::pass);
      fmt::print("{:<20} {:<7} {}\n", i == 0 ? f.rule : "", show ? std::string(to_string(line)) : "",
                 printable(f.evidence[i]));
    }
  }
}

std::string inspect_error(pid_t pid, const std::error_code& ec) {
  if (ec == std::errc::no_such_process) return fmt::format("cannot inspect pid {}: no such process", pid);
  return fmt::format("cannot inspect pid {}: {} (run as root or as the process's user)", pid, ec.message());
}

int audit_one(const AuditArgs& a) {
  pid_t pid = a.pid;
  if (pid == 0) {
    PidfileInfo info = inspect_pidfile(a.pidfile);
    if (info.pid <= 0) {
      error_line("audit", fmt::format("{}: no process to audit: {}", a.pidfile, info.reason));
      return exit_code::status_unknown;
    }
    pid = info.pid;
  }
  AuditReport report;
  if (auto ec = audit_process(pid, {.pidfile = a.pidfile}, report)) {
    error_line("audit", inspect_error(pid, ec));
    return exit_code::status_unknown;
  }
  if (a.json) {
    fmt::print("{}\n", to_json(report));
  } else {
    print_table(report);
  }
  return report.overall() == Verdict::fail ? exit_code::failure : exit_code::ok;
}

int audit_all(const AuditArgs& a) {
  bool any_fail = false;
  std::string json = "[";
  bool first = true;
  if (!a.json) fmt::print("{:<8} {:<16} {:<7} {}\n", "PID", "COMMAND", "VERDICT", "FAILED RULES");
  // One scan of /proc for all of them (audit_processes), not one per fd.
  for (const AuditReport& r : audit_processes(daemon_like_processes())) {
    any_fail = any_fail || r.overall() == Verdict::fail;
    if (a.json) {
      if (!first) json += ',';
      json += to_json(r);
      first = false;
      continue;
    }
    std::string failed;
    for (const auto& f : r.findings) {
      if (f.verdict != Verdict::fail) continue;
      if (!failed.empty()) failed += ',';
      failed += f.rule;
    }
    fmt::print("{:<8} {:<16} {:<7} {}\n", r.pid, printable(r.command), to_string(r.overall()),
               failed.empty() ? "-" : failed);
  }
  if (a.json) fmt::print("{}]\n", json);
  return any_fail ? exit_code::failure : exit_code::ok;
}

}  // namespace

void define_audit_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<AuditArgs>();
  sub.footer(verb_footer("welld audit PID | -p FILE | --all [--json]", exit_codes_text("audit")));
  auto* pid = sub.add_option("pid", args->pid, "the process to audit")->check(CLI::PositiveNumber);
  auto* file = sub.add_option("-p,--pidfile", args->pidfile, "audit the process this PID file names, and the file");
  sub.add_flag("--all", args->all, "audit every process that looks like a daemon")->excludes(pid)->excludes(file);
  sub.add_flag("--json", args->json, "machine-readable output");
  sub.callback([args, &action] {
    action = [args] {
      if (args->all) return audit_all(*args);
      if (args->pid == 0 && args->pidfile.empty()) {
        error_line("audit", "give a PID, -p FILE or --all");
        return exit_code::usage;
      }
      return audit_one(*args);
    };
  });
}

}  // namespace welld::cli
