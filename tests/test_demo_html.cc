// Description: `demo --html` writes one self-contained page: no external
// resource, the recorded trace embedded and readable, a lane picture per
// story with its verdict lines beside it, the arrows; it refuses a bad path
// before running anything; and a headless browser runs its script without
// an error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/demo_html_lanes.h"
#include "util.h"

using namespace iomodels;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// The trace the page embeds, parsed.
nlohmann::json embedded_trace(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"trace\">";
  const size_t a = page.find(open);
  REQUIRE(a != std::string::npos);
  const size_t b = page.find("</script>", a);
  REQUIRE(b != std::string::npos);
  return nlohmann::json::parse(page.substr(a + open.size(), b - a - open.size()));
}

// What any page must be: one file, nothing fetched, the trace readable and
// holding every story, each story drawn with its lanes, arrows and verdict.
void check_page(const std::string& page, const std::vector<std::string>& titles,
                const std::vector<std::string>& verdicts) {
  CHECK(page.find("<html") != std::string::npos);
  // Nothing from elsewhere: no URL with a scheme, no linked file.
  CHECK(page.find("http://") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  CHECK(page.find("<script src") == std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  CHECK(page.find("@import") == std::string::npos);
  CHECK(page.find("iomodels demo --html FILE") != std::string::npos);
  const nlohmann::json trace = embedded_trace(page);
  std::vector<std::string> story_slices;
  for (const auto& e : trace.at("traceEvents"))
    if (e.at("ph") == "X" && e.value("cat", "") == "story" &&
        e.at("name").get<std::string>().rfind("story: ", 0) == 0)
      story_slices.push_back(e.at("name"));
  CHECK(story_slices.size() == titles.size());
  for (const std::string& t : titles) {
    INFO("story " << t);
    CHECK(std::find(story_slices.begin(), story_slices.end(), "story: " + t) != story_slices.end());
    CHECK(page.find("<svg class=\"timeline\" data-story=\"" + cli::html_escape(t) + "\"") !=
          std::string::npos);
  }
  for (const std::string& v : verdicts) {
    INFO("verdict line: " << v);
    CHECK(page.find("<li>" + cli::html_escape(v) + "</li>") != std::string::npos);
  }
  // Every story's request → data ready → used (two arrows each), and the
  // trace's own flow arrows (one download per story, and the thread's
  // hand-off and result).
  CHECK(count(page, "<path class=\"arrow\" d=") == 2 * titles.size());
  CHECK(count(page, "<path class=\"flow\" d=") >= titles.size() + 2);
  // Each kind of slice, with its pattern, and hover details.
  for (const char* kind : {"run", "sleep", "spin", "sys"}) {
    INFO(kind);
    CHECK(page.find(std::string("class=\"s s-") + kind + "\"") != std::string::npos);
    CHECK(page.find(std::string("<pattern id=\"p-") + kind + "\"") != std::string::npos);
  }
  CHECK(page.find("<title>read · ") != std::string::npos);
  CHECK(page.find("<ul class=\"legend\">") != std::string::npos);
}

}  // namespace

TEST_CASE("demo --html writes one self-contained page of the stories", "[demo]") {
  test::TempDir dir("demo_html");
  const std::string page_path = dir.file("demo.html");
  // As text: the page holds the same verdict sentences the console printed.
  auto r = test::run_iomodels("demo -l 30ms -w 10ms --color never --html " + page_path);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("page: " + page_path) != std::string::npos);
  std::vector<std::string> printed;
  for (size_t at = r.out.find("  → "); at != std::string::npos; at = r.out.find("  → ", at + 1)) {
    const size_t from = at + std::string("  → ").size();
    const std::string line = r.out.substr(from, r.out.find('\n', from) - from);
    // The race's own → lines are told as a table on the page.
    if (line.find("both finished") == std::string::npos) printed.push_back(line);
  }
  CHECK(printed.size() >= 7 * 3);
  const std::string page = slurp(page_path);
  std::vector<std::string> titles;
  for (size_t at = 0; (at = page.find("<section class=\"story\"", at)) != std::string::npos; ++at) {
    const size_t a = page.find("data-title=\"", at) + 12;
    titles.push_back(page.substr(a, page.find('"', a) - a));
  }
  CHECK(titles.size() == 7);
  check_page(page, titles, printed);
  CHECK(page.find("id=\"race\"") != std::string::npos);  // -l 30ms: the race ran

  // With --json and --trace too: the page embeds the very trace --trace wrote.
  const std::string trace_path = dir.file("demo.json");
  r = test::run_iomodels("demo -l 30ms -w 10ms --json --html " + page_path + " --trace " +
                         trace_path);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc.at("html").at("path") == page_path);
  std::vector<std::string> json_titles, verdicts;
  for (const auto& s : doc.at("stories")) {
    json_titles.push_back(s.at("title"));
    for (const auto& v : s.at("verdict")) verdicts.push_back(v);
  }
  const std::string page2 = slurp(page_path);
  check_page(page2, json_titles, verdicts);
  CHECK(embedded_trace(page2) == test::read_json(trace_path));
}

