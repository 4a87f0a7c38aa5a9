// welld_fault — an LD_PRELOAD shim, built only with the tests, that makes a
// chosen library call fail with a chosen errno, or SIGKILLs the calling process
// at that call, so that every failure path of daemonization can be exercised.
//
//   WELLD_FAULT=CALL:ACTION[:NTH[:WHERE[:SUBSTRING]]][,CALL:ACTION...]   (up to 8)
//   WELLD_FAULT_LOG=FILE   optional: one line "fired CALL ACTION depth D pid P" per fault fired
//
// CALL       pipe (pipe, pipe2), fork (fork, and clone with CLONE_VM|CLONE_VFORK
//            as posix_spawn and spawn_daemon use it), setsid, open (open, openat and their
//            64/fortified variants), dup2 (dup2, dup3), chdir, lock (fcntl
//            F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW), pwrite (pwrite,
//            pwrite64), link (linkat: publishing an unnamed PID file), tmpfile
//            (an open with O_TMPFILE), xattr (fsetxattr; subject: the file),
//            pidfd_open and pidfd_send_signal (syscall()),
//            setgroups, initgroups, setgid, setuid (the wrappers, and
//            syscall(SYS_setgroups, SYS_setgid, SYS_setuid)), execve, socket,
//            close_range (the close_range() wrapper and syscall(SYS_close_range)).
// ACTION     an errno name (EAGAIN, ENOSYS...) or number: the call does nothing
//            and fails with it; or `kill`: the calling process SIGKILLs itself
//            instead of making the call.
// NTH        fire at the NTH matching call (default 1), or `all`: at every
//            matching call (a system call the kernel lacks). Counts are inherited
//            across fork, and each fault fires once per line of descent. A
//            vfork-style clone child shares the shim's memory; its parent
//            sleeps meanwhile and gets its own counts and depth back after.
// WHERE      which process may fire it, by fork depth below the process that
//            loaded the shim: `any` (default), `caller` (depth 0), `child`
//            (depth 1), `grandchild` (depth 2), or a number. For welld these
//            are the original process, the intermediate (session leader) and
//            the daemon.
// SUBSTRING  only calls whose subject contains it: the path for open, chdir
//            and execve; the new name for link; the file an fd names (/proc/self/fd) for dup2 (the
//            old fd), lock and pwrite; AF_UNIX, AF_INET or AF_INET6 for socket.
//            It is the rest of the entry, so it may contain ':' (not ',').
//
// Empty fields take their defaults: `open:EROFS:::app.pid`. A malformed
// WELLD_FAULT makes the process exit with status 125 before main.
//
// The wrappers run after fork, where only async-signal-safe calls are allowed:
// the environment is parsed once, in the constructor, into static storage, and
// the real functions are resolved there too. A wrapper only compares strings,
// readlink()s /proc/self/fd, open()s/write()s the log and kill()s itself.
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum { kMaxFaults = 8, kFieldSize = 256, kAnyDepth = -1, kEveryCall = 0 };

struct fault {
  char call[32];
  int error;  // the errno to fail with; 0 with kill
  int kill;   // SIGKILL instead of failing
  long nth;   // kEveryCall: every matching call
  long seen;  // matching calls so far in this line of descent
  int depth;  // kAnyDepth or a fork depth
  char substring[kFieldSize];
};

static struct fault g_faults[kMaxFaults];
static int g_nfaults;
static int g_depth;  // forks since the shim was loaded, in this process's line
static char g_log[4096];

// ---- the real functions -----------------------------------------------------

