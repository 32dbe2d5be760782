// Description: calibrate's pieces without fio or sockperf: fio's command line
// and JSON, sockperf's command lines and summary text, the medians, ratios and
// goals, the report's JSON, and the process runner with its time limit.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "calibrate/fio.h"
#include "calibrate/process.h"
#include "calibrate/report.h"
#include "calibrate/sockperf.h"
#include "calibrate/stats.h"

using namespace iomodels;
using namespace iomodels::calibrate;
using nlohmann::json;

namespace {

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

// True once `pid` is gone or a zombie: a killed process that nobody reaped
// yet (its parent was the shell we killed with it) is still dead.
bool dead_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string id, comm, state;
    if (!(f >> id >> comm >> state) || state == "Z") return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// What `fio --output-format=json --lat_percentiles=1 --percentile_list=50:99`
// printed for a 50 ms psync run here (fio-3.33), cut to the fields calibrate
// reads and a few it does not, after a note line as fio sometimes prints.
// lat_ns (issue to completion) and clat_ns (completion only) differ at p50,
// so reading the wrong one shows.
const char* const kFioOutput = R"(note: both iodepth >= 1 and synchronous I/O engine are selected
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "calibrate",
      "groupid" : 0,
      "error" : 0,
      "job_runtime" : 51,
      "read" : {
        "io_bytes" : 59834368,
        "bw" : 1097306,
        "iops" : 280923.076923,
        "runtime" : 52,
        "total_ios" : 14608,
        "clat_ns" : {
          "min" : 1012, "max" : 40118, "mean" : 1765.2,
          "percentile" : { "50.000000" : 1704, "99.000000" : 2640 }
        },
        "lat_ns" : {
          "min" : 1043, "max" : 40231, "mean" : 1797.9,
          "percentile" : { "50.000000" : 1736, "99.000000" : 2672 }
        }
      },
      "usr_cpu" : 15.686275,
      "sys_cpu" : 43.137255,
      "ctx" : 5
    }
  ]
}
)";

// What `sockperf pp --tcp -i 127.0.0.1 -p PORT -t 1 -m 64 --full-rtt`
// (sockperf 3.7) printed here, colour codes included. 99.000 sits between
// 99.900 and 90.000, so a loose pattern picks a neighbour.
const char* const kSockperfOutput =
    "sockperf: \x1b[2;35m== version #3.7-no.git == \x1b[0m\n"
    "sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)\n"
    "\n"
    "[ 0] IP = 127.0.0.1       PORT = 23456 # TCP\n"
    "sockperf: Warmup stage (sending a few dummy messages)...\n"
    "sockperf: Starting test...\n"
    "sockperf: Test end (interrupted by timer)\n"
    "sockperf: Test ended\n"
    "sockperf: [Total Run] RunTime=1.001 sec; Warm up time=400 msec; SentMessages=50196; "
    "ReceivedMessages=50195\n"
    "sockperf: ========= Printing statistics for Server No: 0\n"
    "sockperf: [Valid Duration] RunTime=0.550 sec; SentMessages=28490; ReceivedMessages=28490\n"
    "sockperf: \x1b[2;35m====> avg-rtt=19.295 (std-dev=7.889)\x1b[0m\n"
    "sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0\n"
    "sockperf: Summary: Round trip is 19.295 usec\n"
    "sockperf: \x1b[2;35mTotal 28490 observations\x1b[0m; each percentile contains 284.90 "
    "observations\n"
    "sockperf: ---> <MAX> observation =  329.986\n"
    "sockperf: ---> percentile 99.999 =  329.986\n"
    "sockperf: ---> percentile 99.990 =  172.347\n"
    "sockperf: ---> percentile 99.900 =   85.001\n"
    "sockperf: ---> percentile 99.000 =   59.873\n"
    "sockperf: ---> percentile 90.000 =   19.116\n"
    "sockperf: ---> percentile 75.000 =   18.164\n"
    "sockperf: ---> percentile 50.000 =   17.783\n"
    "sockperf: ---> percentile 25.000 =   17.553\n"
    "sockperf: ---> <MIN> observation =   16.431\n";

Sample sample(double ops_per_s, double p50_us, double p99_us, double cpu_us_per_op) {
  Sample s;
  s.ops_per_s = ops_per_s;
  s.p50_us = p50_us;
  s.p99_us = p99_us;
  s.cpu_us_per_op = cpu_us_per_op;
  return s;
}

}  // namespace

