#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "support/test_support.hpp"

#include "welld/environment.hpp"

namespace {

std::vector<std::string> env_of(const welld::EnvironmentPolicy& policy, std::vector<std::string> from) {
  std::vector<char*> ptrs;
  ptrs.reserve(from.size() + 1);
  for (auto& s : from) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  return welld::sanitized_environment(policy, ptrs.data());
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

std::vector<std::string> dirty() {
  return {"PATH=/bin",  "LANG=C.UTF-8",        "LC_ALL=C",        "TZ=UTC",     "SECRET_TOKEN=x",
          "HOME=/root", "LD_PRELOAD=/evil.so", "MALLOC_CHECK_=3", "LANGUAGE=en"};
}

TEST(Environment, DefaultKeepsOnlyTheAllowlist) {
  auto env = env_of({}, dirty());
  EXPECT_TRUE(has(env, "PATH=/bin"));
  EXPECT_TRUE(has(env, "LANG=C.UTF-8"));
  EXPECT_TRUE(has(env, "LC_ALL=C"));
  EXPECT_TRUE(has(env, "TZ=UTC"));
  EXPECT_TRUE(has(env, "LANGUAGE=en"));
  EXPECT_EQ(env.size(), 5U);
}

TEST(Environment, PathGetsASafeDefault) {
  auto env = env_of({}, {"SECRET=1"});
  ASSERT_EQ(env.size(), 1U);
  EXPECT_EQ(env[0], "PATH=" + std::string(welld::kDefaultPath));
}

TEST(Environment, KeepAndSetAndGlobs) {
  welld::EnvironmentPolicy policy{.keep = {"HOME", "SECRET_*"}, .set = {"A=1", "TZ=Europe/Paris"}};
  auto env = env_of(policy, dirty());
  EXPECT_TRUE(has(env, "HOME=/root"));
  EXPECT_TRUE(has(env, "SECRET_TOKEN=x"));
  EXPECT_TRUE(has(env, "A=1"));
  EXPECT_TRUE(has(env, "TZ=Europe/Paris"));
  EXPECT_FALSE(has(env, "TZ=UTC"));
}

TEST(Environment, InheritStillDropsTheDenylist) {
  welld::EnvironmentPolicy policy{.inherit = true};
  auto env = env_of(policy, dirty());
  EXPECT_TRUE(has(env, "SECRET_TOKEN=x"));
  EXPECT_FALSE(has(env, "LD_PRELOAD=/evil.so"));
  EXPECT_FALSE(has(env, "MALLOC_CHECK_=3"));
  std::vector<std::string> from = dirty();
  std::vector<char*> ptrs;
  ptrs.reserve(from.size() + 1);
  for (auto& s : from) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  auto denied = welld::denied_names(policy, ptrs.data());
  EXPECT_EQ(denied, (std::vector<std::string>{"LD_PRELOAD", "MALLOC_CHECK_"}));
}

TEST(Environment, ExplicitKeepLiftsTheDenylist) {
  welld::EnvironmentPolicy policy{.keep = {"LD_PRELOAD"}};
  EXPECT_TRUE(has(env_of(policy, dirty()), "LD_PRELOAD=/evil.so"));
  welld::EnvironmentPolicy star{.keep = {"*"}};
  EXPECT_FALSE(has(env_of(star, dirty()), "LD_PRELOAD=/evil.so"));
}

TEST(Environment, ValidAssignment) {
  EXPECT_TRUE(welld::valid_assignment("A=1"));
  EXPECT_TRUE(welld::valid_assignment("A="));
  EXPECT_FALSE(welld::valid_assignment("=1"));
  EXPECT_FALSE(welld::valid_assignment("A"));
  EXPECT_FALSE(welld::valid_assignment(""));
}

}  // namespace

// Issue 13 item 12: a glob in --keep-env used to lift the denylist for every
// variable it matched ('L*' passed LD_PRELOAD). Only a glob-free name that
// names a denied variable lifts it, for that variable alone.
TEST(Environment, GlobsNeverLiftTheDenylist) {
  std::vector<std::string> from = {
      "PATH=/bin",         "LD_PRELOAD=/evil.so", "LD_LIBRARY_PATH=/evil",        "GCONV_PATH=/evil", "MALLOC_CHECK_=3",
      "BASH_ENV=/evil.sh", "LOGNAME=u",           "BASH_FUNC_id%%=() { echo 0; }"};
  for (const char* glob : {"L*", "*?", "[A-Z]*", "LD_*", "LD_PRELOA?", "[L]D_PRELOAD", "*"}) {
    welld::EnvironmentPolicy policy{.keep = {glob}};
    auto env = env_of(policy, from);
    for (const auto& e : env) {
      EXPECT_TRUE(e == "PATH=/bin" || e == "LOGNAME=u") << glob << " passed " << e;
    }
  }
  welld::EnvironmentPolicy exact{.keep = {"LD_PRELOAD", "[A-Z]*"}};
  auto env = env_of(exact, from);
  EXPECT_TRUE(has(env, "LD_PRELOAD=/evil.so"));
  EXPECT_FALSE(has(env, "LD_LIBRARY_PATH=/evil")) << "an exact name lifts the denylist for that variable alone";
  EXPECT_FALSE(has(env, "MALLOC_CHECK_=3"));
}

// With --inherit-env: shell function exports, shell and interpreter hooks,
// and the protocol variables welld sets itself are dropped too.
TEST(Environment, InheritDropsShellAndInterpreterHooksAndProtocolVariables) {
  std::vector<std::string> from = {"PATH=/bin",
                                   "BASH_FUNC_id%%=() { echo uid=0; }",
                                   "SHELLOPTS=xtrace",
                                   "PS4=$(touch /tmp/pwned)",
                                   "PERL5LIB=/evil",
                                   "PERLLIB=/evil",
                                   "JAVA_TOOL_OPTIONS=-javaagent:/evil.jar",
                                   "NOTIFY_SOCKET=/run/other.sock",
                                   "LISTEN_FDS=3",
                                   "LISTEN_PID=1",
                                   "LISTEN_FDNAMES=x",
                                   "WATCHDOG_USEC=1000000",
                                   "WATCHDOG_PID=1",
                                   "KEEP=1"};
  welld::EnvironmentPolicy policy{.inherit = true, .set = {"NOTIFY_SOCKET=@welld-own"}};
  auto env = env_of(policy, from);
  std::sort(env.begin(), env.end());
  EXPECT_EQ(env, (std::vector<std::string>{"KEEP=1", "NOTIFY_SOCKET=@welld-own", "PATH=/bin"}));
  // An exact name still passes one of them on purpose.
  welld::EnvironmentPolicy kept{.inherit = true, .keep = {"JAVA_TOOL_OPTIONS", "LISTEN_FDS"}};
  auto env2 = env_of(kept, from);
  EXPECT_TRUE(has(env2, "JAVA_TOOL_OPTIONS=-javaagent:/evil.jar"));
  EXPECT_TRUE(has(env2, "LISTEN_FDS=3"));
  EXPECT_FALSE(has(env2, "LISTEN_PID=1"));
}

// One list of loader variables, shared by step 4 and the audit.
TEST(Environment, LoaderVariablesAreOneList) {
  for (const char* name : {"LD_PRELOAD", "LD_AUDIT", "GCONV_PATH", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX"}) {
    EXPECT_TRUE(welld::is_loader_variable(name)) << name;
    EXPECT_TRUE(welld::is_denied_variable(name)) << name;
  }
  EXPECT_FALSE(welld::is_loader_variable("PYTHONPATH"));
  EXPECT_TRUE(welld::is_denied_variable("PYTHONPATH"));
  EXPECT_FALSE(welld::is_denied_variable("HOME"));
}

// Issue 13 item 7: daemonize() changed `environ`, but the original block (what
// /proc/PID/environ shows, and what stays in memory) kept every dropped
// variable. The caller's secret is gone from both, the kept ones stay.
TEST(Environment, DaemonizeScrubsDroppedVariablesFromTheOriginalBlock) {
  auto r = welld::test::run({DIRTY_PARENT_PATH}, std::chrono::seconds(60),
                            std::vector<std::string>{"PATH=/usr/bin:/bin", "CALLER_SECRET=hunter3-sEcReT",
                                                     "LANG=C.UTF-8", "OTHER_SECRET=zebra-sEcReT"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto pid = welld::test::field_after(r.out, "pid");
  ASSERT_TRUE(pid);
  welld::test::ProcessGuard guard(static_cast<pid_t>(*pid));
  auto env = welld::test::proc_environ(guard.pid());
  for (const auto& e : env) EXPECT_EQ(e.find("sEcReT"), std::string::npos) << e;
  std::string raw = welld::test::read_file("/proc/" + std::to_string(guard.pid()) + "/environ");
  EXPECT_EQ(raw.find("sEcReT"), std::string::npos);
  EXPECT_NE(raw.find("LANG=C.UTF-8"), std::string::npos) << "a kept variable stays where it was";
  // The memory: the whole stack mapping (the block sits at its top).
  std::string maps = welld::test::read_file("/proc/" + std::to_string(guard.pid()) + "/maps");
  auto at = maps.find("[stack]");
  ASSERT_NE(at, std::string::npos);
  auto line_start = maps.rfind('\n', at);
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  char* dash = nullptr;
  unsigned long lo = std::strtoul(maps.c_str() + line_start, &dash, 16);
  ASSERT_EQ(*dash, '-');
  unsigned long hi = std::strtoul(dash + 1, nullptr, 16);
  ASSERT_GT(hi, lo);
  int mem = ::open(("/proc/" + std::to_string(guard.pid()) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) GTEST_SKIP() << "cannot read the daemon's memory: " << std::strerror(errno);
  std::string stack(hi - lo, '\0');
  ssize_t got = ::pread(mem, stack.data(), stack.size(), static_cast<off_t>(lo));
  ::close(mem);
  ASSERT_GT(got, 0);
  stack.resize(static_cast<size_t>(got));
  EXPECT_EQ(stack.find("hunter3-sEcReT"), std::string::npos) << "the secret is still in the daemon's stack";
  EXPECT_EQ(stack.find("zebra-sEcReT"), std::string::npos);
}