typedef int (*pipe_fn)(int[2]);
typedef int (*pipe2_fn)(int[2], int);
typedef pid_t (*fork_fn)(void);
typedef pid_t (*setsid_fn)(void);
typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef int (*open2_fn)(const char*, int);
typedef int (*openat2_fn)(int, const char*, int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*chdir_fn)(const char*);
typedef int (*fcntl_fn)(int, int, ...);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef int (*linkat_fn)(int, const char*, int, const char*, int);
typedef int (*fsetxattr_fn)(int, const char*, const void*, size_t, int);
typedef int (*setgroups_fn)(size_t, const gid_t*);
typedef int (*initgroups_fn)(const char*, gid_t);
typedef int (*setgid_fn)(gid_t);
typedef int (*setuid_fn)(uid_t);
typedef int (*execve_fn)(const char*, char* const[], char* const[]);
typedef int (*socket_fn)(int, int, int);
typedef int (*close_range_fn)(unsigned int, unsigned int, int);
typedef long (*syscall_fn)(long, ...);
typedef int (*clone_fn)(int (*)(void*), void*, int, void*, ...);

static struct {
  pipe_fn pipe;
  pipe2_fn pipe2;
  fork_fn fork;
  setsid_fn setsid;
  open_fn open, open64;
  openat_fn openat, openat64;
  open2_fn open_2, open64_2;
  openat2_fn openat_2, openat64_2;
  dup2_fn dup2;
  dup3_fn dup3;
  chdir_fn chdir;
  fcntl_fn fcntl, fcntl64;
  pwrite_fn pwrite, pwrite64;
  linkat_fn linkat;
  fsetxattr_fn fsetxattr;
  setgroups_fn setgroups;
  initgroups_fn initgroups;
  setgid_fn setgid;
  setuid_fn setuid;
  execve_fn execve;
  socket_fn socket;
  close_range_fn close_range;
  syscall_fn syscall;
  clone_fn clone;
} real;

// dlsym returns an object pointer; memcpy converts it without a cast ISO C forbids.
static void resolve(void* target, size_t size, const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  memcpy(target, &symbol, size);
}

// A wrapper called before the constructor ran (by another library's
// constructor) resolves its own function; after that, never.
#define REAL(field, name) \
  (real.field != NULL ? real.field : (resolve(&real.field, sizeof real.field, name), real.field))

// ---- parsing, in the constructor ---------------------------------------------

static const struct {
  const char* name;
  int value;
} kErrnoNames[] = {
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"EINTR", EINTR},
    {"EIO", EIO},
    {"ENXIO", ENXIO},
    {"E2BIG", E2BIG},
    {"ENOEXEC", ENOEXEC},
    {"EBADF", EBADF},
    {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EFAULT", EFAULT},
    {"EBUSY", EBUSY},
    {"EEXIST", EEXIST},
    {"ENOTDIR", ENOTDIR},
    {"EISDIR", EISDIR},
    {"EINVAL", EINVAL},
    {"ENFILE", ENFILE},
    {"EMFILE", EMFILE},
    {"ETXTBSY", ETXTBSY},
    {"ENOSPC", ENOSPC},
    {"EROFS", EROFS},
    {"ENOLCK", ENOLCK},
    {"ENOSYS", ENOSYS},
    {"ELOOP", ELOOP},
    {"EDQUOT", EDQUOT},
    {"ENAMETOOLONG", ENAMETOOLONG},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
    {"EPROTONOSUPPORT", EPROTONOSUPPORT},
    {"EOPNOTSUPP", EOPNOTSUPP},
};

static int parse_number(const char* text, long* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0) return 0;
  *out = v;
  return 1;
}

static int parse_action(const char* text, struct fault* f) {
  if (strcmp(text, "kill") == 0) {
    f->kill = 1;
    return 1;
  }
  for (size_t i = 0; i < sizeof kErrnoNames / sizeof kErrnoNames[0]; ++i) {
    if (strcmp(text, kErrnoNames[i].name) == 0) {
      f->error = kErrnoNames[i].value;
      return 1;
    }
  }
  long v = 0;
  if (!parse_number(text, &v) || v == 0 || v > 4095) return 0;
  f->error = (int)v;
  return 1;
}

