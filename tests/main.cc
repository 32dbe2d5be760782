// Description: the Catch2 test runner. SIGPIPE is ignored as in the binary:
// a write to a peer that died must come back as -EPIPE.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>
#include <thread>

int main(int argc, char* argv[]) {
  std::signal(SIGPIPE, SIG_IGN);
  // TSan starts a background thread of its own at the first pthread_create;
  // start it now, so that tests counting this process's threads see a
  // baseline that includes it.
  std::thread([] {}).join();
  return Catch::Session().run(argc, argv);
}
