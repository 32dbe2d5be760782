// Description: README.md and docs/*.md link only inside the repository: every
// relative link names a file that exists, nothing points at a web address or
// outside the checkout, and no text refers to a tracker's "issue #N".
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

TEST_CASE("README and docs link only to files in the repository", "[docs][tools]") {
  const fs::path root = IOMODELS_SOURCE_DIR;
  std::vector<fs::path> files = {root / "README.md"};
  for (const auto& e : fs::directory_iterator(root / "docs"))
    if (e.path().extension() == ".md") files.push_back(e.path());
  REQUIRE(files.size() > 3);
  // [text](target) and ![alt](target); the target up to a space or ')'.
  const std::regex link(R"(\]\(([^)\s]+)\))");
  const std::regex issue(R"(issue #[0-9])", std::regex::icase);
  size_t links = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    INFO(f.string());
    CHECK_FALSE(std::regex_search(text, issue));
    for (std::sregex_iterator it(text.begin(), text.end(), link), end; it != end; ++it) {
      std::string target = (*it)[1];
      INFO(target);
      ++links;
      if (target[0] == '#') continue;  // a heading on the same page
      CHECK(target.find("://") == std::string::npos);
      CHECK(target.rfind("mailto:", 0) != 0);
      target = target.substr(0, target.find('#'));
      const fs::path p = fs::weakly_canonical(f.parent_path() / target);
      const std::string rel = fs::relative(p, fs::canonical(root)).string();
      CHECK(rel.rfind("..", 0) != 0);  // not outside the checkout
      CHECK(fs::exists(p));
    }
  }
  CHECK(links > 10);
}