static int parse_depth(const char* text, int* out) {
  long v = 0;
  if (*text == '\0' || strcmp(text, "any") == 0) {
    *out = kAnyDepth;
  } else if (strcmp(text, "caller") == 0) {
    *out = 0;
  } else if (strcmp(text, "child") == 0) {
    *out = 1;
  } else if (strcmp(text, "grandchild") == 0) {
    *out = 2;
  } else if (parse_number(text, &v) && v < 64) {
    *out = (int)v;
  } else {
    return 0;
  }
  return 1;
}

// Copies the next ':'-separated field of *cursor into out; the last field
// (rest != 0) takes everything that is left.
static int next_field(char** cursor, char* out, size_t size, int rest) {
  char* start = *cursor;
  char* end = rest ? start + strlen(start) : strchrnul(start, ':');
  size_t len = (size_t)(end - start);
  if (len >= size) return 0;
  memcpy(out, start, len);
  out[len] = '\0';
  *cursor = *end == ':' ? end + 1 : end;
  return 1;
}

static int parse_entry(char* entry, struct fault* f) {
  char action[64], nth[32], where[32];
  char* cursor = entry;
  memset(f, 0, sizeof *f);
  if (!next_field(&cursor, f->call, sizeof f->call, 0) || f->call[0] == '\0') return 0;
  if (!next_field(&cursor, action, sizeof action, 0) || !parse_action(action, f)) return 0;
  if (!next_field(&cursor, nth, sizeof nth, 0) || !next_field(&cursor, where, sizeof where, 0)) return 0;
  if (!next_field(&cursor, f->substring, sizeof f->substring, 1)) return 0;
  f->nth = 1;
  if (strcmp(nth, "all") == 0) {
    f->nth = kEveryCall;
  } else if (nth[0] != '\0' && (!parse_number(nth, &f->nth) || f->nth == 0)) {
    return 0;
  }
  return parse_depth(where, &f->depth);
}

static void bad_spec(const char* spec) {
  static const char prefix[] = "welld_fault: malformed WELLD_FAULT: ";
  // Best effort: the process exits right after, whatever these return.
  (void)!write(2, prefix, sizeof prefix - 1);
  (void)!write(2, spec, strlen(spec));
  (void)!write(2, "\n", 1);
  _exit(125);
}

__attribute__((constructor)) static void welld_fault_init(void) {
  resolve(&real.pipe, sizeof real.pipe, "pipe");
  resolve(&real.pipe2, sizeof real.pipe2, "pipe2");
  resolve(&real.fork, sizeof real.fork, "fork");
  resolve(&real.setsid, sizeof real.setsid, "setsid");
  resolve(&real.open, sizeof real.open, "open");
  resolve(&real.open64, sizeof real.open64, "open64");
  resolve(&real.openat, sizeof real.openat, "openat");
  resolve(&real.openat64, sizeof real.openat64, "openat64");
  resolve(&real.open_2, sizeof real.open_2, "__open_2");
  resolve(&real.open64_2, sizeof real.open64_2, "__open64_2");
  resolve(&real.openat_2, sizeof real.openat_2, "__openat_2");
  resolve(&real.openat64_2, sizeof real.openat64_2, "__openat64_2");
  resolve(&real.dup2, sizeof real.dup2, "dup2");
  resolve(&real.dup3, sizeof real.dup3, "dup3");
  resolve(&real.chdir, sizeof real.chdir, "chdir");
  resolve(&real.fcntl, sizeof real.fcntl, "fcntl");
  resolve(&real.fcntl64, sizeof real.fcntl64, "fcntl64");
  resolve(&real.pwrite, sizeof real.pwrite, "pwrite");
  resolve(&real.pwrite64, sizeof real.pwrite64, "pwrite64");
  resolve(&real.linkat, sizeof real.linkat, "linkat");
  resolve(&real.setgroups, sizeof real.setgroups, "setgroups");
  resolve(&real.initgroups, sizeof real.initgroups, "initgroups");
  resolve(&real.setgid, sizeof real.setgid, "setgid");
  resolve(&real.setuid, sizeof real.setuid, "setuid");
  resolve(&real.execve, sizeof real.execve, "execve");
  resolve(&real.socket, sizeof real.socket, "socket");
  resolve(&real.close_range, sizeof real.close_range, "close_range");
  resolve(&real.syscall, sizeof real.syscall, "syscall");
  resolve(&real.clone, sizeof real.clone, "clone");

  const char* log = getenv("WELLD_FAULT_LOG");
  if (log != NULL && strlen(log) < sizeof g_log) memcpy(g_log, log, strlen(log) + 1);
  const char* spec = getenv("WELLD_FAULT");
  if (spec == NULL || *spec == '\0') return;
  static char copy[kMaxFaults * (kFieldSize + 128)];
  size_t spec_len = strlen(spec);
  if (spec_len >= sizeof copy) bad_spec(spec);
  memcpy(copy, spec, spec_len + 1);
  char* save = NULL;
  for (char* entry = strtok_r(copy, ",", &save); entry != NULL; entry = strtok_r(NULL, ",", &save)) {
    if (g_nfaults == kMaxFaults || !parse_entry(entry, &g_faults[g_nfaults])) bad_spec(spec);
    ++g_nfaults;
  }
}

