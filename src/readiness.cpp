// Readiness: see welld/readiness.hpp.
#include "welld/readiness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dir_stream.hpp"
#include "proc.hpp"
#include "quoted.hpp"
#include "read_whole.hpp"
#include "retry_backoff.hpp"
#include "sockaddr.hpp"
#include "wait_status.hpp"
#include "welld/path.hpp"
#include "welld/privileges.hpp"

namespace welld {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

std::string absolute(const std::string& path) {
  std::string out;
  return make_absolute(path, out) ? path : out;
}

// How long one connect attempt may take (a SYN lost to a full queue).
constexpr int kConnectTimeoutMs = 100;

// One connect attempt to the spec's tcp or unix address: the connected
// socket, or an empty fd.
UniqueFd connect_probe(const ReadySpec& spec) {
  auto address = spec.mode == ReadyMode::tcp ? ip_address(spec.host, spec.port) : unix_path_address(spec.path);
  if (!address) return {};
  // Non-blocking: a listener whose accept queue is full drops a TCP SYN, and
  // a blocking connect would then retry for minutes past every deadline.
  UniqueFd fd(::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return {};
  if (::connect(fd.get(), address->get(), address->length) == 0) return fd;
  if (errno != EINPROGRESS) return {};
  pollfd p{fd.get(), POLLOUT, 0};
  int error = 0;
  socklen_t error_len = sizeof error;
  if (::poll(&p, 1, kConnectTimeoutMs) != 1 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 ||
      error != 0) {
    return {};
  }
  return fd;
}

std::string hex_word(uint32_t word) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08X", word);
  return buf;
}

// /proc/net/tcp{,6} print an address as the %08X of each 32-bit word as it
// is stored (network order read as a native word).
std::string proc_net_address(const in6_addr& a) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    uint32_t word = 0;
    std::memcpy(&word, a.s6_addr + static_cast<ptrdiff_t>(4) * i, 4);
    text += hex_word(word);
  }
  return text;
}

// Whitespace-separated fields of one line.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while ((at = line.find_first_not_of(" \t", at)) != std::string_view::npos) {
    size_t end = line.find_first_of(" \t", at);
    out.push_back(line.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (end == std::string_view::npos) break;
    at = end;
  }
  return out;
}

std::string read_whole(const char* path) {
  std::string text;
  read_whole_file(path, text);  // unreadable: nothing to look at
  return text;
}

template <typename Fn>
void for_each_line(const std::string& text, Fn&& fn) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    fn(std::string_view{text.data() + at, end - at});
    at = end + 1;
  }
}

std::optional<unsigned long> parse_inode(std::string_view text) {
  unsigned long inode = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), inode);
  if (ec != std::errc() || end != text.data() + text.size() || inode == 0) return std::nullopt;
  return inode;
}

// The inodes of the TCP sockets listening where a connect to spec.host:port
// lands: that address or the wildcard, in /proc/net/tcp and tcp6 (an IPv4
// address also reaches a dual-stack [::] listener, and its v4-mapped form).
std::vector<unsigned long> tcp_listener_inodes(const ReadySpec& spec) {
  std::vector<std::string> v4, v6;
  in6_addr any6{};
  v6.push_back(proc_net_address(any6));
  auto target = ip_address(spec.host, spec.port);
  if (target && target->family() == AF_INET) {
    const in_addr& a4 = reinterpret_cast<const sockaddr_in*>(target->get())->sin_addr;
    v4 = {hex_word(a4.s_addr), hex_word(0)};
    in6_addr mapped{};
    mapped.s6_addr[10] = mapped.s6_addr[11] = 0xff;
    std::memcpy(mapped.s6_addr + 12, &a4.s_addr, 4);
    v6.push_back(proc_net_address(mapped));
  } else if (target) {
    v6.push_back(proc_net_address(reinterpret_cast<const sockaddr_in6*>(target->get())->sin6_addr));
  }
  char port[8];
  std::snprintf(port, sizeof port, ":%04X", static_cast<unsigned>(spec.port));
  std::vector<unsigned long> inodes;
  auto scan = [&](const char* table, const std::vector<std::string>& addresses) {
    for_each_line(read_whole(table), [&](std::string_view line) {
      auto f = fields_of(line);
      if (f.size() < 10 || f[3] != "0A") return;  // 0A: TCP_LISTEN
      for (const auto& address : addresses) {
        if (f[1] == address + port) {
          if (auto inode = parse_inode(f[9])) inodes.push_back(*inode);
        }
      }
    });
  };
  if (!v4.empty()) scan("/proc/net/tcp", v4);
  scan("/proc/net/tcp6", v6);
  return inodes;
}

