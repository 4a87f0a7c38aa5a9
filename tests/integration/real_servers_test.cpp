// Real Debian servers under the welld CLI (issue 14): redis-server, memcached,
// nginx, PostgreSQL and sshd, each in its own temporary directory, on a free
// loopback port, installed by scripts/deps.sh. A test skips when its server is
// not installed, or when it needs root and does not have it. Every process a
// test started is ended by pidfd: the daemon, the processes of its session,
// and any process whose command line names the test's temporary directory (a
// server that escaped, e.g. one that daemonized itself into a new session).
//
// Tests marked "enabled by the fix of issue 14 item N" pin that item's fix.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kRedis = "/usr/bin/redis-server";
constexpr const char* kMemcached = "/usr/bin/memcached";
constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kSshd = "/usr/sbin/sshd";

bool is_root() { return ::geteuid() == 0; }

bool user_exists(const char* name) { return ::getpwnam(name) != nullptr; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// An fd closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&&) = delete;
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A listener the test holds on 127.0.0.1, on a port the kernel chose: the
// "port already taken by someone else" of a failing configuration.
class TakenPort {
 public:
  TakenPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (fd_.get() >= 0 && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_.get(), 16) == 0 && ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  int port() const { return port_; }

 private:
  Fd fd_;
  int port_ = -1;
};

// Connect to 127.0.0.1:port, send `request`, and read until `until` appears,
// the peer closes, or 10 s pass. Empty when the connection is refused.
std::string ask(int port, const std::string& request, const std::string& until) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  if (!request.empty() && ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return {};
  std::string reply;
  auto deadline = Clock::now() + 10s;
  while (reply.find(until) == std::string::npos && Clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

bool refuses(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return pids;
}

long session_of(pid_t pid) {
  std::vector<std::string> stat = t::proc_stat(pid);
  return stat.size() > 6 ? std::strtol(stat[6].c_str(), nullptr, 10) : -1;
}

bool is_zombie(pid_t pid) {
  std::vector<std::string> stat = t::proc_stat(pid);
  return stat.size() > 3 && stat[3] == "Z";
}

bool cmdline_mentions(pid_t pid, const std::string& marker) {
  return t::read_file("/proc/" + std::to_string(pid) + "/cmdline").find(marker) != std::string::npos;
}

// The sessions that belong to a test: those in `sessions` and those of every
// process whose command line names `marker` (the test's temporary directory).
std::set<long> sessions_of(const std::string& marker, std::set<long> sessions) {
  for (pid_t pid : all_pids()) {
    if (pid != ::getpid() && cmdline_mentions(pid, marker)) sessions.insert(session_of(pid));
  }
  sessions.erase(-1);
  return sessions;
}

bool belongs(pid_t pid, const std::string& marker, const std::set<long>& sessions) {
  return pid != ::getpid() && !is_zombie(pid) && (sessions.contains(session_of(pid)) || cmdline_mentions(pid, marker));
}

// The live processes that belong to a test: those whose command line names
// `marker`, and every process in their sessions or in `sessions`.
std::vector<pid_t> processes_of(const std::string& marker, const std::set<long>& sessions) {
  std::set<long> sids = sessions_of(marker, sessions);
  std::vector<pid_t> found;
  for (pid_t pid : all_pids()) {
    if (belongs(pid, marker, sids)) found.push_back(pid);
  }
  return found;
}

// Ends, by pidfd, every process that belongs to the test (see processes_of)
// when the scope ends, whatever the test's outcome.
class Leftovers {
 public:
  explicit Leftovers(std::string marker) : marker_(std::move(marker)) {}
  ~Leftovers() { kill_all(); }
  Leftovers(const Leftovers&) = delete;
  Leftovers& operator=(const Leftovers&) = delete;
  Leftovers(Leftovers&&) = delete;
  Leftovers& operator=(Leftovers&&) = delete;

  /// Also count the session of `pid` (a daemon the test started) as the test's.
  void track_session_of(pid_t pid) {
    long sid = pid > 0 ? session_of(pid) : -1;
    if (sid > 0) sessions_.insert(sid);
  }
  std::vector<pid_t> alive() const { return processes_of(marker_, sessions_); }

  void kill_all() {
    // A few rounds: a process may fork while the previous round kills.
    for (int round = 0; round < 5; ++round) {
      // Sessions first: once a master is gone its workers no longer have a
      // command line naming the directory, but they keep its session.
      sessions_ = sessions_of(marker_, sessions_);
      std::vector<pid_t> pids = processes_of(marker_, sessions_);
      if (pids.empty()) return;
      for (pid_t pid : pids) {
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) continue;
        // Pinned: check again that the pidfd names one of ours, not a reused PID.
        if (belongs(pid, marker_, sessions_)) {
          ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
          pollfd p{pidfd, POLLIN, 0};
          ::poll(&p, 1, 30000);
        }
        ::close(pidfd);
      }
    }
  }

 private:
  std::string marker_;
  std::set<long> sessions_;
};

// What a test that starts a real server under welld needs: its temporary
// directory, a free port, and the clean-up of everything it starts.
struct Scene {
  t::TempDir dir;
  Leftovers leftovers{dir.path()};
  int port = t::free_tcp_port();
  std::string pidfile = dir / "d.pid";

  // `welld start -p PIDFILE OPTIONS -- COMMAND`; the daemon's session is
  // tracked for clean-up when it started.
  t::RunResult start(std::vector<std::string> options, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"start", "-p", pidfile};
    args.insert(args.end(), options.begin(), options.end());
    args.emplace_back("--");
    args.insert(args.end(), command.begin(), command.end());
    t::RunResult r = t::welld_cli(args);
    if (t::exists(pidfile)) leftovers.track_session_of(t::pid_in(pidfile));
    return r;
  }
  std::string port_text() const { return std::to_string(port); }
};

std::vector<std::string> redis_command(const Scene& s, int port) {
  return {kRedis,   "--port", std::to_string(port), "--bind", "127.0.0.1",    "--dir",  s.dir.path(),
          "--save", "",       "--appendonly",       "no",     "--supervised", "systemd"};
}

// A minimal nginx configuration whose every path is inside `dir`; listens on
// 127.0.0.1:port with two workers and answers "hello from nginx".
std::string nginx_conf(const t::TempDir& dir, int port, bool foreground, const std::string& own_pidfile) {
  const std::string& d = dir.path();
  std::string conf;
  if (foreground) conf += "daemon off;\n";
  conf += "worker_processes 2;\n";
  conf += "pid " + own_pidfile + ";\n";
  conf += "error_log " + d + "/error.log;\n";
  conf += "events { worker_connections 64; }\n";
  conf += "http {\n";
  conf += "  access_log " + d + "/access.log;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf += std::string("  ") + temp + "_temp_path " + d + "/" + temp + ";\n";
  }
  conf += "  server {\n    listen 127.0.0.1:" + std::to_string(port) + ";\n";
  conf += "    location / { return 200 \"hello from nginx\\n\"; }\n  }\n}\n";
  t::write_file(dir / "nginx.conf", conf);
  return dir / "nginx.conf";
}

