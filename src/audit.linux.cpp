// welld audit: the rules, one small function each, all read from /proc.
#include "welld/audit.hpp"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
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

#include "welld/pidfile.hpp"

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
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = errno != 0 ? errno : EACCES;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

// Fields of /proc/PID/stat after the command: index 0 is field 3 (state).
struct Stat {
  std::string comm;
  std::vector<std::string> rest;
  long field(int n) const {  // 1-based field number as in proc(5)
    auto i = static_cast<size_t>(n - 3);
    return i < rest.size() ? std::stol(rest[i]) : 0;
  }
};

std::optional<Stat> read_stat(pid_t pid) {
  int err = 0;
  auto text = slurp(proc(pid, "stat"), err);
  if (!text) return std::nullopt;
  auto open = text->find('('), close = text->rfind(')');
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  Stat st;
  st.comm = text->substr(open + 1, close - open - 1);
  std::istringstream in(text->substr(close + 2));
  std::string f;
  while (in >> f) st.rest.push_back(f);
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

unsigned long long hex_mask(const std::string& text) {
  try {
    return std::stoull(text, nullptr, 16);
  } catch (...) {
    return 0;
  }
}

std::string signal_label(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

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

// The set of pids in `root`'s tree (root and descendants), from a /proc scan.
std::set<pid_t> tree_of(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  DIR* dir = ::opendir("/proc");
  if (dir != nullptr) {
    while (dirent* e = ::readdir(dir)) {
      auto p = static_cast<pid_t>(leading_int(e->d_name));
      if (p <= 0) continue;
      if (auto st = read_stat(p)) children[static_cast<pid_t>(st->field(4))].push_back(p);
    }
    ::closedir(dir);
  }
  std::set<pid_t> tree = {root};
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    for (pid_t c : children[p]) {
      if (tree.insert(c).second) todo.push_back(c);
    }
  }
  return tree;
}

// Processes outside `tree` that hold the pipe/socket `target` ("pipe:[123]").
std::vector<pid_t> outside_holders(const std::string& target, const std::set<pid_t>& tree) {
  std::vector<pid_t> holders;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return holders;
  while (dirent* e = ::readdir(dir)) {
    auto p = static_cast<pid_t>(leading_int(e->d_name));
    if (p <= 0 || tree.contains(p)) continue;
    DIR* fds = ::opendir(proc(p, "fd").c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      if (readlink_str(proc(p, "fd/") + f->d_name) == target) {
        holders.push_back(p);
        break;
      }
    }
    ::closedir(fds);
  }
  ::closedir(dir);
  return holders;
}

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
};

Finding controlling_terminal(const Context& c) {
  long tty = c.stat.field(7);
  if (tty == 0) return {"controlling-terminal", Verdict::pass, {"none"}};
  // tty_nr packs the device: major in bits 8-15, minor in bits 0-7 and 20-31 (proc(5)).
  long major = (tty >> 8) & 0xff, minor = (tty & 0xff) | ((tty >> 12) & 0xfff00);
  std::string name = major >= 136 && major <= 143 ? "/dev/pts/" + std::to_string((major - 136) * 256 + minor)
                                                  : "device " + std::to_string(major) + ":" + std::to_string(minor);
  return {"controlling-terminal", Verdict::fail, {"has controlling terminal " + name}};
}

Finding session(const Context& c) {
  long sid = c.stat.field(6);
  if (sid != c.pid) return {"session", Verdict::pass, {"session " + std::to_string(sid) + ", not its leader"}};
  bool tty = c.stat.field(7) != 0;
  return {
      "session",
      tty ? Verdict::fail : Verdict::warn,
      {std::string("is a session leader") + (tty ? " with a terminal" : " (could acquire a terminal by opening one)")}};
}