// The inodes of the unix stream sockets listening at `path` (/proc/net/unix).
std::vector<unsigned long> unix_listener_inodes(const std::string& path) {
  std::vector<unsigned long> inodes;
  for_each_line(read_whole("/proc/net/unix"), [&](std::string_view line) {
    auto f = fields_of(line);
    // Num RefCount Protocol Flags Type St Inode Path; flag 00010000 is
    // __SO_ACCEPTCON (listening).
    if (f.size() < 8 || f[3] != "00010000") return;
    std::string_view shown = line.substr(static_cast<size_t>(f[7].data() - line.data()));
    if (shown == path) {
      if (auto inode = parse_inode(f[6])) inodes.push_back(*inode);
    }
  });
  return inodes;
}

// True when one of `pids` holds a socket whose inode is in `inodes`.
bool holds_socket(const std::vector<ProcessIdentity>& pids, const std::vector<unsigned long>& inodes) {
  if (inodes.empty()) return false;
  for (const auto& p : pids) {
    std::string dir = "/proc/" + std::to_string(p.pid) + "/fd";
    detail::DirStream d = detail::open_dir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d.get())) {
      if (e->d_name[0] == '.') continue;
      char target[64];
      std::string link = dir + "/" + e->d_name;
      ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      std::string_view t(target, static_cast<size_t>(n));
      if (t.substr(0, 8) != "socket:[" || t.back() != ']') continue;
      auto inode = parse_inode(t.substr(8, t.size() - 9));
      if (inode && std::find(inodes.begin(), inodes.end(), *inode) != inodes.end()) return true;
    }
  }
  return false;
}

// PPid and session of `pid` from /proc/PID/stat ("PID (COMM) STATE PPID PGRP
// SESSION ..."; COMM may hold anything, so from the last ')').
bool read_ppid_session(pid_t pid, pid_t& ppid, pid_t& session) {
  std::string text;
  ProcStat st;
  if (pid <= 0 || read_proc_stat(pid, text, st)) return false;
  ppid = st.ppid;
  session = st.session;
  return true;
}

struct ProcEntry {
  pid_t pid, ppid, session;
};

// Every process's PID, parent and session, read now from /proc.
std::vector<ProcEntry> proc_entries() {
  std::vector<ProcEntry> all;
  detail::DirStream proc = detail::open_dir("/proc");
  if (!proc) return all;
  while (dirent* e = ::readdir(proc.get())) {
    pid_t pid = 0;
    std::string_view name(e->d_name);
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc() || pid <= 0) continue;
    ProcEntry entry{pid, 0, 0};
    if (read_ppid_session(pid, entry.ppid, entry.session)) all.push_back(entry);
  }
  return all;
}

// True when `pid` or one of its ancestors in `all` (at most 128 up, never
// init) is `is_root`.
template <typename IsRoot>
bool descends_from(const std::vector<ProcEntry>& all, pid_t pid, IsRoot&& is_root) {
  auto parent_of = [&](pid_t child) {
    for (const auto& e : all) {
      if (e.pid == child) return e.ppid;
    }
    return 0;
  };
  pid_t at = pid;
  for (int depth = 0; depth < 128 && at > 1; ++depth) {
    if (is_root(at)) return true;
    at = parent_of(at);
  }
  return false;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// At most this many queued datagrams are handled per wake-up; then the
// deadline, the cancel fd and the daemon's exit are looked at again.
constexpr int kDatagramsPerWakeup = 64;

// By mode bits, as the kernel checks them for that user (ACLs are not read).
bool may_search(const struct stat& st, const Credentials& c) {
  if (c.uid == 0) return true;
  if (st.st_uid == c.uid) return (st.st_mode & S_IXUSR) != 0;
  if (st.st_gid == c.gid || std::find(c.groups.begin(), c.groups.end(), st.st_gid) != c.groups.end()) {
    return (st.st_mode & S_IXGRP) != 0;
  }
  return (st.st_mode & S_IXOTH) != 0;
}

// The first directory on the way to `path` that `c` cannot search, or "".
std::string unsearchable_directory(const std::string& path, const Credentials& c) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && !may_search(st, c)) return dir;
  }
  struct stat root {};
  if (::stat("/", &root) == 0 && !may_search(root, c)) return "/";
  return {};
}

