// welld/unit.hpp: the unit-file syntax, command lines, EnvironmentFile=,
// specifiers, drop-ins, the .socket and every directive's mapping.
#include "welld/unit.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using Words = std::vector<std::string>;

welld::UnitLoad load(std::string_view text, const std::vector<std::pair<std::string, std::string>>& dropins = {},
                     std::string_view socket = {}, const welld::UnitLoadOptions& options = {}) {
  return welld::load_service_unit_text("web.service", text, dropins, socket, options);
}

welld::ServiceUnit loaded(std::string_view text) {
  auto l = load(text);
  EXPECT_EQ(l.error, "");
  return l.unit;
}

Words one_command(std::string_view line) {
  std::string error;
  auto commands = welld::split_command_words(line, &error);
  EXPECT_TRUE(commands) << error;
  if (!commands || commands->size() != 1) return {"<not one command>"};
  return commands->front();
}

TEST(UnitSyntax, SectionsKeysCommentsAndContinuation) {
  std::string error;
  auto entries = welld::parse_unit_text(
      "# a comment\n; another\n[Unit]\nDescription = A web server \n\n[Service]\nExecStart=/bin/web \\\n"
      "# skipped inside a continuation\n  --port 80\nEnvironment=A=1\n",
      "web.service", &error);
  ASSERT_TRUE(entries) << error;
  ASSERT_EQ(entries->size(), 3U);
  EXPECT_EQ((*entries)[0].section, "Unit");
  EXPECT_EQ((*entries)[0].key, "Description");
  EXPECT_EQ((*entries)[0].value, "A web server");
  EXPECT_EQ((*entries)[1].key, "ExecStart");
  EXPECT_EQ((*entries)[1].value, "/bin/web  --port 80");
  EXPECT_EQ((*entries)[1].line, 7);
  EXPECT_EQ((*entries)[2].line, 10);
}

TEST(UnitSyntax, ErrorsNameFileAndLine) {
  std::string error;
  EXPECT_FALSE(welld::parse_unit_text("[Service]\nExecStart=/x\nno equals sign\n", "a.service", &error));
  EXPECT_EQ(error.rfind("a.service:3: expected Key=Value", 0), 0U) << error;
  EXPECT_FALSE(welld::parse_unit_text("ExecStart=/x\n", "a.service", &error));
  EXPECT_EQ(error.rfind("a.service:1: ExecStart= is outside any [Section]", 0), 0U) << error;
  EXPECT_FALSE(welld::parse_unit_text("[Service\n", "a.service", &error));
  EXPECT_EQ(error.rfind("a.service:1: expected a section header", 0), 0U) << error;
}

TEST(UnitSyntax, CommandWordsQuotesAndEscapes) {
  EXPECT_EQ(one_command(R"(/bin/echo a  "b c" 'd e' f\ g)"), (Words{"/bin/echo", "a", "b c", "d e", "f g"}));
  EXPECT_EQ(one_command(R"(x "a\"b" 'it\'s' \x41\102\t.)"), (Words{"x", "a\"b", "it's", "AB\t."}));
  EXPECT_EQ(one_command(R"(x a"b c"d)"), (Words{"x", "ab cd"}));
  EXPECT_EQ(one_command(R"(x "" '')"), (Words{"x", "", ""}));
  std::string error;
  EXPECT_FALSE(welld::split_command_words(R"(x "open)", &error));
  EXPECT_EQ(error, "unfinished double quote");
  EXPECT_FALSE(welld::split_command_words(R"(x \q)", &error));
  EXPECT_NE(error.find("unknown escape \\q"), std::string::npos) << error;
  auto two = welld::split_command_words(R"(a 1 ; b ";" \;)", &error);
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[1], (Words{"b", ";", ";"}));
}

TEST(UnitSyntax, VariablesExpandAsSystemdSays) {
  Words env{"A=one two", "B=x", "B=last"};
  EXPECT_EQ(welld::expand_variables({"p", "$A", "${A}", "-${B}-", "$$B", "$UNSET", "${UNSET}", "a$B"}, env),
            (Words{"p", "one", "two", "one two", "-last-", "$B", "", "a$B"}));
}

