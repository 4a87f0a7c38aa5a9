// welld/memory.hpp — what a long-lived, mostly idle process keeps resident.
//
// A supervisor runs its start-up once (option parsing, the first start) and
// then waits in poll(2) for months. The code and read-only data it ran
// through stay mapped into it and count in its RSS and PSS, though nothing
// will run them until something happens (for welld's supervisor: ~1.8 MB of
// text touched once, against a working set of a few hundred KiB).
//
//   welld::release_idle_memory();  // after the set-up, before the long wait
//
// Gotchas: it is a hint to the kernel, never a change of what the process
// sees. The pages stay in the page cache; the next use maps them again with
// a minor fault (microseconds, no I/O while the cache keeps them).
#pragma once

#include <cstddef>
#include <system_error>

namespace welld {

struct ReleasedMemory {
  std::size_t mappings = 0;  // file mappings let go of
  std::size_t bytes = 0;     // their size (resident or not)
};

/// Unmap the pages of every read-only, private file mapping of this process that holds
/// no private copy of a page (its program's text and read-only data, shared
/// libraries' text) with madvise(MADV_DONTNEED), which for such a mapping
/// only drops the page-table entries: the file's contents come back on the
/// next access. A mapping that is writable, shared, anonymous, or holds a
/// copied-on-write page (relocated read-only data, a debugger's breakpoint:
/// /proc/self/smaps "Anonymous" not 0) is left alone, so nothing the process
/// wrote can be lost. Then return free heap memory to the kernel
/// (malloc_trim(3)). Errors: the errno of reading /proc/self/smaps;
/// a mapping madvise refuses is skipped.
std::error_code release_idle_memory(ReleasedMemory* released = nullptr);

}  // namespace welld