// The socket we just bound at `path`, handed to the daemon's user: owner
// uid:gid, mode 0600. Through an O_PATH fd of the entry itself (no symlink is
// followed), and only when it is the socket we created.
std::error_code give_socket_to(const std::string& path, const Credentials& c) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return {errno, std::system_category()};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return {errno, std::system_category()};
  if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) return {EPERM, std::system_category()};
  if (::fchownat(fd.get(), "", c.uid, c.gid, AT_EMPTY_PATH) != 0) return {errno, std::system_category()};
  std::string self = "/proc/self/fd/" + std::to_string(fd.get());
  if (::chmod(self.c_str(), 0600) != 0) return {errno, std::system_category()};
  return {};
}

// Whether `p` exits within `limit` (never reaps): its pidfd polled, or
// without pidfd_open its state looked at with the retry backoff.
bool exits_within(const Process& p, milliseconds limit) {
  if (p.pollable()) {
    pollfd dead{p.fd(), POLLIN, 0};
    return ::poll(&dead, 1, static_cast<int>(limit.count())) > 0;
  }
  auto deadline = Clock::now() + limit;
  detail::RetryBackoff backoff;
  while (!p.has_exited()) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    ::poll(nullptr, 0, static_cast<int>(backoff.next(left).count()));
  }
  return true;
}

// The wait status of `pid` when it has exited (reaped now), else nothing.
std::optional<int> reap_now(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == 0 && info.si_pid == pid) {
    return wait_status_of(info);
  }
  return std::nullopt;
}

// An inotify fd watching the directory of `path` for the file's arrival.
std::error_code watch_directory_of(const std::string& path, UniqueFd& inotify) {
  inotify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  std::string dir = parent_directory(path);
  if (!inotify ||
      ::inotify_add_watch(inotify.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE) < 0) {
    return {errno, std::system_category()};
  }
  return {};
}

// Reads and drops what is queued on a non-blocking fd (the events only wake
// the waiter; what they say is re-checked).
void drain(int fd) {
  char buf[4096];
  for (;;) {
    if (::read(fd, buf, sizeof buf) <= 0) return;  // empty (EAGAIN), or an error
  }
}

// notify[:@NAME|PATH]
std::optional<ReadySpec> parse_notify(std::optional<std::string_view> arg, std::string* error) {
  ReadySpec spec;
  spec.mode = ReadyMode::notify;
  if (!arg) return spec;
  // NOTIFY_SOCKET, an environment string, cannot carry a NUL.
  if (arg->size() < 2 || arg->size() >= 100 || (arg->front() != '@' && arg->front() != '/') ||
      arg->find('\0') != std::string_view::npos) {
    set(error, "invalid --ready notify socket " + detail::quoted(*arg, 100) + ": @NAME or an absolute path");
    return std::nullopt;
  }
  spec.path = std::string(*arg);
  return spec;
}

// fd[:N]
std::optional<ReadySpec> parse_fd(std::optional<std::string_view> arg, std::string* error) {
  ReadySpec spec;
  spec.mode = ReadyMode::fd;
  if (!arg) return spec;
  auto n = parse_port(*arg);
  if (!n || *n < 3 || *n > 1024) {
    set(error, "invalid --ready fd number " + detail::quoted(*arg, 20) + ": 3 to 1024");
    return std::nullopt;
  }
  spec.fd = *n;
  return spec;
}

// tcp:[HOST:]PORT, HOST numeric (IPv6 in brackets); `text` is the whole value.
std::optional<ReadySpec> parse_tcp(std::string_view text, std::string_view arg, std::string* error) {
  HostPortError why{};
  auto address = parse_host_port(arg, "127.0.0.1", &why);
  if (!address) {
    set(error, "invalid --ready address " + detail::quoted(text, 100) +
                   (why == HostPortError::brackets ? ": tcp:[ADDRESS]:PORT"
                                                   : ": tcp:[HOST:]PORT with a numeric HOST and PORT 1-65535"));
    return std::nullopt;
  }
  ReadySpec spec;
  spec.mode = ReadyMode::tcp;
  spec.host = std::move(address->host);
  spec.port = address->port;
  return spec;
}

// unix:PATH and file:PATH, once the path is known to be a usable string.
std::optional<ReadySpec> parse_path(ReadyMode mode, std::string_view arg, std::string* error) {
  if (mode == ReadyMode::unix_socket && arg.size() > kUnixPathMax) {
    set(error, "--ready unix path too long (at most 107 bytes)");
    return std::nullopt;
  }
  ReadySpec spec;
  spec.mode = mode;
  spec.path = std::string(arg);
  return spec;
}

