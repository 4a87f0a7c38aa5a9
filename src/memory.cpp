// Letting go of an idle process's start-up pages: see welld/memory.hpp.
#include "welld/memory.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>

#include "read_whole.hpp"

namespace welld {
namespace {

struct Mapping {
  unsigned long begin = 0;
  unsigned long end = 0;
  bool releasable = false;  // from its header line: r--p or r-xp, a file (inode not 0)
  bool copied = true;       // holds an anonymous (copied-on-write) page; unknown counts as yes
};

unsigned long hex(std::string_view text) {
  unsigned long value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

// "7f12a000-7f12c000 r-xp 00000000 08:01 1234   /usr/bin/welld": proc(5).
bool parse_header(std::string_view line, Mapping& m) {
  auto dash = line.find('-');
  auto space = line.find(' ');
  if (dash == std::string_view::npos || space == std::string_view::npos || dash > space) return false;
  m = Mapping{.begin = hex(line.substr(0, dash)), .end = hex(line.substr(dash + 1, space - dash - 1))};
  std::string_view rest = line.substr(space + 1);
  std::string_view fields[4];  // perms, offset, dev, inode
  for (auto& field : fields) {
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    auto cut = std::min(rest.find(' '), rest.size());
    field = rest.substr(0, cut);
    rest.remove_prefix(cut);
  }
  std::string_view perms = fields[0];
  m.releasable = perms.size() == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && fields[3] != "0" &&
                 !fields[3].empty();
  return true;
}

void release(const Mapping& m, ReleasedMemory& released) {
  if (!m.releasable || m.copied || m.end <= m.begin) return;
  // NOLINTNEXTLINE(performance-no-int-to-ptr): an address read from /proc/self/smaps
  if (::madvise(reinterpret_cast<void*>(m.begin), m.end - m.begin, MADV_DONTNEED) != 0) return;
  ++released.mappings;
  released.bytes += m.end - m.begin;
}

// Every releasable mapping of /proc/self/smaps, read whole before any
// madvise (the file is generated as it is read).
std::error_code release_file_pages(ReleasedMemory& total) {
  std::string smaps;
  if (auto ec = read_whole_file("/proc/self/smaps", smaps)) return ec;
  Mapping current;
  bool in_mapping = false;
  std::string_view text = smaps;
  while (!text.empty()) {
    auto eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    if (line.starts_with("Anonymous:")) {
      std::string_view kb = line.substr(10);
      kb.remove_prefix(std::min(kb.find_first_not_of(' '), kb.size()));
      current.copied = !kb.starts_with("0 ");
      continue;
    }
    // Only a header line starts with a hexadecimal address followed by '-'.
    Mapping next;
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) != 0 && parse_header(line, next)) {
      if (in_mapping) release(current, total);
      current = next;
      in_mapping = true;
    }
  }
  if (in_mapping) release(current, total);
  return {};
}

}  // namespace

std::error_code release_idle_memory(ReleasedMemory* released) {
  ReleasedMemory total;
  auto ec = release_file_pages(total);
  // Last: the copy of smaps is free now too.
  ::malloc_trim(0);
  if (released != nullptr) *released = total;
  return ec;
}

}  // namespace welld
