// Description: docs/python.md's ordering claims hold in Python itself: runs
// tests/python/orders.py with /usr/bin/python3 (standard library only).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "util.h"

using namespace iomodels;

TEST_CASE("the Python orders docs/python.md describes are Python's", "[docs][tools]") {
  if (::access("/usr/bin/python3", X_OK) != 0) test::skip("no /usr/bin/python3");
  const auto r = test::run_shell(std::string("/usr/bin/python3 ") + IOMODELS_SOURCE_DIR +
                                 "/tests/python/orders.py");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok") != std::string::npos);
}