std::vector<std::string> nginx_command(const Scene& s, const std::string& conf) {
  return {kNginx, "-p", s.dir.path(), "-c", conf, "-e", s.dir / "error.log"};
}

std::string http_get(int port) { return ask(port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", "hello from nginx"); }

// A PostgreSQL cluster made by initdb as the postgres user, in a directory of
// the scene that user owns. False (with the reason in `why`) when it cannot be.
bool init_postgres_cluster(Scene& s, std::string& why) {
  passwd* pg = ::getpwnam("postgres");
  if (pg == nullptr) {
    why = "no postgres user";
    return false;
  }
  // TempDir is 0700: let the postgres user reach its own subdirectory.
  if (::chmod(s.dir.path().c_str(), 0711) != 0 || ::mkdir((s.dir / "pg").c_str(), 0700) != 0 ||
      ::chown((s.dir / "pg").c_str(), pg->pw_uid, pg->pw_gid) != 0) {
    why = "cannot prepare the cluster directory";
    return false;
  }
  t::RunResult init = t::run(
      {"/usr/bin/setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups",
       std::string(kPgBin) + "/initdb", "-D", s.dir / "pg/data", "--auth=trust", "-U", "postgres", "--no-sync"},
      300s);
  if (init.exit_code != 0) {
    why = "initdb failed: " + init.err;
    return false;
  }
  return true;
}

std::vector<std::string> postgres_command(const Scene& s) {
  return {std::string(kPgBin) + "/postgres",
          "-D",
          s.dir / "pg/data",
          "-c",
          "listen_addresses=127.0.0.1",
          "-p",
          s.port_text(),
          "-k",
          s.dir / "pg"};
}

bool postgres_accepts(const Scene& s) {
  t::RunResult r = t::run({std::string(kPgBin) + "/pg_isready", "-h", "127.0.0.1", "-p", s.port_text()}, 60s);
  return r.exit_code == 0;
}

// ---------------------------------------------------------------------------
// redis-server: sd_notify with --supervised systemd

TEST(RealServer, RedisWithNotifyIsUsableWhenStartReturns) {
  if (!t::exists(kRedis)) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh installs it)";
  Scene s;
  ASSERT_GT(s.port, 0);
  t::RunResult r = s.start({"--ready=notify", "--output", s.dir / "redis.log"}, redis_command(s, s.port));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(s.pidfile);
  ASSERT_GT(pid, 0);

  // Usable the instant start returns: no retry loop here.
  EXPECT_EQ(ask(s.port, "PING\r\n", "\r\n"), "+PONG\r\n");
  EXPECT_EQ(ask(s.port, "SET welld works\r\nGET welld\r\n", "works\r\n"), "+OK\r\n$5\r\nworks\r\n");

  t::RunResult status = t::welld_cli({"status", "-p", s.pidfile});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;

  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(t::alive(pid) && !is_zombie(pid));
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(refuses(s.port));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

TEST(RealServer, RedisOnATakenPortFailsWithOneLineAndLeavesNothing) {
  if (!t::exists(kRedis)) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh installs it)";
  Scene s;
  TakenPort taken;
  ASSERT_GT(taken.port(), 0);
  t::RunResult r = s.start({"--ready=notify", "--output", s.dir / "redis.log"}, redis_command(s, taken.port()));
  EXPECT_NE(r.exit_code, 0);
  std::vector<std::string> err = lines_of(r.err);
  ASSERT_EQ(err.size(), 1U) << r.err;
  EXPECT_EQ(err[0].rfind("welld: start: ", 0), 0U) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
  // The server itself said why, in its log.
  EXPECT_NE(t::read_file(s.dir / "redis.log").find("Address already in use"), std::string::npos);
}

// issue 14 item 3
TEST(RealServer, RedisOnATakenPortShowsTheServersOwnError) {
  if (!t::exists(kRedis)) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh installs it)";
  Scene s;
  TakenPort taken;
  ASSERT_GT(taken.port(), 0);
  // Output to a file: the failure shows the program's last lines.
  t::RunResult r = s.start({"--ready=notify", "--output", s.dir / "redis.log"}, redis_command(s, taken.port()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
  // Output to /dev/null: the message says how to see them.
  t::RunResult quiet = s.start({"--ready=notify"}, redis_command(s, taken.port()));
  EXPECT_NE(quiet.exit_code, 0);
  EXPECT_TRUE(quiet.err.find("--output") != std::string::npos || quiet.err.find("--stderr") != std::string::npos)
      << quiet.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// issue 14 item 1
TEST(RealServer, RedisWithTcpReadinessOnATakenPortFailsAndLeavesNothing) {
  if (!t::exists(kRedis)) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh installs it)";
  Scene s;
  TakenPort taken;
  ASSERT_GT(taken.port(), 0);
  // The test's listener answers the probe: it must not count as redis ready.
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + std::to_string(taken.port())}, redis_command(s, taken.port()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("welld: start: ", 0), 0U) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// enabled by the fix of issue 14 item 7
TEST(RealServer, RedisIgnoringHupPassesTheAuditAndReloadSaysSo) {
  if (!t::exists(kRedis)) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh installs it)";
  if (!is_root() || !user_exists("redis")) GTEST_SKIP() << "needs root and the redis user";
  Scene s;
  ASSERT_GT(s.port, 0);
  // redis-server changes into its --dir: one the redis user can enter.
  passwd* redis = ::getpwnam("redis");
  ASSERT_EQ(::chmod(s.dir.path().c_str(), 0711), 0);
  std::string dir = s.dir / "redis";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.c_str(), redis->pw_uid, redis->pw_gid), 0);
  std::vector<std::string> command = redis_command(s, s.port);
  *(std::find(command.begin(), command.end(), "--dir") + 1) = dir;
  t::RunResult r = s.start({"--ready=notify", "--user", "redis", "--no-new-privs"}, command);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // redis-server ignores SIGHUP by design: a warning, not a failure.
  t::RunResult audit = t::welld_cli({"audit", "-p", s.pidfile});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  EXPECT_NE(audit.out.find("SIGHUP is ignored"), std::string::npos) << audit.out;
  // reload with a signal the daemon ignores does not pass silently.
  t::RunResult reload = t::welld_cli({"reload", "-p", s.pidfile});
  EXPECT_NE(reload.err.find("ignor"), std::string::npos) << reload.out << reload.err;
  EXPECT_EQ(t::welld_cli({"stop", "-p", s.pidfile}).exit_code, 0);
}

