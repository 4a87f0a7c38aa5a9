// LogWriter's line splitter: any bytes, cut into any chunks, give the same
// file, which is the input cut into lines of at most kLineMax bytes (a longer
// line split every kLineMax bytes), the last unterminated part flushed as a
// line. Also parse_syslog_priority's error contract on the same text.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "invariant.hpp"
#include "welld/log.hpp"

namespace {

// The expected file, byte by byte: the model the writer's memchr loop must match.
std::string model(std::string_view input) {
  std::string out;
  size_t line = 0;
  for (char c : input) {
    if (c == '\n') {
      out += '\n';
      line = 0;
      continue;
    }
    if (line == welld::LogWriter::kLineMax) {
      out += '\n';
      line = 0;
    }
    out += c;
    ++line;
  }
  if (line > 0) out += '\n';
  return out;
}

// A private directory for the file, removed at exit.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string templ = "/tmp/welld-log-fuzz.XXXXXX";
    path = ::mkdtemp(templ.data()) != nullptr ? templ : std::string();
  }
  ~ScratchDir() {
    if (!path.empty()) ::rmdir(path.c_str());
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir(ScratchDir&&) = delete;
  ScratchDir& operator=(ScratchDir&&) = delete;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  {
    std::string error(welld::fuzz::kUntouched);
    auto p = welld::parse_syslog_priority(text, &error);
    welld::fuzz::require_error_contract(p.has_value(), error);
  }
  if (size < 1) return 0;
  // The first byte seeds the chunk sizes (1 to 8192 bytes); the rest is the stream.
  std::uint32_t seed = data[0] + 1U;
  std::string_view stream = text.substr(1);
  static const ScratchDir dir;
  WELLD_FUZZ_REQUIRE(!dir.path.empty());
  std::string path = dir.path + "/out.log";
  ::unlink(path.c_str());
  {
    welld::LogWriter w;
    WELLD_FUZZ_REQUIRE(!welld::LogWriter::open({.file = welld::LogFileSpec{.path = path}}, w));
    while (!stream.empty()) {
      seed = seed * 1103515245U + 12345U;
      size_t n = std::min<size_t>(stream.size(), 1 + (seed >> 8) % 8192);
      WELLD_FUZZ_REQUIRE(!w.write(stream.substr(0, n)));
      stream.remove_prefix(n);
    }
    WELLD_FUZZ_REQUIRE(!w.flush_tail());
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream got;
  got << in.rdbuf();
  WELLD_FUZZ_REQUIRE(got.str() == model(text.substr(1)));
  ::unlink(path.c_str());
  return 0;
}
