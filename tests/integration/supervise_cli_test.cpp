// The supervisor through the CLI (welld start --respawn, --log, --syslog): a
// crash loop backs off and gives up (with no delay too: at once, every line
// kept, failed restarts counted), a success exit is not restarted, a stop is
// obeyed between restarts (and in a loop with no delay) and ends the child's
// whole session, a killed
// supervisor takes its child with it, the log loses no line through rotation
// or a reopen after mv, syslog datagrams carry the facility, level and tag,
// status (--json too), reload, restart and the child's own PID file describe
// the child, and a failed start says what a plain start says and leaves
// nothing (not even an empty log), a full disk holds the child back and shows in
// status until space comes, and the watchdog (sd_notify WATCHDOG=1 through
// libsystemd, tests/helpers/sd_notify_client.cpp) aborts and restarts a child
// that stops pinging, and only its own pings count. Real processes: the helper
// program is tests/helpers/supervised_program.cpp.
// Each test has its own directory; a Service ends what it started with
// `welld stop`, and whatever is left (a test that failed midway) by SIGKILL
// through the pidfds it pinned on the supervisor and on every child it saw.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "welld/notify.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"
#include "welld/supervise.hpp"
#include "welld/unique_fd.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

constexpr const char* kProgram = SUPERVISED_PROGRAM_PATH;

// Files and /proc offer no event to wait on: look every 10 ms until `ready`
// holds, for at most `timeout` (generous: the machines running this are loaded).
bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The live processes whose command line mentions `text` (a test's own
// directory), the test itself excepted; zombies have none and do not count.
std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    std::string cmdline = t::read_file("/proc/" + name + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos && t::alive(pid)) found.push_back(pid);
  }
  return found;
}

// The live children of `parent`.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto pid = static_cast<pid_t>(std::stol(name));
    auto stat = t::proc_stat(pid);
    if (stat.size() > 4 && stat[4] == std::to_string(parent) && t::alive(pid)) found.push_back(pid);
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// The integer after `"key":` in a JSON object (the status --json output is flat enough for this).
std::optional<long long> json_number(const std::string& json, const std::string& key) {
  std::string head = "\"" + key + "\":";
  size_t at = json.find(head);
  if (at == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const char* begin = json.c_str() + at + head.size();
  long long v = std::strtoll(begin, &end, 10);
  if (end == begin) return std::nullopt;
  return v;
}

std::string json_text(const std::string& json, const std::string& key) {
  std::string head = "\"" + key + "\":\"";
  size_t at = json.find(head);
  if (at == std::string::npos) return {};
  size_t end = json.find('"', at + head.size());
  return json.substr(at + head.size(), end - at - head.size());
}

// A supervised service in its own directory: svc.pid (the supervisor's PID
// file) and svc.log. The destructor stops it with `welld stop`, then SIGKILLs
// every process it pinned that is still there.
class Service {
 public:
  Service() = default;
  ~Service() {
    if (welld::inspect_pidfile(pidfile).state == welld::PidfileState::running) {
      t::welld_cli({"stop", "-p", pidfile, "--timeout", "2s"}, 60s);
    }
    for (auto& p : pinned_) {
      if (p.present()) {
        p.signal(SIGKILL);
        p.wait_exit(30s);
      }
    }
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  Service(Service&&) = delete;
  Service& operator=(Service&&) = delete;

  // `welld start -p svc.pid OPTIONS -- COMMAND`; the supervisor is pinned when it started.
  t::RunResult start(const std::vector<std::string>& options, const std::vector<std::string>& command) {
    std::vector<std::string> args{"start", "-p", pidfile};
    args.insert(args.end(), options.begin(), options.end());
    args.emplace_back("--");
    args.insert(args.end(), command.begin(), command.end());
    t::RunResult r = t::welld_cli(args);
    if (r.exit_code == 0) pin_supervisor();
    return r;
  }

  // Pin the supervisor the PID file names (its identity checked).
  void pin_supervisor() {
    welld::PidfileInfo info = welld::inspect_pidfile(pidfile);
    if (info.state != welld::PidfileState::running) return;
    supervisor_pid = info.pid;
    pin(info.pid, info.start_time);
  }

  // Pin a process of the service (0: no start time to check).
  welld::Process* pin(pid_t pid, unsigned long long start_time = 0) {
    welld::Process p;
    if (pid <= 0 || welld::Process::open(pid, start_time, p)) return nullptr;
    pinned_.push_back(std::move(p));
    return &pinned_.back();
  }

  welld::Process* supervisor() {
    for (auto& p : pinned_) {
      if (p.pid() == supervisor_pid) return &p;
    }
    return nullptr;
  }

  std::optional<welld::SupervisorState> state() const { return welld::read_supervisor_state(pidfile); }

  // The published state once `ready` holds for it (30 s at most); its child pinned.
  std::optional<welld::SupervisorState> wait_state(const std::function<bool(const welld::SupervisorState&)>& ready,
                                                   std::chrono::milliseconds timeout = 30s) {
    std::optional<welld::SupervisorState> seen;
    if (!eventually(
            [&] {
              seen = state();
              return seen && ready(*seen);
            },
            timeout)) {
      return std::nullopt;
    }
    if (seen->child.pid > 0) pin(seen->child.pid, seen->child.start_time);
    return seen;
  }

  std::optional<welld::SupervisorState> wait_running(unsigned long long generation = 1) {
    return wait_state([&](const welld::SupervisorState& s) {
      return s.phase == welld::SupervisorPhase::running && s.generation >= generation;
    });
  }
  // The supervisor has given up.
  std::optional<welld::SupervisorState> wait_failed() {
    return wait_state([](const welld::SupervisorState& s) { return s.phase == welld::SupervisorPhase::failed; });
  }

  t::RunResult cli(const std::vector<std::string>& verb_and_options) {
    std::vector<std::string> args = verb_and_options;
    args.insert(args.begin() + 1, {"-p", pidfile});
    return t::welld_cli(args);
  }

  t::TempDir dir;
  std::string pidfile = dir / "svc.pid";
  std::string log = dir / "svc.log";
  std::string state_file = dir / ".svc.pid.supervisor";
  pid_t supervisor_pid = -1;

 private:
  std::deque<welld::Process> pinned_;  // a deque: pin()'s pointers stay valid
};

// "start PID NS" / "end PID NS" lines of supervised_program run.
struct RunEvent {
  std::string what;
  pid_t pid;
  long long ns;
};

std::vector<RunEvent> run_events(const std::string& file) {
  std::vector<RunEvent> events;
  std::istringstream in(t::read_file(file));
  RunEvent e;
  while (in >> e.what >> e.pid >> e.ns) events.push_back(e);
  return events;
}

// The numbers of the lines "PREFIX N" in `text`; false when a line is anything else.
bool numbered_lines(const std::string& text, const std::string& prefix, std::vector<long>& out) {
  for (const auto& line : lines_of(text)) {
    if (line.rfind(prefix, 0) != 0) return false;
    char* end = nullptr;
    long v = std::strtol(line.c_str() + prefix.size(), &end, 10);
    if (*end != '\0') return false;
    out.push_back(v);
  }
  return true;
}

// ---- restarts ---------------------------------------------------------------------

// Starts a program that keeps failing and waits until the supervisor has
// given up after `restarts` restarts and ended.
void crash_loop_until_given_up(Service& svc, const std::vector<std::string>& options,
                               const std::vector<std::string>& command, unsigned restarts) {
  t::RunResult start = svc.start(options, command);
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  auto failed = svc.wait_failed();
  ASSERT_TRUE(failed) << t::read_file(svc.state_file);
  EXPECT_EQ(failed->restarts, restarts);
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s)) << "the supervisor did not end after giving up";
}