// ---- after fork: async-signal-safe from here on ---------------------------------

static int watched(const char* call) {
  for (int i = 0; i < g_nfaults; ++i) {
    if (strcmp(g_faults[i].call, call) == 0) return 1;
  }
  return 0;
}

// The fault to fire at this call, if any; counts the call.
static struct fault* due(const char* call, const char* subject) {
  for (int i = 0; i < g_nfaults; ++i) {
    struct fault* f = &g_faults[i];
    if (strcmp(f->call, call) != 0 || (f->depth != kAnyDepth && f->depth != g_depth)) continue;
    if (f->substring[0] != '\0' && (subject == NULL || strstr(subject, f->substring) == NULL)) continue;
    if (++f->seen == f->nth || f->nth == kEveryCall) return f;
  }
  return NULL;
}

static size_t append(char* out, size_t at, size_t size, const char* text) {
  while (*text != '\0' && at + 1 < size) out[at++] = *text++;
  out[at] = '\0';
  return at;
}

static size_t append_number(char* out, size_t at, size_t size, long value) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0 && at + 1 < size) out[at++] = digits[--n];
  out[at] = '\0';
  return at;
}

static void log_fired(const struct fault* f) {
  if (g_log[0] == '\0') return;
  char line[128];
  size_t n = append(line, 0, sizeof line, "fired ");
  n = append(line, n, sizeof line, f->call);
  n = append(line, n, sizeof line, " ");
  n = f->kill ? append(line, n, sizeof line, "kill") : append_number(line, n, sizeof line, f->error);
  n = append(line, n, sizeof line, " depth ");
  n = append_number(line, n, sizeof line, g_depth);
  n = append(line, n, sizeof line, " pid ");
  n = append_number(line, n, sizeof line, (long)getpid());
  n = append(line, n, sizeof line, "\n");
  int fd = REAL(open, "open")(g_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return;
  ssize_t ignored = write(fd, line, n);
  (void)ignored;
  close(fd);
}

// Fire `f`: SIGKILL ourselves, or set errno and return -1 for the wrapper.
static int fire(const struct fault* f) {
  log_fired(f);
  if (f->kill) {
    kill(getpid(), SIGKILL);
    for (;;) pause();
  }
  errno = f->error;
  return -1;
}

// What `fd` names, e.g. "/run/app.pid", into buf; NULL when unknown.
static const char* fd_target(int fd, char* buf, size_t size) {
  char path[40];
  size_t n = append(path, 0, sizeof path, "/proc/self/fd/");
  append_number(path, n, sizeof path, fd);
  ssize_t len = readlink(path, buf, size - 1);
  if (len < 0) return NULL;
  buf[len] = '\0';
  return buf;
}

static struct fault* due_fd(const char* call, int fd) {
  if (!watched(call)) return NULL;
  char target[4096];
  return due(call, fd_target(fd, target, sizeof target));
}

static int is_lock_command(int cmd) {
  return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

// ---- the wrappers -------------------------------------------------------------------

int pipe(int fds[2]) {
  struct fault* f = due("pipe", NULL);
  return f != NULL ? fire(f) : REAL(pipe, "pipe")(fds);
}

int pipe2(int fds[2], int flags) {
  struct fault* f = due("pipe", NULL);
  return f != NULL ? fire(f) : REAL(pipe2, "pipe2")(fds, flags);
}

pid_t fork(void) {
  struct fault* f = due("fork", NULL);
  if (f != NULL) return fire(f);
  pid_t pid = REAL(fork, "fork")();
  if (pid == 0) ++g_depth;
  return pid;
}

// A vfork-style child runs in our memory: it gets depth + 1 here, and its
// parent, asleep until the child execs or exits, restores its own state then.
struct trampoline {
  int (*fn)(void*);
  void* arg;
};

static int child_trampoline(void* arg) {
  const struct trampoline* t = arg;
  ++g_depth;
  return t->fn(t->arg);
}

int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) {
  va_list args;
  va_start(args, arg);
  pid_t* parent_tid = va_arg(args, pid_t*);
  void* tls = va_arg(args, void*);
  pid_t* child_tid = va_arg(args, pid_t*);
  va_end(args);
  const int vfork_style = CLONE_VM | CLONE_VFORK;
  if ((flags & vfork_style) != vfork_style) {
    return REAL(clone, "clone")(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  struct fault* f = due("fork", NULL);
  if (f != NULL) return fire(f);
  int depth = g_depth;
  long seen[kMaxFaults] = {0};
  for (int i = 0; i < g_nfaults; ++i) seen[i] = g_faults[i].seen;
  struct trampoline t = {fn, arg};
  int pid = REAL(clone, "clone")(child_trampoline, stack, flags, &t, parent_tid, tls, child_tid);
  int saved = errno;
  g_depth = depth;
  for (int i = 0; i < g_nfaults; ++i) g_faults[i].seen = seen[i];
  errno = saved;
  return pid;
}

pid_t setsid(void) {
  struct fault* f = due("setsid", NULL);
  return f != NULL ? fire(f) : REAL(setsid, "setsid")();
}

// "open" faults, then "tmpfile" faults for an unnamed file (O_TMPFILE).
static struct fault* due_open(const char* path, int flags) {
  struct fault* f = due("open", path);
  if (f == NULL && (flags & O_TMPFILE) == O_TMPFILE) f = due("tmpfile", path);
  return f;
}

static mode_t mode_argument(int flags, va_list args) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(args, unsigned int) : 0;
}

int open(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  mode_t mode = mode_argument(flags, args);
  va_end(args);
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(open, "open")(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  mode_t mode = mode_argument(flags, args);
  va_end(args);
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(open64, "open64")(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  mode_t mode = mode_argument(flags, args);
  va_end(args);
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(openat, "openat")(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  mode_t mode = mode_argument(flags, args);
  va_end(args);
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(openat64, "openat64")(dirfd, path, flags, mode);
}

int __open_2(const char* path, int flags) {
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(open_2, "__open_2")(path, flags);
}

int __open64_2(const char* path, int flags) {
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(open64_2, "__open64_2")(path, flags);
}

int __openat_2(int dirfd, const char* path, int flags) {
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(openat_2, "__openat_2")(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char* path, int flags) {
  struct fault* f = due_open(path, flags);
  return f != NULL ? fire(f) : REAL(openat64_2, "__openat64_2")(dirfd, path, flags);
}

int dup2(int oldfd, int newfd) {
  struct fault* f = due_fd("dup2", oldfd);
  return f != NULL ? fire(f) : REAL(dup2, "dup2")(oldfd, newfd);
}

int dup3(int oldfd, int newfd, int flags) {
  struct fault* f = due_fd("dup2", oldfd);
  return f != NULL ? fire(f) : REAL(dup3, "dup3")(oldfd, newfd, flags);
}

int chdir(const char* path) {
  struct fault* f = due("chdir", path);
  return f != NULL ? fire(f) : REAL(chdir, "chdir")(path);
}

// fcntl's third argument is an int or a pointer: both travel as one register.
int fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  unsigned long arg = va_arg(args, unsigned long);
  va_end(args);
  struct fault* f = is_lock_command(cmd) ? due_fd("lock", fd) : NULL;
  return f != NULL ? fire(f) : REAL(fcntl, "fcntl")(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  unsigned long arg = va_arg(args, unsigned long);
  va_end(args);
  struct fault* f = is_lock_command(cmd) ? due_fd("lock", fd) : NULL;
  return f != NULL ? fire(f) : REAL(fcntl64, "fcntl64")(fd, cmd, arg);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  struct fault* f = due_fd("pwrite", fd);
  return f != NULL ? fire(f) : REAL(pwrite, "pwrite")(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  struct fault* f = due_fd("pwrite", fd);
  return f != NULL ? fire(f) : REAL(pwrite64, "pwrite64")(fd, buf, count, offset);
}

int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  struct fault* f = due("link", newpath);
  return f != NULL ? fire(f) : REAL(linkat, "linkat")(olddirfd, oldpath, newdirfd, newpath, flags);
}

int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  struct fault* f = due_fd("xattr", fd);
  return f != NULL ? fire(f) : REAL(fsetxattr, "fsetxattr")(fd, name, value, size, flags);
}

int setgroups(size_t size, const gid_t* list) {
  struct fault* f = due("setgroups", NULL);
  return f != NULL ? fire(f) : REAL(setgroups, "setgroups")(size, list);
}

int initgroups(const char* user, gid_t group) {
  struct fault* f = due("initgroups", user);
  return f != NULL ? fire(f) : REAL(initgroups, "initgroups")(user, group);
}

int setgid(gid_t gid) {
  struct fault* f = due("setgid", NULL);
  return f != NULL ? fire(f) : REAL(setgid, "setgid")(gid);
}

int setuid(uid_t uid) {
  struct fault* f = due("setuid", NULL);
  return f != NULL ? fire(f) : REAL(setuid, "setuid")(uid);
}

int execve(const char* path, char* const argv[], char* const envp[]) {
  struct fault* f = due("execve", path);
  return f != NULL ? fire(f) : REAL(execve, "execve")(path, argv, envp);
}

int socket(int domain, int type, int protocol) {
  const char* family = domain == AF_UNIX    ? "AF_UNIX"
                       : domain == AF_INET  ? "AF_INET"
                       : domain == AF_INET6 ? "AF_INET6"
                                            : NULL;
  struct fault* f = due("socket", family);
  return f != NULL ? fire(f) : REAL(socket, "socket")(domain, type, protocol);
}

int close_range(unsigned int first, unsigned int last, int flags) {
  struct fault* f = due("close_range", NULL);
  return f != NULL ? fire(f) : REAL(close_range, "close_range")(first, last, flags);
}

// syscall(2) passes up to six register-sized arguments; forward all six.
long syscall(long number, ...) {
  va_list args;
  va_start(args, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(args, long);
  va_end(args);
  const char* call = number == SYS_close_range         ? "close_range"
                     : number == SYS_setgroups         ? "setgroups"
                     : number == SYS_setgid            ? "setgid"
                     : number == SYS_setuid            ? "setuid"
                     : number == SYS_pidfd_open        ? "pidfd_open"
                     : number == SYS_pidfd_send_signal ? "pidfd_send_signal"
                                                       : NULL;
  struct fault* f = call != NULL ? due(call, NULL) : NULL;
  if (f != NULL) return fire(f);
  return REAL(syscall, "syscall")(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