bool usable_path(std::string_view arg) {
  return !arg.empty() && arg.size() < 4096 && arg.find('\0') == std::string_view::npos;
}

}  // namespace

std::optional<ReadySpec> parse_ready_spec(std::string_view text, std::string* error) {
  auto colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  std::optional<std::string_view> arg;
  if (colon != std::string_view::npos) arg = text.substr(colon + 1);
  if (kind == "exec" && !arg) return ReadySpec{};  // mode exec
  if (kind == "notify") return parse_notify(arg, error);
  if (kind == "fd") return parse_fd(arg, error);
  if (kind == "tcp" && arg) return parse_tcp(text, *arg, error);
  if (kind == "unix" && arg && usable_path(*arg)) return parse_path(ReadyMode::unix_socket, *arg, error);
  if (kind == "file" && arg && usable_path(*arg)) return parse_path(ReadyMode::file, *arg, error);
  set(error, "invalid --ready mode " + detail::quoted(text, 100) +
                 " (exec, notify[:@NAME|PATH], fd[:N], tcp:[HOST:]PORT, unix:PATH, file:PATH)");
  return std::nullopt;
}

std::string ReadyResult::message() const {
  switch (outcome) {
    case ReadyOutcome::ready: return "ready";
    case ReadyOutcome::exited: {
      std::string why = reason.empty() ? "" : " (" + reason + ")";
      if (wait_status < 0) return "the daemon exited before it was ready" + why;
      return "the daemon " + describe_wait_status(wait_status) + " before it was ready" + why;
    }
    case ReadyOutcome::timed_out:
      return "the daemon did not become ready in time" + (reason.empty() ? "" : " (" + reason + ")");
    case ReadyOutcome::failed:
      if (daemon_errno > 0) {
        return "the daemon reported failure: ERRNO=" + std::to_string(daemon_errno) + " (" +
               std::system_category().message(daemon_errno) + ")";
      }
      return "the daemon closed its readiness fd without writing a newline";
    case ReadyOutcome::cancelled: return "interrupted while waiting for the daemon";
    case ReadyOutcome::error: return "cannot wait for readiness: " + error.message();
  }
  return "unknown";
}

std::error_code ReadinessWaiter::check_not_ready() {
  switch (spec_.mode) {
    case ReadyMode::tcp:
    case ReadyMode::unix_socket: {
      if (spec_.mode == ReadyMode::unix_socket) spec_.path = absolute(spec_.path);
      if (!connect_probe(spec_)) return {};
      std::string where = spec_.mode == ReadyMode::unix_socket ? spec_.path
                          : spec_.host.find(':') != std::string::npos
                              ? "[" + spec_.host + "]:" + std::to_string(spec_.port)
                              : spec_.host + ":" + std::to_string(spec_.port);
      unreachable_ = "something already accepts connections on " + where +
                     " before the start, so the probe cannot tell when the daemon is ready";
      return {EADDRINUSE, std::system_category()};
    }
    case ReadyMode::file:
      spec_.path = absolute(spec_.path);
      if (!file_exists(spec_.path)) return {};
      unreachable_ = spec_.path + " already exists before the start (remove it, or have the daemon remove it)";
      return {EEXIST, std::system_category()};
    case ReadyMode::forking:  // a stale file is no answer: it must name a new process
      spec_.path = absolute(spec_.path);
      return {};
    case ReadyMode::exec:
    case ReadyMode::notify:
    case ReadyMode::fd: return {};
  }
  return {};
}

std::error_code ReadinessWaiter::prepare_notify(Options& options) {
  const std::string& address = spec_.path;
  bool path_socket = !address.empty() && address.front() == '/';
  // A path socket must be reachable by the daemon after its drop: every
  // directory on the way searchable by its user, the socket its own.
  Credentials creds;
  bool drop = path_socket && !options.user.empty();
  if (drop) {
    if (auto ec = resolve_credentials(options.user, options.group, creds)) return ec;
    if (options.supplementary_groups) {
      if (auto ec = resolve_groups(*options.supplementary_groups, creds.groups)) return ec;
    }
    if (std::string dir = unsearchable_directory(address, creds); !dir.empty()) {
      unreachable_ = "user " + options.user + " cannot reach the socket: no search permission on " + dir;
      return {EACCES, std::system_category()};
    }
  }
  if (auto ec = NotifyServer::open(address, notify_)) return ec;
  if (drop) {
    if (auto ec = give_socket_to(address, creds)) {
      notify_ = NotifyServer();  // unlinks it
      return ec;
    }
  }
  options.environment.set.push_back("NOTIFY_SOCKET=" + notify_.address());
  return {};
}