TEST(Supervise, ACrashLoopBacksOffThenGivesUp) {
  Service svc;
  std::string events = svc.dir / "events";
  // Each child runs 50 ms and exits 1: three restarts (after 100, 200, 400 ms), then the fourth end gives up.
  std::vector<std::string> options{"--respawn=on-failure",
                                   "--restart-delay",
                                   "100ms",
                                   "--restart-max-delay",
                                   "10s",
                                   "--restart-limit",
                                   "3/60s",
                                   "--log",
                                   svc.log};
  ASSERT_NO_FATAL_FAILURE(crash_loop_until_given_up(svc, options, {kProgram, "run", events, "1", "50"}, 3));

  std::vector<RunEvent> e = run_events(events);
  ASSERT_EQ(e.size(), 8U) << t::read_file(events);
  std::vector<long long> gaps_ms;
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    ASSERT_EQ(e[i].what, "start");
    ASSERT_EQ(e[i + 1].what, "end");
    ASSERT_EQ(e[i].pid, e[i + 1].pid);
    if (i + 2 < e.size()) gaps_ms.push_back((e[i + 2].ns - e[i + 1].ns) / 1000000);
  }
  ASSERT_EQ(gaps_ms.size(), 3U);
  for (size_t i = 0; i < gaps_ms.size(); ++i) {
    long long configured = 100LL << i;
    EXPECT_GE(gaps_ms[i], configured) << "restart " << i + 1 << " came before its delay";
    EXPECT_LT(gaps_ms[i], configured + 5000) << "restart " << i + 1;
    if (i > 0) {
      EXPECT_GT(gaps_ms[i], gaps_ms[i - 1]) << "the delays do not grow";
    }
  }
  EXPECT_EQ(count_of(t::read_file(svc.log), "started "), 4U) << t::read_file(svc.log);

  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 1) << status.out << status.err;
  EXPECT_NE(status.out.find("failed: 3 restarts in "), std::string::npos) << status.out;
  EXPECT_EQ(lines_of(status.out).size(), 1U) << status.out;

  // The next start starts afresh.
  t::RunResult again = svc.start(options, {kProgram, "ticks", "100"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  EXPECT_EQ(running->restarts, 0U);
  EXPECT_EQ(running->last_status, -1);
  status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("svc is supervised"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("; 0 restarts"), std::string::npos) << status.out;
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

// No restart delay: each restart follows its child's end at once, every
// child's output is in the log, and the limit still ends the loop.
TEST(Supervise, NoRestartDelayRestartsAtOnceLosesNoLineAndStillGivesUp) {
  Service svc;
  std::string events = svc.dir / "events";
  std::vector<std::string> options{
      "--respawn=on-failure", "--restart-delay", "0", "--restart-limit", "20/60s", "--log", svc.log};
  ASSERT_NO_FATAL_FAILURE(crash_loop_until_given_up(svc, options, {kProgram, "run", events, "1", "0"}, 20));

  std::vector<RunEvent> e = run_events(events);
  ASSERT_EQ(e.size(), 42U) << t::read_file(events);
  std::string log = t::read_file(svc.log);
  for (size_t i = 0; i < e.size(); i += 2) {
    ASSERT_EQ(e[i].what, "start");
    ASSERT_EQ(e[i + 1].what, "end");
    if (i > 0) {
      EXPECT_GT(e[i].ns, e[i - 1].ns) << "a child started before the previous one ended";
    }
    EXPECT_EQ(count_of(log, "started " + std::to_string(e[i].pid) + "\n"), 1U) << log;
  }
  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 1) << status.out << status.err;
  EXPECT_NE(status.out.find("failed: 20 restarts in "), std::string::npos) << status.out;
}

// A stop while children end and restart back to back, with no delay.
TEST(Supervise, StopDuringARestartLoopWithNoDelayIsObeyedAndLeavesNothing) {
  Service svc;
  std::string events = svc.dir / "events";
  t::RunResult start = svc.start({"--respawn", "--restart-delay", "0", "--restart-limit", "1000000/1s"},
                                 {kProgram, "run", events, "1", "0"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  ASSERT_TRUE(eventually([&] { return run_events(events).size() >= 20; })) << t::read_file(events);
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s));
  EXPECT_FALSE(std::filesystem::exists(svc.pidfile));
  EXPECT_FALSE(std::filesystem::exists(svc.state_file));
  EXPECT_EQ(processes_mentioning(svc.dir.path()), std::vector<pid_t>{});
  size_t after_stop = run_events(events).size();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(run_events(events).size(), after_stop) << "a child started after the stop";
}

// No delay, and the restart itself fails (the program is gone): the failed
// starts are restarts too, each one published, until the limit.
TEST(Supervise, FailedRestartsWithNoDelayAreCountedAndPublishedUntilTheLimit) {
  Service svc;
  std::string program = svc.dir / "program";
  std::filesystem::copy_file(kProgram, program);
  t::RunResult start = svc.start({"--respawn", "--restart-delay", "0", "--restart-limit", "5/60s", "--log", svc.log},
                                 {program, "ticks", "50"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  welld::Process* child = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(std::filesystem::remove(program));
  ASSERT_FALSE(child->signal(SIGKILL));
  auto failed = svc.wait_failed();
  ASSERT_TRUE(failed) << t::read_file(svc.state_file);
  EXPECT_EQ(failed->restarts, 5U);
  EXPECT_EQ(failed->generation, 6U);
  EXPECT_EQ(failed->child.pid, 0);
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s));
}

// A child that ends well under --respawn=on-failure: the supervisor ends with
// it, status says it is not running and how it ended, nothing is left.
void expect_not_restarted(const std::vector<std::string>& extra, int code) {
  Service svc;
  std::string events = svc.dir / "events";
  std::vector<std::string> options{"--respawn=on-failure", "--restart-delay", "50ms", "--log", svc.log};
  options.insert(options.end(), extra.begin(), extra.end());
  t::RunResult start = svc.start(options, {kProgram, "run", events, std::to_string(code), "100"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s)) << "the supervisor did not end with its child";
  auto e = run_events(events);
  ASSERT_EQ(e.size(), 2U) << "restarted: " << t::read_file(events);

  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_NE(status.out.find("svc is not running: the program exited with status " + std::to_string(code)),
            std::string::npos)
      << status.out;
  EXPECT_EQ(processes_mentioning(svc.dir.path()), std::vector<pid_t>{});
}

TEST(Supervise, ExitZeroIsNotRestartedUnderOnFailure) { expect_not_restarted({}, 0); }

TEST(Supervise, AListedSuccessExitIsNotRestartedUnderOnFailure) { expect_not_restarted({"--success-exit", "3"}, 3); }

// ---- stop ---------------------------------------------------------------------------

TEST(Supervise, StopBetweenRestartsIsPromptAndLeavesNothing) {
  Service svc;
  std::string events = svc.dir / "events";
  t::RunResult start = svc.start({"--respawn=always", "--restart-delay", "30s", "--log", svc.log},
                                 {kProgram, "run", events, "0", "0"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  auto backoff = svc.wait_state(
      [](const welld::SupervisorState& s) { return s.phase == welld::SupervisorPhase::backoff; });
  ASSERT_TRUE(backoff) << t::read_file(svc.state_file);
  EXPECT_EQ(backoff->delay_ms, 30000);
  t::RunResult status = svc.cli({"status"});
  EXPECT_NE(status.out.find("restarting in "), std::string::npos) << status.out;

  auto before = std::chrono::steady_clock::now();
  t::RunResult stop = svc.cli({"stop"});
  auto took = std::chrono::steady_clock::now() - before;
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_LT(took, 5s) << "stop waited for the restart delay";
  EXPECT_TRUE(svc.supervisor()->wait_exit(10s));
  EXPECT_EQ(run_events(events).size(), 2U) << "a child started after the stop: " << t::read_file(events);
  EXPECT_EQ(processes_mentioning(svc.dir.path()), std::vector<pid_t>{});
  EXPECT_FALSE(t::exists(svc.pidfile));
  EXPECT_FALSE(t::exists(svc.state_file));
}

TEST(Supervise, StopEndsTheChildsGrandchildren) {
  Service svc;
  std::string pids = svc.dir / "grandchildren";
  std::string script = "sleep 1000 & echo $! >> " + pids + "; sleep 1000 & echo $! >> " + pids + "; wait";
  t::RunResult start = svc.start({"--respawn", "--log", svc.log}, {"/bin/sh", "-c", script});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  std::vector<pid_t> grandchildren;
  ASSERT_TRUE(eventually([&] {
    grandchildren.clear();
    std::istringstream in(t::read_file(pids));
    for (pid_t p = 0; in >> p;) grandchildren.push_back(p);
    return grandchildren.size() == 2;
  }));
  std::vector<welld::Process*> pinned;
  for (pid_t p : grandchildren) {
    pinned.push_back(svc.pin(p));
    ASSERT_NE(pinned.back(), nullptr) << "grandchild " << p << " is gone already";
  }
  welld::Process* child = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(child, nullptr);

  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(svc.supervisor()->wait_exit(10s));
  EXPECT_TRUE(child->wait_exit(10s));
  for (size_t i = 0; i < pinned.size(); ++i) {
    EXPECT_TRUE(pinned[i]->wait_exit(10s)) << "grandchild " << grandchildren[i] << " survived the stop";
  }
}

TEST(Supervise, AKilledSupervisorTakesItsChildAndTheNextStartIsFresh) {
  Service svc;
  std::vector<std::string> options{"--respawn", "--log", svc.log};
  t::RunResult start = svc.start(options, {kProgram, "ticks", "50"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  welld::Process* child = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(child, nullptr);

  ASSERT_FALSE(svc.supervisor()->signal(SIGKILL));
  EXPECT_TRUE(svc.supervisor()->wait_exit(10s));
  EXPECT_TRUE(child->wait_exit(10s)) << "the child outlived its SIGKILLed supervisor";

  t::RunResult again = svc.start(options, {kProgram, "ticks", "50"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto fresh = svc.wait_running();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->restarts, 0U);
  EXPECT_NE(fresh->supervisor.pid, running->supervisor.pid);
  EXPECT_NE(fresh->child.pid, running->child.pid);
  EXPECT_EQ(children_of(fresh->supervisor.pid), std::vector<pid_t>{fresh->child.pid});
}

// ---- the log ------------------------------------------------------------------------

TEST(Supervise, RotationUnderAFullSpeedWriterLosesNoLine) {
  constexpr long kLines = 200000;
  constexpr std::uintmax_t kMaxSize = std::uintmax_t{256} * 1024;
  Service svc;
  t::RunResult start = svc.start(
      {"--respawn=on-failure", "--log", svc.log, "--log-max-size", "256K", "--log-keep", "50"},
      {kProgram, "lines", std::to_string(kLines)});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  EXPECT_TRUE(svc.supervisor()->wait_exit(120s)) << "the supervisor did not end after its child exited 0";

  // Oldest first: FILE.k ... FILE.1, FILE.
  std::vector<std::string> files;
  for (int i = 1; t::exists(svc.log + "." + std::to_string(i)); ++i) files.push_back(svc.log + "." + std::to_string(i));
  std::reverse(files.begin(), files.end());
  files.push_back(svc.log);
  EXPECT_GE(files.size(), 8U) << "fewer rotations than 200k lines in 256 KiB files need";
  EXPECT_LT(files.size(), 50U);
  std::vector<long> numbers;
  for (const auto& f : files) {
    EXPECT_LE(std::filesystem::file_size(f), kMaxSize) << f;
    std::string text = t::read_file(f);
    EXPECT_TRUE(text.empty() || text.back() == '\n') << f << " ends inside a line";
    EXPECT_TRUE(numbered_lines(text, "line ", numbers)) << f << " holds a split or foreign line";
  }
  ASSERT_EQ(numbers.size(), static_cast<size_t>(kLines));
  for (long i = 0; i < kLines; ++i) {
    if (numbers[static_cast<size_t>(i)] != i + 1) {
      ADD_FAILURE() << "line " << i + 1 << " is missing or out of order (found line " << numbers[static_cast<size_t>(i)]
                    << ")";
      break;
    }
  }
}

TEST(Supervise, ReopenAfterMvWritesANewFileAndLosesNothing) {
  Service svc;
  t::RunResult start = svc.start({"--respawn", "--log", svc.log}, {kProgram, "ticks", "5"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  auto ticks_in = [](const std::string& file) { return lines_of(t::read_file(file)).size(); };
  ASSERT_TRUE(eventually([&] { return ticks_in(svc.log) >= 10; }));

  // logrotate's mv: the writer goes on into the renamed file until told.
  std::string old = svc.log + ".old";
  ASSERT_EQ(::rename(svc.log.c_str(), old.c_str()), 0);
  size_t moved = ticks_in(old);
  EXPECT_TRUE(eventually([&] { return ticks_in(old) >= moved + 5; })) << "the writer stopped after the mv";
  t::RunResult reopen = svc.cli({"reopen-logs"});
  EXPECT_EQ(reopen.exit_code, 0) << reopen.out << reopen.err;
  EXPECT_TRUE(eventually([&] { return ticks_in(svc.log) >= 5; })) << "no new FILE after reopen-logs";

  // The documented other form: SIGUSR1 to the supervisor.
  std::string old2 = svc.log + ".old2";
  ASSERT_EQ(::rename(svc.log.c_str(), old2.c_str()), 0);
  ASSERT_FALSE(svc.supervisor()->signal(SIGUSR1));
  EXPECT_TRUE(eventually([&] { return ticks_in(svc.log) >= 5; })) << "no new FILE after SIGUSR1";

  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(svc.supervisor()->wait_exit(10s));
  std::vector<long> numbers;
  for (const auto& f : {old, old2, svc.log}) {
    size_t before = numbers.size();
    EXPECT_TRUE(numbered_lines(t::read_file(f), "tick ", numbers)) << f;
    EXPECT_GT(numbers.size(), before) << f << " is empty";
  }
  ASSERT_FALSE(numbers.empty());
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (numbers[i] != static_cast<long>(i) + 1) {
      ADD_FAILURE() << "tick " << i + 1 << " is missing or out of order (found tick " << numbers[i] << ")";
      break;
    }
  }
}

TEST(Supervise, SyslogDatagramsCarryTheFacilityLevelTagAndPid) {
  Service svc;
  std::string socket_path = svc.dir / "log.sock";
  welld::UniqueFd receiver(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(receiver);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  socket_path.copy(addr.sun_path, socket_path.size());
  ASSERT_EQ(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);

  t::RunResult start = svc.start(
      {"--respawn", "--syslog=local3.notice", "--syslog-socket", socket_path, "--name", "svc"},
      {kProgram, "stderr", "oops"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);

  std::vector<std::string> datagrams;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (datagrams.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{receiver.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(receiver.get(), buf, sizeof buf, 0);
    if (n > 0) datagrams.emplace_back(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(datagrams.size(), 2U);
  constexpr int kPri = (19 << 3) | 5;  // local3 * 8 + notice: both sources at the level given
  std::string head = "<" + std::to_string(kPri) + ">";
  std::string tag = " svc[" + std::to_string(running->child.pid) + "]: ";
  // "<PRI>Mmm dd hh:mm:ss svc[PID]: LINE", as logger(1) sends it.
  auto shaped = [&](const std::string& d, const std::string& line) {
    constexpr size_t kStamp = 15;  // "Dec  1 21:21:02"
    if (!d.starts_with(head) || d.size() != head.size() + kStamp + tag.size() + line.size()) return false;
    std::string stamp = d.substr(head.size(), kStamp);
    auto digit = [&](size_t i) { return std::isdigit(static_cast<unsigned char>(stamp[i])) != 0; };
    bool ok = std::isupper(static_cast<unsigned char>(stamp[0])) != 0 &&
              std::islower(static_cast<unsigned char>(stamp[1])) != 0 &&
              std::islower(static_cast<unsigned char>(stamp[2])) != 0 && stamp[3] == ' ' &&
              (stamp[4] == ' ' || (stamp[4] >= '1' && stamp[4] <= '3')) && digit(5) && stamp[6] == ' ' && digit(7) &&
              digit(8) && stamp[9] == ':' && digit(10) && digit(11) && stamp[12] == ':' && digit(13) && digit(14);
    return ok && d.substr(head.size() + kStamp) == tag + line;
  };
  for (const char* line : {"out", "oops"}) {
    EXPECT_EQ(std::count_if(datagrams.begin(), datagrams.end(), [&](const std::string& d) { return shaped(d, line); }),
              1)
        << "no datagram " << head << "Mmm dd hh:mm:ss" << tag << line << " among: " << datagrams[0] << " / "
        << datagrams[1];
  }
}

// Fill the file system `file` is on (a small tmpfs) with `file`: false when it cannot.
bool fill_up(const std::string& file) {
  welld::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return false;
  std::vector<char> block(size_t{64} * 1024, 'x');
  for (;;) {
    ssize_t n = ::write(fd.get(), block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == ENOSPC;
  }
}

TEST(Supervise, AFullDiskHoldsTheChildBackLosesNothingAndStatusSaysSo) {
  constexpr long kLines = 200000;  // about 2.3 MB: more than the 1 MiB pipe and the writer's kept read
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  Service svc;
  t::Mount disk;
  std::string mounted = svc.dir / "disk";
  if (std::string error = disk.tmpfs(mounted, "size=8m"); !error.empty()) GTEST_SKIP() << error;
  std::string filler = mounted + "/filler";
  ASSERT_TRUE(fill_up(filler)) << std::strerror(errno);
  std::string log = mounted + "/svc.log";
  std::string done = svc.dir / "all-written";
  t::RunResult start = svc.start({"--respawn=on-failure", "--log", log},
                                 {kProgram, "flood", std::to_string(kLines), done});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto blocked = svc.wait_state([](const welld::SupervisorState& s) { return s.log_blocked; });
  ASSERT_TRUE(blocked) << t::read_file(svc.state_file);
  EXPECT_EQ(blocked->phase, welld::SupervisorPhase::running);
  EXPECT_EQ(blocked->log_error, log + ": No space left on device");
  welld::Process* child = svc.pin(blocked->child.pid, blocked->child.start_time);
  ASSERT_NE(child, nullptr);

  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("; output held back: " + log + ": No space left on device"), std::string::npos)
      << status.out;
  t::RunResult json = svc.cli({"status", "--json"});
  EXPECT_NE(json.out.find(R"("log_blocked":true)"), std::string::npos) << json.out;
  EXPECT_EQ(json_text(json.out, "log_error"), log + ": No space left on device") << json.out;

  // Held back: the child's writes block on its full pipe (unhindered it
  // writes all its lines in well under a second), and it is not restarted.
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(t::exists(done)) << "the child wrote everything while the log could not take it";
  EXPECT_TRUE(child->present());
  auto still = svc.state();
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->log_blocked);
  EXPECT_EQ(still->generation, 1U);

  // Space again: within the retry every line arrives, in order, and status clears.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  EXPECT_TRUE(eventually([&] { return t::exists(done); }, 60s)) << "the child stayed blocked after space came back";
  EXPECT_TRUE(eventually([&] { return lines_of(t::read_file(log)).size() >= static_cast<size_t>(kLines); }, 60s));
  auto cleared = svc.wait_state([](const welld::SupervisorState& s) { return !s.log_blocked && s.log_error.empty(); });
  ASSERT_TRUE(cleared) << t::read_file(svc.state_file);
  EXPECT_EQ(cleared->generation, 1U);
  status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_EQ(status.out.find("held back"), std::string::npos) << status.out;
  json = svc.cli({"status", "--json"});
  EXPECT_NE(json.out.find(R"("log_blocked":false)"), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("log_error"), std::string::npos) << json.out;
  std::vector<long> numbers;
  std::string text = t::read_file(log);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the log ends inside a line";
  EXPECT_TRUE(numbered_lines(text, "line ", numbers)) << "a split or foreign line in the log";
  ASSERT_EQ(numbers.size(), static_cast<size_t>(kLines));
  for (long i = 0; i < kLines; ++i) {
    if (numbers[static_cast<size_t>(i)] != i + 1) {
      ADD_FAILURE() << "line " << i + 1 << " is missing or out of order (found line " << numbers[static_cast<size_t>(i)]
                    << ")";
      break;
    }
  }
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

// ---- status, reload, restart, the child's PID file -----------------------------------

TEST(Supervise, StatusJsonDescribesTheSupervisedChild) {
  Service svc;
  t::RunResult start = svc.start({"--respawn", "--restart-delay", "50ms", "--log", svc.log}, {kProgram, "ticks", "50"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);

  t::RunResult json = svc.cli({"status", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.out << json.err;
  EXPECT_EQ(lines_of(json.out).size(), 1U) << json.out;
  EXPECT_EQ(json_text(json.out, "state"), "running") << json.out;
  EXPECT_EQ(json_number(json.out, "pid"), svc.supervisor_pid) << json.out;
  EXPECT_EQ(json_text(json.out, "phase"), "running") << json.out;
  EXPECT_EQ(json_number(json.out, "child_pid"), running->child.pid) << json.out;
  EXPECT_EQ(json_number(json.out, "restarts"), 0) << json.out;
  EXPECT_EQ(json_number(json.out, "last_status"), -1) << json.out;

  // The child is killed: the supervisor starts another, and says how the first ended.
  welld::Process* child = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(child, nullptr);
  ASSERT_FALSE(child->signal(SIGKILL));
  auto again = svc.wait_running(2);
  ASSERT_TRUE(again);
  json = svc.cli({"status", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.out << json.err;
  EXPECT_EQ(json_text(json.out, "phase"), "running") << json.out;
  EXPECT_EQ(json_number(json.out, "child_pid"), again->child.pid) << json.out;
  EXPECT_NE(again->child.pid, running->child.pid);
  EXPECT_EQ(json_number(json.out, "restarts"), 1) << json.out;
  EXPECT_EQ(json_number(json.out, "last_status"), SIGKILL) << json.out;  // the raw wait status of a SIGKILL
}

TEST(Supervise, ReloadReachesTheChildAndRestartGivesANewChild) {
  Service svc;
  t::RunResult start = svc.start({"--respawn", "--log", svc.log}, {kProgram, "reload"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  ASSERT_TRUE(eventually([&] { return count_of(t::read_file(svc.log), "ready\n") == 1; })) << t::read_file(svc.log);

  t::RunResult reload = svc.cli({"reload"});
  EXPECT_EQ(reload.exit_code, 0) << reload.out << reload.err;
  EXPECT_TRUE(eventually([&] { return count_of(t::read_file(svc.log), "reloaded\n") == 1; })) << t::read_file(svc.log);
  EXPECT_TRUE(svc.supervisor()->present()) << "the supervisor did not survive the reload";

  welld::Process* first = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(first, nullptr);
  t::RunResult restart = svc.cli({"restart"});
  EXPECT_EQ(restart.exit_code, 0) << restart.out << restart.err;
  auto after = svc.state();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->phase, welld::SupervisorPhase::running);
  EXPECT_NE(after->child.pid, running->child.pid);
  EXPECT_EQ(after->restarts, running->restarts + 1);
  EXPECT_NE(restart.out.find("restarted (pid " + std::to_string(after->child.pid) + ")"), std::string::npos)
      << restart.out;
  svc.pin(after->child.pid, after->child.start_time);
  EXPECT_TRUE(first->wait_exit(10s)) << "the first child outlived the restart";
  EXPECT_TRUE(eventually([&] { return count_of(t::read_file(svc.log), "ready\n") == 2; })) << t::read_file(svc.log);
  EXPECT_EQ(svc.supervisor_pid, welld::inspect_pidfile(svc.pidfile).pid) << "the supervisor itself was replaced";
}

TEST(Supervise, AChildPidfileNamesTheChildAndGoesAtStop) {
  Service svc;
  std::string child_pidfile = svc.dir / "child.pid";
  t::RunResult start = svc.start({"--respawn", "--restart-delay", "50ms", "--child-pidfile", child_pidfile},
                                 {kProgram, "ticks", "50"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  welld::PidfileInfo info = welld::inspect_pidfile(child_pidfile);
  EXPECT_EQ(info.state, welld::PidfileState::running) << info.reason;
  EXPECT_EQ(info.pid, running->child.pid);
  EXPECT_EQ(info.start_time, running->child.start_time) << "the child's PID file lacks welld's identity";

  // A restarted child is named there instead.
  welld::Process* child = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(child, nullptr);
  ASSERT_FALSE(child->signal(SIGKILL));
  auto again = svc.wait_running(2);
  ASSERT_TRUE(again);
  EXPECT_TRUE(eventually([&] { return welld::inspect_pidfile(child_pidfile).pid == again->child.pid; }));
  EXPECT_EQ(welld::inspect_pidfile(child_pidfile).state, welld::PidfileState::running);

  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_FALSE(t::exists(child_pidfile));
  EXPECT_FALSE(t::exists(svc.pidfile));
}

// ---- failed starts --------------------------------------------------------------------

// Nothing of a failed supervised start is left: no PID file, no state file, no process.
void expect_nothing_left(const Service& svc) {
  EXPECT_FALSE(t::exists(svc.pidfile));
  EXPECT_FALSE(t::exists(svc.state_file));
  EXPECT_EQ(processes_mentioning(svc.dir.path()), std::vector<pid_t>{});
}

std::string with_dir_named(std::string text, const std::string& dir) {
  for (size_t at = text.find(dir); at != std::string::npos; at = text.find(dir, at))
    text.replace(at, dir.size(), "DIR");
  return text;
}

TEST(Supervise, AFailedExecFailsTheStartLikeAPlainStartAndLeavesNothing) {
  Service svc;
  Service plain;
  std::string program = "/nonexistent-dir/no-such-program";
  t::RunResult p = t::welld_cli({"start", "-p", plain.pidfile, "--", program});
  t::RunResult s = svc.start({"--respawn", "--log", svc.log}, {program, svc.dir.path()});
  EXPECT_NE(p.exit_code, 0);
  EXPECT_EQ(s.exit_code, p.exit_code) << s.err << " / plain: " << p.err;
  EXPECT_EQ(lines_of(s.err).size(), 1U) << s.err;
  EXPECT_EQ(with_dir_named(s.err, svc.dir.path()), with_dir_named(p.err, plain.dir.path()));
  EXPECT_EQ(s.out, "");
  expect_nothing_left(svc);
}

TEST(Supervise, AFailedFirstStartLeavesNoEmptyLogItCreatedAndKeepsOneThatWasThere) {
  Service svc;
  const std::vector<std::string> program{"/nonexistent-dir/no-such-program", svc.dir.path()};
  t::RunResult s = svc.start({"--respawn", "--log", svc.log}, program);
  EXPECT_NE(s.exit_code, 0);
  EXPECT_FALSE(t::exists(svc.log)) << "an empty log was left behind";
  expect_nothing_left(svc);

  std::string out = svc.dir / "out.log";
  std::string err = svc.dir / "err.log";
  s = svc.start({"--respawn", "--log-stdout", out, "--log-stderr", err}, program);
  EXPECT_NE(s.exit_code, 0);
  EXPECT_FALSE(t::exists(out));
  EXPECT_FALSE(t::exists(err));
  expect_nothing_left(svc);

  // Files that were there before stay, empty or not.
  t::write_file(svc.log, "");
  s = svc.start({"--respawn", "--log", svc.log}, program);
  EXPECT_NE(s.exit_code, 0);
  EXPECT_TRUE(t::exists(svc.log)) << "a log that was there before was removed";
  t::write_file(out, "before\n");
  s = svc.start({"--respawn", "--log-stdout", out, "--log-stderr", err}, program);
  EXPECT_NE(s.exit_code, 0);
  EXPECT_EQ(t::read_file(out), "before\n");
  EXPECT_FALSE(t::exists(err));
  expect_nothing_left(svc);
}

TEST(Supervise, AProgramThatExitsBeforeReadyFailsTheStartWithItsLastLines) {
  Service svc;
  Service plain;
  std::string script = "echo reading the configuration; echo bad line 3 >&2; exit 3";
  std::string plain_log = plain.dir / "svc.log";
  t::RunResult p = t::welld_cli({"start", "-p", plain.pidfile, "--ready=notify", "--ready-timeout", "30s", "--output",
                                 plain_log, "--name", "svc", "--", "/bin/sh", "-c", script, plain.dir.path()});
  t::RunResult s = svc.start(
      {"--respawn", "--ready=notify", "--ready-timeout", "30s", "--log", svc.log, "--name", "svc"},
      {"/bin/sh", "-c", script, svc.dir.path()});
  EXPECT_EQ(p.exit_code, 1) << p.err;
  EXPECT_EQ(s.exit_code, p.exit_code) << s.err << " / plain: " << p.err;
  EXPECT_EQ(lines_of(s.err).size(), 1U) << s.err;
  EXPECT_EQ(with_dir_named(s.err, svc.dir.path()), with_dir_named(p.err, plain.dir.path()));
  std::string tail = "its last output in " + svc.log + ": reading the configuration | bad line 3\n";
  EXPECT_TRUE(s.err.size() >= tail.size() && s.err.ends_with(tail)) << s.err;
  EXPECT_EQ(s.out, "");
  // The log keeps what it wrote.
  EXPECT_EQ(t::read_file(svc.log), "reading the configuration\nbad line 3\n");
  expect_nothing_left(svc);
}

TEST(Supervise, ALogInAnUntrustedDirectoryFailsTheStartAndLeavesNothing) {
  Service svc;
  std::string shared = svc.dir / "shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(::chown(shared.c_str(), 65534, 65534), 0) << std::strerror(errno);
  ASSERT_EQ(::chmod(shared.c_str(), 0777), 0);
  std::string log = shared + "/svc.log";
  std::string events = svc.dir / "events";
  t::RunResult s = svc.start({"--respawn", "--log", log}, {kProgram, "run", events, "0", "100000"});
  EXPECT_NE(s.exit_code, 0);
  EXPECT_EQ(lines_of(s.err).size(), 1U) << s.err;
  EXPECT_EQ(s.err.rfind("welld: start: ", 0), 0U) << s.err;
  EXPECT_NE(s.err.find(shared), std::string::npos) << "the line does not name the directory: " << s.err;
  EXPECT_EQ(s.out, "");
  EXPECT_FALSE(t::exists(log));
  EXPECT_FALSE(t::exists(events)) << "the program ran";
  expect_nothing_left(svc);
}

// ---- the watchdog -----------------------------------------------------------------------

#ifdef SD_NOTIFY_CLIENT_PATH
constexpr const char* kNotifyClient = SD_NOTIFY_CLIENT_PATH;
#else
constexpr const char* kNotifyClient = nullptr;  // no libsystemd here
#endif

// The value of NAME in `pid`'s environment, or "".
std::string environment_value(pid_t pid, const std::string& name) {
  for (const auto& entry : t::proc_environ(pid)) {
    if (entry.rfind(name + "=", 0) == 0) return entry.substr(name.size() + 1);
  }
  return {};
}

// What every watchdog test gives: no core file from the SIGABRT, a short stop, restarts without a limit in sight.
std::vector<std::string> watchdog_options(const Service& svc, const std::string& timeout,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> options{"--watchdog",      timeout, "--rlimit",        "core=0",  "--stop-timeout", "2s",
                                   "--restart-delay", "100ms", "--restart-limit", "100/10s", "--log",          svc.log};
  options.insert(options.end(), extra.begin(), extra.end());
  return options;
}

bool killed_by(int wait_status, int sig) {
  return wait_status >= 0 && WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == sig;
}

TEST(SuperviseWatchdog, AChildThatPingsKeepsRunningPastSeveralTimeoutsAndSeesItsWatchdog) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  std::string enabled = svc.dir / "enabled";
  // --ready=exec: the child's NOTIFY_SOCKET is the supervisor's own, not a readiness socket.
  t::RunResult start = svc.start(watchdog_options(svc, "2s", {"--respawn=on-abnormal"}),
                                 {kNotifyClient, "--watchdog-enabled", enabled, "--ping", "100", "0"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  pid_t child = running->child.pid;
  ASSERT_TRUE(t::wait_for_exec(child));
  EXPECT_EQ(environment_value(child, "WATCHDOG_USEC"), "2000000");
  EXPECT_EQ(environment_value(child, "WATCHDOG_PID"), std::to_string(child));
  EXPECT_EQ(environment_value(child, "NOTIFY_SOCKET").rfind('@', 0), 0U) << environment_value(child, "NOTIFY_SOCKET");
  // libsystemd's own check: WATCHDOG_PID names the child, WATCHDOG_USEC is the timeout.
  ASSERT_TRUE(eventually([&] { return t::exists(enabled) && !t::read_file(enabled).empty(); }));
  EXPECT_EQ(t::read_file(enabled), "1 2000000\n");

  // Three and a half timeouts: the same child, never restarted.
  auto until = std::chrono::steady_clock::now() + 7s;
  while (std::chrono::steady_clock::now() < until) {
    auto now = svc.state();
    ASSERT_TRUE(now);
    ASSERT_EQ(now->generation, 1U) << "the pinging child was restarted: " << t::read_file(svc.state_file);
    ASSERT_EQ(now->child.pid, child);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(t::alive(child));
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

TEST(SuperviseWatchdog, AChildThatStopsPingingIsAbortedAndRestartedAndStatusSaysWhy) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  t::RunResult start = svc.start(watchdog_options(svc, "500ms", {"--respawn=on-abnormal"}),
                                 {kNotifyClient, "--ping", "100", "5"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  welld::Process* first = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(first, nullptr);
  auto again = svc.wait_state([](const welld::SupervisorState& s) { return s.generation >= 2 && s.restarts >= 1; });
  ASSERT_TRUE(again) << t::read_file(svc.state_file);
  EXPECT_TRUE(first->wait_exit(10s)) << "the first child outlived its watchdog";
  EXPECT_TRUE(killed_by(again->last_status, SIGABRT)) << again->last_status;
  EXPECT_EQ(again->last_end_reason, "watchdog timeout");

  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("; last watchdog timeout: was killed by signal 6 (SIGABRT)"), std::string::npos)
      << status.out;
  t::RunResult json = svc.cli({"status", "--json"});
  EXPECT_EQ(json_text(json.out, "last_end_reason"), "watchdog timeout") << json.out;
  EXPECT_EQ(json_text(json.out, "last_end"), "watchdog timeout: was killed by signal 6 (SIGABRT)") << json.out;
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

TEST(SuperviseWatchdog, AChildThatIgnoresSigabrtIsStillStopped) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  t::RunResult start = svc.start(watchdog_options(svc, "300ms", {"--respawn=on-abnormal"}),
                                 {kNotifyClient, "--ignore-abrt"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  welld::Process* first = svc.pin(running->child.pid, running->child.start_time);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(eventually([&] { return t::mask_has(t::proc_status(running->child.pid)["SigIgn"], SIGABRT); }));
  auto again = svc.wait_state([](const welld::SupervisorState& s) { return s.generation >= 2 && s.restarts >= 1; });
  ASSERT_TRUE(again) << t::read_file(svc.state_file);
  EXPECT_TRUE(first->wait_exit(10s));
  EXPECT_TRUE(killed_by(again->last_status, SIGKILL)) << again->last_status;
  EXPECT_EQ(again->last_end_reason, "watchdog timeout");
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

TEST(SuperviseWatchdog, WatchdogTriggerFiresAtOnceAfterReadiness) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  // No --respawn: --watchdog alone runs a supervisor that does not restart.
  // --ready=notify: the readiness socket stays the child's after READY=1.
  t::RunResult start = svc.start(
      watchdog_options(svc, "60s", {"--ready=notify"}),
      {kNotifyClient, "--send", "READY=1", "--ping", "100", "3", "--send", "WATCHDOG=trigger"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s)) << "WATCHDOG=trigger did not end the child well before its 60s";
  auto finished = svc.state();
  ASSERT_TRUE(finished) << "no state left after the end";
  EXPECT_EQ(finished->phase, welld::SupervisorPhase::finished);
  EXPECT_TRUE(killed_by(finished->last_status, SIGABRT)) << finished->last_status;
  EXPECT_EQ(finished->last_end_reason, "watchdog timeout");
  t::RunResult status = svc.cli({"status"});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_NE(status.out.find(
                "svc is not running: watchdog timeout: the program was killed by signal 6 (SIGABRT); not restarted"),
            std::string::npos)
      << status.out;
}

TEST(SuperviseWatchdog, WatchdogUsecShortensTheTimeout) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  t::RunResult start = svc.start(watchdog_options(svc, "60s", {"--ready=notify"}),
                                 {kNotifyClient, "--send", "READY=1", "--send", "WATCHDOG_USEC=300000"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_NE(svc.supervisor(), nullptr);
  EXPECT_TRUE(svc.supervisor()->wait_exit(30s)) << "WATCHDOG_USEC=300000 did not replace the 60s timeout";
  auto finished = svc.state();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->last_end_reason, "watchdog timeout");
}

TEST(SuperviseWatchdog, WatchdogUsecLengthensTheTimeout) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  t::RunResult start = svc.start(watchdog_options(svc, "500ms", {"--ready=notify", "--respawn=on-abnormal"}),
                                 {kNotifyClient, "--send", "READY=1", "--send", "WATCHDOG_USEC=60000000"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  // Six of the configured timeouts without a ping.
  std::this_thread::sleep_for(3s);
  auto now = svc.state();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->generation, 1U) << t::read_file(svc.state_file);
  EXPECT_EQ(now->child.pid, running->child.pid);
  EXPECT_TRUE(t::alive(running->child.pid));
  t::RunResult stop = svc.cli({"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
}

TEST(SuperviseWatchdog, PingsFromAProcessOutsideTheChildsTreeDoNotCount) {
  if (kNotifyClient == nullptr) GTEST_SKIP() << "no libsystemd: no sd_notify client";
  Service svc;
  t::RunResult start = svc.start(watchdog_options(svc, "1s", {"--ready=notify"}), {kNotifyClient, "--send", "READY=1"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  auto running = svc.wait_running();
  ASSERT_TRUE(running);
  ASSERT_TRUE(t::wait_for_exec(running->child.pid));
  std::string socket = environment_value(running->child.pid, "NOTIFY_SOCKET");
  ASSERT_FALSE(socket.empty());
  ASSERT_NE(svc.supervisor(), nullptr);
  // This test is no descendant of the supervisor: its pings reach the socket and are ignored.
  int sent = 0;
  bool ended = false;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    if (!welld::notify_socket(socket, welld::notify_state::watchdog)) ++sent;
    if (svc.supervisor()->has_exited()) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(ended) << "a stranger's pings kept the child alive";
  EXPECT_GE(sent, 5) << "the pings did not reach the child's socket";
  auto finished = svc.state();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->last_end_reason, "watchdog timeout");
  EXPECT_TRUE(killed_by(finished->last_status, SIGABRT)) << finished->last_status;
}

}  // namespace
