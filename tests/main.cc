// Description: the Catch2 test runner. SIGPIPE is ignored as in the binary:
// a write to a peer that died must come back as -EPIPE.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>

int main(int argc, char* argv[]) {
  std::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
