// welld-static: truly static (no interpreter, no shared library), and at work
// in an empty root that holds only itself, a static program, /proc, /dev/null
// and, for names, its own /etc/passwd and /etc/group (a scratch container).
#include <elf.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// The ELF's program header types, and the DT_NEEDED entries of its dynamic
// section (a static-pie has one, for its own relocations, but needs nothing).
struct ElfShape {
  bool ok = false;
  bool interpreter = false;
  int needed = 0;
};

ElfShape elf_shape(const std::string& path) {
  ElfShape shape;
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64) {
    return shape;
  }
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + static_cast<Elf64_Off>(i) * header.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return shape;
    if (ph.p_type == PT_INTERP) shape.interpreter = true;
    if (ph.p_type != PT_DYNAMIC) continue;
    for (Elf64_Off at = ph.p_offset; at + sizeof(Elf64_Dyn) <= ph.p_offset + ph.p_filesz; at += sizeof(Elf64_Dyn)) {
      Elf64_Dyn dyn{};
      in.seekg(static_cast<std::streamoff>(at));
      if (!in.read(reinterpret_cast<char*>(&dyn), sizeof dyn)) return shape;
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag == DT_NEEDED) ++shape.needed;
    }
  }
  shape.ok = true;
  return shape;
}

TEST(StaticBuild, HasNoInterpreterAndNeedsNoSharedLibrary) {
  ElfShape shape = elf_shape(WELLD_STATIC_PATH);
  ASSERT_TRUE(shape.ok) << WELLD_STATIC_PATH << " is not a 64-bit ELF file";
  EXPECT_FALSE(shape.interpreter) << "PT_INTERP: the dynamic loader would be needed";
  EXPECT_EQ(shape.needed, 0);
  // The dynamic welld, for contrast, has an interpreter: the check can fail.
  EXPECT_TRUE(elf_shape(WELLD_CLI_PATH).interpreter);
}

// An empty root, in a mount namespace of this test's own (unshare(2); the
// mounts go with the test's process): /welld, /prog (a static program that
// pauses), /run, /proc (mounted) and /dev/null (bound), nothing else.
// /proc/PID/status's Groups line ends in a blank.
std::string groups(std::map<std::string, std::string>& status) {
  std::string text = status["Groups"];
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

class EmptyRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "no mount namespace: " << std::strerror(errno);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
    std::filesystem::create_directories(root_ + "/run");
    std::filesystem::create_directories(root_ + "/proc");
    std::filesystem::create_directories(root_ + "/dev");
    std::filesystem::permissions(root_, static_cast<std::filesystem::perms>(0755));
    std::filesystem::copy_file(WELLD_STATIC_PATH, root_ + "/welld");
    std::filesystem::copy_file(STATIC_PAUSE_PATH, root_ + "/prog");
    t::write_file(root_ + "/dev/null", "");
    ASSERT_EQ(::mount("proc", (root_ + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), 0)
        << std::strerror(errno);
    ASSERT_EQ(::mount("/dev/null", (root_ + "/dev/null").c_str(), nullptr, MS_BIND, nullptr), 0)
        << std::strerror(errno);
  }

  // Before the TempDir goes: its removal must not walk into /proc.
  void TearDown() override {
    for (const char* mount_point : {"/proc", "/dev/null"}) ::umount2((root_ + mount_point).c_str(), MNT_DETACH);
  }

  // welld-static with `args`, chrooted into the empty root.
  t::RunResult welld(std::vector<std::string> args) const {
    args.insert(args.begin(), {"/usr/sbin/chroot", root_, "/welld"});
    return t::run(args, 60s);
  }

  pid_t pid_in(const std::string& pidfile) const { return t::pid_in(root_ + pidfile); }

  const std::string& root() const { return root_; }

 private:
  t::TempDir dir_;
  std::string root_ = dir_ / "root";
};

