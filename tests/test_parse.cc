// Description: the user-input parsers accept good input, reject bad input
// with a reason, and LatencySpec samples within its bounds and round-trips.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "frontend/frontend.h"
#include "workload/parse.h"

using namespace iomodels;

TEST_CASE("parse_duration accepts durations in every unit", "[parse]") {
  const std::pair<const char*, uint64_t> good[] = {
      {"0", 0},
      {"0ns", 0},
      {"1ns", 1},
      {"250us", 250'000},
      {"1.5ms", 1'500'000},
      {"2s", 2'000'000'000},
      {".5us", 500},
      {"3600s", 3600ull * 1'000'000'000},
      {"1.000001ms", 1'000'001},
      {"0.1us", 100},
  };
  for (const auto& [text, want] : good) {
    INFO(text);
    uint64_t ns = 12345;
    std::string why;
    CHECK(parse_duration(text, &ns, &why));
    CHECK(ns == want);
    CHECK(why.empty());
  }
}

TEST_CASE("parse_duration rejects bad durations with a reason", "[parse]") {
  for (const char* bad : {"5xs", "-1ms", "1e999s", "", "ms", "1.2.3ms", "99999999999999999999s",
                          "1", "3601s", " 1ms", "1ms ", "1 ms", "1MS", ".", "nan", "infs",
                          // below the nanosecond resolution: never rounded away
                          "0.4ns", "1.5ns", "1.0000005ms"}) {
    INFO("'" << bad << "'");
    uint64_t ns = 777;
    std::string why;
    CHECK_FALSE(parse_duration(bad, &ns, &why));
    CHECK_FALSE(why.empty());
    CHECK(ns == 777);  // untouched on failure
  }
}

TEST_CASE("parse_size accepts byte counts with binary units", "[parse]") {
  const std::pair<const char*, uint64_t> good[] = {
      {"1", 1},           {"4096", 4096}, {"4K", 4096},    {"4k", 4096},
      {"4KiB", 4096},     {"4KB", 4096},  {"1M", 1 << 20}, {"1MiB", 1 << 20},
      {"1G", 1ull << 30}, {"1.5K", 1536}, {"512B", 512},   {"1TiB", 1ull << 40},
  };
  for (const auto& [text, want] : good) {
    INFO(text);
    uint64_t b = 0;
    std::string why;
    CHECK(parse_size(text, &b, &why));
    CHECK(b == want);
  }
}

TEST_CASE("parse_size rejects bad sizes with a reason", "[parse]") {
  for (const char* bad : {"0", "1.5", "4XB", "", "-1", "K", "0.1K", "1e3", "1.2.3",
                          "99999999999999999999", "2000TiB"}) {
    INFO("'" << bad << "'");
    uint64_t b = 777;
    std::string why;
    CHECK_FALSE(parse_size(bad, &b, &why));
    CHECK_FALSE(why.empty());
    CHECK(b == 777);
  }
}

TEST_CASE("parse_count accepts whole numbers in range only", "[parse]") {
  uint64_t v = 0;
  std::string why;
  CHECK(parse_count("1", 1, 10, &v, &why));
  CHECK(v == 1);
  CHECK(parse_count("10", 1, 10, &v, &why));
  CHECK(v == 10);
  for (const char* bad :
       {"0", "11", "", "-1", "+1", "1.0", "1x", " 1", "abc", "99999999999999999999999"}) {
    INFO("'" << bad << "'");
    v = 777;
    why.clear();
    CHECK_FALSE(parse_count(bad, 1, 10, &v, &why));
    CHECK_FALSE(why.empty());
    CHECK(v == 777);
  }
}

TEST_CASE("parse_host_port takes IPv4, names and [IPv6]", "[parse]") {
  std::string host, why;
  uint16_t port = 0;
  CHECK(parse_host_port("127.0.0.1:7000", &host, &port, &why));
  CHECK(host == "127.0.0.1");
  CHECK(port == 7000);
  CHECK(parse_host_port("[::1]:65535", &host, &port, &why));
  CHECK(host == "::1");
  CHECK(port == 65535);
  CHECK(parse_host_port("localhost:0", &host, &port, &why));
  CHECK(host == "localhost");
  CHECK(port == 0);
  for (const char* bad : {"", ":80", "host", "host:", "host:65536", "host:-1", "host:8o", "[::1]80",
                          "[::1]:", "[::1", "::1"}) {
    INFO("'" << bad << "'");
    host = "unchanged";
    port = 1;
    why.clear();
    CHECK_FALSE(parse_host_port(bad, &host, &port, &why));
    CHECK_FALSE(why.empty());
    CHECK(host == "unchanged");
    CHECK(port == 1);
  }
}

TEST_CASE("parse_latency understands 0, fixed, uniform and exp", "[parse]") {
  LatencySpec s;
  std::string why;
  REQUIRE(parse_latency("0", &s, &why));
  CHECK(s.kind == LatencySpec::Kind::kZero);
  REQUIRE(parse_latency("2ms", &s, &why));
  CHECK(s.kind == LatencySpec::Kind::kFixed);
  CHECK(s.a_ns == 2'000'000);
  REQUIRE(parse_latency("uniform:100us-2ms", &s, &why));
  CHECK(s.kind == LatencySpec::Kind::kUniform);
  CHECK(s.a_ns == 100'000);
  CHECK(s.b_ns == 2'000'000);
  REQUIRE(parse_latency("exp:1ms", &s, &why));
  CHECK(s.kind == LatencySpec::Kind::kExp);
  CHECK(s.a_ns == 1'000'000);
  REQUIRE(parse_latency("exp:0", &s, &why));
  CHECK(s.kind == LatencySpec::Kind::kZero);
  for (const char* bad : {"", "uniform:", "uniform:1ms", "uniform:2ms-1ms", "uniform:1ms-",
                          "exp:", "exp:-1ms", "normal:1ms", "5xs", "1ms-2ms"}) {
    INFO("'" << bad << "'");
    LatencySpec keep;
    keep.a_ns = 4242;
    why.clear();
    CHECK_FALSE(parse_latency(bad, &keep, &why));
    CHECK_FALSE(why.empty());
    CHECK(keep.a_ns == 4242);
  }
}

TEST_CASE("LatencySpec::sample stays within bounds for each kind", "[parse]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  constexpr int kDraws = 200'000;
  for (const char* text : {"0", "1ms", "uniform:100us-2ms", "exp:1ms"}) {
    DYNAMIC_SECTION(text) {
      LatencySpec s;
      std::string why;
      REQUIRE(parse_latency(text, &s, &why));
      double sum = 0;
      int beyond_bound = 0;
      uint64_t lo = UINT64_MAX, hi = 0;
      for (int i = 0; i < kDraws; ++i) {
        const uint64_t x = s.sample(u(rng));
        sum += static_cast<double>(x);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        if (x > s.bound_ns()) ++beyond_bound;
      }
      const double mean = sum / kDraws;
      switch (s.kind) {
        case LatencySpec::Kind::kZero:
          CHECK(hi == 0);
          break;
        case LatencySpec::Kind::kFixed:
          CHECK(lo == s.a_ns);
          CHECK(hi == s.a_ns);
          break;
        case LatencySpec::Kind::kUniform:
          CHECK(lo >= s.a_ns);
          CHECK(hi <= s.b_ns);
          CHECK(mean == Approx((s.a_ns + s.b_ns) / 2.0).epsilon(0.01));
          break;
        case LatencySpec::Kind::kExp:
          CHECK(mean == Approx(static_cast<double>(s.a_ns)).epsilon(0.02));
          // bound_ns is the 99.99th percentile: about 20 of 200,000 beyond it.
          CHECK(beyond_bound < 100);
          break;
      }
      if (s.kind != LatencySpec::Kind::kExp) CHECK(beyond_bound == 0);
      // The end points of u's range.
      CHECK(s.sample(0.0) <= s.bound_ns());
      CHECK(s.sample(0.0) == (s.kind == LatencySpec::Kind::kExp ? 0 : s.a_ns));
    }
  }
}

TEST_CASE("a malformed uniform latency names itself in the reason", "[parse]") {
  for (const char* bad : {"uniform:-1ms", "uniform:1ms-", "uniform:-", "uniform:x-1ms"}) {
    INFO(bad);
    LatencySpec s;
    std::string why;
    CHECK_FALSE(parse_latency(bad, &s, &why));
    CHECK(why.find(std::string("'") + bad + "'") != std::string::npos);
    CHECK(why.find("''") == std::string::npos);
  }
}

TEST_CASE("LatencySpec::text round-trips through parse_latency", "[parse]") {
  for (const char* text : {"0", "1ns", "999ns", "1us", "250us", "1.5ms", "2ms", "3s", "1234567ns",
                           "3599999999999ns", "uniform:100us-2ms", "uniform:0-1s",
                           "uniform:1234567ns-7654321ns", "exp:1ms", "exp:333333ns"}) {
    INFO(text);
    LatencySpec a, b;
    std::string why;
    REQUIRE(parse_latency(text, &a, &why));
    const std::string t = a.text();
    INFO("text() = " << t);
    REQUIRE(parse_latency(t, &b, &why));
    CHECK(b.kind == a.kind);
    CHECK(b.a_ns == a.a_ns);
    CHECK(b.b_ns == a.b_ns);
    CHECK(b.text() == t);
  }
  LatencySpec s;
  std::string why;
  REQUIRE(parse_latency("1.5ms", &s, &why));
  CHECK(s.text() == "1.5ms");
  REQUIRE(parse_latency("uniform:100us-2ms", &s, &why));
  CHECK(s.text() == "uniform:100us-2ms");
}

TEST_CASE("a latency's name part tells a constant from a jittered one", "[parse]") {
  const auto name_of = [](const char* text) {
    LatencySpec s;
    std::string why;
    REQUIRE(parse_latency(text, &s, &why));
    return s.name_part();
  };
  CHECK(name_of("0") == "lat_us:0");
  CHECK(name_of("1ms") == "lat_us:1000");
  CHECK(name_of("uniform:0.5ms-1.5ms") == "lat_us:1000/jitter:uniform:500-1500");
  CHECK(name_of("exp:1ms") == "lat_us:1000/jitter:exp");
  // The default device is the jittered one, about the same 1 ms mean.
  CHECK(name_of(frontend::kDefaultLatency) == "lat_us:1000/jitter:uniform:500-1500");
}
