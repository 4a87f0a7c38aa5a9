// src/audit.cpp: the rules checked on a live process through /proc, the
// verdict arithmetic, and a process's signal state.
#include "welld/audit.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

extern "C" void on_hup(int) {}

const welld::Finding* rule(const welld::AuditReport& report, const std::string& name) {
  auto it = std::find_if(report.findings.begin(), report.findings.end(),
                         [&](const welld::Finding& f) { return f.rule == name; });
  return it == report.findings.end() ? nullptr : &*it;
}

// A child that ignores SIGUSR1, blocks SIGTERM and SIGUSR2, catches SIGHUP and
// then waits; returned once it has done so.
t::ProcessGuard signal_child() {
  return t::paused_child([] {
    ::signal(SIGUSR1, SIG_IGN);
    ::signal(SIGHUP, on_hup);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR2);
    return ::sigprocmask(SIG_BLOCK, &block, nullptr) == 0;
  });
}

TEST(Verdict, Names) {
  EXPECT_EQ(welld::to_string(welld::Verdict::pass), "pass");
  EXPECT_EQ(welld::to_string(welld::Verdict::warn), "warn");
  EXPECT_EQ(welld::to_string(welld::Verdict::fail), "fail");
}

TEST(Finding, AddKeepsTheWorstVerdictAndEachLinesOwn) {
  welld::Finding f{"signals", welld::Verdict::pass, {}, {}};
  f.add(welld::Verdict::warn, "SIGHUP is ignored");
  f.add(welld::Verdict::pass, "informs");
  EXPECT_EQ(f.verdict, welld::Verdict::warn);
  f.add(welld::Verdict::fail, "SIGTERM is blocked");
  f.add(welld::Verdict::warn, "SIGINT is ignored");
  EXPECT_EQ(f.verdict, welld::Verdict::fail);
  ASSERT_EQ(f.evidence.size(), 4U);
  EXPECT_EQ(f.line_verdict(0), welld::Verdict::warn);
  EXPECT_EQ(f.line_verdict(1), welld::Verdict::pass);
  EXPECT_EQ(f.line_verdict(2), welld::Verdict::fail);
  EXPECT_EQ(f.line_verdict(3), welld::Verdict::warn);
  // Built without add(): line 0 stands for the verdict, the others inform.
  welld::Finding plain{"umask", welld::Verdict::warn, {"umask 0000", "more"}, {}};
  EXPECT_EQ(plain.line_verdict(0), welld::Verdict::warn);
  EXPECT_EQ(plain.line_verdict(1), welld::Verdict::pass);
}

TEST(AuditReport, OverallIsTheWorstAndCountCountsFindings) {
  welld::AuditReport report;
  EXPECT_EQ(report.overall(), welld::Verdict::pass);
  report.findings = {
      {"a", welld::Verdict::pass, {}, {}}, {"b", welld::Verdict::warn, {}, {}}, {"c", welld::Verdict::warn, {}, {}}};
  EXPECT_EQ(report.overall(), welld::Verdict::warn);
  EXPECT_EQ(report.count(welld::Verdict::warn), 2);
  EXPECT_EQ(report.count(welld::Verdict::fail), 0);
  report.findings.push_back({"d", welld::Verdict::fail, {}, {}});
  EXPECT_EQ(report.overall(), welld::Verdict::fail);
  EXPECT_EQ(report.count(welld::Verdict::pass), 1);
}

TEST(AuditProcess, ABlockedSigtermFailsTheSignalsRule) {
  t::ProcessGuard child = signal_child();
  ASSERT_GT(child.pid(), 0);
  welld::AuditReport report;
  ASSERT_FALSE(welld::audit_process(child.pid(), {}, report));
  EXPECT_EQ(report.pid, child.pid());
  EXPECT_FALSE(report.command.empty());
  const welld::Finding* signals = rule(report, "signals");
  ASSERT_NE(signals, nullptr);
  EXPECT_EQ(signals->verdict, welld::Verdict::fail);
  bool named = std::any_of(signals->evidence.begin(), signals->evidence.end(), [](const std::string& line) {
    return line.find("SIGTERM is blocked") != std::string::npos;
  });
  EXPECT_TRUE(named);
  EXPECT_EQ(report.overall(), welld::Verdict::fail);
  EXPECT_EQ(rule(report, "pidfile"), nullptr);  // not asked for
}

TEST(AuditProcess, APidfileNamingAnotherProcessFails) {
  t::ProcessGuard child = signal_child();
  ASSERT_GT(child.pid(), 0);
  t::TempDir dir;
  t::write_file(dir / "x.pid", std::to_string(::getpid()) + "\n");
  welld::AuditReport report;
  ASSERT_FALSE(welld::audit_process(child.pid(), {.pidfile = dir / "x.pid"}, report));
  const welld::Finding* pidfile = rule(report, "pidfile");
  ASSERT_NE(pidfile, nullptr);
  EXPECT_EQ(pidfile->verdict, welld::Verdict::fail);
}

TEST(AuditProcess, AGoneProcessIsEsrchAndLeftOutOfABatch) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  welld::AuditReport report;
  EXPECT_EQ(welld::audit_process(pid, {}, report), std::errc::no_such_process);
  t::ProcessGuard child = signal_child();
  ASSERT_GT(child.pid(), 0);
  auto reports = welld::audit_processes({pid, child.pid()});
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_EQ(reports[0].pid, child.pid());
}

TEST(SignalState, IgnoredBlockedAndCaughtAsProcSaysThem) {
  t::ProcessGuard child = signal_child();
  ASSERT_GT(child.pid(), 0);
  welld::SignalState usr1, usr2, hup, quit;
  ASSERT_FALSE(welld::signal_state(child.pid(), SIGUSR1, usr1));
  ASSERT_FALSE(welld::signal_state(child.pid(), SIGUSR2, usr2));
  ASSERT_FALSE(welld::signal_state(child.pid(), SIGHUP, hup));
  ASSERT_FALSE(welld::signal_state(child.pid(), SIGQUIT, quit));
  EXPECT_TRUE(usr1.ignored);
  EXPECT_FALSE(usr1.blocked);
  EXPECT_TRUE(usr2.blocked);
  EXPECT_FALSE(usr2.ignored);
  EXPECT_TRUE(hup.caught);
  EXPECT_FALSE(hup.ignored);
  EXPECT_FALSE(quit.ignored || quit.blocked || quit.caught);
  welld::SignalState out;
  EXPECT_EQ(welld::signal_state(child.pid(), 0, out), std::errc::invalid_argument);
  EXPECT_EQ(welld::signal_state(child.pid(), 65, out), std::errc::invalid_argument);
  pid_t gone = child.pid();
  child.reset();
  EXPECT_EQ(welld::signal_state(gone, SIGTERM, out), std::errc::no_such_process);
}

}  // namespace