std::error_code ReadinessWaiter::prepare_fd(Options& options, int first_free_fd) {
  if (spec_.fd < 0) spec_.fd = first_free_fd;
  for (const auto& m : options.pass_fds) {
    if (m.to == spec_.fd) return {EBUSY, std::system_category()};
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {errno, std::system_category()};
  pipe_read_.reset(fds[0]);
  pipe_write_.reset(fds[1]);
  options.pass_fds.push_back({pipe_write_.get(), spec_.fd});
  return {};
}

std::error_code ReadinessWaiter::prepare(Options& options, int first_free_fd) {
  if (first_free_fd < 0) {
    first_free_fd = 3;
    for (const auto& m : options.pass_fds) first_free_fd = std::max(first_free_fd, m.to + 1);
  }
  switch (spec_.mode) {
    case ReadyMode::exec:
    case ReadyMode::tcp: return {};
    case ReadyMode::unix_socket:
    case ReadyMode::file: spec_.path = absolute(spec_.path); return {};
    case ReadyMode::notify: return prepare_notify(options);
    case ReadyMode::fd: return prepare_fd(options, first_free_fd);
    case ReadyMode::forking: return prepare_forking(options);
  }
  return {};
}

void ReadinessWaiter::spawned() { pipe_write_.reset(); }

ReadinessWaiter::~ReadinessWaiter() {
  if (subreaper_set_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

std::error_code ReadinessWaiter::adopt_orphans() {
  int current = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &current) != 0) return {errno, std::system_category()};
  if (current == 0) {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return {errno, std::system_category()};
    subreaper_set_ = true;
  }
  adopting_ = true;
  return {};
}

bool ReadinessWaiter::from_daemon(pid_t pid, pid_t daemon) const {
  if (pid == ::getpid()) return false;
  return is_in_tree(pid, daemon) || (adopting_ && is_own_descendant(pid));
}

void ReadinessWaiter::accept_main_pid(pid_t pid, pid_t daemon, ReadyResult& result) {
  // Pin first (pidfd, then the start time checked against the one read just
  // before), then check that the pinned process is the daemon's, then that it
  // is still the one pinned: the tree walk read /proc by number.
  unsigned long long start = process_start_time(pid);
  Process candidate;
  if (start == 0 || Process::open(pid, start, candidate)) return;
  if (!from_daemon(pid, daemon) || candidate.has_exited() || process_start_time(pid) != start) return;
  main_ = std::move(candidate);
  result.main_pid = pid;
  result.main_start_time = start;
}

std::vector<ProcessIdentity> ReadinessWaiter::daemon_processes() const {
  std::vector<ProcessIdentity> out;
  if (daemon_pid_ <= 0) return out;
  std::vector<ProcEntry> all = proc_entries();
  pid_t self = ::getpid();
  for (const auto& e : all) {
    if (e.pid == self) continue;
    bool member = (adopting_ && self == 1) ||  // as PID 1 (see is_own_descendant in process.hpp)
                  descends_from(all, e.pid, [&](pid_t at) { return at == daemon_pid_ || (adopting_ && at == self); });
    unsigned long long start = process_start_time(e.pid);
    if (start == 0) continue;
    if (!member && session_ > 1 && e.session == session_ && start >= daemon_start_time_) member = true;
    if (member) out.push_back({e.pid, start});
  }
  return out;
}

bool ReadinessWaiter::probe_is_daemons(const UniqueFd& connected) const {
  std::vector<ProcessIdentity> pids = daemon_processes();
  if (spec_.mode == ReadyMode::tcp) return holds_socket(pids, tcp_listener_inodes(spec_));
  // unix: the listener's creator (SO_PEERCRED holds the pid that called
  // listen()), or the listening socket itself held by one of them.
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(connected.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid > 0) {
    auto it = std::find_if(pids.begin(), pids.end(), [&](const ProcessIdentity& p) { return p.pid == peer.pid; });
    if (it != pids.end()) return true;
  }
  return holds_socket(pids, unix_listener_inodes(spec_.path));
}

void ReadinessWaiter::reap_adopted(pid_t daemon) {
  if (!adopting_) return;
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return;
    if (info.si_pid == daemon) {
      daemon_reaped_ = true;
      daemon_status_ = wait_status_of(info);
    }
  }
}

