// user_db.hpp: the /etc/passwd and /etc/group readers of welld-static's back
// end, on files of the test's own (libwelld's lookups go through NSS).
#include "user_db.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

struct Files : ::testing::Test {
  t::TempDir dir;
  std::string passwd = dir / "passwd";
  std::string group = dir / "group";
  void SetUp() override {
    t::write_file(passwd,
                  "root:x:0:0:root:/root:/bin/bash\n"
                  "svc:x:1234:1235:Service:/srv:\n"
                  "other:x:1300:1300::/home/other:/bin/sh\n");
    t::write_file(group, "root:x:0:\nsvc:x:1235:\nextra:x:1240:other,svc\nsvc2:x:1235:svc\nlogs:x:1250:other\n");
  }
};

TEST_F(Files, FindsAUserByNameAndByUid) {
  std::optional<welld::UserEntry> user;
  ASSERT_FALSE(welld::find_user_in(passwd.c_str(), "svc", std::nullopt, user));
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "svc");
  EXPECT_EQ(user->uid, 1234U);
  EXPECT_EQ(user->gid, 1235U);
  EXPECT_EQ(user->home, "/srv");
  EXPECT_EQ(user->shell, "");
  ASSERT_FALSE(welld::find_user_in(passwd.c_str(), {}, 1300, user));
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "other");
  ASSERT_FALSE(welld::find_user_in(passwd.c_str(), "nobody", std::nullopt, user));
  EXPECT_FALSE(user);
  ASSERT_FALSE(welld::find_user_in(passwd.c_str(), {}, 4242, user));
  EXPECT_FALSE(user);
}

TEST_F(Files, FindsAGroupByNameAndByGid) {
  std::optional<gid_t> gid;
  ASSERT_FALSE(welld::find_group_in(group.c_str(), "extra", std::nullopt, gid));
  EXPECT_EQ(gid, 1240U);
  ASSERT_FALSE(welld::find_group_in(group.c_str(), {}, 1250, gid));
  EXPECT_EQ(gid, 1250U);
  ASSERT_FALSE(welld::find_group_in(group.c_str(), "nogroup", std::nullopt, gid));
  EXPECT_FALSE(gid);
}

TEST_F(Files, GroupListIsThePrimaryThenEachGroupNamingTheUserOnce) {
  std::vector<gid_t> groups;
  ASSERT_FALSE(welld::group_list_in(group.c_str(), "svc", 1235, groups));
  // svc2 has gid 1235 again: listed once, as getgrouplist(3) does.
  EXPECT_EQ(groups, (std::vector<gid_t>{1235, 1240}));
  ASSERT_FALSE(welld::group_list_in(group.c_str(), "other", 1300, groups));
  EXPECT_EQ(groups, (std::vector<gid_t>{1300, 1240, 1250}));
  ASSERT_FALSE(welld::group_list_in(group.c_str(), "nobody", 7, groups));
  EXPECT_EQ(groups, (std::vector<gid_t>{7}));
}

TEST_F(Files, AMissingFileHoldsNoEntryAndALongLineIsReadWhole) {
  std::optional<welld::UserEntry> user;
  EXPECT_FALSE(welld::find_user_in((dir / "missing").c_str(), "root", std::nullopt, user));
  EXPECT_FALSE(user);
  // Longer than the first 4 KiB buffer: read again with a larger one.
  std::string members(10000, 'm');
  t::write_file(group, "big:x:77:" + members + ",svc\n");
  std::vector<gid_t> groups;
  ASSERT_FALSE(welld::group_list_in(group.c_str(), "svc", 5, groups));
  EXPECT_EQ(groups, (std::vector<gid_t>{5, 77}));
}

TEST_F(Files, AnUnreadableFileIsAnError) {
  // A directory: fopen succeeds, reading fails with EISDIR.
  std::optional<welld::UserEntry> user;
  auto ec = welld::find_user_in(dir.path().c_str(), "root", std::nullopt, user);
  EXPECT_EQ(ec.value(), EISDIR);
}

}  // namespace