Finding parent(const Context& c) {
  auto ppid = static_cast<pid_t>(c.stat.field(4));
  std::string comm = comm_of(ppid);
  if (ppid == 1) return {"parent", Verdict::pass, {"parent is pid 1 (" + comm + ")"}};
  if (known_supervisor(comm))
    return {"parent", Verdict::pass, {"parent is pid " + std::to_string(ppid) + " (" + comm + "), a supervisor"}};
  return {"parent",
          Verdict::warn,
          {"parent is pid " + std::to_string(ppid) + " (" + comm + "), neither init nor a known supervisor"}};
}

// Judge one fd's target; returns the worst verdict and appends evidence.
Verdict judge_fd(const Context& c, int fd, const std::string& target, std::vector<std::string>& evidence, bool stdio) {
  std::string line = "fd " + std::to_string(fd) + " -> " + target;
  if (is_tty(target)) {
    evidence.push_back(line + " (a terminal)");
    return Verdict::fail;
  }
  if (target.rfind("pipe:", 0) == 0 || target.rfind("socket:", 0) == 0) {
    auto holders = outside_holders(target, c.tree);
    if (!holders.empty()) {
      evidence.push_back(line + " (other end held by pid " + std::to_string(holders.front()) + " (" +
                         comm_of(holders.front()) + "), outside the daemon)");
      return stdio ? Verdict::warn : Verdict::fail;
    }
    evidence.push_back(line);
    return Verdict::pass;
  }
  if (target.size() > 10 && target.compare(target.size() - 10, 10, " (deleted)") == 0) {
    evidence.push_back(line + " (deleted file)");
    return Verdict::warn;
  }
  if (!target.empty() && target.front() == '/' && target != "/dev/null") {
    int mnt = mnt_id_of_fd(c.pid, fd);
    if (mnt >= 0 && c.root_mount >= 0 && mnt != c.root_mount) {
      auto m = c.mounts.find(mnt);
      evidence.push_back(line + " (file on mount " + (m != c.mounts.end() ? m->second : "?") + ")");
      return Verdict::warn;
    }
  }
  evidence.push_back(line);
  return Verdict::pass;
}

Finding open_fds(const Context& c) {
  Finding f{"open-fds", Verdict::pass, {}};
  for (const auto& [fd, target] : c.fds) {
    if (fd <= 2) continue;
    f.verdict = std::max(f.verdict, judge_fd(c, fd, target, f.evidence, false));
  }
  if (f.evidence.empty()) f.evidence.emplace_back("none beyond 0-2");
  return f;
}

Finding stdio(const Context& c) {
  Finding f{"stdio", Verdict::pass, {}};
  for (int fd = 0; fd <= 2; ++fd) {
    auto it = c.fds.find(fd);
    if (it == c.fds.end()) {
      f.evidence.push_back("fd " + std::to_string(fd) + " closed (the next open() would take it)");
      f.verdict = std::max(f.verdict, Verdict::warn);
      continue;
    }
    f.verdict = std::max(f.verdict, judge_fd(c, fd, it->second, f.evidence, true));
  }
  return f;
}

Finding signals(const Context& c) {
  Finding f{"signals", Verdict::pass, {}};
  unsigned long long blocked = hex_mask(c.status.at("SigBlk"));
  unsigned long long ignored = hex_mask(c.status.at("SigIgn"));
  auto has = [](unsigned long long mask, int sig) { return ((mask >> (sig - 1)) & 1ULL) != 0; };
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    if (has(blocked, sig)) {
      f.evidence.push_back(signal_label(sig) + " is blocked (SigBlk): it will never be delivered");
      f.verdict = Verdict::fail;
    }
  }
  for (int sig = 1; sig <= 64; ++sig) {
    if (!has(ignored, sig)) continue;
    if (sig == SIGTERM || sig == SIGHUP) {
      f.evidence.push_back(signal_label(sig) + " is ignored (SigIgn)");
      f.verdict = Verdict::fail;
    } else if (sig != SIGPIPE) {
      f.evidence.push_back(signal_label(sig) + " is ignored (SigIgn)");
      f.verdict = std::max(f.verdict, Verdict::warn);
    }
  }
  if (f.evidence.empty()) f.evidence.emplace_back("nothing blocked; nothing ignored but SIGPIPE");
  return f;
}