TEST_CASE("calibrate units: fio's command line for an io_uring job", "[calibrate]") {
  FioJob j;
  j.engine = "io_uring";
  j.qd = 16;
  j.path = "/dev/shm/iomodels-calibrate-1.data";
  j.file_bytes = 256ull << 20;
  j.block = 8192;
  j.budget_ns = 1'500'000'000;
  const std::vector<std::string> a = fio_argv("/usr/bin/fio", j);
  REQUIRE(!a.empty());
  CHECK(a[0] == "/usr/bin/fio");
  CHECK(has(a, "--ioengine=io_uring"));
  CHECK(has(a, "--iodepth=16"));
  CHECK_FALSE(has(a, "--numjobs=16"));
  // Threads of one process, as iomodels' threads are.
  CHECK(has(a, "--thread"));
  CHECK(has(a, "--filename=/dev/shm/iomodels-calibrate-1.data"));
  CHECK(has(a, "--size=268435456"));
  CHECK(has(a, "--bs=8192"));
  CHECK(has(a, "--blockalign=4096"));
  CHECK(has(a, "--rw=randread"));
  CHECK(has(a, "--readonly"));
  CHECK(has(a, "--time_based"));
  CHECK(has(a, "--runtime=1500ms"));
  CHECK(has(a, "--output-format=json"));
  CHECK(has(a, "--percentile_list=50:99"));
}

TEST_CASE("calibrate units: fio psync runs one job per read in flight", "[calibrate]") {
  FioJob j;
  j.engine = "psync";
  j.qd = 4;
  j.path = "/tmp/data";
  j.file_bytes = 1 << 20;
  j.budget_ns = 0;  // below a millisecond: fio still gets 1 ms
  const std::vector<std::string> a = fio_argv("fio", j);
  CHECK(has(a, "--ioengine=psync"));
  CHECK(has(a, "--numjobs=4"));
  CHECK_FALSE(has(a, "--iodepth=4"));
  CHECK(has(a, "--bs=4096"));
  CHECK(has(a, "--runtime=1ms"));
}

TEST_CASE("calibrate units: fio's JSON read into a sample", "[calibrate]") {
  ToolRun r;
  r.exit_code = 0;
  r.out = kFioOutput;
  r.user_s = 0.02;
  r.sys_s = 0.04;

  SECTION("process CPU less start-up, above the job thread's own figure") {
    Sample s;
    const Status st = fio_sample(r, 0.01, &s);
    INFO(st.message());
    REQUIRE(st.ok());
    CHECK(s.ops == 14608);
    CHECK(s.ops_per_s == Approx(280923.076923));
    CHECK(s.wall_s == Approx(0.052));
    // lat_ns, not clat_ns.
    CHECK(s.p50_us == Approx(1.736));
    CHECK(s.p99_us == Approx(2.672));
    // 0.06 s of process CPU less 0.01 s of start-up, over 14608 reads.
    CHECK(s.cpu_us_per_op == Approx(0.05e6 / 14608));
    CHECK(s.extra.at("process_cpu_s").get<double>() == Approx(0.06));
    CHECK(s.extra.at("startup_cpu_s").get<double>() == Approx(0.01));
    // usr 15.69% + sys 43.14% of 51 ms = 30 ms.
    CHECK(s.extra.at("job_thread_cpu_us_per_op").get<double>() == Approx(0.03e6 / 14608));
    CHECK(s.extra.at("ctx").get<double>() == 5);
  }
  SECTION("never below the job threads' own CPU") {
    Sample s;
    REQUIRE(fio_sample(r, 0.05, &s).ok());
    CHECK(s.cpu_us_per_op == Approx(0.03e6 / 14608));
  }
  SECTION("clat_ns where lat_ns has no percentiles") {
    json doc = json::parse(r.out.substr(r.out.find('{')));
    doc["jobs"][0]["read"]["lat_ns"].erase("percentile");
    r.out = doc.dump();
    Sample s;
    REQUIRE(fio_sample(r, 0.01, &s).ok());
    CHECK(s.p50_us == Approx(1.704));
    CHECK(s.p99_us == Approx(2.64));
  }
  SECTION("a failed job is an error naming fio's error code") {
    json doc = json::parse(r.out.substr(r.out.find('{')));
    doc["jobs"][0]["error"] = 5;
    r.out = doc.dump();
    r.err = "fio: pid=0, err=5/file:io_u.c:1841, func=io_u error, error=Input/output error\n";
    Sample s;
    const Status st = fio_sample(r, 0, &s);
    CHECK_FALSE(st.ok());
    CHECK(st.message().rfind("fio job failed with error 5: fio: pid=0", 0) == 0);
  }
  SECTION("output without JSON is an error") {
    r.out = "fio: option <rw> outside of [] job section\n";
    Sample s;
    const Status st = fio_sample(r, 0, &s);
    CHECK_FALSE(st.ok());
    CHECK(st.message() == "fio printed no JSON result: fio: option <rw> outside of [] job section");
  }
}