std::error_code ReadinessWaiter::pin_daemon(pid_t daemon) {
  // The daemon is the caller's child and not yet reaped: its PID cannot have
  // been reused, so pinning it by number is exact.
  auto pinned = Process::open(daemon, 0, daemon_);
  daemon_pid_ = daemon;
  daemon_start_time_ = process_start_time(daemon);
  pid_t ppid = 0;
  // The caller's own session is never the daemon's (a foreground child may keep it).
  if (!read_ppid_session(daemon, ppid, session_) || session_ == ::getsid(0)) session_ = -1;
  // Already a zombie: still pinned (a zombie holds its PID until we reap it),
  // so that the handle the caller rolls back with goes stale, never elsewhere.
  if (pinned == std::errc::no_such_process) Process::open_child(daemon, daemon_);
  return pinned;
}

bool ReadinessWaiter::probe_ready(bool daemon_gone) const {
  // A probe counts only while the daemon is alive, and a listener only when
  // it is the daemon's. Alive is checked again after the probe: a main
  // process that forked a server and is exiting (a self-daemonizing program)
  // is then seen gone. (Best effort: one that exits a moment after that can
  // still pass.)
  auto alive = [&] { return !daemon_gone && daemon_ && !daemon_.has_exited(); };
  switch (spec_.mode) {
    case ReadyMode::tcp:
    case ReadyMode::unix_socket: {
      if (!alive()) return false;
      UniqueFd probe = connect_probe(spec_);
      return probe && probe_is_daemons(probe) && alive();
    }
    case ReadyMode::file: return alive() && file_exists(spec_.path) && alive();
    case ReadyMode::exec:
    case ReadyMode::notify:
    case ReadyMode::fd:
    case ReadyMode::forking: return false;  // forking: wake() reads the PID file once the parent exited 0
  }
  return false;
}

// One wait()'s state.
struct ReadinessWaiter::Waiting {
  pid_t daemon = -1;
  bool daemon_gone = false;  // exited before it could be pinned (reaped, or not our child)
  int cancel_fd = -1;
  int protocol_fd = -1;  // the notify socket, the s6 pipe, the inotify fd, or -1
  UniqueFd inotify;      // file: watches the file's directory
  Clock::time_point deadline;
  bool retries = false;  // tcp, unix: connects are retried
  // The daemon is pinned without pidfd_open: its handle does not poll, so its
  // exit is looked for after every wake-up and the sleeps are bounded.
  bool looks_for_exit = false;
  detail::RetryBackoff backoff;
  const std::function<void(std::string_view)>* on_status = nullptr;
  const std::vector<ReadyWatch>* watch = nullptr;
  std::vector<bool> dropped;  // per watch entry: WatchAction::drop
  ReadyResult result;

  // Serve the watched fds that poll found readable (`p` from index 3 on);
  // true when one asked to cancel.
  bool serve(const std::vector<pollfd>& p) {
    for (size_t i = 0; i < watch->size(); ++i) {
      if (p[3 + i].revents == 0) continue;
      WatchAction a = (*watch)[i].on_ready ? (*watch)[i].on_ready() : WatchAction::drop;
      if (a == WatchAction::cancel) return true;
      if (a == WatchAction::drop) dropped[i] = true;
    }
    return false;
  }

  // How long the next poll may sleep: until the deadline, or for the probes
  // that retry connects and for a daemon pinned without pidfd_open, 1 ms
  // doubling to 100 ms (the poll still wakes on the daemon's pidfd, the
  // cancel fd and the protocol fd); not at all once the daemon is gone.
  milliseconds sleep_for(milliseconds left) {
    if (daemon_gone) return milliseconds(0);
    if (!retries && !looks_for_exit) return left;
    return backoff.next(left);
  }
};

