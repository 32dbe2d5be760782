// Description: the demo tells the truth about order: in async · non-blocking
// the own work finishes before the data arrives; in sync · blocking after. And
// its timeline is valid Chrome Trace JSON with every thread and request.
#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "measure/trace.h"
#include "util.h"

using namespace iomodels;

namespace {

// The block of output for one quadrant, up to the blank line after it.
std::string section(const std::string& out, const std::string& heading) {
  const size_t at = out.find(heading);
  if (at == std::string::npos) return {};
  const size_t end = out.find("\n\n", at);
  return out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// Checks a timeline against the Trace Event Format and the rules by which
// Perfetto binds flows: every flow point ("s"/"f") lies inside a complete
// slice ("X") on its own thread, each flow id starts once and ends once,
// async begins and ends ("b"/"e") pair up by id, and every thread that has
// events is named. Returns how many flows crossed threads.
size_t check_timeline(const nlohmann::json& doc) {
  const auto& evs = doc.at("traceEvents");
  REQUIRE(evs.is_array());
  std::map<int, std::vector<std::pair<double, double>>> slices;  // tid -> [ts, end]
  std::set<int> named, used;
  std::map<std::string, int> b_minus_e;
  std::map<std::string, std::vector<std::pair<int, double>>> starts, finishes;
  for (const auto& e : evs) {
    INFO(e.dump());
    const std::string ph = e.at("ph");
    REQUIRE(e.contains("pid"));
    REQUIRE(e.contains("tid"));
    REQUIRE(e.at("name").is_string());
    const int tid = e.at("tid");
    if (ph == "M") {
      if (e.at("name") == "thread_name") named.insert(tid);
      continue;
    }
    REQUIRE(e.at("ts").is_number());
    const double ts = e.at("ts");
    CHECK(ts >= 0);
    used.insert(tid);
    if (ph == "X") {
      const double dur = e.at("dur");
      CHECK(dur >= 0);
      slices[tid].push_back({ts, ts + dur});
    } else if (ph == "b" || ph == "e") {
      b_minus_e[e.at("id").get<std::string>()] += ph == "b" ? 1 : -1;
    } else if (ph == "s") {
      starts[e.at("id").get<std::string>()].push_back({tid, ts});
    } else if (ph == "f") {
      CHECK(e.at("bp") == "e");
      finishes[e.at("id").get<std::string>()].push_back({tid, ts});
    } else {
      CHECK((ph == "i" || ph == "C"));
    }
  }
  for (const auto& [id, n] : b_minus_e) {
    INFO("async id " << id);
    CHECK(n == 0);
  }
  const auto enclosed = [&](int tid, double ts) {
    for (const auto& [a, b] : slices[tid])
      if (a <= ts && ts <= b) return true;
    return false;
  };
  size_t crossing = 0;
  CHECK(starts.size() == finishes.size());
  for (const auto& [id, pts] : starts) {
    INFO("flow id " << id);
    REQUIRE(pts.size() == 1);  // unique ids
    REQUIRE(finishes[id].size() == 1);
    const auto [stid, sts] = pts[0];
    const auto [ftid, fts] = finishes[id][0];
    CHECK(enclosed(stid, sts));
    CHECK(enclosed(ftid, fts));
    CHECK(sts <= fts);
    crossing += stid != ftid;
  }
  for (int tid : used) {
    INFO("tid " << tid);
    CHECK(named.count(tid) == 1);
  }
  return crossing;
}

bool before(const std::string& s, const std::string& a, const std::string& b) {
  const size_t pa = s.find(a), pb = s.find(b);
  return pa != std::string::npos && pb != std::string::npos && pa < pb;
}

}  // namespace

TEST_CASE("demo prints each quadrant's steps in the order they happened", "[demo][timing]") {
  const std::string trace = "/tmp/iomodels-test-demo-trace.json";
  // The device (200 ms) is slow against the own work (20 ms), as in the story.
  const auto r =
      test::run_iomodels("demo --latency 200ms --work 20ms --color never --trace " + trace);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);

  const std::string sb = section(r.out, "sync · blocking");
  CHECK(before(sb, "data received", "own work done"));  // blocked first, worked after

