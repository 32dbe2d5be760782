// Description: Exchange catches what a broken transport or model would do:
// a flipped byte, bytes of another connection or request, a shifted stream,
// too many bytes — and accepts the right bytes in any split.
#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "workload/exchange.h"

using namespace iomodels;

namespace {

std::vector<uint8_t> payload(uint32_t conn, uint64_t id, size_t n) {
  std::vector<uint8_t> v(n);
  fill_payload(conn, id, 0, v.data(), n);
  return v;
}

Exchange started(uint32_t conn, uint32_t size) {
  Exchange ex;
  ex.init(ClientConn{-1, -1, conn}, size, true);
  ex.begin(0);  // request id 1
  return ex;
}

}  // namespace

TEST_CASE("Exchange accepts the right payload in any split", "[exchange]") {
  const auto good = payload(3, 1, 4099);
  for (size_t chunk : {1u, 7u, 8u, 13u, 4096u, 4099u}) {
    Exchange ex = started(3, 4099);
    Status err;
    for (size_t off = 0; off < good.size(); off += chunk) {
      const size_t n = std::min(chunk, good.size() - off);
      REQUIRE(ex.feed(good.data() + off, n, &err));
    }
    CHECK(ex.complete());
  }
}

TEST_CASE("Exchange rejects wrong bytes and names where", "[exchange]") {
  Status err;
  SECTION("a flipped byte") {
    auto bad = payload(3, 1, 4096);
    bad[1234] ^= 0x01;
    Exchange ex = started(3, 4096);
    CHECK_FALSE(ex.feed(bad.data(), bad.size(), &err));
    CHECK(err.message().find("byte 1234 of 4096") != std::string::npos);
    CHECK(err.message().find("connection 3, request 1") != std::string::npos);
  }
  SECTION("another connection's response") {
    const auto other = payload(4, 1, 64);
    Exchange ex = started(3, 64);
    CHECK_FALSE(ex.feed(other.data(), other.size(), &err));
  }
  SECTION("the previous request's response") {
    const auto stale = payload(3, 0, 64);
    Exchange ex = started(3, 64);
    CHECK_FALSE(ex.feed(stale.data(), stale.size(), &err));
  }
  SECTION("a lost byte shifts the stream") {
    const auto good = payload(3, 1, 64);
    Exchange ex = started(3, 64);
    REQUIRE(ex.feed(good.data(), 10, &err));
    CHECK_FALSE(ex.feed(good.data() + 11, 53, &err));
  }
  SECTION("more bytes than were asked for") {
    const auto more = payload(3, 1, 65);
    Exchange ex = started(3, 64);
    CHECK_FALSE(ex.feed(more.data(), more.size(), &err));
    CHECK(err.message().find("more than") != std::string::npos);
  }
}

TEST_CASE("Exchange with verification off still counts bytes", "[exchange]") {
  Exchange ex;
  ex.init(ClientConn{-1, -1, 0}, 16, false);
  ex.begin(0);
  std::vector<uint8_t> junk(16, 0xAB);
  Status err;
  CHECK(ex.feed(junk.data(), junk.size(), &err));
  CHECK(ex.complete());
  CHECK_FALSE(ex.feed(junk.data(), 1, &err));
}

TEST_CASE("no shift of a response, and no other response, verifies as it", "[exchange]") {
  constexpr size_t kBytes = 1 << 20;
  std::vector<uint8_t> p(kBytes + 64);
  fill_payload(3, 7, 0, p.data(), p.size());
  // Every word of one response differs from every other: a whole-word shift
  // or a repeated word cannot pass.
  std::set<uint64_t> words;
  for (size_t i = 0; i < kBytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p.data() + i, 8);
    words.insert(w);
  }
  CHECK(words.size() == kBytes / 8);
  for (size_t shift = 1; shift <= 64; ++shift)
    CHECK(verify_payload(3, 7, 0, p.data() + shift, kBytes) < 16);
  // A neighbouring request or connection fails at its first byte or so.
  for (const auto& [conn, id] : {std::pair<uint32_t, uint64_t>{3, 8}, {4, 7}, {2, 7}, {3, 6}})
    CHECK(verify_payload(conn, id, 0, p.data(), kBytes) < 8);
  CHECK(verify_payload(3, 7, 0, p.data(), kBytes) == kBytes);
}
