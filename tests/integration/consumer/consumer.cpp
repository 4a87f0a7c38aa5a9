// Uses the installed headers and library: daemonizes nothing, just proves the
// API links (step names, environment policy).
#include <welld/daemon.hpp>
#include <welld/step.hpp>

#include <cstdio>

int main() {
  welld::Options options{.pidfile = "/run/consumer.pid", .umask = 022};
  std::printf("%s %zu\n", std::string(welld::to_string(welld::Step::pidfile)).c_str(), options.pidfile.size());
  return welld::to_string(welld::Step::pidfile) == "pidfile" ? 0 : 1;
}
