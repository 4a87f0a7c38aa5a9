// spawn_daemon's clone machinery: the children's stacks and their entry points.
#include "spawn_clone.hpp"

#include <sanitizer/asan_interface.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "after_fork.hpp"

namespace welld::detail {
namespace {

// ---- spawn_daemon's children: no copy of the caller's memory ------------------
//
// The intermediate and the daemon are created the way posix_spawn creates its
// child: clone(CLONE_VM | CLONE_VFORK) on stacks of their own. fork would copy
// the caller's page tables twice and the exec would tear the copy down again,
// all while the caller waits; here the caller sleeps in clone until the
// daemon has exec'd or failed, and nothing is copied. Sharing memory adds
// rules to async-signal-safety: the children write only their own stacks and
// the kernel's state (fds, credentials...), never the caller's objects or
// globals (environ; errno is shared with the sleeping caller, which ignores
// it), and they run with every signal blocked until step 2 has reset the
// handlers that live in the caller's memory. Credentials change through raw
// system calls (glibc's setuid would try to signal the caller's threads).

struct SpawnArgs {
  const Plan* plan;
  int report_fd;
  void* daemon_stack;  // top of the daemon's stack
  pid_t caller;        // the caller's PID, for the parent death signal's check
};

// The children's two stacks, each above an inaccessible guard page. Made on
// the first spawn and kept for the life of the process (unmapping them would
// cost a TLB shootdown on every CPU the children ran on); one spawn at a time
// uses them. Made again, larger, for a plan whose exec needs more stack
// (exec_stack_bytes: an environment of many thousand variables).
constexpr size_t kGuardSize = 4096;
constexpr size_t kStackSize = size_t{256} * 1024;
std::mutex g_stacks_lock;
char* g_stacks = nullptr;  // guarded by g_stacks_lock
size_t g_stack_size = 0;   // of each stack; guarded by g_stacks_lock

constexpr size_t stacks_size(size_t stack_size) noexcept { return 2 * (kGuardSize + stack_size); }

// Each stack's size for `plan`: the fixed frames' room and the exec's needs.
size_t stack_size_for(const Plan& plan) noexcept {
  size_t extra = exec_stack_bytes(plan);
  return kStackSize + (extra + kGuardSize - 1) / kGuardSize * kGuardSize;
}

// Stacks of at least `stack_size` each (with g_stacks_lock held), or nullptr
// with errno set.
char* child_stacks(size_t stack_size) noexcept {
  if (g_stacks != nullptr && g_stack_size >= stack_size) return g_stacks;
  void* p = ::mmap(nullptr, stacks_size(stack_size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* base = static_cast<char*>(p);
  if (::mprotect(base, kGuardSize, PROT_NONE) != 0 ||
      ::mprotect(base + kGuardSize + stack_size, kGuardSize, PROT_NONE) != 0) {
    int err = errno;
    ::munmap(base, stacks_size(stack_size));
    errno = err;
    return nullptr;
  }
  if (g_stacks != nullptr) ::munmap(g_stacks, stacks_size(g_stack_size));
  g_stacks = base;
  g_stack_size = stack_size;
  return base;
}

// The top (stacks grow down) of stack 0 or 1.
void* stack_top(char* stacks, int i) noexcept {
  return stacks + static_cast<size_t>(i + 1) * (kGuardSize + g_stack_size);
}

WELLD_AFTER_FORK int spawned_daemon(void* arg) noexcept {
  const auto& a = *static_cast<const SpawnArgs*>(arg);
  int report_fd = a.report_fd;
  send(report_fd, ReportKind::pid);
  OwnPidfile own;
  settle(*a.plan, report_fd, own);
  exec_program(*a.plan, report_fd, own);
}

WELLD_AFTER_FORK int spawned_intermediate(void* arg) noexcept {
  const auto& a = *static_cast<const SpawnArgs*>(arg);
  detach(*a.plan, a.report_fd);  // its close-fds step also closes the caller's end of the pipe
  pid_t pid = ::clone(spawned_daemon, a.daemon_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
  if (pid < 0) fail_and_exit(a.report_fd, Step::fork_again, errno);
  ::_exit(0);  // step 8, once the daemon has exec'd (or failed)
}

// A foreground spawn's one child (detach false): steps 1-4, step 6 as the
// plan says, then the daemon's steps and the exec, with no second fork: it
// stays the caller's child.
WELLD_AFTER_FORK int spawned_child(void* arg) noexcept {
  const auto& a = *static_cast<const SpawnArgs*>(arg);
  int report_fd = a.report_fd;
  detach(*a.plan, report_fd);  // its close-fds step also closes the caller's end of the pipe
  send(report_fd, ReportKind::pid);
  OwnPidfile own;
  settle(*a.plan, report_fd, own);
  arm_parent_death_signal(*a.plan, a.caller, report_fd, own);
  exec_program(*a.plan, report_fd, own);
}

}  // namespace

pid_t clone_daemon(const Plan& plan, int report_fd, int& error, const char*& what) noexcept {
  std::lock_guard lock(g_stacks_lock);
  char* stacks = child_stacks(stack_size_for(plan));
  if (stacks == nullptr) {
    error = errno;
    what = "stacks for the children";
    return -1;
  }
  SpawnArgs args{&plan, report_fd, stack_top(stacks, 1), ::getpid()};
  sigset_t all;
  sigset_t old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  // Step 5. Returns once the intermediate has exited, after the daemon's exec
  // (or, in the foreground, once the one child has exec'd or exited).
  pid_t child = ::clone(plan.detach ? spawned_intermediate : spawned_child, stack_top(stacks, 0),
                        CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  error = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // The children ended inside their frames: their stack poisoning must not outlive them.
  ASAN_UNPOISON_MEMORY_REGION(stacks, stacks_size(g_stack_size));
  return child;
}

}  // namespace welld::detail