TEST(UnitSyntax, EnvironmentFileForms) {
  std::string error;
  auto vars = welld::parse_environment_file(
      "# comment\n; comment\n\nA=1\n  B = spaced value  \nC=\"quoted \\\"x\\\" $y\"\nD='single \\n'\n"
      "E=multi\\\nline\nF=\"two\nlines\"\nQUEUE=\"*\"\n",
      "env", &error);
  ASSERT_TRUE(vars) << error;
  EXPECT_EQ(*vars, (Words{"A=1", "B=spaced value", "C=quoted \"x\" $y", "D=single \\n", "E=multiline", "F=two\nlines",
                          "QUEUE=*"}));
  EXPECT_FALSE(welld::parse_environment_file("A=1\nnot an assignment\n", "env", &error));
  EXPECT_EQ(error, "env:2: expected KEY=VALUE");
  EXPECT_FALSE(welld::parse_environment_file("A=1\nB=\"open\n", "env", &error));
  EXPECT_EQ(error, "env:2: unfinished double quote");
  EXPECT_FALSE(welld::parse_environment_file("1A=x\n", "env", &error));
}

TEST(UnitLoad, SimpleServiceWithPrefixesAndExpansion) {
  auto u = loaded(
      "[Service]\nEnvironment=PORT=8080 \"GREETING=hello world\"\nExecStartPre=-/bin/false\n"
      "ExecStartPre=+/bin/mkdir -p /run/x\nExecStart=/bin/web --port $PORT --greeting=${GREETING} :$PORT\n"
      "ExecStartPost=:/bin/echo $PORT\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/web stop\n");
  EXPECT_EQ(u.type, welld::ServiceType::simple);
  ASSERT_EQ(u.exec_start.size(), 1U);
  EXPECT_EQ(u.exec_start[0].argv, (Words{"/bin/web", "--port", "8080", "--greeting=hello world", ":$PORT"}));
  EXPECT_EQ(u.exec_start[0].where, "web.service:5");
  ASSERT_EQ(u.exec_start_pre.size(), 2U);
  EXPECT_TRUE(u.exec_start_pre[0].ignore_failure);
  EXPECT_FALSE(u.exec_start_pre[0].full_privileges);
  EXPECT_TRUE(u.exec_start_pre[1].full_privileges);
  EXPECT_EQ(u.exec_start_post[0].argv, (Words{"/bin/echo", "$PORT"}));  // ':' keeps it
  EXPECT_EQ(u.exec_reload[0].argv, (Words{"/bin/kill", "-HUP"}));       // MAINPID unset at load
  EXPECT_EQ(u.exec_stop[0].argv, (Words{"/bin/web", "stop"}));
}

TEST(UnitLoad, ArgvZeroPrefix) {
  EXPECT_EQ(loaded("[Service]\nExecStart=@/usr/bin/web web -x\n").exec_start[0].argv, (Words{"/usr/bin/web", "-x"}));
  auto l = load("[Service]\nExecStart=@/usr/bin/web other -x\n");
  EXPECT_EQ(l.error,
            "web.service:2: ExecStart=: the @ prefix with an argv[0] other than the program's name is not "
            "supported");
}

