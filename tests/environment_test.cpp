#include <gtest/gtest.h>

#include <algorithm>

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
