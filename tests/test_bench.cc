// Description: `iomodels bench` end to end: a tiny grid through the real
// binary, its Google Benchmark JSON and spectra, bad flags, and tools/plot.py
// (with and without repetitions).
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace {

off_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

test::CommandResult run_plot(const std::string& args) {
  return test::run_shell("/usr/bin/python3 " + std::string(IOMODELS_SOURCE_DIR) +
                         "/tools/plot.py " + args);
}

const char* const kCounters[] = {"items_per_second",
                                 "bytes_per_second",
                                 "cpu_util",
                                 "cpu_us_per_req",
                                 "cpu_user_us_per_req",
                                 "cpu_sys_us_per_req",
                                 "syscalls_per_req",
                                 "eagain_per_req",
                                 "ctx_per_req",
                                 "p50_us",
                                 "p90_us",
                                 "p99_us",
                                 "p999_us",
                                 "max_us",
                                 "peer_late_p99_us",
                                 "peer_cpu_util"};

}  // namespace

TEST_CASE("bench runs a tiny grid into Google Benchmark JSON and plot.py draws it", "[bench]") {
  const test::TempDir tmp_dir("iomodels_bench");
  const std::string& dir = tmp_dir.path;
  const std::string out = dir + "/bench.json", spectra = dir + "/spectra.json";
  const test::CommandResult r = test::run_iomodels(
      "bench --models polling,epoll --connections 8 --latencies 1ms --benchmark_min_time=0.01 "
      "--benchmark_out=" +
      out + " --benchmark_out_format=json --latency-out " + spectra);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);

  const json doc = test::read_json(out);
  const json& ctx = doc.at("context");
  for (const char* key : {"kernel", "cores", "io_uring", "cpu", "mitigations", "iomodels_version"})
    CHECK(ctx.contains(key));

  const std::regex scheme(R"(^(polling|epoll)/socketpair/conns:8/size:4096/lat_us:1000(/.*)?$)");
  std::map<std::string, json> by_model;
  for (const json& b : doc.at("benchmarks")) {
    const std::string name = b.at("name");
    INFO(name);
    CHECK(std::regex_match(name, scheme));
    CHECK_FALSE(b.value("error_occurred", false));
    for (const char* key : kCounters) {
      INFO(key);
      CHECK(b.contains(key));
    }
    CHECK(b.at("label").get<std::string>().rfind(
              name.rfind("polling", 0) == 0 ? "sync-nonblocking" : "async-nonblocking", 0) == 0);
    by_model[name.substr(0, name.find('/'))] = b;
  }
  REQUIRE(by_model.count("polling") == 1);
  REQUIRE(by_model.count("epoll") == 1);
  // Polling spins through the 1 ms waits; epoll sleeps in epoll_wait.
  const double polling = by_model["polling"].at("cpu_util"),
               epoll = by_model["epoll"].at("cpu_util");
  // (Generous: the machine is shared, so polling may not get its whole core.)
  CHECK(polling > 2 * epoll);
  CHECK(by_model["polling"].at("eagain_per_req").get<double>() > 1);
  CHECK(by_model["epoll"].at("eagain_per_req").get<double>() < 1);
  // Every request waited about 1 ms at the peer.
  CHECK(by_model["epoll"].at("p50_us").get<double>() >= 900);

  const json sp = test::read_json(spectra);
  CHECK(sp.at("environment").contains("kernel"));
  for (const char* base : {"polling/socketpair/conns:8/size:4096/lat_us:1000",
                           "epoll/socketpair/conns:8/size:4096/lat_us:1000"}) {
    INFO(base);
    REQUIRE(sp.at("spectra").contains(base));
    const json& s = sp["spectra"][base];
    REQUIRE(s.size() > 1);
    CHECK(s.back().at("fraction").get<double>() == Approx(1.0));
  }

  const std::string plots = dir + "/plots";
  const test::CommandResult p = run_plot(out + " --spectra " + spectra + " --out " + plots);
  INFO(p.out);
  REQUIRE(p.exit_code == 0);
  for (const char* name : {"cpu_waste", "map_2x2", "latency", "scaling"}) {
    INFO(name);
    CHECK(file_size(plots + "/" + name + ".png") > 1000);
    CHECK(file_size(plots + "/" + name + ".svg") > 1000);
  }

  // Bad input: a one-line error and exit code 2.
  {
    std::ofstream(dir + "/garbage.json") << "this is not json {";
    std::ofstream(dir + "/empty.json");
    std::ofstream(dir + "/nobench.json") << R"({"context": {}, "benchmarks": []})";
  }
  for (const char* bad : {"garbage.json", "empty.json", "nobench.json", "missing.json"}) {
    INFO(bad);
    const test::CommandResult b = run_plot(dir + "/" + bad + " --out " + dir + "/bad");
    CHECK(b.exit_code == 2);
    CHECK(std::count(b.out.begin(), b.out.end(), '\n') == 1);
    CHECK(b.out.rfind("plot.py: error:", 0) == 0);
  }
  test::run_shell("rm -rf " + dir);
}