// ---------------------------------------------------------------------------
// memcached: tcp readiness

TEST(RealServer, MemcachedWithTcpReadinessAnswersWhenStartReturns) {
  if (!t::exists(kMemcached)) GTEST_SKIP() << "memcached is not installed (scripts/deps.sh installs it)";
  Scene s;
  ASSERT_GT(s.port, 0);
  std::vector<std::string> options = {"--ready=tcp:127.0.0.1:" + s.port_text(), "--output", s.dir / "mc.log"};
  if (is_root()) {
    // memcached refuses to run as root without -u: welld drops to its user.
    if (!user_exists("memcache")) GTEST_SKIP() << "no memcache user";
    options.insert(options.end(), {"--user", "memcache"});
  }
  t::RunResult r = s.start(options, {kMemcached, "-l", "127.0.0.1", "-p", s.port_text(), "-U", "0", "-m", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(s.pidfile);
  ASSERT_GT(pid, 0);

  EXPECT_EQ(ask(s.port, "version\r\n", "\r\n").rfind("VERSION ", 0), 0U);
  std::string stats = ask(s.port, "stats\r\n", "END\r\n");
  EXPECT_NE(stats.find("STAT pid " + std::to_string(pid) + "\r\n"), std::string::npos) << stats;
  EXPECT_EQ(ask(s.port, "set k 0 0 5\r\nhello\r\nget k\r\n", "END\r\n"), "STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n");

  EXPECT_EQ(t::welld_cli({"status", "-p", s.pidfile}).exit_code, 0);
  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(refuses(s.port));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// ---------------------------------------------------------------------------
// nginx: a forking web server (a master and its workers)

TEST(RealServer, NginxInTheForegroundAnswersHttpWhenStartReturnsAndStopEndsItsWorkers) {
  if (!t::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
  Scene s;
  ASSERT_GT(s.port, 0);
  // nginx writes its own PID file; it is not welld's (see docs/recipes.md).
  std::string conf = nginx_conf(s.dir, s.port, /*foreground=*/true, s.dir / "nginx.pid");
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + s.port_text(), "--output", s.dir / "nginx.out"},
                           nginx_command(s, conf));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t master = t::pid_in(s.pidfile);
  ASSERT_GT(master, 0);

  std::string reply = http_get(s.port);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << reply;
  EXPECT_NE(reply.find("hello from nginx\n"), std::string::npos) << reply;
  // In the foreground the master is the process welld started.
  EXPECT_EQ(t::pid_in(s.dir / "nginx.pid"), master);
  EXPECT_EQ(t::welld_cli({"status", "-p", s.pidfile}).exit_code, 0);
  EXPECT_GE(s.leftovers.alive().size(), 3U);  // the master and two workers

  // TERM is nginx's fast shutdown: the master ends its workers, then itself.
  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(refuses(s.port));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// issue 14 item 1
TEST(RealServer, NginxOnATakenPortFailsWithOneLineAndLeavesNothing) {
  if (!t::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
  Scene s;
  TakenPort taken;
  ASSERT_GT(taken.port(), 0);
  std::string conf = nginx_conf(s.dir, taken.port(), /*foreground=*/true, s.dir / "nginx.pid");
  // The test's own listener would answer the probe: welld refuses the start
  // before nginx runs (docs/readiness.md), instead of reporting it ready.
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + std::to_string(taken.port()), "--output", s.dir / "nginx.out"},
                           nginx_command(s, conf));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("welld: start: ", 0), 0U) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
  EXPECT_NE(r.err.find("something already accepts connections on 127.0.0.1:" + std::to_string(taken.port())),
            std::string::npos)
      << r.err;
}

// enabled by the fix of issue 14 item 2
TEST(RealServer, NginxWorkersDoNotOutliveAMasterThatStopKilled) {
  if (!t::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
  Scene s;
  ASSERT_GT(s.port, 0);
  std::string conf = nginx_conf(s.dir, s.port, /*foreground=*/true, s.dir / "nginx.pid");
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + s.port_text()}, nginx_command(s, conf));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(http_get(s.port).find("hello from nginx"), std::string::npos);
  // A master killed outright leaves its workers serving the port (checked on
  // nginx 1.22): stop must end every process of the daemon's session.
  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile, "--signal", "KILL"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(s.leftovers.alive().empty());
  EXPECT_TRUE(refuses(s.port));
}