TEST(UnitLoad, EveryMappedDirective) {
  auto u = loaded(
      "[Unit]\nDescription=x\nStartLimitBurst=3\nStartLimitIntervalSec=1min 30s\n"
      "[Service]\nType=notify\nExecStart=/bin/web\nPIDFile=/run/web.pid\nUser=nobody\nGroup=nogroup\n"
      "SupplementaryGroups=adm\nSupplementaryGroups=tty\nWorkingDirectory=-/srv/web\nUMask=0027\nNice=5\n"
      "LimitNOFILE=1024:4096\nLimitCORE=infinity\nRestart=on-failure\nRestartSec=2\nTimeoutStartSec=1min\n"
      "TimeoutStopSec=500ms\nKillSignal=SIGINT\nKillMode=mixed\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"
      "NoNewPrivileges=yes\nRootDirectory=/srv/root\n[Install]\nWantedBy=multi-user.target\n");
  EXPECT_EQ(u.type, welld::ServiceType::notify);
  EXPECT_EQ(u.pidfile, "/run/web.pid");
  EXPECT_EQ(u.user, "nobody");
  EXPECT_EQ(u.group, "nogroup");
  EXPECT_EQ(u.supplementary_groups, (Words{"adm", "tty"}));
  EXPECT_EQ(u.working_directory, "/srv/web");
  EXPECT_TRUE(u.working_directory_optional);
  EXPECT_EQ(u.umask, 027U);
  EXPECT_EQ(u.nice, 5);
  ASSERT_EQ(u.rlimits.size(), 2U);
  EXPECT_EQ(u.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(u.rlimits[0].soft, 1024U);
  EXPECT_EQ(u.rlimits[0].hard, 4096U);
  EXPECT_EQ(u.rlimits[1].soft, RLIM_INFINITY);
  EXPECT_EQ(u.restart, "on-failure");
  EXPECT_EQ(u.restart_sec, std::chrono::seconds(2));
  EXPECT_EQ(u.start_limit_burst, 3U);
  EXPECT_EQ(u.start_limit_interval, std::chrono::seconds(90));
  EXPECT_EQ(u.timeout_start, std::chrono::minutes(1));
  EXPECT_EQ(u.timeout_stop, std::chrono::milliseconds(500));
  EXPECT_EQ(u.kill_signal, SIGINT);
  EXPECT_EQ(u.kill_mode, "mixed");
  EXPECT_EQ(u.ambient_capabilities, (Words{"CAP_NET_BIND_SERVICE"}));
  EXPECT_TRUE(u.no_new_privileges);
  EXPECT_EQ(u.root_directory, "/srv/root");
  EXPECT_TRUE(u.warnings.empty()) << u.warnings.front().text();
}

TEST(UnitLoad, ManagedDirectoriesAndTheirVariables) {
  auto u = loaded(
      "[Service]\nExecStart=/bin/web $RUNTIME_DIRECTORY\nRuntimeDirectory=web web/sock\nRuntimeDirectoryMode=0750\n"
      "StateDirectory=web\nLogsDirectory=web\n");
  ASSERT_EQ(u.directories.size(), 4U);
  EXPECT_EQ(u.directories[0].name, "web");
  EXPECT_EQ(u.directories[0].mode, 0750U);
  EXPECT_EQ(u.directories[2].mode, 0755U);
  if (::geteuid() == 0) {
    EXPECT_EQ(u.directories[0].base, "/run");
    EXPECT_EQ(u.exec_start[0].argv, (Words{"/bin/web", "/run/web:/run/web/sock"}));
    EXPECT_NE(std::find(u.environment.begin(), u.environment.end(), "STATE_DIRECTORY=/var/lib/web"),
              u.environment.end());
  }
  EXPECT_NE(load("[Service]\nExecStart=/x\nStateDirectory=../etc\n").error.find("without '..'"), std::string::npos);
  EXPECT_NE(load("[Service]\nExecStart=/x\nStateDirectory=/etc\n").error.find("relative path"), std::string::npos);
}

TEST(UnitLoad, TimeSpans) {
  auto span = [](const std::string& v) {
    return load("[Service]\nExecStart=/x\nTimeoutStopSec=" + v + "\n").unit.timeout_stop;
  };
  EXPECT_EQ(span("90"), std::chrono::seconds(90));
  EXPECT_EQ(span("1min30s"), std::chrono::seconds(90));
  EXPECT_EQ(span("2h"), std::chrono::hours(2));
  EXPECT_EQ(span("1d"), std::chrono::hours(24));
  EXPECT_EQ(span("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(span("infinity"), std::chrono::hours(24 * 365));
  EXPECT_NE(load("[Service]\nExecStart=/x\nTimeoutStopSec=5 parsecs\n").error.find("web.service:3: TimeoutStopSec="),
            std::string::npos);
}

TEST(UnitLoad, SpecifiersOfAnInstance) {
  auto l = welld::load_service_unit_text(
      "getty@tty\\x2d1-a.service",
      "[Service]\nExecStart=/bin/echo %n %N %p %i %I %% %u\nPIDFile=%t/%p-%i.pid\nWorkingDirectory=%S\n");
  ASSERT_EQ(l.error, "");
  ASSERT_FALSE(l.unit.exec_start.empty());
  const Words& argv = l.unit.exec_start[0].argv;
  ASSERT_EQ(argv.size(), 8U);
  EXPECT_EQ(argv[1], "getty@tty\\x2d1-a.service");
  EXPECT_EQ(argv[2], "getty@tty\\x2d1-a");
  EXPECT_EQ(argv[3], "getty");
  EXPECT_EQ(argv[4], "tty\\x2d1-a");
  EXPECT_EQ(argv[5], "tty-1/a");
  EXPECT_EQ(argv[6], "%");
  if (::geteuid() == 0) {
    EXPECT_EQ(argv[7], "root");
    EXPECT_EQ(l.unit.pidfile, "/run/getty-tty\\x2d1-a.pid");
    EXPECT_EQ(l.unit.working_directory, "/var/lib");
  }
  auto bad = load("[Service]\nExecStart=/bin/echo %Z\n");
  EXPECT_EQ(bad.error, "web.service:2: ExecStart=: unknown specifier %Z (%% is a literal %)");
}

TEST(UnitLoad, DropInsOverrideAndEmptyAssignmentsReset) {
  auto l = load("[Service]\nExecStart=/bin/old\nExecStartPre=/bin/a\nEnvironment=A=1 B=2\nUser=www\n",
                {{"10-a.conf", "[Service]\nExecStart=\nExecStart=/bin/new\nExecStartPre=\nEnvironment=C=3\n"},
                 {"20-b.conf", "[Service]\nEnvironment=\nEnvironment=D=4\nUser=nobody\n"}});
  ASSERT_EQ(l.error, "");
  ASSERT_EQ(l.unit.exec_start.size(), 1U);
  EXPECT_EQ(l.unit.exec_start[0].argv, (Words{"/bin/new"}));
  EXPECT_EQ(l.unit.exec_start[0].where, "10-a.conf:3");
  EXPECT_TRUE(l.unit.exec_start_pre.empty());
  EXPECT_EQ(l.unit.environment, (Words{"D=4"}));
  EXPECT_EQ(l.unit.user, "nobody");
}

TEST(UnitLoad, RealDropInDirectoryInLexicalOrder) {
  welld::test::TempDir dir;
  welld::test::write_file(dir / "web.service", "[Service]\nExecStart=/bin/web\nEnvironment=X=unit\n");
  ASSERT_EQ(::mkdir((dir / "web.service.d").c_str(), 0755), 0);
  welld::test::write_file(dir / "web.service.d/b.conf", "[Service]\nEnvironment=X=b\n");
  welld::test::write_file(dir / "web.service.d/a.conf", "[Service]\nEnvironment=X=a\n");
  welld::test::write_file(dir / "web.service.d/c.notconf", "[Service]\nEnvironment=X=ignored\n");
  auto l = welld::load_service_unit(dir / "web.service");
  ASSERT_EQ(l.error, "");
  EXPECT_EQ(l.unit.environment, (Words{"X=unit", "X=a", "X=b"}));
}

TEST(UnitLoad, InstanceFromItsTemplateFile) {
  welld::test::TempDir dir;
  welld::test::write_file(dir / "worker@.service", "[Service]\nExecStart=/bin/work --queue %i\n");
  auto l = welld::load_service_unit(dir / "worker@mail.service");
  ASSERT_EQ(l.error, "");
  EXPECT_EQ(l.unit.name, "worker@mail.service");
  EXPECT_EQ(l.unit.path, dir / "worker@.service");
  EXPECT_EQ(l.unit.exec_start[0].argv, (Words{"/bin/work", "--queue", "mail"}));
  EXPECT_NE(welld::load_service_unit(dir / "other.service").error.find("No such file"), std::string::npos);
}

TEST(UnitLoad, EnvironmentFilesOverrideEnvironmentAndMayBeOptional) {
  welld::test::TempDir dir;
  welld::test::write_file(dir / "env", "A=from-file\nQUEUE=\"*\"\n");
  auto u = loaded("[Service]\nEnvironment=A=inline B=2\nEnvironmentFile=" + dir / "env" + "\nEnvironmentFile=-" +
                  dir / "missing" + "\nExecStart=/bin/run ${A} ${QUEUE} $B\n");
  EXPECT_EQ(u.exec_start[0].argv, (Words{"/bin/run", "from-file", "*", "2"}));
  auto l = load("[Service]\nEnvironmentFile=" + dir / "missing" + "\nExecStart=/x\n");
  EXPECT_EQ(l.error.rfind("web.service:2: EnvironmentFile=: cannot read", 0), 0U) << l.error;
}

TEST(UnitLoad, WorkingDirectoryTildeIsTheUsersHome) {
  auto u = loaded("[Service]\nUser=root\nWorkingDirectory=~\nExecStart=/x\n");
  EXPECT_EQ(u.working_directory, "/root");
}

TEST(UnitLoad, UnknownDirectivesWarnAndSandboxingIsNotEnforced) {
  std::string text =
      "[Unit]\nAfter=network.target\n[Service]\nExecStart=/x\nProtectSystem=strict\nPrivateTmp=yes\n"
      "CPUQuota=20%%\n";
  auto l = load(text);
  ASSERT_EQ(l.error, "");
  ASSERT_EQ(l.unit.warnings.size(), 4U);
  EXPECT_EQ(l.unit.warnings[0].text(),
            "web.service:2: Unit.After=: dependencies and ordering are not managed by welld: ignored");
  EXPECT_EQ(l.unit.warnings[1].text(),
            "web.service:5: Service.ProtectSystem=: not enforced by welld (--strict-unit refuses it)");
  EXPECT_TRUE(l.unit.warnings[1].not_enforced);
  EXPECT_TRUE(l.unit.warnings[2].not_enforced);
  EXPECT_FALSE(l.unit.warnings[3].not_enforced);
  EXPECT_EQ(l.unit.warnings[3].directive, "Service.CPUQuota");
  auto strict = load(text, {}, {}, {.strict = true});
  EXPECT_EQ(strict.error, "web.service:5: ProtectSystem=: not enforced by welld (refused by --strict-unit)");
}

TEST(UnitLoad, RefusedValues) {
  auto error = [](const std::string& body) { return load("[Service]\n" + body + "\n").error; };
  EXPECT_EQ(error("ExecStart=/x\nRestart=on-success"),
            "web.service:3: Restart=: 'on-success' is not supported (welld restarts: no, always, on-failure, "
            "on-abnormal)");
  EXPECT_EQ(error("ExecStart=/x\nType=dbus"),
            "web.service:3: Type=: welld runs Type=simple, exec, notify, forking and oneshot, not 'dbus'");
  EXPECT_EQ(error("Type=forking\nExecStart=/x"), "web.service: Type=forking needs PIDFile= (welld does not guess)");
  EXPECT_EQ(error("ExecStart=/x\nExecStart=/y"), "web.service: several ExecStart= need Type=oneshot");
  EXPECT_EQ(error("User=x"), "web.service: no ExecStart=");
  EXPECT_EQ(error("ExecStart=/x\nNice=40"), "web.service:3: Nice=: expected a niceness from -20 to 19");
  EXPECT_NE(error("ExecStart=/x\nLimitBOGUS=1").find("web.service:3: LimitBOGUS="), std::string::npos);
  EXPECT_EQ(error("ExecStart=/bin/x \"open"), "web.service:2: ExecStart=: unfinished double quote");
  EXPECT_TRUE(loaded("[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b ; /bin/c\n").exec_start.size() == 3U);
}

TEST(UnitLoad, SocketListenStreamForms) {
  auto l = load("[Service]\nExecStart=/x\n", {},
                "[Socket]\nListenStream=8080\nListenStream=127.0.0.1:81\nListenStream=[::1]:82\n"
                "ListenStream=/run/web.sock\nBacklog=10\n[Install]\nWantedBy=sockets.target\n");
  ASSERT_EQ(l.error, "");
  ASSERT_EQ(l.unit.listen.size(), 4U);
  EXPECT_EQ(l.unit.listen[0].host, "0.0.0.0");
  EXPECT_EQ(l.unit.listen[0].port, 8080);
  EXPECT_EQ(l.unit.listen[1].host, "127.0.0.1");
  EXPECT_EQ(l.unit.listen[2].host, "::1");
  EXPECT_TRUE(l.unit.listen[3].unix_socket);
  EXPECT_EQ(l.unit.listen[3].path, "/run/web.sock");
  EXPECT_EQ(l.unit.listen[0].name, "web.socket");
  ASSERT_EQ(l.unit.warnings.size(), 1U);
  EXPECT_EQ(l.unit.warnings[0].directive, "Socket.Backlog");
  auto datagram = load("[Service]\nExecStart=/x\n", {}, "[Socket]\nListenDatagram=514\n");
  EXPECT_EQ(datagram.error, "web.socket:2: ListenDatagram=: welld passes stream sockets only (--listen tcp: or unix:)");
  auto accept = load("[Service]\nExecStart=/x\n", {}, "[Socket]\nListenStream=1\nAccept=yes\n");
  EXPECT_NE(accept.error.find("Accept=yes"), std::string::npos);
}

TEST(UnitDirectories, CreatedWithOwnerAndModeWithoutFollowingLinks) {
  welld::test::TempDir dir;
  std::vector<welld::ManagedDirectory> dirs{{.base = dir.path(), .name = "a/b", .mode = 0750}};
  std::string what;
  ASSERT_FALSE(welld::create_managed_directories(dirs, ::getuid(), ::getgid(), "", &what)) << what;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750U);
  EXPECT_EQ(st.st_uid, ::getuid());
  // A link planted where a component goes is not followed.
  welld::test::TempDir elsewhere;
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (dir / "planted").c_str()), 0);
  std::vector<welld::ManagedDirectory> attacked{{.base = dir.path(), .name = "planted/x", .mode = 0755}};
  auto ec = welld::create_managed_directories(attacked, ::getuid(), ::getgid(), "", &what);
  // open(2): O_NOFOLLOW on a link is ELOOP, with O_DIRECTORY Linux says ENOTDIR.
  EXPECT_TRUE(ec == std::errc::not_a_directory || ec == std::errc::too_many_symbolic_link_levels) << ec.message();
  EXPECT_EQ(what, dir / "planted/x");
  EXPECT_FALSE(welld::test::exists(elsewhere / "x"));
}

}  // namespace
