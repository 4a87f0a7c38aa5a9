// welld audit: the rules, one small function each, all read from /proc.
#include "welld/audit.hpp"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstring>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "dir_stream.hpp"
#include "proc.hpp"
#include "read_whole.hpp"
#include "user_db.hpp"
#include "welld/environment.hpp"
#include "welld/pidfile.hpp"
#include "welld/signals.hpp"

namespace welld {
namespace {

std::string proc(pid_t pid, const std::string& what) { return "/proc/" + std::to_string(pid) + "/" + what; }

// The decimal number at the start of `text`, after blanks; 0 when there is
// none (or it overflows). atoi's contract, without its undefined behaviour.
int leading_int(const char* text) {
  std::string_view s(text);
  size_t at = s.find_first_not_of(" \t");
  int value = 0;
  if (at != std::string_view::npos) std::from_chars(s.data() + at, s.data() + s.size(), value);
  return value;
}

// Read a whole file; errno-style error on failure.
std::optional<std::string> slurp(const std::string& path, int& err) {
  std::string text;
  if (auto ec = read_whole_file(path, text)) {
    err = ec.value();
    return std::nullopt;
  }
  return text;
}

std::map<std::string, std::string> status_fields(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

// /proc/PID/stat with its own copy of the name (ProcStat::comm points into the text).
struct Stat {
  std::string comm;
  ProcStat fields;
};

std::optional<Stat> read_stat(pid_t pid) {
  std::string text;
  Stat st;
  if (pid <= 0 || read_proc_stat(pid, text, st.fields)) return std::nullopt;
  st.comm = std::string(st.fields.comm);
  st.fields.comm = {};
  return st;
}

std::string readlink_str(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string comm_of(pid_t pid) {
  auto st = read_stat(pid);
  return st ? st->comm : "?";
}

bool known_supervisor(const std::string& comm) {
  static const std::set<std::string> names = {
      "systemd",         "s6-supervise", "s6-svscan", "runsv", "runsvdir",   "supervisord", "tini",     "dumb-init",
      "containerd-shim", "conmon",       "launchd",   "init",  "openrc-run", "daemontools", "supervise"};
  return names.contains(comm) || comm.rfind("containerd-shim", 0) == 0;
}

// A number in `base` that is the whole of `text` (0 when it is not).
template <typename T>
T number_in(const std::string& text, int base) {
  T v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  return ec == std::errc() && end == text.data() + text.size() ? v : 0;
}

unsigned long long hex_mask(const std::string& text) { return number_in<unsigned long long>(text, 16); }

// Mount id -> mount point, from /proc/PID/mountinfo.
std::map<int, std::string> mounts_of(pid_t pid, int& root_id) {
  std::map<int, std::string> mounts;
  int err = 0;
  auto text = slurp(proc(pid, "mountinfo"), err);
  root_id = -1;
  if (!text) return mounts;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    int id = 0, parent = 0;
    std::string devs, root, point;
    l >> id >> parent >> devs >> root >> point;
    mounts[id] = point;
    if (point == "/") root_id = id;  // the last "/" wins: the one on top
  }
  return mounts;
}

int mnt_id_of_fd(pid_t pid, int fd) {
  int err = 0;
  auto text = slurp(proc(pid, "fdinfo/" + std::to_string(fd)), err);
  if (!text) return -1;
  auto at = text->find("mnt_id:");
  return at == std::string::npos ? -1 : leading_int(text->c_str() + at + 7);
}

// One scan of /proc shared by every audit of a run: who is whose parent, and
// which processes hold each pipe and socket. Before it, each pipe or socket fd
// of the audited process cost a scan of every fd on the system.
struct ProcSnapshot {
  std::map<pid_t, std::vector<pid_t>> children;
  std::map<std::string, std::vector<pid_t>> holders;  // "pipe:[123]" -> pids

  static ProcSnapshot take() {
    ProcSnapshot snap;
    detail::DirStream dir = detail::open_dir("/proc");
    if (!dir) return snap;
    while (dirent* e = ::readdir(dir.get())) {
      auto p = static_cast<pid_t>(leading_int(e->d_name));
      if (p <= 0) continue;
      if (auto st = read_stat(p)) snap.children[st->fields.ppid].push_back(p);
      detail::DirStream fds = detail::open_dir(proc(p, "fd").c_str());
      if (!fds) continue;
      while (dirent* f = ::readdir(fds.get())) {
        if (f->d_name[0] == '.') continue;
        std::string target = readlink_str(proc(p, "fd/") + f->d_name);
        if (target.rfind("pipe:", 0) != 0 && target.rfind("socket:", 0) != 0) continue;
        auto& list = snap.holders[target];
        if (list.empty() || list.back() != p) list.push_back(p);
      }
    }
    return snap;
  }

  // `root` and its descendants.
  std::set<pid_t> tree_of(pid_t root) const {
    std::set<pid_t> tree = {root};
    std::vector<pid_t> todo = {root};
    while (!todo.empty()) {
      pid_t p = todo.back();
      todo.pop_back();
      auto it = children.find(p);
      if (it == children.end()) continue;
      for (pid_t c : it->second) {
        if (tree.insert(c).second) todo.push_back(c);
      }
    }
    return tree;
  }

  // Processes outside `tree` that hold the pipe/socket `target`.
  std::vector<pid_t> outside_holders(const std::string& target, const std::set<pid_t>& tree) const {
    std::vector<pid_t> out;
    auto it = holders.find(target);
    if (it == holders.end()) return out;
    for (pid_t p : it->second) {
      if (!tree.contains(p)) out.push_back(p);
    }
    return out;
  }
};

bool is_tty(const std::string& target) {
  return target.rfind("/dev/pts/", 0) == 0 || target.rfind("/dev/tty", 0) == 0 || target == "/dev/console";
}

struct Context {
  pid_t pid;
  Stat stat;
  std::map<std::string, std::string> status;
  std::map<int, std::string> fds;  // fd -> target
  std::map<int, std::string> mounts;
  int root_mount = -1;
  std::set<pid_t> tree;
  const ProcSnapshot* snapshot = nullptr;
};

Finding controlling_terminal(const Context& c) {
  long tty = c.stat.fields.tty_nr;
  if (tty == 0) return {"controlling-terminal", Verdict::pass, {"none"}};
  // tty_nr packs the device: major in bits 8-15, minor in bits 0-7 and 20-31 (proc(5)).
  long major = (tty >> 8) & 0xff, minor = (tty & 0xff) | ((tty >> 12) & 0xfff00);
  std::string name = major >= 136 && major <= 143 ? "/dev/pts/" + std::to_string((major - 136) * 256 + minor)
                                                  : "device " + std::to_string(major) + ":" + std::to_string(minor);
  return {"controlling-terminal", Verdict::fail, {"has controlling terminal " + name}};
}

Finding session(const Context& c) {
  long sid = c.stat.fields.session;
  if (sid != c.pid) return {"session", Verdict::pass, {"session " + std::to_string(sid) + ", not its leader"}};
  bool tty = c.stat.fields.tty_nr != 0;
  return {
      "session",
      tty ? Verdict::fail : Verdict::warn,
      {std::string("is a session leader") + (tty ? " with a terminal" : " (could acquire a terminal by opening one)")}};
}

Finding parent(const Context& c) {
  pid_t ppid = c.stat.fields.ppid;
  std::string comm = comm_of(ppid);
  if (ppid == 1) return {"parent", Verdict::pass, {"parent is pid 1 (" + comm + ")"}};
  if (known_supervisor(comm))
    return {"parent", Verdict::pass, {"parent is pid " + std::to_string(ppid) + " (" + comm + "), a supervisor"}};
  return {"parent",
          Verdict::warn,
          {"parent is pid " + std::to_string(ppid) + " (" + comm + "), neither init nor a known supervisor"}};
}

// Judge one fd's target; adds its evidence line to `f` with its verdict.
void judge_fd(const Context& c, int fd, const std::string& target, Finding& f, bool stdio) {
  std::string line = "fd " + std::to_string(fd) + " -> " + target;
  if (is_tty(target)) {
    f.add(Verdict::fail, line + " (a terminal)");
    return;
  }
  if (target.rfind("pipe:", 0) == 0 || target.rfind("socket:", 0) == 0) {
    auto holders = c.snapshot->outside_holders(target, c.tree);
    if (!holders.empty()) {
      f.add(stdio ? Verdict::warn : Verdict::fail, line + " (other end held by pid " + std::to_string(holders.front()) +
                                                       " (" + comm_of(holders.front()) + "), outside the daemon)");
      return;
    }
    f.add(Verdict::pass, line);
    return;
  }
  if (target.size() > 10 && target.compare(target.size() - 10, 10, " (deleted)") == 0) {
    f.add(Verdict::warn, line + " (deleted file)");
    return;
  }
  if (!target.empty() && target.front() == '/' && target != "/dev/null") {
    int mnt = mnt_id_of_fd(c.pid, fd);
    if (mnt >= 0 && c.root_mount >= 0 && mnt != c.root_mount) {
      auto m = c.mounts.find(mnt);
      f.add(Verdict::warn, line + " (file on mount " + (m != c.mounts.end() ? m->second : "?") + ")");
      return;
    }
  }
  f.add(Verdict::pass, line);
}

Finding open_fds(const Context& c) {
  Finding f{"open-fds", Verdict::pass, {}, {}};
  for (const auto& [fd, target] : c.fds) {
    if (fd <= 2) continue;
    judge_fd(c, fd, target, f, false);
  }
  if (f.evidence.empty()) f.add(Verdict::pass, "none beyond 0-2");
  return f;
}

Finding stdio(const Context& c) {
  Finding f{"stdio", Verdict::pass, {}, {}};
  for (int fd = 0; fd <= 2; ++fd) {
    auto it = c.fds.find(fd);
    if (it == c.fds.end()) {
      f.add(Verdict::warn, "fd " + std::to_string(fd) + " closed (the next open() would take it)");
      continue;
    }
    judge_fd(c, fd, it->second, f, true);
  }
  return f;
}

bool mask_has(unsigned long long mask, int sig) { return ((mask >> (sig - 1)) & 1ULL) != 0; }

// Calibrated on real daemons (see audit.hpp): only what makes stop impossible
// fails.
Finding signals(const Context& c) {
  Finding f{"signals", Verdict::pass, {}, {}};
  unsigned long long blocked = hex_mask(c.status.at("SigBlk"));
  unsigned long long ignored = hex_mask(c.status.at("SigIgn"));
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    if (mask_has(blocked, sig)) {
      f.add(sig == SIGTERM ? Verdict::fail : Verdict::warn,
            signal_label(sig) + " is blocked (SigBlk): it will never be delivered");
    }
  }
  for (int sig = 1; sig <= 64; ++sig) {
    if (!mask_has(ignored, sig) || sig == SIGPIPE) continue;
    f.add(sig == SIGTERM ? Verdict::fail : Verdict::warn, signal_label(sig) + " is ignored (SigIgn)");
  }
  if (f.evidence.empty()) f.add(Verdict::pass, "nothing blocked; nothing ignored but SIGPIPE");
  return f;
}

Finding environment(const Context& c) {
  Finding f{"environment", Verdict::pass, {}, {}};
  int err = 0;
  auto text = slurp(proc(c.pid, "environ"), err);
  static const char* secrets[] = {"TOKEN",  "SECRET",      "PASSWORD",   "PASSWD",     "API_KEY",
                                  "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "AWS_SECRET", "ACCESS_KEY"};
  size_t start = 0;
  while (text && start < text->size()) {
    size_t end = text->find('\0', start);
    if (end == std::string::npos) end = text->size();
    std::string entry = text->substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;  // a scrubbed variable (welld's step 4)
    std::string name = entry.substr(0, entry.find('='));
    if (name.size() > 256) name = name.substr(0, 256);
    std::string upper = name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (is_loader_variable(name)) {
      f.add(Verdict::fail, name + " is set (changes how the loader or libc behave in every program it runs)");
    } else if (std::any_of(std::begin(secrets), std::end(secrets),
                           [&](const char* s) { return upper.find(s) != std::string::npos; })) {
      f.add(Verdict::warn, name + " looks like a secret (value not shown)");
    }
  }
  if (f.evidence.empty()) f.add(Verdict::pass, "no secret-looking names, no loader variables");
  return f;
}

Finding umask_rule(const Context& c) {
  auto it = c.status.find("Umask");
  if (it == c.status.end()) return {"umask", Verdict::warn, {"umask not shown by this kernel"}};
  auto mask = number_in<unsigned>(it->second, 8);
  if ((mask & 002) == 0) {
    return {"umask",
            Verdict::warn,
            {"umask " + it->second + ": new files are world-writable unless created with explicit modes"}};
  }
  return {"umask", Verdict::pass, {"umask " + it->second}};
}

Finding cwd(const Context& c) {
  std::string dir = readlink_str(proc(c.pid, "cwd"));
  if (dir.size() > 10 && dir.compare(dir.size() - 10, 10, " (deleted)") == 0) {
    return {"working-directory", Verdict::warn, {"cwd " + dir + " (deleted)"}};
  }
  // The mount the cwd pins: the longest mount point that prefixes it.
  std::string best = "/";
  for (const auto& [id, point] : c.mounts) {
    if (point.size() > best.size() && dir.rfind(point, 0) == 0 &&
        (dir.size() == point.size() || dir[point.size()] == '/')) {
      best = point;
    }
  }
  if (best != "/") return {"working-directory", Verdict::warn, {"cwd " + dir + " pins mount " + best}};
  return {"working-directory", Verdict::pass, {"cwd " + dir + " (on /)"}};
}

std::vector<gid_t> roots_groups() {
  std::optional<UserEntry> root;
  std::vector<gid_t> groups;
  if (find_user(uid_t{0}, root) || !root || group_list(root->name, 0, groups)) return {0};
  return groups;
}

Finding credentials(const Context& c) {
  Finding f{"credentials", Verdict::pass, {}, {}};
  std::istringstream uids(c.status.at("Uid")), gids(c.status.at("Gid")), groups(c.status.at("Groups"));
  long ruid = -1, euid = -1, rgid = -1, egid = -1;
  uids >> ruid >> euid;
  gids >> rgid >> egid;
  f.add(Verdict::pass, "uid " + std::to_string(ruid) + ", euid " + std::to_string(euid) + ", gid " +
                           std::to_string(rgid) + ", groups " +
                           (c.status.at("Groups").empty() ? "none" : c.status.at("Groups")));
  if (ruid == 0 || euid == 0) {
    f.add(Verdict::warn, "runs as root");
  } else {
    auto root_groups = roots_groups();
    long g = 0;
    while (groups >> g) {
      if (std::find(root_groups.begin(), root_groups.end(), static_cast<gid_t>(g)) != root_groups.end() && g != rgid) {
        f.add(Verdict::fail, "kept root's supplementary group " + std::to_string(g) + " after dropping to uid " +
                                 std::to_string(ruid));
      }
    }
    if (rgid == 0 || egid == 0) {
      f.add(Verdict::fail, "gid is root's (0)");
    }
    if (hex_mask(c.status.at("CapEff")) != 0) {
      f.add(Verdict::warn, "effective capabilities " + c.status.at("CapEff") + " while not root");
    }
  }
  auto nnp = c.status.find("NoNewPrivs");
  f.add(Verdict::pass, std::string("no_new_privs ") + (nnp != c.status.end() && nnp->second == "1" ? "on" : "off"));
  return f;
}

Finding pidfile_rule(const Context& c, const std::string& path) {
  Finding f{"pidfile", Verdict::pass, {}, {}};
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {"pidfile", Verdict::fail, {path + ": " + std::strerror(errno)}};
  if (S_ISLNK(st.st_mode)) return {"pidfile", Verdict::fail, {path + " is a symbolic link"}};
  if (!S_ISREG(st.st_mode)) return {"pidfile", Verdict::fail, {path + " is not a regular file"}};
  PidfileInfo info = inspect_pidfile(path);
  if (info.pid != c.pid) {
    f.add(Verdict::fail, path + " names pid " + std::to_string(info.pid) + ", not this process");
  } else {
    f.add(Verdict::pass, path + " names this process");
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    f.add(Verdict::fail, path + " is writable by others");
  } else if ((st.st_mode & S_IWGRP) != 0) {
    f.add(Verdict::warn, path + " is writable by its group");
  }
  return f;
}

}  // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::pass: return "pass";
    case Verdict::warn: return "warn";
    case Verdict::fail: return "fail";
  }
  return "?";
}

