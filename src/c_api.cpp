// The C API: a thin translation onto welld::daemonize / run_foreground.
#include <string>

#include "welld/daemon.hpp"
#include "welld/welld.h"

namespace {

thread_local int t_errno = 0;
thread_local pid_t t_pid = -1;
thread_local std::string t_message;

void append_list(const char* const* list, std::vector<std::string>& out) {
  for (; list != nullptr && *list != nullptr; ++list) out.emplace_back(*list);
}

welld::Options translate(const welld_options* c) {
  welld::Options o;
  if (c == nullptr) return o;
  auto str = [](const char* s) { return s != nullptr ? std::string(s) : std::string(); };
  o.pidfile = str(c->pidfile);
  o.chdir = str(c->chdir);
  if (c->umask >= 0) o.umask = static_cast<mode_t>(c->umask);
  o.stdout_path = str(c->stdout_path);
  o.stderr_path = str(c->stderr_path);
  append_list(c->keep_env, o.environment.keep);
  append_list(c->set_env, o.environment.set);
  o.environment.inherit = c->inherit_env != 0;
  if (c->keep_fds != nullptr) o.keep_fds.assign(c->keep_fds, c->keep_fds + c->keep_fds_count);
  o.user = str(c->user);
  o.group = str(c->group);
  return o;
}

int record(const welld::Status& st) {
  t_errno = st.error;
  t_pid = st.pid;
  t_message = st.message();
  return static_cast<int>(st.step);
}

}  // namespace

extern "C" {

int welld_daemonize(const welld_options* options, void* data, welld_init_fn init, welld_run_fn run) {
  welld::InitFn i = [=] { return init != nullptr ? init(data) : 0; };
  welld::RunFn r = [=] { return run != nullptr ? run(data) : 0; };
  return record(welld::daemonize(translate(options), i, r));
}

int welld_run_foreground(const welld_options* options, void* data, welld_init_fn init, welld_run_fn run,
                         int* exit_status) {
  welld::InitFn i = [=] { return init != nullptr ? init(data) : 0; };
  welld::RunFn r = [=] { return run != nullptr ? run(data) : 0; };
  return record(welld::run_foreground(translate(options), i, r, exit_status));
}

const char* welld_strstep(int step) {
  // to_string returns views of string literals: NUL-terminated.
  return welld::to_string(static_cast<welld::Step>(step)).data();
}

int welld_last_errno(void) { return t_errno; }
pid_t welld_last_pid(void) { return t_pid; }
const char* welld_last_message(void) { return t_message.c_str(); }

}  // extern "C"