  const std::string sn = section(r.out, "sync · non-blocking");
  CHECK(before(sn, "own work done", "data received"));
  CHECK(sn.find("checks") != std::string::npos);

  const std::string ab = section(r.out, "async · blocking");
  CHECK(before(ab, "own work done", "blocked on future.get()"));
  CHECK(before(ab, "blocked on future.get()", "future.get() returned"));

  const std::string an = section(r.out, "async · non-blocking (epoll");
  CHECK(before(an, "own work done", "[callback] data received"));

  // async/await: the code reads in order, but runs around the own work.
  const std::string aw = section(r.out, "async · non-blocking (coroutine");
  CHECK(before(aw, "co_await suspends download()", "own work done"));
  CHECK(before(aw, "own work done", "[download() resumed] data received"));
  CHECK(r.out.find("The 2x2 table") != std::string::npos);
  CHECK(r.out.find("\033[") == std::string::npos);  // --color never

  // The timeline: valid JSON; every thread named; every request begun and ended.
  std::ifstream f(trace);
  REQUIRE(f.good());
  const auto doc = nlohmann::json::parse(f);
  const auto& evs = doc.at("traceEvents");
  std::set<int> tids_with_events, named_tids;
  std::multiset<std::string> begins, ends;
  bool saw_own_work = false, saw_eagain = false, saw_callback = false;
  for (const auto& e : evs) {
    const std::string ph = e.at("ph");
    if (ph == "M" && e.at("name") == "thread_name") named_tids.insert(e.at("tid").get<int>());
    if (ph == "X") {
      tids_with_events.insert(e.at("tid").get<int>());
      CHECK(e.at("dur").get<double>() >= 0);
      saw_own_work |= e.at("name") == "own work";
      saw_callback |= e.at("name") == "callback";
      saw_eagain |= e.at("cat") == "eagain";
    }
    if (ph == "b" && e.at("name") == "download") begins.insert(e.at("id").get<std::string>());
    if (ph == "e" && e.at("name") == "download") ends.insert(e.at("id").get<std::string>());
  }
  CHECK(saw_own_work);
  CHECK(saw_eagain);
  CHECK(saw_callback);
  CHECK(begins.size() == 7);  // one download per story
  CHECK(begins == ends);
  for (int tid : tids_with_events) CHECK(named_tids.count(tid) == 1);
  std::remove(trace.c_str());
}

TEST_CASE("run --trace records every request and stops at its bound", "[demo]") {
  const std::string trace = "/tmp/iomodels-test-run-trace.json";
  auto r = test::run_iomodels("run -m epoll -c 8 -r 10 -l 0 --trace " + trace);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  {
    std::ifstream f(trace);
    const auto doc = nlohmann::json::parse(f);
    size_t b = 0, e = 0;
    for (const auto& ev : doc.at("traceEvents")) {
      b += ev.at("ph") == "b";
      e += ev.at("ph") == "e";
    }
    CHECK(b == 8 * 11);  // 10 timed rounds and one warm-up round per connection
    CHECK(e == b);
    CHECK(doc.at("otherData").at("truncated") == false);
  }
  r = test::run_iomodels("run -m epoll -c 8 -r 10 -l 0 --trace-events 50 --trace " + trace);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("stopped recording") != std::string::npos);
  std::ifstream f(trace);
  const auto doc = nlohmann::json::parse(f);
  CHECK(doc.at("otherData").at("truncated") == true);
  std::remove(trace.c_str());
}

TEST_CASE("demo rejects bad input with exit code 2", "[demo]") {
  for (const char* args :
       {"demo --latency 5xs", "demo --work -1ms", "demo --transport carrier-pigeon",
        "demo --color sometimes", "demo --latency 1h"}) {
    const auto r = test::run_iomodels(args);
    INFO(args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("error:") != std::string::npos);
  }
}