void Finding::add(Verdict v, std::string line) {
  // Lines added before add() was first used (aggregate-built) keep their meaning.
  while (evidence_verdicts.size() < evidence.size())
    evidence_verdicts.push_back(line_verdict(evidence_verdicts.size()));
  evidence.push_back(std::move(line));
  evidence_verdicts.push_back(v);
  verdict = std::max(verdict, v);
}

Verdict Finding::line_verdict(size_t i) const noexcept {
  if (i < evidence_verdicts.size()) return evidence_verdicts[i];
  return i == 0 ? verdict : Verdict::pass;
}

Verdict AuditReport::overall() const noexcept {
  Verdict worst = Verdict::pass;
  for (const auto& f : findings) worst = std::max(worst, f.verdict);
  return worst;
}

int AuditReport::count(Verdict verdict) const noexcept {
  return static_cast<int>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.verdict == verdict; }));
}

namespace {

std::error_code audit_with(pid_t pid, const AuditOptions& options, const ProcSnapshot* shared, AuditReport& out) {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  Context c{pid, {}, {}, {}, {}, -1, {}, nullptr};
  auto stat = read_stat(pid);
  if (pid <= 0 || !stat) return fail(ESRCH);
  c.stat = *stat;
  int err = 0;
  auto status = slurp(proc(pid, "status"), err);
  if (!status) return fail(err == ENOENT ? ESRCH : err);
  c.status = status_fields(*status);
  for (const char* key : {"SigBlk", "SigIgn", "Uid", "Gid", "Groups", "CapEff"}) {
    if (!c.status.contains(key)) return fail(ESRCH);
  }
  // The fd table and environment are the privileged parts: fail, don't guess.
  detail::DirStream fds = detail::open_dir(proc(pid, "fd").c_str());
  if (!fds) return fail(errno == ENOENT ? ESRCH : errno);
  while (dirent* e = ::readdir(fds.get())) {
    if (e->d_name[0] == '.') continue;
    c.fds[leading_int(e->d_name)] = readlink_str(proc(pid, "fd/") + e->d_name);
  }
  fds.reset();
  if (!slurp(proc(pid, "environ"), err) || ::access(proc(pid, "environ").c_str(), R_OK) != 0) {
    return fail(err != 0 ? err : EACCES);
  }
  c.mounts = mounts_of(pid, c.root_mount);
  ProcSnapshot own;
  if (shared == nullptr) own = ProcSnapshot::take();
  c.snapshot = shared != nullptr ? shared : &own;
  c.tree = c.snapshot->tree_of(pid);
  out = AuditReport{};
  out.pid = pid;
  out.command = c.stat.comm;
  out.findings = {controlling_terminal(c), session(c),    parent(c), open_fds(c),   stdio(c), signals(c),
                  environment(c),          umask_rule(c), cwd(c),    credentials(c)};
  if (!options.pidfile.empty()) out.findings.push_back(pidfile_rule(c, options.pidfile));
  if (!read_stat(pid)) return fail(ESRCH);  // it vanished while we looked
  return {};
}

}  // namespace