ReadinessWaiter::Heard ReadinessWaiter::heard_notify(Waiting& w) {
  std::error_code ec;
  for (int handled = 0; handled < kDatagramsPerWakeup; ++handled) {
    auto d = notify_.receive(ec);
    if (!d) break;
    if (!from_daemon(d->sender, w.daemon)) continue;  // not the daemon's: ignored
    const NotifyMessage& m = d->message;
    if (m.status && *w.on_status) (*w.on_status)(*m.status);
    if (m.main_pid) accept_main_pid(*m.main_pid, w.daemon, w.result);
    if (m.extend_timeout_us) {
      w.deadline = std::max(w.deadline, Clock::now() + std::chrono::microseconds(*m.extend_timeout_us));
    }
    if (m.errno_value) {
      w.result.daemon_errno = *m.errno_value;
      return Heard::failed;
    }
    if (m.ready) return Heard::ready;
  }
  return Heard::nothing;
}

ReadinessWaiter::Heard ReadinessWaiter::heard_fd() {
  char buf[256];
  ssize_t got = ::read(pipe_read_.get(), buf, sizeof buf);
  if (got > 0 && std::memchr(buf, '\n', static_cast<size_t>(got)) != nullptr) return Heard::ready;
  if (got != 0) return Heard::nothing;
  // Closed without a newline. If the daemon died, say so instead.
  return exits_within(daemon_, milliseconds(100)) ? Heard::daemon_exited : Heard::failed;
}

ReadinessWaiter::Heard ReadinessWaiter::heard(Waiting& w) {
  switch (spec_.mode) {
    case ReadyMode::notify: return heard_notify(w);
    case ReadyMode::fd: return heard_fd();
    case ReadyMode::file:
    case ReadyMode::forking: drain(w.inotify.get()); return Heard::recheck;
    case ReadyMode::exec:
    case ReadyMode::tcp:
    case ReadyMode::unix_socket: return Heard::nothing;
  }
  return Heard::nothing;
}

int ReadinessWaiter::exit_status(pid_t daemon) {
  siginfo_t info{};
  if (daemon_.pollable()) {
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(daemon_.fd()), &info, WEXITED) == 0 &&
        info.si_pid == daemon) {
      return wait_status_of(info);
    }
  } else if (daemon_ && !daemon_reaped_) {
    // Pinned by its /proc directory (no pidfd_open, so no P_PIDFD either):
    // reaped by PID. It has exited, and until it is reaped its PID is its own;
    // ECHILD when it is not our child.
    if (::waitid(P_PID, static_cast<id_t>(daemon), &info, WEXITED | WNOHANG) == 0 && info.si_pid == daemon) {
      return wait_status_of(info);
    }
  }
  return daemon_reaped_ ? daemon_status_ : -1;
}

std::optional<ReadyOutcome> ReadinessWaiter::wake(Waiting& w) {
  reap_adopted(w.daemon);
  // Checks that need no event: a connect, a file already there.
  if (probe_ready(w.daemon_gone)) return ReadyOutcome::ready;
  if (parent_exited_ok_) {
    if (auto outcome = forking_check(w)) return outcome;
  }
  auto left = std::chrono::duration_cast<milliseconds>(w.deadline - Clock::now());
  if (left.count() <= 0) return ReadyOutcome::timed_out;
  // Only a pidfd goes into the poll: a /proc/PID directory is always readable.
  // Forking: once the program's own process exited 0, its pidfd stays readable and is no event.
  int daemon_fd = daemon_.pollable() && !parent_exited_ok_ ? daemon_.fd() : -1;
  std::vector<pollfd> p = {{daemon_fd, POLLIN, 0}, {w.cancel_fd, POLLIN, 0}, {w.protocol_fd, POLLIN, 0}};
  for (size_t i = 0; i < w.watch->size(); ++i) p.push_back({w.dropped[i] ? -1 : (*w.watch)[i].fd, POLLIN, 0});
  int n = ::poll(p.data(), p.size(), static_cast<int>(w.sleep_for(left).count()));
  if (n < 0 && errno != EINTR) {
    w.result.error = {errno, std::system_category()};
    return ReadyOutcome::error;
  }
  if (w.daemon_gone || (w.looks_for_exit && daemon_.has_exited())) p[0].revents = POLLIN;
  if (n <= 0 && p[0].revents == 0) return std::nullopt;
  return events(w, p);
}