TEST_CASE("a polling loop's EAGAIN calls in a row become one slice with their count", "[demo]") {
  Trace t(16);
  for (int i = 0; i < 1000; ++i) t.syscall("read", 100 + 2 * i, 101 + 2 * i, -EAGAIN);
  t.syscall("read", 3000, 3001, 64);  // the data: its own slice
  t.syscall("read", 3002, 3003, -EAGAIN);
  CHECK(t.events() == 3);
  CHECK_FALSE(t.truncated());
  const auto doc = nlohmann::json::parse(t.to_json());
  std::vector<std::string> details;
  for (const auto& e : doc.at("traceEvents"))
    if (e.at("ph") == "X") details.push_back(e.at("args").at("detail"));
  CHECK(details == std::vector<std::string>{"EAGAIN x1000", "64", "EAGAIN x1"});
}

TEST_CASE("demo verdicts follow the demo's own measured times", "[demo][timing]") {
  // {latency, work}: the device slower, then the own work slower, far enough
  // apart (>= 40 ms) that load from other processes cannot swap them.
  const std::vector<std::pair<int, int>> pairs = {
      {100, 20}, {20, 100}, {10, 60}, {80, 10}, {30, 120}};
  for (const auto& [lat, work] : pairs) {
    const std::string args = "demo --json --color never --latency " + std::to_string(lat) +
                             "ms --work " + std::to_string(work) + "ms";
    const auto r = test::run_iomodels(args);
    INFO(args << "\n" << r.out);
    REQUIRE(r.exit_code == 0);
    // The JSON document, whatever a logger may have said around it on stderr.
    const size_t open = r.out.find("{\n"), close = r.out.rfind('}');
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    const auto doc = nlohmann::json::parse(r.out.substr(open, close - open + 1));
    const auto& stories = doc.at("stories");
    REQUIRE(stories.size() == 7);
    for (const auto& s : stories) {
      INFO(s.dump(2));
      REQUIRE(s.at("ok") == true);
      const double wait = s.at("wait_ms"), wk = s.at("work_ms"), wall = s.at("wall_ms");
      const double ready = s.at("ready_ms"), used = s.at("used_ms"), sent = s.at("sent_ms");
      const std::string quadrant = s.at("quadrant"), follows = s.at("followed");
      const std::string title = s.at("title");
      const bool lazy = title.find("lazily") != std::string::npos;
      const bool stalled = title.find("inside the event loop") != std::string::npos;
      // The measured parts are what was asked for, at least.
      CHECK(wait >= lat * 0.95);
      CHECK(wk >= work * 0.95);
      CHECK(ready >= sent);
      CHECK(used >= ready);
      CHECK(std::abs(static_cast<double>(s.at("sat_ready_ms")) - (used - ready)) < 0.01);
      CHECK(std::abs(wait - (ready - sent)) < 0.01);
      // The verdict agrees with the numbers: the wall is the sum where the
      // story waits and works in turn, the larger of the two where it overlaps.
      if (quadrant == "sync · blocking" || lazy || stalled) {
        CHECK(follows == "wait+work");
        CHECK(wall >= wait + wk - 2);
      } else {
        CHECK(follows == (wk > wait ? "work" : "wait"));
        CHECK(wall >= std::max(wait, wk) - 2);
      }
      const std::vector<std::string> v = s.at("verdict");
      REQUIRE(v.size() >= 3);
      char num[32];
      std::snprintf(num, sizeof num, "%.1f", wall);
      CHECK(v[0].find(std::string("wall ") + num) != std::string::npos);
      CHECK(v[0].find(follows == "wait+work" ? "one after the other" : "followed the " + follows) !=
            std::string::npos);
      std::snprintf(num, sizeof num, "sat ready %.1f ms",
                    static_cast<double>(s.at("sat_ready_ms")));
      CHECK(v[1].find(num) != std::string::npos);
      // Where the work held the thread past the data's arrival, the verdict
      // says the data waited: the lesson of the callback story.
      if (quadrant == "async · non-blocking" && !lazy && wk > wait)
        CHECK(used - ready > (wk - wait) / 2);
      const std::string checks = std::to_string(s.at("wasted_checks").get<uint64_t>()) + " of " +
                                 std::to_string(s.at("checks").get<uint64_t>()) + " checks";
      CHECK(v[2].find(checks) != std::string::npos);
      // One line per step: no step text twice, one step 3.
      std::set<std::string> texts;
      int threes = 0;
      for (const auto& st : s.at("steps")) {
        const std::string t = st.at("text");
        CHECK(texts.insert(t).second);
        threes += t.rfind("3. ", 0) == 0 && t.find("used") != std::string::npos;
      }
      CHECK(threes == 1);
    }
    // The main thread's own scheduler statistics: blocked in read() it
    // slept through the wait; polling, it never slept.
    if (stories[0].contains("main_thread")) {
      CHECK(stories[0].at("main_thread").at("sleeping_ms").get<double>() >
            0.5 * stories[0].at("wait_ms").get<double>());
      CHECK(stories[1].at("main_thread").at("sleeping_ms").get<double>() <
            0.3 * stories[1].at("wall_ms").get<double>());
    }
    // A blocking call inside the event loop: the timer's ticks piled up for
    // as long as the loop was held (a tick every 5 ms).
    const auto& st = stories[6];
    CHECK(st.at("stalled_ticks").get<double>() >=
          0.8 * (st.at("wait_ms").get<double>() + st.at("work_ms").get<double>()) / 5);
    CHECK(st.at("first_tick_late_ms").get<double>() >=
          0.9 * (st.at("wait_ms").get<double>() + st.at("work_ms").get<double>()) - 5);
    // The polling story wasted checks; the epoll story asked only when told.
    CHECK(stories[1].at("wasted_checks").get<uint64_t>() > 0);
    CHECK(stories[3].at("wasted_checks").get<uint64_t>() == 0);
    // Eager start sends before the own work; lazy (asyncio's) only after it.
    CHECK(stories[4].at("sent_ms").get<double>() < 1.0 * work / 2);
    CHECK(stories[5].at("sent_ms").get<double>() >= 0.95 * work);
  }
}