std::error_code audit_process(pid_t pid, const AuditOptions& options, AuditReport& out) {
  return audit_with(pid, options, nullptr, out);
}

std::vector<AuditReport> audit_processes(const std::vector<pid_t>& pids) {
  ProcSnapshot snapshot = ProcSnapshot::take();
  std::vector<AuditReport> reports;
  for (pid_t pid : pids) {
    AuditReport r;
    if (!audit_with(pid, {}, &snapshot, r)) reports.push_back(std::move(r));
  }
  return reports;
}

std::error_code signal_state(pid_t pid, int sig, SignalState& out) {
  if (sig < 1 || sig > 64) return {EINVAL, std::system_category()};
  if (pid <= 0) return {ESRCH, std::system_category()};
  int err = 0;
  auto text = slurp(proc(pid, "status"), err);
  if (!text) return {err == ENOENT ? ESRCH : err, std::system_category()};
  auto fields = status_fields(*text);
  for (const char* key : {"SigBlk", "SigIgn", "SigCgt"}) {
    if (!fields.contains(key)) return {ESRCH, std::system_category()};  // a zombie shows no masks
  }
  out.blocked = mask_has(hex_mask(fields.at("SigBlk")), sig);
  out.ignored = mask_has(hex_mask(fields.at("SigIgn")), sig);
  out.caught = mask_has(hex_mask(fields.at("SigCgt")), sig);
  return {};
}

std::vector<pid_t> daemon_like_processes() {
  std::vector<pid_t> pids;
  detail::DirStream dir = detail::open_dir("/proc");
  if (!dir) return pids;
  while (dirent* e = ::readdir(dir.get())) {
    auto p = static_cast<pid_t>(leading_int(e->d_name));
    if (p <= 1) continue;
    auto st = read_stat(p);
    if (!st || st->fields.tty_nr != 0) continue;
    constexpr unsigned long kKernelThread = 0x00200000;  // PF_KTHREAD
    if ((st->fields.flags & kKernelThread) != 0 || st->fields.ppid == 2) continue;
    pid_t ppid = st->fields.ppid;
    if (ppid == 1 || known_supervisor(comm_of(ppid))) pids.push_back(p);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace welld
