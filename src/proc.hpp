// proc.hpp — readers of /proc/PID: the one place that parses /proc/PID/stat,
// reads a process's name, and converts clock ticks (proc(5)).
//
// Read by number: a PID can go to another process between two reads. Pin the
// process first (Process) and check it is still present() afterwards before
// believing what was read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace welld {

/// The fields of /proc/PID/stat that welld uses (proc(5) numbers them from 1).
struct ProcStat {
  std::string_view comm;              ///< field 2, without the parentheses; points into the parsed text
  char state = 0;                     ///< field 3: R, S, D, Z, X, ...
  pid_t ppid = 0;                     ///< field 4
  pid_t pgrp = 0;                     ///< field 5
  pid_t session = 0;                  ///< field 6
  long tty_nr = 0;                    ///< field 7: the controlling terminal, 0 for none
  unsigned long flags = 0;            ///< field 9: PF_* flags (PF_KTHREAD 0x00200000)
  unsigned long long start_time = 0;  ///< field 22: clock ticks after boot
  std::uintptr_t env_start = 0;       ///< field 50 (Linux 3.5; 0 when absent)
  std::uintptr_t env_end = 0;         ///< field 51 (Linux 3.5; 0 when absent)
};

/// Parse the text of /proc/PID/stat. The name (field 2) may hold blanks and
/// ')': the fields are counted from the last ')'. False when the text has no
/// name or fewer than 6 fields; fields past the end of the text stay 0.
/// No allocation, no errno: async-signal-safe (defined with the after-fork
/// steps in after_fork.cpp, which read start times with it).
bool parse_proc_stat(std::string_view text, ProcStat& out) noexcept;

/// /proc/PID/stat of `pid` (0 means the caller: /proc/self/stat) read and
/// parsed into `out`; `text` holds the file and must outlive `out.comm`. The
/// errno of the open or read (ENOENT when there is no such process), EINVAL
/// when the text does not parse.
std::error_code read_proc_stat(pid_t pid, std::string& text, ProcStat& out);

/// The same through an open /proc/PID directory fd (stays with one process).
std::error_code read_proc_stat_at(int procfd, std::string& text, ProcStat& out);

/// The process's name (field 2 of stat, what /proc/PID/comm holds), "" when
/// it cannot be read.
std::string process_comm(pid_t pid);

/// Clock ticks per second (sysconf(_SC_CLK_TCK); 100 when it fails).
long clock_ticks_per_second() noexcept;

}  // namespace welld