TEST_F(EmptyRoot, NumericUserWithoutPasswdStartsAndStops) {
  auto r = welld({"start", "-p", "/run/x.pid", "--user", "1000", "--", "/prog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(pid_in("/run/x.pid"));
  ASSERT_GT(guard.pid(), 0);
  ASSERT_TRUE(t::wait_for_exec(guard.pid()));
  auto status = t::proc_status(guard.pid());
  EXPECT_EQ(status["Uid"], "1000\t1000\t1000\t1000");
  // No passwd entry: the gid of the same number, no other group.
  EXPECT_EQ(status["Gid"], "1000\t1000\t1000\t1000");
  EXPECT_EQ(groups(status), "1000");
  std::error_code ec;
  EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(guard.pid()) + "/root", ec).string(), root());
  EXPECT_EQ(welld({"status", "-p", "/run/x.pid"}).exit_code, 0);
  auto stop = welld({"stop", "-p", "/run/x.pid"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(guard.wait_gone(10s));
  EXPECT_EQ(welld({"status", "-p", "/run/x.pid"}).exit_code, 3);
}

TEST_F(EmptyRoot, NamesComeFromTheRootsEtcPasswdAndEtcGroup) {
  std::filesystem::create_directories(root() + "/etc");
  t::write_file(root() + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nsvc:x:1234:1235::/srv:/bin/false\n");
  t::write_file(root() + "/etc/group", "root:x:0:\nsvc:x:1235:\nextra:x:1240:other,svc\nlogs:x:1250:\n");
  auto r = welld({"start", "-p", "/run/x.pid", "--user", "svc", "--", "/prog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(pid_in("/run/x.pid"));
  ASSERT_GT(guard.pid(), 0);
  ASSERT_TRUE(t::wait_for_exec(guard.pid()));
  auto status = t::proc_status(guard.pid());
  EXPECT_EQ(status["Uid"], "1234\t1234\t1234\t1234");
  EXPECT_EQ(status["Gid"], "1235\t1235\t1235\t1235");
  EXPECT_EQ(groups(status), "1235 1240");
  auto env = t::proc_environ(guard.pid());
  EXPECT_NE(std::find(env.begin(), env.end(), "HOME=/srv"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "USER=svc"), env.end());
  EXPECT_EQ(welld({"stop", "-p", "/run/x.pid"}).exit_code, 0);
  EXPECT_TRUE(guard.wait_gone(10s));

  // A group by name, and supplementary groups by name, from /etc/group.
  r = welld({"start", "-p", "/run/x.pid", "--user", "svc", "--group", "logs", "--supplementary-groups", "extra", "--",
             "/prog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  guard.reset(pid_in("/run/x.pid"));
  ASSERT_TRUE(t::wait_for_exec(guard.pid()));
  status = t::proc_status(guard.pid());
  EXPECT_EQ(status["Gid"], "1250\t1250\t1250\t1250");
  EXPECT_EQ(groups(status), "1240");
  EXPECT_EQ(welld({"stop", "-p", "/run/x.pid"}).exit_code, 0);
  EXPECT_TRUE(guard.wait_gone(10s));
}

TEST_F(EmptyRoot, UnknownNameFailsWithOneLineThatNamesTheFiles) {
  std::filesystem::create_directories(root() + "/etc");
  t::write_file(root() + "/etc/passwd", "svc:x:1234:1235::/srv:/bin/false\n");
  // nobody is in the host's passwd (and NSS), not in this root's.
  auto r = welld({"start", "-p", "/run/x.pid", "--user", "nobody", "--", "/prog"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "welld: start: unknown user 'nobody' (names are looked up in /etc/passwd and /etc/group only)\n");
  r = welld({"start", "-p", "/run/x.pid", "--user", "svc", "--group", "nogroup", "--", "/prog"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "welld: start: unknown group 'nogroup' (names are looked up in /etc/passwd and /etc/group only)\n");
  EXPECT_FALSE(t::exists(root() + "/run/x.pid"));
}

TEST_F(EmptyRoot, SupervisorIsTheStaticBinaryAndRestartsTheProgram) {
  auto r = welld({"start", "--respawn", "--restart-delay", "0", "-p", "/run/s.pid", "--", "/prog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard supervisor(pid_in("/run/s.pid"));
  ASSERT_GT(supervisor.pid(), 0);
  std::error_code ec;
  EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(supervisor.pid()) + "/exe", ec).string(),
            root() + "/welld");
  auto child_of = [&] {
    std::string children = t::read_file("/proc/" + std::to_string(supervisor.pid()) + "/task/" +
                                        std::to_string(supervisor.pid()) + "/children");
    return children.empty() ? -1 : static_cast<pid_t>(std::stol(children));
  };
  pid_t first = -1;
  for (int i = 0; i < 500 && first <= 0; ++i, std::this_thread::sleep_for(10ms)) first = child_of();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  pid_t second = -1;
  for (int i = 0; i < 1000 && (second <= 0 || second == first); ++i, std::this_thread::sleep_for(10ms)) {
    second = child_of();
  }
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  t::ProcessGuard child(second);
  EXPECT_EQ(welld({"stop", "-p", "/run/s.pid"}).exit_code, 0);
  EXPECT_TRUE(supervisor.wait_gone(20s));
  EXPECT_TRUE(child.wait_gone(20s));
}

}  // namespace