// issue 14 item 4
TEST(RealServer, NginxThatDaemonizesItselfIsNamedAndStopped) {
  if (!t::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
  Scene s;
  ASSERT_GT(s.port, 0);
  // No "daemon off;": nginx forks, calls setsid() and its first process exits 0.
  // Readiness by notify, which nginx never sends: with tcp:, nginx binds its
  // port before it forks, so a probe can succeed in the instant before its
  // first process exits (a documented limit of probe readiness).
  std::string conf = nginx_conf(s.dir, s.port, /*foreground=*/false, s.dir / "nginx.pid");
  t::RunResult r = s.start({"--ready=notify", "--ready-timeout", "60s"}, nginx_command(s, conf));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("daemonizes itself"), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
  EXPECT_TRUE(refuses(s.port));
}

// enabled by the fix of issue 14 item 6
TEST(RealServer, NginxOwnPidFileIsControlledWithExec) {
  if (!t::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
  if (!is_root()) GTEST_SKIP() << "needs root (nginx's master runs as root and its PID file is root's)";
  Scene s;
  ASSERT_GT(s.port, 0);
  // Started the classic way, outside welld: nginx daemonizes and writes its
  // own PID file, which carries no welld identity.
  std::string conf = nginx_conf(s.dir, s.port, /*foreground=*/false, s.dir / "nginx.pid");
  t::RunResult own = t::run(nginx_command(s, conf), 60s);
  ASSERT_EQ(own.exit_code, 0) << own.err;
  ASSERT_NE(http_get(s.port).find("hello from nginx"), std::string::npos);
  std::string foreign = s.dir / "nginx.pid";
  pid_t master = t::pid_in(foreign);
  ASSERT_GT(master, 0);
  s.leftovers.track_session_of(master);

  // The wrong program: refused, nothing signalled.
  t::RunResult wrong = t::welld_cli({"stop", "-p", foreign, "--exec", kRedis});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_TRUE(t::alive(master));
  // The right one: status and stop work on the foreign file.
  t::RunResult status = t::welld_cli({"status", "-p", foreign, "--exec", kNginx});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  t::RunResult stop = t::welld_cli({"stop", "-p", foreign, "--exec", kNginx});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(s.leftovers.alive().empty());
  EXPECT_TRUE(refuses(s.port));
}

// ---------------------------------------------------------------------------
// PostgreSQL: sd_notify, and SIGINT for a fast shutdown

TEST(RealServer, PostgresWithNotifyAcceptsWhenStartReturnsAndStopsFastOnInt) {
  if (!t::exists(std::string(kPgBin) + "/postgres")) GTEST_SKIP() << "postgresql-15 is not installed";
  if (!is_root()) GTEST_SKIP() << "needs root (postgres runs as the postgres user)";
  Scene s;
  ASSERT_GT(s.port, 0);
  std::string why;
  if (!init_postgres_cluster(s, why)) GTEST_SKIP() << why;
  t::RunResult r = s.start({"--ready=notify", "--user", "postgres", "--output", s.dir / "pg.log"}, postgres_command(s));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(s.pidfile);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(postgres_accepts(s));
  EXPECT_EQ(t::welld_cli({"status", "-p", s.pidfile}).exit_code, 0);

  // TERM would be the smart shutdown (waits for every client); INT is fast.
  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile, "--signal", "INT", "--timeout", "60s"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  std::string log = t::read_file(s.dir / "pg.log");
  EXPECT_NE(log.find("received fast shutdown request"), std::string::npos) << log;
  EXPECT_NE(log.find("database system is shut down"), std::string::npos) << log;
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// enabled by the fix of issue 14 item 5
TEST(RealServer, PostgresStopsFastWithTheStopSignalRecordedAtStart) {
  if (!t::exists(std::string(kPgBin) + "/postgres")) GTEST_SKIP() << "postgresql-15 is not installed";
  if (!is_root()) GTEST_SKIP() << "needs root (postgres runs as the postgres user)";
  Scene s;
  ASSERT_GT(s.port, 0);
  std::string why;
  if (!init_postgres_cluster(s, why)) GTEST_SKIP() << why;
  t::RunResult r = s.start({"--ready=notify", "--user", "postgres", "--output", s.dir / "pg.log", "--stop-signal",
                            "INT", "--stop-timeout", "60s"},
                           postgres_command(s));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(postgres_accepts(s));
  // No --signal: the one recorded at start is used.
  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  std::string log = t::read_file(s.dir / "pg.log");
  EXPECT_NE(log.find("received fast shutdown request"), std::string::npos) << log;
  EXPECT_TRUE(s.leftovers.alive().empty());
}

// ---------------------------------------------------------------------------
// sshd: Debian's sshd -D speaks sd_notify

TEST(RealServer, SshdWithNotifyAcceptsConnectionsWhenStartReturns) {
  if (!t::exists(kSshd)) GTEST_SKIP() << "openssh-server is not installed (scripts/deps.sh installs it)";
  if (!is_root()) GTEST_SKIP() << "needs root (sshd's privilege separation)";
  Scene s;
  ASSERT_GT(s.port, 0);
  // sshd needs its privilege separation directory, which Debian's service
  // files create at boot; create it the same way when it is missing.
  if (!t::exists("/run/sshd")) {
    ASSERT_EQ(::mkdir("/run/sshd", 0755), 0);
  }
  t::RunResult key = t::run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", s.dir / "host_key"}, 60s);
  ASSERT_EQ(key.exit_code, 0) << key.err;
  t::RunResult r = s.start({"--ready=notify", "--output", s.dir / "sshd.log"},
                           {kSshd, "-D", "-e", "-f", "/dev/null", "-h", s.dir / "host_key", "-p", s.port_text(), "-o",
                            "ListenAddress=127.0.0.1", "-o", "PidFile=none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(s.pidfile);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(ask(s.port, "", "\r\n").rfind("SSH-2.0-OpenSSH", 0), 0U);
  EXPECT_EQ(t::welld_cli({"status", "-p", s.pidfile}).exit_code, 0);

  t::RunResult stop = t::welld_cli({"stop", "-p", s.pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(refuses(s.port));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

}  // namespace

// ---------------------------------------------------------------------------
// server_like: readiness only by the daemon (issue 14 item 1), the program's
// own error (item 3), a server that daemonizes itself (item 4)

namespace {

// Run `welld start` on another thread; the test acts while it waits.
class StartInBackground {
 public:
  StartInBackground(Scene& s, std::vector<std::string> options, std::vector<std::string> command)
      : thread_([this, &s, options = std::move(options), command = std::move(command)] {
          result_ = s.start(options, command);
        }) {}
  ~StartInBackground() {
    if (thread_.joinable()) thread_.join();
  }
  StartInBackground(const StartInBackground&) = delete;
  StartInBackground& operator=(const StartInBackground&) = delete;
  StartInBackground(StartInBackground&&) = delete;
  StartInBackground& operator=(StartInBackground&&) = delete;
  const t::RunResult& result() {
    thread_.join();
    return result_;
  }

 private:
  t::RunResult result_;
  std::thread thread_;
};

// Wait up to 30 s for `text` in the file `path` (the helper's own output).
bool wait_for_text(const std::string& path, const std::string& text) {
  auto deadline = Clock::now() + 30s;
  while (t::read_file(path).find(text) == std::string::npos) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// True when a connection arrives on `listener` within 30 s (it is accepted
// and closed): welld's probe reached the test's socket.
bool probe_arrives(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 30000) <= 0) return false;
  int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return false;
  ::close(conn);
  return true;
}

}  // namespace

TEST(ServerLike, TcpReadinessOnAPortAnotherProcessHoldsIsRefusedEvenForADeadDaemon) {
  Scene s;
  TakenPort taken;
  ASSERT_GT(taken.port(), 0);
  // The example: /bin/false never listens, the test's socket answers.
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + std::to_string(taken.port())}, {"/bin/false"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines_of(r.err).size(), 1U) << r.err;
  EXPECT_NE(r.err.find("something already accepts connections on 127.0.0.1:" + std::to_string(taken.port())),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
}

TEST(ServerLike, FileReadinessOnAFileThatExistsBeforeTheStartIsRefused) {
  Scene s;
  t::write_file(s.dir / "ready", "stale\n");
  t::RunResult r = s.start({"--ready=file:" + s.dir / "ready"}, {"/bin/sleep", "600"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: cannot use --ready=file:" + s.dir / "ready" + ": " + s.dir / "ready" +
                       " already exists before the start (remove it, or have the daemon remove it)\n");
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

TEST(ServerLike, ATcpListenerThatAppearsAfterTheStartButIsNotTheDaemonsNeverCounts) {
  Scene s;
  ASSERT_GT(s.port, 0);
  std::string log = s.dir / "out.log";
  StartInBackground start(s, {"--ready=tcp:127.0.0.1:" + s.port_text(), "--ready-timeout", "3s", "--output", log},
                          {SERVER_LIKE_PATH, "--say", "up", "--workers-out", s.dir / "w"});
  ASSERT_TRUE(wait_for_text(log, "up"));
  // The daemon runs and never listens; the test listens on its port now.
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(s.port);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  EXPECT_TRUE(probe_arrives(listener.get()));
  const t::RunResult& r = start.result();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: the daemon did not become ready in time (3s); stopped it\n");
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

TEST(ServerLike, AUnixListenerThatIsNotTheDaemonsNeverCounts) {
  Scene s;
  std::string log = s.dir / "out.log";
  std::string path = s.dir / "app.sock";
  StartInBackground start(s, {"--ready=unix:" + path, "--ready-timeout", "3s", "--output", log},
                          {SERVER_LIKE_PATH, "--say", "up", "--workers-out", s.dir / "w"});
  ASSERT_TRUE(wait_for_text(log, "up"));
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  EXPECT_TRUE(probe_arrives(listener.get()));
  const t::RunResult& r = start.result();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did not become ready in time"), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
}

TEST(ServerLike, ItsOwnListenerCountsWithWorkersHoldingIt) {
  Scene s;
  ASSERT_GT(s.port, 0);
  t::RunResult r = s.start(
      {"--ready=tcp:127.0.0.1:" + s.port_text()},
      {SERVER_LIKE_PATH, "--listen-tcp", s.port_text(), "--workers", "2", "--workers-out", s.dir / "w"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ask(s.port, "", "\n").rfind("hello from ", 0), 0U);
  EXPECT_EQ(t::welld_cli({"stop", "-p", s.pidfile}).exit_code, 0);
}

TEST(ServerLike, AnExitBeforeReadyShowsItsLastLinesSinceThisStartOnOneLine) {
  Scene s;
  ASSERT_GT(s.port, 0);
  std::string log = s.dir / "out.log";
  t::write_file(log, "a line from an earlier run\n");
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + s.port_text(), "--output", log},
                           {SERVER_LIKE_PATH, "--say", "loading /etc/app.conf", "--say",
                            "bind: Address already in use \x1b]0;pwned\x07", "--fail-with", "1"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(lines_of(r.err).size(), 1U) << r.err;
  EXPECT_EQ(r.err, "welld: start: the daemon exited with status 1 before it was ready; its last output in " + log +
                       ": loading /etc/app.conf | bind: Address already in use ?]0;pwned?\n");
  EXPECT_FALSE(t::exists(s.pidfile));
}

TEST(ServerLike, AnExitBeforeReadyWithOutputDiscardedSaysHowToSeeIt) {
  Scene s;
  ASSERT_GT(s.port, 0);
  t::RunResult r = s.start({"--ready=tcp:127.0.0.1:" + s.port_text()},
                           {SERVER_LIKE_PATH, "--say", "bind: Address already in use", "--fail-with", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "welld: start: the daemon exited with status 1 before it was ready; its output went to /dev/null "
            "(--output FILE keeps it)\n");
}

TEST(ServerLike, AServerThatDaemonizesItselfIsNamedAndItsProcessesStopped) {
  Scene s;
  ASSERT_GT(s.port, 0);
  // It forks before listening: its main process exits 0 and the child, with
  // two workers, serves the port untracked unless welld stops them.
  t::RunResult r = s.start(
      {"--ready=tcp:127.0.0.1:" + s.port_text()},
      {SERVER_LIKE_PATH, "--daemonize", "--listen-tcp", s.port_text(), "--workers", "2", "--workers-out", s.dir / "w"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(lines_of(r.err).size(), 1U) << r.err;
  EXPECT_EQ(r.err.rfind("welld: start: server_like daemonizes itself: its main process exited with status 0 before "
                        "it was ready and left ",
                        0),
            0U)
      << r.err;
  EXPECT_NE(r.err.find("run it in the foreground"), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(s.pidfile));
  EXPECT_TRUE(s.leftovers.alive().empty());
  EXPECT_TRUE(refuses(s.port));
  for (const auto& line : lines_of(t::read_file(s.dir / "w"))) EXPECT_FALSE(t::alive(std::stoi(line))) << line;
}
