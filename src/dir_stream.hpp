// A directory stream (opendir/readdir) that closes itself.
#pragma once

#include <dirent.h>

#include <memory>

namespace welld::detail {

struct CloseDir {
  void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

/// Owns a DIR*: closedir on destruction. Empty when opendir failed (errno set).
using DirStream = std::unique_ptr<DIR, CloseDir>;

/// opendir(path), owned. Allocates: never after fork.
inline DirStream open_dir(const char* path) { return DirStream(::opendir(path)); }

}  // namespace welld::detail