TEST_CASE("calibrate units: sockperf's command lines", "[calibrate]") {
  CHECK(sockperf_client_argv("sockperf", SockperfWait::kRecv, 40123, -1, 2, 64) ==
        std::vector<std::string>{"sockperf", "pp", "--tcp", "-i", "127.0.0.1", "-p", "40123", "-t",
                                 "2", "-m", "64", "--full-rtt"});
  CHECK(sockperf_server_argv("sockperf", SockperfWait::kRecv, 40123, -1) ==
        std::vector<std::string>{"sockperf", "sr", "--tcp", "-i", "127.0.0.1", "-p", "40123"});
  // The epoll mode names its connection list by the inherited fd.
  CHECK(sockperf_server_argv("/opt/sockperf", SockperfWait::kEpoll, 40123, 7) ==
        std::vector<std::string>{"/opt/sockperf", "sr", "-f", "/dev/fd/7", "-F", "e"});
  CHECK(sockperf_client_argv("sockperf", SockperfWait::kEpoll, 40123, 7, 1, 1024) ==
        std::vector<std::string>{"sockperf", "pp", "-f", "/dev/fd/7", "-F", "e", "-t", "1", "-m",
                                 "1024", "--full-rtt"});
  CHECK(sockperf_command("sockperf", SockperfWait::kRecv, 3, 64) ==
        "sockperf sr --tcp -i 127.0.0.1 -p PORT & sockperf pp --tcp -i 127.0.0.1 -p PORT -t 3 "
        "-m 64 --full-rtt");
}

TEST_CASE("calibrate units: sockperf's summary read into a sample", "[calibrate]") {
  ToolRun r;
  r.exit_code = 0;
  r.out = kSockperfOutput;
  r.user_s = 0.3;
  r.sys_s = 0.5;

  SECTION("the valid window's messages, the percentiles, CPU per message sent") {
    Sample s;
    const Status st = sockperf_sample(r, &s);
    INFO(st.message());
    REQUIRE(st.ok());
    CHECK(s.ops == 28490);
    CHECK(s.wall_s == Approx(0.55));
    CHECK(s.ops_per_s == Approx(28490 / 0.55));
    CHECK(s.p50_us == Approx(17.783));
    CHECK(s.p99_us == Approx(59.873));
    // The client's whole life over every message it sent, warm-up included.
    CHECK(s.cpu_us_per_op == Approx(0.8e6 / 50196));
    CHECK(s.extra.at("cpu_user_us_per_op").get<double>() == Approx(0.3e6 / 50196));
    CHECK(s.extra.at("cpu_sys_us_per_op").get<double>() == Approx(0.5e6 / 50196));
    CHECK(s.extra.at("messages_sent").get<double>() == 50196);
  }
  SECTION("the summary on stderr reads the same") {
    r.err = r.out;
    r.out.clear();
    Sample s;
    REQUIRE(sockperf_sample(r, &s).ok());
    CHECK(s.p99_us == Approx(59.873));
  }
  SECTION("a summary without percentiles is an error") {
    const std::string text = r.out;
    r.out = text.substr(0, text.find("sockperf: ---> <MAX>"));
    Sample s;
    const Status st = sockperf_sample(r, &s);
    CHECK_FALSE(st.ok());
    CHECK(st.message().rfind("sockperf printed no result: ", 0) == 0);
  }
  SECTION("a number after a pattern") {
    double v = 0;
    CHECK(sockperf_number(kSockperfOutput, R"(avg-rtt=([0-9.]+))", &v));
    CHECK(v == Approx(19.295));
    CHECK_FALSE(sockperf_number(kSockperfOutput, R"(percentile 12\.000 =\s*([0-9.]+))", &v));
  }
}