TEST_CASE("bench reports a not-applicable point as an error and still runs the rest",
          "[bench][heavy]") {
  const test::TempDir tmp_dir("iomodels_bench");
  const std::string& dir = tmp_dir.path;
  const std::string out = dir + "/bench.json";
  // select cannot watch fds >= FD_SETSIZE (1024): 1100 connections need them.
  const test::CommandResult r = test::run_iomodels(
      "bench --models select,epoll --connections 1100 --latencies 0 "
      "--benchmark_min_time=0.01 --benchmark_out=" +
      out + " --benchmark_out_format=json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const json doc = test::read_json(out);
  REQUIRE(doc.at("benchmarks").size() == 2);
  const json& sel = doc["benchmarks"][0];
  const json& ep = doc["benchmarks"][1];
  CHECK(sel.at("name").get<std::string>().rfind("select/", 0) == 0);
  CHECK(sel.value("error_occurred", false));
  CHECK(sel.value("error_message", "").find("not applicable") != std::string::npos);
  CHECK(sel.value("error_message", "").find('\n') == std::string::npos);
  CHECK_FALSE(ep.value("error_occurred", false));
  CHECK(ep.at("items_per_second").get<double>() > 0);

  // plot.py leaves the errored point out and says so.
  const test::CommandResult p = run_plot(out + " --out " + dir + "/plots");
  INFO(p.out);
  CHECK(p.exit_code == 0);
  CHECK(p.out.find("left out") != std::string::npos);
  CHECK(file_size(dir + "/plots/cpu_waste.png") > 1000);
  test::run_shell("rm -rf " + dir);
}

TEST_CASE("bench rejects bad flags with exit code 2 and a one-line message", "[bench]") {
  for (const char* args :
       {"--connections 0", "--latencies 5xs", "--connections 1,,2", "--models nosuch", "--sizes 0",
        "--transports carrier-pigeon", "--timeout 0", "--log-level loud", "--no-such-flag",
        "--latencies 500ns,0"}) {
    INFO(args);
    const test::CommandResult r = test::run_iomodels(std::string("bench ") + args);
    INFO(r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    CHECK(r.out.rfind("iomodels: error:", 0) == 0);
  }
}

TEST_CASE("bench --help explains the grid and the passthrough", "[bench]") {
  const test::CommandResult r = test::run_iomodels("bench --help");
  CHECK(r.exit_code == 0);
  for (const char* s : {"--models", "--connections", "--latencies", "--latency-out",
                        "--benchmark_filter", "--benchmark_min_time", "lat_us"}) {
    INFO(s);
    CHECK(r.out.find(s) != std::string::npos);
  }
}

TEST_CASE("plot.py draws medians with their 95% intervals and marks unresolved points",
          "[bench][tools]") {
  // Two points of six repetitions each, as iomodels bench writes them: the
  // runs, then the median aggregate with the interval of each median (with six
  // repetitions their min and max, *_lo and *_hi) and whether the point is
  // resolved; epoll's CPU per request spreads by 18% around its median
  // (unresolved), uring's by under 1% (resolved).
  const test::TempDir dir("iomodels_plot");
  json benchmarks = json::array();
  const auto row = [](const std::string& model, double cpu, double rate) {
    const std::string name =
        model + "/socketpair/conns:8/size:4096/lat_us:0/process_time/real_time/threads:1";
    return json{{"name", name},
                {"run_name", name},
                {"run_type", "iteration"},
                {"repetitions", 6},
                {"iterations", 100},
                {"time_unit", "us"},
                {"real_time", 8e6 / rate},
                {"cpu_time", 8 * cpu},
                {"items_per_second", rate},
                {"cpu_util", cpu * rate / 1e6},
                {"cpu_us_per_req", cpu},
                {"cpu_user_us_per_req", cpu / 4},
                {"cpu_sys_us_per_req", cpu * 3 / 4},
                {"p50_us", 50},
                {"p99_us", 90},
                {"others_cores", 0.01},
                {"events_per_wait", 1},
                {"label", "async-nonblocking"}};
  };
  for (const auto& [model, cpus, resolved] :
       {std::tuple{"epoll", std::vector<double>{5, 6.5, 5.2, 5.8, 4.6, 6.1}, 0},
        std::tuple{"uring", std::vector<double>{3, 3.03, 2.98, 3.01, 2.99, 3.02}, 1}}) {
    for (double cpu : cpus) benchmarks.push_back(row(model, cpu, 1e6 / cpu / 8));
    std::vector<double> sorted = cpus;
    std::sort(sorted.begin(), sorted.end());
    const double cpu = (sorted[2] + sorted[3]) / 2;
    json median = row(model, cpu, 1e6 / cpu / 8);
    median["name"] = median["name"].get<std::string>() + "_median";
    median["run_type"] = "aggregate";
    median["aggregate_name"] = "median";
    median["iterations"] = 6;
    median["resolved"] = resolved;
    median["cpu_us_per_req_lo"] = sorted.front();
    median["cpu_us_per_req_hi"] = sorted.back();
    median["items_per_second_lo"] = 1e6 / sorted.back() / 8;
    median["items_per_second_hi"] = 1e6 / sorted.front() / 8;
    benchmarks.push_back(median);
  }
  const std::string in = dir.file("bench.json");
  std::ofstream(in) << json{{"context", {{"precision", "5"}}}, {"benchmarks", benchmarks}};

  const std::string plots = dir.file("plots");
  const test::CommandResult p = run_plot(in + " --out " + plots);
  INFO(p.out);
  REQUIRE(p.exit_code == 0);
  for (const char* name : {"cpu_waste", "map_2x2", "scaling"}) {
    INFO(name);
    CHECK(file_size(plots + "/" + name + ".png") > 1000);
    // matplotlib keeps each text of an SVG as a comment beside its outlines.
    std::ifstream f(plots + "/" + name + ".svg");
    const std::string svg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(svg.find("unresolved (95% interval beyond ±5%)") != std::string::npos);
    CHECK(svg.find("the median of 6 repetitions; error bars: its 95% interval (order "
                   "statistics)") != std::string::npos);
    CHECK(svg.find("1 of 2 points") != std::string::npos);
  }
}
