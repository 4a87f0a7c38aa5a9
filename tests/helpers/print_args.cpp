// print_args OUT [ARG...]: writes its arguments and environment into OUT
// (written beside it, then renamed, so OUT appears whole), then, when fd 3
// is a pipe (s6's notification fd under --ready=fd:3), writes a newline on
// it, and waits until a signal ends it (SIGHUP, a reload, does not). The export round-trip tests compare
// OUT with what they exported, byte for byte. The format: one record per
// line, "arg LEN:BYTES" then "env LEN:BYTES", LEN the byte count, so any
// byte (newlines included) reads back unambiguously.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace {

void add(std::string& out, const char* kind, const char* text) {
  out += kind;
  out += ' ';
  out += std::to_string(std::strlen(text));
  out += ':';
  out += text;
  out += '\n';
}

bool write_whole(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  return ok && ::rename(temp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: print_args OUT [ARG...]\n", stderr);
    return 2;
  }
  struct sigaction reload {};
  reload.sa_handler = [](int) {};
  ::sigaction(SIGHUP, &reload, nullptr);
  std::string out;
  for (int i = 2; i < argc; ++i) add(out, "arg", argv[i]);
  for (char** e = environ; *e != nullptr; ++e) add(out, "env", *e);
  if (!write_whole(argv[1], out)) {
    std::perror("print_args");
    return 1;
  }
  struct stat st {};
  if (::fstat(3, &st) == 0 && S_ISFIFO(st.st_mode)) {
    (void)::write(3, "\n", 1);
    ::close(3);
  }
  for (;;) ::pause();
}