// What the poll of wake() saw: p[0] the daemon, p[1] the cancel fd, p[2] the
// protocol socket, then the watched fds.
std::optional<ReadyOutcome> ReadinessWaiter::events(Waiting& w, std::vector<pollfd>& p) {
  if (w.serve(p)) return ReadyOutcome::cancelled;
  Heard what = p[2].revents != 0 ? heard(w) : Heard::nothing;
  if (what == Heard::ready) return ReadyOutcome::ready;
  if (what == Heard::failed) return ReadyOutcome::failed;
  if (what == Heard::recheck) return std::nullopt;  // re-check existence first
  if (p[0].revents != 0 || what == Heard::daemon_exited) {
    w.result.wait_status = exit_status(w.daemon);
    if (spec_.mode == ReadyMode::forking) return forking_parent_exited(w);
    return ReadyOutcome::exited;
  }
  if (p[1].revents != 0) return ReadyOutcome::cancelled;
  return std::nullopt;
}

// Forking: the program's own process ended (its status in w.result). Only
// an exit 0 goes on, to the wait for its PID file.
std::optional<ReadyOutcome> ReadinessWaiter::forking_parent_exited(Waiting& w) {
  int status = w.result.wait_status;
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return ReadyOutcome::exited;
  parent_exited_ok_ = true;
  w.daemon_gone = false;  // gone as it should be: from now on its PID file is waited for
  w.looks_for_exit = false;
  return forking_check(w);
}

// Forking, after the exit 0: the PID file names the main process, or nothing
// of the daemon is left that could still write it.
std::optional<ReadyOutcome> ReadinessWaiter::forking_check(Waiting& w) {
  if (forking_main_found(w.result)) return ReadyOutcome::ready;
  if (!daemon_processes().empty()) return std::nullopt;
  w.result.reason = "its own process exited 0 and left no process behind; " + w.result.reason;
  return ReadyOutcome::exited;
}

ReadyResult ReadinessWaiter::finish(Waiting& w, ReadyOutcome outcome) {
  reap_adopted(w.daemon);
  w.result.outcome = outcome;
  if (spec_.mode == ReadyMode::forking && outcome == ReadyOutcome::timed_out && !parent_exited_ok_) {
    w.result.reason = "its own process did not exit (--forking: it must fork its server, then exit 0)";
  }
  if (outcome == ReadyOutcome::ready && main_ && main_.has_exited()) {
    // Gone before the daemon was ready: its PID may be anyone's now.
    main_ = Process();
    w.result.main_pid = -1;
    w.result.main_start_time = 0;
  }
  return w.result;
}

ReadyResult ReadinessWaiter::wait(pid_t daemon, milliseconds timeout, int cancel_fd,
                                  const std::function<void(std::string_view)>& on_status,
                                  const std::vector<ReadyWatch>& watch) {
  Waiting w;
  w.daemon = daemon;
  w.cancel_fd = cancel_fd;
  w.on_status = &on_status;
  w.watch = &watch;
  w.dropped.assign(watch.size(), false);
  // In exec mode the pin is only for a caller that must roll back (a signal
  // arrived during the spawn): the start itself succeeded either way.
  std::error_code pinned = pin_daemon(daemon);
  if (spec_.mode == ReadyMode::exec) {
    w.result.outcome = ReadyOutcome::ready;
    return w.result;
  }
  // A daemon that cannot be pinned because it already exited is our zombie:
  // reap it now (its status is kept), then still read what it queued before
  // exiting (the forking hand-off: MAINPID=child, READY=1, exit). One that is
  // not our child (no collect_exit_status) is gone for good: it exited, with a
  // status we cannot know.
  if (pinned && pinned != std::errc::no_such_process) {
    w.result.error = pinned;
    return w.result;
  }
  if (pinned) {
    w.daemon_gone = true;
    if (std::optional<int> status = reap_now(daemon)) {
      daemon_reaped_ = true;
      daemon_status_ = *status;
    }
  }
  if (spec_.mode == ReadyMode::file) {
    if (auto ec = watch_directory_of(spec_.path, w.inotify)) {
      w.result.error = ec;
      return w.result;
    }
  }
  // Forking: a directory the program has yet to create is looked at again
  // with the retry backoff instead.
  bool unwatched = spec_.mode == ReadyMode::forking && watch_directory_of(spec_.path, w.inotify);
  w.protocol_fd = spec_.mode == ReadyMode::notify ? notify_.fd()
                  : spec_.mode == ReadyMode::fd   ? pipe_read_.get()
                                                  : w.inotify.get();
  w.retries = spec_.mode == ReadyMode::tcp || spec_.mode == ReadyMode::unix_socket || unwatched;
  w.looks_for_exit = daemon_ && !daemon_.pollable();
  w.deadline = Clock::now() + timeout;
  for (;;) {
    if (auto outcome = wake(w)) return finish(w, *outcome);
  }
}

}  // namespace welld