TEST_CASE("demo refuses the file transport and lists its transports", "[demo]") {
  auto r = test::run_iomodels("demo -t file");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("--transport") != std::string::npos);
  CHECK(r.out.find("no peer") != std::string::npos);
  r = test::run_iomodels("demo --help");
  CHECK(r.exit_code == 0);
  for (const char* t : {"pipe", "socketpair", "tcp", "file"})
    CHECK(r.out.find(t) != std::string::npos);
}

TEST_CASE("demo and run timelines keep the Trace Event Format and Perfetto's flow binding",
          "[demo]") {
  const std::string trace = "/tmp/iomodels-test-timeline.json";
  // The demo at its defaults: under 2 MB, every story whole, with its parent slice.
  auto r = test::run_iomodels("demo --color never --trace " + trace);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("did not fit whole") == std::string::npos);
  CHECK(std::filesystem::file_size(trace) < 2u * 1024 * 1024);
  {
    std::ifstream f(trace);
    const auto doc = nlohmann::json::parse(f);
    CHECK(doc.at("otherData").at("truncated") == false);
    CHECK(check_timeline(doc) >= 2);  // main -> worker -> main in the thread story
    std::set<std::string> stories;
    for (const auto& e : doc.at("traceEvents"))
      if (e.at("ph") == "X" && e.at("name").get<std::string>().rfind("story: ", 0) == 0)
        stories.insert(e.at("name"));
    CHECK(stories.size() == 7);
  }
  // A run with worker threads: every flow bound, every thread named.
  r = test::run_iomodels("run -m threads -c 4 -r 5 -l 0 --trace " + trace);
  REQUIRE(r.exit_code == 0);
  {
    std::ifstream f(trace);
    const auto doc = nlohmann::json::parse(f);
    check_timeline(doc);
  }
  r = test::run_iomodels("run -m threadpool -c 4 -r 5 -l 0 --trace " + trace);
  REQUIRE(r.exit_code == 0);
  {
    std::ifstream f(trace);
    check_timeline(nlohmann::json::parse(f));
  }
  std::remove(trace.c_str());
}

