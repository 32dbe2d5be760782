// Description: iomodels used as a library: every model the registry has and
// this kernel can run, on one workload (socketpair, 16 connections, 4 KiB
// responses after 1 ms), one measurement window each. Prints what each model
// cost per request. A wrong byte or a failed run makes it exit 1.
//
// usage: iomodels-example-compare [ROUNDS] [LATENCY]   (defaults: 100, 1ms)
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "iomodels/iomodels.h"

int main(int argc, char** argv) {
  using namespace iomodels;
  Scenario sc;
  sc.workload.transport = Transport::kSocketpair;
  sc.workload.connections = 16;
  sc.workload.size = 4096;
  std::string why;
  uint64_t rounds = 100;
  if ((argc > 1 && !parse_count(argv[1], 1, 1'000'000, &rounds, &why)) ||
      !parse_latency(argc > 2 ? argv[2] : "1ms", &sc.workload.latency, &why)) {
    std::fprintf(stderr, "iomodels-example-compare: %s\n", why.c_str());
    return 2;
  }
  sc.rounds = rounds;

  std::printf("%-16s %12s %12s %10s %10s\n", "model", "requests/s", "CPU us/req", "syscalls",
              "p99 us");
  int failed = 0;
  for (const ModelInfo* info : all_models()) {
    sc.model = std::string(info->name);
    if (const std::string no = why_not(*info, sc.workload); !no.empty()) {
      std::printf("%-16s not here: %s\n", sc.model.c_str(), no.c_str());
      continue;
    }
    ScenarioResult r;
    if (const Status st = run_scenario(sc, &r); !st.ok()) {
      std::printf("%-16s failed: %s\n", sc.model.c_str(), st.message().c_str());
      ++failed;
      continue;
    }
    const Figures& f = r.figures;
    std::printf("%-16s %12.0f %12.2f %10.2f %10.1f\n", sc.model.c_str(), f.requests_per_s,
                f.cpu_us_per_req, f.syscalls_per_req, f.p99_us);
  }
  return failed == 0 ? 0 : 1;
}
