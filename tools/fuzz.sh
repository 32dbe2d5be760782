#!/usr/bin/env bash
# Description: builds the fuzz targets with clang (libFuzzer + ASan + UBSan),
# the parsers of user input and the peer's request parser, and runs each for a
# bounded time. Usage: tools/fuzz.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
out=${2:-build/fuzz}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is not installed (apt-get install clang libclang-rt-14-dev); skipping" >&2
  exit 77
fi
mkdir -p "$out/corpus"
# Seeds: the forms the parsers accept and a few they must reject.
for s in 0 1ms 250us 1.5s 100ns uniform:100us-2ms exp:1ms 4096 4KiB 1M 127.0.0.1:7000 "[::1]:80" 5xs -1ms 1e999s; do
  printf '%s' "$s" >"$out/corpus/$(printf '%s' "$s" | md5sum | cut -c1-12)"
done
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -iquote src tests/fuzz/fuzz_parse.cc src/workload/parse.cc -o "$out/fuzz_parse"
"$out/fuzz_parse" -max_total_time="$seconds" -max_len=64 -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 12
# The peer's request parser: seeds are a request, a hello, and junk.
mkdir -p "$out/corpus_peer"
printf '\x01\x07\x00\x00\x00\x00\x00\x10\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00' >"$out/corpus_peer/request"
printf '\x01\x03\xfd\xff\xff\xff\x01\x00\x00\x00lehdomoisesame' >"$out/corpus_peer/hello"
head -c 200 /dev/urandom >"$out/corpus_peer/junk"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -iquote src tests/fuzz/fuzz_peer.cc -o "$out/fuzz_peer"
"$out/fuzz_peer" -max_total_time="$seconds" -max_len=512 -print_final_stats=1 "$out/corpus_peer" 2>&1 | tail -n 12
