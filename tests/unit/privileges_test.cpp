// src/privileges.cpp: resolving users, groups and capabilities before a fork,
// and the switch itself (in a forked child: it cannot be undone).
#include "welld/privileges.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <string>

namespace {

TEST(ResolveCredentials, NamesAndNumbersOfKnownUsers) {
  welld::Credentials root;
  ASSERT_FALSE(welld::resolve_credentials("root", "", root));
  EXPECT_EQ(root.uid, 0U);
  EXPECT_EQ(root.gid, 0U);
  EXPECT_EQ(root.user, "root");
  EXPECT_EQ(root.home, "/root");
  welld::Credentials by_number;
  ASSERT_FALSE(welld::resolve_credentials("0", "", by_number));
  EXPECT_EQ(by_number.uid, 0U);
  EXPECT_EQ(by_number.user, "root");
  welld::Credentials nobody;
  ASSERT_FALSE(welld::resolve_credentials("nobody", "root", nobody));
  EXPECT_EQ(nobody.uid, 65534U);
  EXPECT_EQ(nobody.gid, 0U);  // the group given wins over the user's own
}

TEST(ResolveCredentials, ANumericUidWithoutAnEntryIsUsedAsItIs) {
  // No passwd entry for it here (the test machine's users are below 60000).
  welld::Credentials c;
  std::string what;
  ASSERT_FALSE(welld::resolve_credentials("3999999999", "", c, &what)) << what;
  EXPECT_EQ(c.uid, 3999999999U);
  EXPECT_EQ(c.gid, 3999999999U);  // the gid of the same number, not root's
  EXPECT_EQ(c.user, "3999999999");
  EXPECT_EQ(c.home, "/");
  EXPECT_EQ(c.shell, "/bin/sh");
  EXPECT_EQ(c.groups, (std::vector<gid_t>{3999999999U}));
  ASSERT_FALSE(welld::resolve_credentials("3999999999", "0", c, &what)) << what;
  EXPECT_EQ(c.gid, 0U);
}

TEST(ResolveCredentials, UnknownNamesAndOutOfRangeIdsAreSaid) {
  welld::Credentials c;
  std::string what;
  EXPECT_EQ(welld::resolve_credentials("welld-no-such-user", "", c, &what), std::errc::no_such_file_or_directory);
  EXPECT_NE(what.find("welld-no-such-user"), std::string::npos) << what;
  what.clear();
  EXPECT_EQ(welld::resolve_credentials("root", "welld-no-such-group", c, &what), std::errc::no_such_file_or_directory);
  EXPECT_NE(what.find("welld-no-such-group"), std::string::npos) << what;
  // A wider number would wrap to uid 0; (uid_t)-1 means "unchanged".
  for (const char* id : {"4294967296", "4294967295"}) {
    what.clear();
    EXPECT_EQ(welld::resolve_credentials(id, "", c, &what), std::errc::invalid_argument) << id;
    EXPECT_NE(what.find("out of range"), std::string::npos) << what;
  }
}

TEST(ResolveGroups, NamesAndNumbers) {
  std::vector<gid_t> gids;
  ASSERT_FALSE(welld::resolve_groups({"root", "0"}, gids));
  EXPECT_EQ(gids, (std::vector<gid_t>{0, 0}));
  std::string what;
  EXPECT_EQ(welld::resolve_groups({"welld-no-such-group"}, gids, &what), std::errc::no_such_file_or_directory);
  EXPECT_NE(what.find("welld-no-such-group"), std::string::npos) << what;
  EXPECT_EQ(welld::resolve_groups({"4294967295"}, gids, &what), std::errc::invalid_argument);
}

TEST(ResolveCapabilities, WithOrWithoutThePrefixInAnyCase) {
  std::vector<int> caps;
  ASSERT_FALSE(welld::resolve_capabilities({"cap_net_bind_service", "NET_BIND_SERVICE", "Cap_Kill"}, caps));
  EXPECT_EQ(caps, (std::vector<int>{10, 10, 5}));  // CAP_NET_BIND_SERVICE, CAP_KILL
  std::string what;
  EXPECT_EQ(welld::resolve_capabilities({"cap_no_such_thing"}, caps, &what), std::errc::invalid_argument);
  EXPECT_NE(what.find("cap_no_such_thing"), std::string::npos) << what;
}

TEST(DropPrivileges, AChildBecomesTheUserWithItsGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  welld::Credentials creds;
  ASSERT_FALSE(welld::resolve_credentials("nobody", "", creds));
  creds.groups = {creds.gid};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (welld::drop_privileges(creds)) ::_exit(10);
    uid_t r = 0, e = 0, s = 0;
    ::getresuid(&r, &e, &s);
    if (r != creds.uid || e != creds.uid || s != creds.uid) ::_exit(11);
    gid_t gr = 0, ge = 0, gs = 0;
    ::getresgid(&gr, &ge, &gs);
    if (gr != creds.gid || ge != creds.gid || gs != creds.gid) ::_exit(12);
    std::array<gid_t, 8> groups{};
    int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
    if (n != 1 || groups[0] != creds.gid) ::_exit(13);
    if (::setuid(0) == 0) ::_exit(14);  // no way back
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
