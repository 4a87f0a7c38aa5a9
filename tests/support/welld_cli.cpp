// welld_cli(): the welld CLI built by this tree (WELLD_CLI_PATH, a compile
// definition of the welld_test_cli library and of the tests that link it).
#include <utility>

#include "test_support.hpp"

namespace welld::test {

RunResult welld_cli(std::vector<std::string> args, std::chrono::milliseconds timeout,
                    const std::optional<std::vector<std::string>>& env) {
  args.insert(args.begin(), WELLD_CLI_PATH);
  return run(args, timeout, env);
}

}  // namespace welld::test
