// The C API: a thin translation onto welld::daemonize / run_foreground.
#include <cerrno>
#include <string>

#include "welld/daemon.hpp"
#include "welld/start.hpp"
#include "welld/welld.h"

namespace {

thread_local int t_step = 0;
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
  t_step = static_cast<int>(st.step);
  t_errno = st.error;
  t_pid = st.pid;
  t_message = st.message();
  return static_cast<int>(st.step);
}

int invalid(const std::string& message) {
  t_step = static_cast<int>(welld::Step::prepare);
  t_errno = EINVAL;
  t_pid = -1;
  t_message = message;
  return WELLD_START_INVALID;
}

// The C request as a StartRequest; false (with `error`) when a text is not valid.
bool translate_start(const welld_start_request& c, welld::StartRequest& r, std::string& error) {
  r.options = translate(&c.options);
  append_list(c.argv, r.command);
  if (r.command.empty()) {
    error = "no command to start (argv is empty)";
    return false;
  }
  for (const char* const* l = c.listen; l != nullptr && *l != nullptr; ++l) {
    auto spec = welld::parse_listen_spec(*l, &error);
    if (!spec) return false;
    r.listen.push_back(*spec);
  }
  if (c.ready != nullptr) {
    auto spec = welld::parse_ready_spec(c.ready, &error);
    if (!spec) return false;
    r.ready = *spec;
  }
  if (c.ready_timeout_ms > 0) r.ready_timeout = std::chrono::milliseconds(c.ready_timeout_ms);
  r.cancel_fd = c.cancel_fd;
  r.ok_if_running = c.ok_if_running != 0;
  r.adopt_orphans = c.adopt_orphans != 0;
  if (c.stop_signal > 0) r.rollback.signal = c.stop_signal;
  if (c.stop_timeout_ms > 0) r.rollback.timeout = std::chrono::milliseconds(c.stop_timeout_ms);
  if (c.on_status != nullptr) {
    welld_status_fn fn = c.on_status;
    void* data = c.status_data;
    r.on_status = [fn, data](std::string_view text) { fn(data, std::string(text).c_str()); };
  }
  return true;
}

int outcome_code(welld::StartOutcome o) {
  using O = welld::StartOutcome;
  switch (o) {
    case O::started: return WELLD_STARTED;
    case O::already_running: return WELLD_ALREADY_RUNNING;
    case O::invalid: return WELLD_START_INVALID;
    case O::not_prepared: return WELLD_START_NOT_PREPARED;
    case O::spawn_failed: return WELLD_START_SPAWN_FAILED;
    case O::exited: return WELLD_START_EXITED;
    case O::daemonized_itself: return WELLD_START_DAEMONIZED_ITSELF;
    case O::not_ready: return WELLD_START_NOT_READY;
    case O::timed_out: return WELLD_START_TIMED_OUT;
    case O::cancelled: return WELLD_START_CANCELLED;
    case O::wait_failed: return WELLD_START_WAIT_FAILED;
    case O::record_failed: return WELLD_START_RECORD_FAILED;
  }
  return WELLD_START_WAIT_FAILED;
}

}  // namespace

extern "C" {

int welld_start(const welld_start_request* request) {
  if (request == nullptr) return invalid("no request");
  welld::StartRequest r;
  std::string error;
  if (!translate_start(*request, r, error)) return invalid(error);
  welld::StartResult result = welld::start_daemon(r);
  t_step = static_cast<int>(result.status.step);
  t_errno = result.status.error;
  if (result.outcome == welld::StartOutcome::started) t_step = t_errno = 0;
  t_pid = result.main.pid;
  t_message = result.message;
  return outcome_code(result.outcome);
}

int welld_last_step(void) { return t_step; }

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
