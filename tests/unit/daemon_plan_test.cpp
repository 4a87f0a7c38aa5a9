// The plan made before the fork (daemon_plan.hpp): validate_options on its
// own, and make_plan's order of checks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "after_fork.hpp"
#include "daemon_plan.hpp"
#include "spawn_clone.hpp"
#include "support/test_support.hpp"
#include "welld/daemon.hpp"

using namespace std::chrono_literals;
using welld::Options;
using welld::Step;
namespace d = welld::detail;

namespace {

// The refusal validate_options gives for `o`, or "" when it accepts.
std::string refusal(const Options& o) {
  auto bad = d::validate_options(o);
  if (!bad) return "";
  EXPECT_EQ(bad->error, EINVAL);
  return bad->detail;
}

TEST(ValidateOptions, AcceptsTheDefaultsAndAFullSetOfGoodOptions) {
  EXPECT_FALSE(d::validate_options({}));
  Options o;
  o.user = "nobody";
  o.group = "nogroup";
  o.keep_fds = {3, 7};
  o.pass_fds = {{.from = 0, .to = 3}};
  o.environment.set = {"A=1", "B="};
  o.umask = 0777;
  o.chroot = "/srv/root";
  o.chdir = "/data";
  o.nice = -20;
  o.rlimits = {{.resource = RLIMIT_NOFILE, .soft = 10, .hard = 20},
               {.resource = RLIMIT_CORE, .soft = 5, .hard = RLIM_INFINITY}};
  o.keep_caps = {"net_bind_service"};
  o.supplementary_groups = std::vector<std::string>{"adm"};
  EXPECT_EQ(refusal(o), "");
}

TEST(ValidateOptions, RefusesWhatNeedsAUserWithoutOne) {
  Options group;
  group.group = "adm";
  EXPECT_EQ(refusal(group), "a group was given without a user");
  Options caps;
  caps.keep_caps = {"net_bind_service"};
  EXPECT_EQ(refusal(caps), "capabilities can only be kept across a user switch (no user given)");
  Options groups;
  groups.supplementary_groups = std::vector<std::string>{};
  EXPECT_EQ(refusal(groups), "supplementary groups were given without a user");
}

TEST(ValidateOptions, RefusesFdsBelowThreeAndTooManyFds) {
  Options keep;
  keep.keep_fds = {2};
  EXPECT_EQ(refusal(keep), "fds to keep must be 3 or more");
  Options to;
  to.pass_fds = {{.from = 5, .to = 2}};
  EXPECT_EQ(refusal(to), "passed fds must go to 3 or more");
  Options from;
  from.pass_fds = {{.from = -1, .to = 3}};
  EXPECT_EQ(refusal(from), "passed fds must go to 3 or more");
  Options many;
  for (int fd = 3; fd < 3 + 40; ++fd) many.keep_fds.push_back(fd);
  for (int fd = 100; fd < 100 + 20; ++fd) many.pass_fds.push_back({.from = fd, .to = fd});
  EXPECT_EQ(refusal(many), "");  // 60: the most
  many.keep_fds.push_back(50);
  EXPECT_EQ(refusal(many), "too many fds to keep");
}

TEST(ValidateOptions, RefusesBadAssignmentsUmaskNiceAndLimits) {
  Options env;
  env.environment.set = {"A=1", "NOEQUALS"};
  EXPECT_EQ(refusal(env), "not NAME=VALUE: 'NOEQUALS'");
  Options umask;
  umask.umask = 01000;
  auto bad = d::validate_options(umask);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->step, Step::set_umask);
  EXPECT_EQ(bad->subject, "01000");
  EXPECT_EQ(bad->message(), "refusing umask 01000: out of range (at most 0777)");
  Options nice;
  nice.nice = 20;
  EXPECT_EQ(refusal(nice), "nice must be between -20 and 19");
  nice.nice = -21;
  EXPECT_EQ(refusal(nice), "nice must be between -20 and 19");
  Options limit;
  limit.rlimits = {{.resource = RLIMIT_NOFILE, .soft = 30, .hard = 20}};
  EXPECT_EQ(refusal(limit), "invalid resource limit");
  limit.rlimits = {{.resource = RLIM_NLIMITS, .soft = 1, .hard = 1}};
  EXPECT_EQ(refusal(limit), "invalid resource limit");
}

TEST(ValidateOptions, RefusesARelativeWorkingDirectoryWithAChroot) {
  Options o;
  o.chroot = "/srv/root";
  o.chdir = "data";
  EXPECT_EQ(refusal(o), "with a chroot, the working directory must be absolute");
  o.chroot.clear();
  EXPECT_EQ(refusal(o), "");  // without a chroot it is made absolute later
}

TEST(ValidateOptions, MakePlanRefusesWhatValidateOptionsRefusesBeforeLookingAnythingUp) {
  Options o;
  o.user = "no-such-user-welld-test";  // would fail at drop_privileges if looked up
  o.nice = 40;
  d::Plan plan;
  auto bad = d::make_plan(o, plan);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->step, Step::prepare);
  EXPECT_EQ(bad->detail, "nice must be between -20 and 19");
}

}  // namespace