TEST_CASE("calibrate units: medians, ratios and goals", "[calibrate]") {
  CHECK(median({}) == 0);
  CHECK(median({7}) == 7);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({5, 100, 1, 4, 3}) == 4);
  CHECK(median({4, 1, 3, 2}) == 2.5);
  CHECK(median({10, 20}) == 15);

  // Each figure's median on its own: no sample is the median of all four.
  const Medians m = medians({sample(100, 9, 90, 1), sample(300, 7, 70, 3), sample(200, 8, 80, 2)});
  CHECK(m.ops_per_s == 200);
  CHECK(m.p50_us == 8);
  CHECK(m.p99_us == 80);
  CHECK(m.cpu_us_per_op == 2);
  const Medians even = medians({sample(100, 1, 10, 4), sample(200, 3, 30, 2)});
  CHECK(even.ops_per_s == 150);
  CHECK(even.p50_us == 2);
  CHECK(even.p99_us == 20);
  CHECK(even.cpu_us_per_op == 3);

  CHECK(ratio(3, 2) == 1.5);
  CHECK(ratio(3, 0) == 0);

  Medians ours, theirs;
  ours.ops_per_s = 1000;
  theirs.ops_per_s = 1000;
  CHECK(goal_met(Goal::kOps, ours, theirs));
  ours.ops_per_s = 990;
  CHECK_FALSE(goal_met(Goal::kOps, ours, theirs));
  ours.p50_us = 21;
  theirs.p50_us = 20;
  CHECK(goal_met(Goal::kP50, ours, theirs));
  ours.p50_us = 21.2;
  CHECK_FALSE(goal_met(Goal::kP50, ours, theirs));
}

TEST_CASE("calibrate units: paired ratios judge a goal by their interval", "[calibrate]") {
  // Each pair: iomodels' ops/s and p50 at `k` times the tool's.
  auto pairs = [](std::vector<double> k) {
    std::vector<Sample> ours, theirs;
    for (size_t i = 0; i < k.size(); ++i) {
      const double base = 1000 + 37.0 * static_cast<double>(i);  // the machine drifts
      theirs.push_back(sample(base, 10, 40, 2));
      ours.push_back(sample(base * k[i], 10 * k[i], 40, 2));
    }
    return std::pair{ours, theirs};
  };
  auto judge = [](Goal g, const std::pair<std::vector<Sample>, std::vector<Sample>>& p) {
    return judge_goal(g, paired_ratios(p.first, p.second), medians(p.first), medians(p.second));
  };
  const auto ahead = pairs({1.2, 1.25, 1.18, 1.22, 1.3, 1.21});
  const PairedRatios r = paired_ratios(ahead.first, ahead.second);
  CHECK(r.ops_per_s.s.n == 6);
  CHECK(r.ops_per_s.s.median == Approx(1.215));
  CHECK(r.ops_per_s.s.lo == Approx(1.18));  // 6 pairs: the range
  CHECK(r.ops_per_s.s.hi == Approx(1.3));
  CHECK(paired_word(r.ops_per_s) == "higher");
  CHECK(paired_word(r.p99_us) == "tie");
  GoalVerdict g = judge(Goal::kOps, ahead);
  CHECK(g.met);
  CHECK(g.word == "met");
  CHECK(g.by == "interval");
  // The medians' ratio is above 1, but the pairs' interval holds it.
  g = judge(Goal::kOps, pairs({0.9, 1.1, 1.08, 1.05, 0.97, 1.12}));
  CHECK_FALSE(g.met);
  CHECK(g.word.find("undecided") == 0);
  g = judge(Goal::kOps, pairs({0.8, 0.85, 0.9, 0.82, 0.88, 0.95}));
  CHECK_FALSE(g.met);
  CHECK(g.word == "NOT met");
  // p50 within 1.05×: lower is the goal's side.
  CHECK(judge(Goal::kP50, pairs({0.98, 1.0, 1.02, 0.99, 1.01, 1.0})).met);
  CHECK(judge(Goal::kP50, pairs({1.1, 1.2, 1.15, 1.12, 1.3, 1.08})).word == "NOT met");
  // Three pairs give no 95% interval: the medians decide, and the verdict says so.
  g = judge(Goal::kOps, pairs({1.2, 1.1, 1.3}));
  CHECK(g.met);
  CHECK(g.by == "medians");
  CHECK(g.word.find("on the medians alone (3 pairs; 6 give a 95% interval)") != std::string::npos);
  CHECK(paired_word(
            paired_ratios(pairs({1.2, 1.1, 1.3}).first, pairs({1.2, 1.1, 1.3}).second).ops_per_s) ==
        "none");
}