Finding environment(const Context& c) {
  Finding f{"environment", Verdict::pass, {}};
  int err = 0;
  auto text = slurp(proc(c.pid, "environ"), err);
  static const char* secrets[] = {"TOKEN",  "SECRET",      "PASSWORD",   "PASSWD",     "API_KEY",
                                  "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "AWS_SECRET", "ACCESS_KEY"};
  static const char* loader[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "GLIBC_TUNABLES"};
  size_t start = 0;
  while (text && start < text->size()) {
    size_t end = text->find('\0', start);
    if (end == std::string::npos) end = text->size();
    std::string name = text->substr(start, text->find('=', start) - start);
    start = end + 1;
    if (name.size() > 256) name = name.substr(0, 256);
    std::string upper = name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (std::any_of(std::begin(loader), std::end(loader), [&](const char* l) { return upper == l; }) ||
        upper.rfind("MALLOC_", 0) == 0) {
      f.evidence.push_back(name + " is set (changes how every program it runs is loaded)");
      f.verdict = Verdict::fail;
    } else if (std::any_of(std::begin(secrets), std::end(secrets),
                           [&](const char* s) { return upper.find(s) != std::string::npos; })) {
      f.evidence.push_back(name + " looks like a secret (value not shown)");
      f.verdict = std::max(f.verdict, Verdict::warn);
    }
  }
  if (f.evidence.empty()) f.evidence.emplace_back("no secret-looking names, no loader variables");
  return f;
}

Finding umask_rule(const Context& c) {
  auto it = c.status.find("Umask");
  if (it == c.status.end()) return {"umask", Verdict::warn, {"umask not shown by this kernel"}};
  auto mask = static_cast<unsigned>(std::stoul(it->second, nullptr, 8));
  if ((mask & 002) == 0) {
    return {"umask",
            Verdict::warn,
            {"umask " + it->second + ": new files are world-writable unless created with explicit modes"}};
  }
  return {"umask", Verdict::pass, {"umask " + it->second}};
}

Finding cwd(const Context& c) {
  std::string dir = readlink_str(proc(c.pid, "cwd"));
  struct stat st {};
  std::vector<std::string> ev = {"cwd " + dir};
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
  (void)st;
  if (best != "/") return {"working-directory", Verdict::warn, {"cwd " + dir + " pins mount " + best}};
  return {"working-directory", Verdict::pass, {"cwd " + dir + " (on /)"}};
}

std::vector<gid_t> roots_groups() {
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  passwd* pw = ::getpwuid(0);
  if (pw == nullptr || ::getgrouplist(pw->pw_name, 0, groups.data(), &n) < 0) return {0};
  groups.resize(static_cast<size_t>(n));
  return groups;
}

Finding credentials(const Context& c) {
  Finding f{"credentials", Verdict::pass, {}};
  std::istringstream uids(c.status.at("Uid")), gids(c.status.at("Gid")), groups(c.status.at("Groups"));
  long ruid = -1, euid = -1, rgid = -1, egid = -1;
  uids >> ruid >> euid;
  gids >> rgid >> egid;
  f.evidence.push_back("uid " + std::to_string(ruid) + ", euid " + std::to_string(euid) + ", gid " +
                       std::to_string(rgid) + ", groups " +
                       (c.status.at("Groups").empty() ? "none" : c.status.at("Groups")));
  if (ruid == 0 || euid == 0) {
    f.evidence.emplace_back("runs as root");
    f.verdict = Verdict::warn;
  } else {
    auto root_groups = roots_groups();
    long g = 0;
    while (groups >> g) {
      if (std::find(root_groups.begin(), root_groups.end(), static_cast<gid_t>(g)) != root_groups.end() && g != rgid) {
        f.evidence.push_back("kept root's supplementary group " + std::to_string(g) + " after dropping to uid " +
                             std::to_string(ruid));
        f.verdict = Verdict::fail;
      }
    }
    if (rgid == 0 || egid == 0) {
      f.evidence.emplace_back("gid is root's (0)");
      f.verdict = Verdict::fail;
    }
    if (hex_mask(c.status.at("CapEff")) != 0) {
      f.evidence.push_back("effective capabilities " + c.status.at("CapEff") + " while not root");
      f.verdict = std::max(f.verdict, Verdict::warn);
    }
  }
  auto nnp = c.status.find("NoNewPrivs");
  f.evidence.push_back(std::string("no_new_privs ") + (nnp != c.status.end() && nnp->second == "1" ? "on" : "off"));
  return f;
}

Finding pidfile_rule(const Context& c, const std::string& path) {
  Finding f{"pidfile", Verdict::pass, {}};
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {"pidfile", Verdict::fail, {path + ": " + std::strerror(errno)}};
  if (S_ISLNK(st.st_mode)) return {"pidfile", Verdict::fail, {path + " is a symbolic link"}};
  if (!S_ISREG(st.st_mode)) return {"pidfile", Verdict::fail, {path + " is not a regular file"}};
  PidfileInfo info = inspect_pidfile(path);
  if (info.pid != c.pid) {
    f.evidence.push_back(path + " names pid " + std::to_string(info.pid) + ", not this process");
    f.verdict = Verdict::fail;
  } else {
    f.evidence.push_back(path + " names this process");
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    f.evidence.push_back(path + " is writable by others");
    f.verdict = Verdict::fail;
  } else if ((st.st_mode & S_IWGRP) != 0) {
    f.evidence.push_back(path + " is writable by its group");
    f.verdict = std::max(f.verdict, Verdict::warn);
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

Verdict AuditReport::overall() const noexcept {
  Verdict worst = Verdict::pass;
  for (const auto& f : findings) worst = std::max(worst, f.verdict);
  return worst;
}

int AuditReport::count(Verdict verdict) const noexcept {
  return static_cast<int>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.verdict == verdict; }));
}