TEST_CASE("demo --html refuses a bad path before running anything", "[demo]") {
  test::TempDir dir("demo_html_bad");
  struct Bad {
    std::string args, says;
  };
  const std::vector<Bad> bad = {
      {"--html /nonexistent-dir/x.html", "--html"},
      {"--html " + dir.path, "--html"},  // a directory
      {"--html " + dir.file("same") + " --trace " + dir.file("same"), "--trace and --html"},
  };
  for (const Bad& b : bad) {
    const auto r = test::run_iomodels("demo -l 30ms -w 10ms --color never " + b.args);
    INFO(b.args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("error: " + b.says) != std::string::npos);
    CHECK(r.out.find("The download() story") == std::string::npos);  // nothing ran
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') <= 1);
  }
}

TEST_CASE("demo --html's page runs in a headless browser without an error", "[demo][tools]") {
  std::string browser;
  for (const char* name : {"chromium", "chromium-browser"})
    if (test::run_shell(std::string("command -v ") + name).exit_code == 0) {
      browser = name;
      break;
    }
  if (browser.empty()) test::skip("chromium not installed");
  test::TempDir dir("demo_html_browser");
  const std::string page_path = dir.file("demo.html");
  auto r = test::run_iomodels("demo -l 30ms -w 10ms --color never --html " + page_path);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const std::string page = slurp(page_path);
  std::vector<std::string> titles;
  for (size_t at = 0; (at = page.find("data-title=\"", at)) != std::string::npos; ++at) {
    const size_t a = at + 12;
    titles.push_back(page.substr(a, page.find('"', a) - a));
  }
  REQUIRE(titles.size() == 7);
  // A profile of its own, so that the test leaves nothing in $HOME.
  const std::string flags =
      browser + " --headless --disable-gpu --no-sandbox --user-data-dir=" + dir.file("profile") +
      " --enable-logging=stderr --v=0 ";
  const auto dom =
      test::run_shell(flags + "--virtual-time-budget=2000 --dump-dom file://" + page_path);
  INFO(dom.out.substr(0, 3000));
  REQUIRE(dom.exit_code == 0);
  // The script ran: it summarised the embedded trace and made the file link.
  CHECK(dom.out.find("Drawn from the ") != std::string::npos);
  CHECK(dom.out.find("id=\"trace-file\"") != std::string::npos);
  CHECK(dom.out.find("data-trace-events=\"") != std::string::npos);
  // And said nothing on the console: no uncaught exception, no message.
  CHECK(dom.out.find("Uncaught") == std::string::npos);
  CHECK(dom.out.find(":CONSOLE") == std::string::npos);
  for (const std::string& t : titles) {
    INFO("story " << t);
    CHECK(dom.out.find("data-story=\"" + t + "\"") != std::string::npos);
  }
  const std::string png = dir.file("page.png");
  const auto shot = test::run_shell(flags + "--screenshot=" + png +
                                    " --window-size=1400,1000 file://" + page_path);
  INFO(shot.out.substr(0, 3000));
  REQUIRE(shot.exit_code == 0);
  const std::string image = slurp(png);
  CHECK(image.size() > 10'000);
  CHECK(image.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
}
