// welld/resource_limit.hpp — one resource limit: what parse_rlimit reads and
// what Options::rlimits applies (setrlimit(2) before the privilege drop).
#pragma once

#include <sys/resource.h>

namespace welld {

struct ResourceLimit {
  int resource = -1;  // RLIMIT_NOFILE, ... (see parse_rlimit in parse.hpp)
  rlim_t soft = 0;
  rlim_t hard = 0;
};

}  // namespace welld
