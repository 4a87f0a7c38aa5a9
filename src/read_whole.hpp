// read_whole.hpp — a file's whole contents into a string: the one read-to-end loop.
//
// Not for after fork (it allocates). Reads until end of file, retrying EINTR.
#pragma once

#include <string>
#include <system_error>

namespace welld {

/// Append everything left to read from `fd` to `out`. The errno of a failed read (what was read before it
/// stays in `out`).
std::error_code read_whole_fd(int fd, std::string& out);

/// The whole file at `path` (opened O_RDONLY | O_CLOEXEC) into `out`, which is replaced. The errno of the
/// failed open or read.
std::error_code read_whole_file(const std::string& path, std::string& out);

}  // namespace welld
