// CLI11, without <iostream>'s start-up cost. Every CLI file includes CLI11
// through this header, never <CLI/CLI.hpp> itself.
//
// CLI11 includes <iostream> for its default output streams (App::exit prints
// help and errors to std::cout and std::cerr). In libstdc++, <iostream>
// puts a static std::ios_base::Init object in every file that includes it,
// and the first one to run builds the eight standard streams and the classic
// locale's facets before main: code and data pages that `welld status` or
// `welld start` never use again (bench/run, "welld's own start-up"). Here
// <iostream>'s guard is set and its four narrow stream objects are declared
// (they are defined in libstdc++ whatever is included), so that CLI11 can name
// them; the streams are then built only when main() is about to print through
// CLI11 (print_through_cli11 in main.cpp). Other standard libraries
// get <iostream> as usual.
#pragma once

#include <version>  // __GLIBCXX__

#if defined(__GLIBCXX__) && !defined(_GLIBCXX_IOSTREAM)
#include <istream>
#include <ostream>
// libstdc++'s own include guard: <iostream> is then read as empty.
#define _GLIBCXX_IOSTREAM 1  // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): the library's name
namespace std {              // NOLINT(cert-dcl58-cpp): the declarations <iostream> would make, unchanged
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
}  // namespace std
#endif

#include <CLI/CLI.hpp>