TEST_CASE("calibrate units: a row's JSON", "[calibrate]") {
  Row r;
  r.part = "fio";
  r.qd = 16;
  r.model = "uring";
  r.tool = "fio io_uring, iodepth 16";
  r.goal_text = "iomodels / fio ops/s >= 1.0";
  r.goal = Goal::kOps;
  r.ours = {sample(120, 10, 40, 2), sample(100, 12, 44, 3), sample(110, 11, 42, 4)};
  r.theirs = {sample(100, 10, 40, 2), sample(100, 10, 40, 2), sample(100, 10, 40, 2)};
  r.ours[0].extra = {{"syscalls_per_op", 1.5}};

  json j = row_json(r);
  CHECK(j.at("qd") == 16);
  CHECK(j.at("step") == "batch");
  CHECK(j.at("iomodels").at("median").at("ops_per_s") == 110);
  CHECK(j.at("iomodels").at("samples").size() == 3);
  CHECK(j.at("iomodels").at("samples").at(0).at("syscalls_per_op") == 1.5);
  CHECK(j.at("ratio").at("ops_per_s").get<double>() == Approx(1.1));
  CHECK(j.at("ratio").at("p50_us").get<double>() == Approx(1.1));
  CHECK(j.at("ratio").at("cpu_us_per_op").get<double>() == Approx(1.5));
  CHECK(j.at("goal").at("met") == true);
  CHECK(j.at("goal").at("by") == "medians");  // 3 pairs
  CHECK(j.at("paired_ratio").at("ops_per_s").at("median").get<double>() == Approx(1.1));
  CHECK(j.at("paired_ratio").at("ops_per_s").at("verdict") == "none");

  r.failed = "not applicable: io_uring is not available";
  r.not_applicable = true;
  j = row_json(r);
  CHECK(j.at("not_applicable") == r.failed);
  CHECK_FALSE(j.contains("failed"));
  CHECK_FALSE(j.contains("ratio"));
}

TEST_CASE("calibrate units: a tool's output and exit status", "[calibrate]") {
  const ToolRun r =
      run_tool({"/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"}, 10'000'000'000ull);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.timed_out);
  CHECK(r.out == "hi\n");
  CHECK(r.err == "oops\n");
  CHECK(r.wall_s > 0);
  CHECK(r.wall_s < 10);
  CHECK(tool_failure("sh", r) == "sh exited with 3: oops");

  const ToolRun missing = run_tool({"/no/such/tool"}, 10'000'000'000ull);
  CHECK(missing.exit_code == 127);
  CHECK(missing.err.find("cannot run /no/such/tool") != std::string::npos);
}

TEST_CASE("calibrate units: a tool past its time limit is killed with its children",
          "[calibrate]") {
  // The shell's child prints its pid: it is in the tool's process group and
  // must die with the shell.
  const ToolRun r = run_tool({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, 300'000'000);
  CHECK(r.timed_out);
  CHECK(r.exit_code == 128 + SIGKILL);
  CHECK(r.wall_s >= 0.3);
  CHECK(r.wall_s < 5);
  CHECK(tool_failure("sh", r) == "sh did not finish in time and was killed");
  const pid_t sleeper = static_cast<pid_t>(std::stol(r.out));
  REQUIRE(sleeper > 0);
  CHECK(dead_within(sleeper, std::chrono::milliseconds(2000)));
}

TEST_CASE("calibrate units: finding a tool on PATH", "[calibrate]") {
  const std::string sh = find_executable("sh");
  REQUIRE_FALSE(sh.empty());
  CHECK(sh.size() > 3);
  CHECK(sh.substr(sh.size() - 3) == "/sh");
  CHECK(::access(sh.c_str(), X_OK) == 0);
  CHECK(find_executable("no-such-tool-xyz").empty());
  // A name with a '/' is taken as it is.
  CHECK(find_executable("/bin/sh") == "/bin/sh");
  CHECK(find_executable("/no/such/dir/sh").empty());

  CHECK(first_line("\n  \t\nsecond line\nthird\n") == "second line");
  CHECK(first_line("") == "(no output)");
}