TEST_CASE("demo names the stories a small --trace-events cap left incomplete", "[demo]") {
  const std::string trace = "/tmp/iomodels-test-demo-cap.json";
  const auto r =
      test::run_iomodels("demo -l 20ms -w 5ms --color never --trace-events 60 --trace " + trace);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("did not fit whole in --trace-events 60") != std::string::npos);
  // What is on the timeline is whole: every download begun there also ends.
  std::ifstream f(trace);
  const auto doc = nlohmann::json::parse(f);
  std::map<std::string, int> open;
  for (const auto& e : doc.at("traceEvents"))
    if (e.at("ph") == "b" || e.at("ph") == "e")
      open[e.at("id").get<std::string>()] += e.at("ph") == "b" ? 1 : -1;
  for (const auto& [id, n] : open) CHECK(n == 0);
  std::remove(trace.c_str());
  CHECK(test::run_iomodels("demo --trace-events 0 --trace " + trace).exit_code == 2);
}

TEST_CASE("demo's three downloads finish in the order their data came", "[demo][timing]") {
  // Asked A, B, C from devices of 60, 20 and 40 ms: both the callbacks and
  // the co_awaits must see B, then C, then A, each after its device's time.
  const auto r = test::run_iomodels("demo -l 60ms -w 5ms --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  REQUIRE(doc.contains("race"));
  const auto& lat = doc.at("race").at("latency_ms");
  CHECK(lat.at(0).get<double>() == Approx(60.0));
  CHECK(lat.at(1).get<double>() == Approx(20.0));
  CHECK(lat.at(2).get<double>() == Approx(40.0));
  REQUIRE(doc.at("race").at("runs").size() == 2);
  for (const auto& run : doc.at("race").at("runs")) {
    INFO(run.dump());
    CHECK(run.at("ok") == true);
    CHECK(run.at("order") == "BCA");
    const auto& done = run.at("done_ms");
    for (int i = 0; i < 3; ++i) {
      CHECK(run.at("sent_ms").at(i).get<double>() < 5.0);          // all three asked at once
      CHECK(done.at(i).get<double>() >= lat.at(i).get<double>());  // not before its device
    }
  }
  // Below 3 ms the devices would not differ beyond noise: no race.
  const auto quick = test::run_iomodels("demo -l 1ms -w 1ms --json");
  REQUIRE(quick.exit_code == 0);
  CHECK_FALSE(nlohmann::json::parse(quick.out).contains("race"));
}

TEST_CASE(
    "demo's services story shows the stall passed on by a synchronous chain and held by a queue",
    "[demo][heavy]") {
  if (test::run_shell("command -v nats-server").exit_code != 0)
    test::skip("nats-server is not installed (apt-get install nats-server)");
  const auto r = test::run_iomodels("demo -l 5ms -w 1ms --services --json");
  INFO(r.out.substr(0, 2000));
  REQUIRE(r.exit_code == 0);
  const nlohmann::json s = nlohmann::json::parse(r.out).at("services");
  REQUIRE(s.at("ran") == true);
  // Synchronous: A's p99 during C's 1 s stall is about the stall.
  CHECK(s.at("sync").at("a_p99_us_during_fault").get<double>() >= 900'000.0);
  // Through the queue: A does not see it; nothing is lost.
  const nlohmann::json& q = s.at("queue");
  CHECK(q.at("a_p99_us_during_fault").get<double>() <=
        10 * q.at("a_p99_us_before_fault").get<double>() + 1000.0);
  CHECK(q.at("lost") == 0);
  CHECK(q.at("delivered") == q.at("sent"));
  CHECK(q.at("backlog_max").get<double>() >= 150.0);  // a second of 200 requests/s waited
}

TEST_CASE("demo's services story without nats-server is skipped with the reason", "[demo]") {
  const auto r = test::run_shell("env PATH=/nonexistent " + std::string(IOMODELS_BINARY) +
                                 " demo -l 1ms -w 1ms --services --json");
  INFO(r.out.substr(0, 2000));
  REQUIRE(r.exit_code == 0);
  const nlohmann::json s = nlohmann::json::parse(r.out).at("services");
  CHECK(s.at("ran") == false);
  CHECK(s.at("skipped").get<std::string>().find("nats-server") != std::string::npos);
}
