// rule_breaker MODE READY_FD — a process that deliberately breaks the daemon
// rules, for welld audit. It writes "ready\n" to READY_FD (a pipe whose other
// end the launching test holds: itself a broken rule) and waits for a signal.
//   MODE "all": session leader with a pty as controlling terminal and stdio,
//     SIGTERM blocked, SIGHUP and SIGUSR1 and SIGPIPE ignored, a deleted file
//     and a file on /dev/shm open, cwd on /dev/shm, umask 0.
//     (SECRET_TOKEN and LD_PRELOAD come from the environment the test gives.)
//   MODE "groups": drop to nobody but keep root's group 0 and an effective
//     capability (CAP_NET_BIND_SERVICE), as careless privilege drops do.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int break_all() {
  if (setsid() < 0) return 10;
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return 11;
  int slave = open(ptsname(master), O_RDWR);
  if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) return 12;
  dup2(slave, 0);
  dup2(slave, 1);
  dup2(slave, 2);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  signal(SIGHUP, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  std::string deleted = "/tmp/welld-rule-breaker-" + std::to_string(getpid());
  int d = open(deleted.c_str(), O_RDWR | O_CREAT, 0600);
  unlink(deleted.c_str());
  std::string shm_dir = "/dev/shm/welld-rule-breaker-" + std::to_string(getpid());
  mkdir(shm_dir.c_str(), 0700);
  int s = open((shm_dir + "/held").c_str(), O_RDWR | O_CREAT, 0600);
  if (d < 0 || s < 0 || chdir(shm_dir.c_str()) != 0) return 13;
  umask(0);
  return 0;
}

int break_groups() {
  gid_t groups[] = {0};
  if (setgroups(1, groups) != 0 || setgid(65534) != 0) return 20;
  if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 || setuid(65534) != 0) return 21;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].permitted = data[0].effective = 1U << CAP_NET_BIND_SERVICE;
  if (syscall(SYS_capset, &header, data) != 0) return 22;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  std::string mode = argv[1];
  int ready = static_cast<int>(std::strtol(argv[2], nullptr, 10));
  int rc = mode == "all" ? break_all() : mode == "groups" ? break_groups() : 3;
  if (rc != 0) return rc;
  (void)!write(ready, "ready\n", 6);  // and keep the pipe open: a launcher's pipe
  for (;;) pause();
}