std::error_code audit_process(pid_t pid, const AuditOptions& options, AuditReport& out) {
  auto fail = [](int err) { return std::error_code(err, std::system_category()); };
  Context c{pid, {}, {}, {}, {}, -1, {}};
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
  DIR* fds = ::opendir(proc(pid, "fd").c_str());
  if (fds == nullptr) return fail(errno == ENOENT ? ESRCH : errno);
  while (dirent* e = ::readdir(fds)) {
    if (e->d_name[0] == '.') continue;
    c.fds[leading_int(e->d_name)] = readlink_str(proc(pid, "fd/") + e->d_name);
  }
  ::closedir(fds);
  if (!slurp(proc(pid, "environ"), err) || ::access(proc(pid, "environ").c_str(), R_OK) != 0) {
    return fail(err != 0 ? err : EACCES);
  }
  c.mounts = mounts_of(pid, c.root_mount);
  c.tree = tree_of(pid);
  out = AuditReport{};
  out.pid = pid;
  out.command = c.stat.comm;
  out.findings = {controlling_terminal(c), session(c),    parent(c), open_fds(c),   stdio(c), signals(c),
                  environment(c),          umask_rule(c), cwd(c),    credentials(c)};
  if (!options.pidfile.empty()) out.findings.push_back(pidfile_rule(c, options.pidfile));
  if (!read_stat(pid)) return fail(ESRCH);  // it vanished while we looked
  return {};
}

std::vector<pid_t> daemon_like_processes() {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = ::readdir(dir)) {
    auto p = static_cast<pid_t>(leading_int(e->d_name));
    if (p <= 1) continue;
    auto st = read_stat(p);
    if (!st || st->field(7) != 0) continue;
    constexpr long kKernelThread = 0x00200000;  // PF_KTHREAD
    if ((st->field(9) & kKernelThread) != 0 || st->field(4) == 2) continue;
    auto ppid = static_cast<pid_t>(st->field(4));
    if (ppid == 1 || known_supervisor(comm_of(ppid))) pids.push_back(p);
  }
  ::closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace welld
