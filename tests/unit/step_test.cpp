#include <gtest/gtest.h>

#include "welld/daemon.hpp"
#include "welld/step.hpp"

namespace {

TEST(Step, NumbersAreStable) {
  // The C API returns these numbers: they must never change.
  EXPECT_EQ(static_cast<int>(welld::Step::close_fds), 1);
  EXPECT_EQ(static_cast<int>(welld::Step::sanitize_environment), 4);
  EXPECT_EQ(static_cast<int>(welld::Step::pidfile), 12);
  EXPECT_EQ(static_cast<int>(welld::Step::drop_privileges), 13);
  EXPECT_EQ(static_cast<int>(welld::Step::exit_original), 15);
  EXPECT_EQ(static_cast<int>(welld::Step::init), 17);
  EXPECT_EQ(static_cast<int>(welld::Step::exec), 18);
}

TEST(Step, ErrorCodeCategory) {
  std::error_code ec = welld::Step::chdir;
  EXPECT_EQ(ec.category().name(), std::string("welld.step"));
  EXPECT_EQ(ec.value(), 11);
  EXPECT_EQ(ec.message(), "chdir");
  EXPECT_EQ(welld::to_string(welld::Step::drop_privileges), "drop-privileges");
}

TEST(Step, StatusMessages) {
  welld::Status st{.step = welld::Step::pidfile, .error = EACCES, .subject = "/run/x.pid"};
  EXPECT_EQ(st.message(), "cannot write the PID file /run/x.pid: Permission denied");
  EXPECT_FALSE(st);
  EXPECT_EQ(st.step_code(), welld::Step::pidfile);
  EXPECT_EQ(st.errno_code(), std::errc::permission_denied);
  welld::Status running{.step = welld::Step::pidfile, .error = EEXIST, .holder = 42};
  EXPECT_TRUE(running.already_running());
  EXPECT_EQ(running.message(), "already running (pid 42)");
  welld::Status exec{.step = welld::Step::exec, .error = ENOENT, .subject = "frobnicate"};
  EXPECT_EQ(exec.message(), "cannot execute frobnicate: No such file or directory");
}

// A refused plan keeps its reason in detail (subject only names a thing): the line is the reason.
TEST(Step, ARefusedPlanPrintsItsDetail) {
  welld::Status st{.step = welld::Step::prepare, .error = EINVAL, .detail = "no command to execute"};
  EXPECT_EQ(st.message(), "no command to execute");
  EXPECT_TRUE(st.subject.empty());
}

}  // namespace
