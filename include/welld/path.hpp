// welld/path.hpp — path names: made absolute, split into directory and last
// part, and a program found the way execvp(3) finds it. The one place for each
// (not for after fork: these allocate).
#pragma once

#include <string>
#include <system_error>

namespace welld {

/// `path` made absolute against the current directory (unchanged when it is
/// absolute or empty). When the current directory has no name (deleted:
/// ENOENT; longer than PATH_MAX: ERANGE) the error, `out` untouched and errno
/// left as getcwd(3) set it.
std::error_code make_absolute(const std::string& path, std::string& out);

/// The directory part of `path`: "/a" for "/a/b", "/" for "/b", "." when
/// there is no slash.
std::string parent_directory(const std::string& path);

/// The part after the last slash: "b" for "/a/b"; all of it when there is none.
std::string base_name(const std::string& path);

/// Resolve a command name the way execvp would, against `path_env` (a PATH
/// value). Returns the path, or an empty string with `err` set (ENOENT,
/// EACCES). Names containing '/' are returned as they are when executable.
std::string resolve_executable(const std::string& name, const std::string& path_env, int& err);

}  // namespace welld
