// Description: `iomodels run`: one scenario, a one-screen summary, optional JSON.
#include <cstdio>

#include "cli/cli.h"
#include "cli/report.h"

namespace iomodels::cli {
namespace {

struct RunFlags {
  ScenarioFlags sc;
  std::string json;
} flags;

}  // namespace

CLI::App* add_run(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("run", "run one scenario and print what it cost");
  flags.sc.add_to(sub);
  sub->add_option("--json", flags.json, "also write the result (with the full latency spectrum) here");
  sub->footer(
      "Example: iomodels run --model epoll --transport socketpair --connections 64 "
      "--latency 1ms --requests 200");
  return sub;
}

int run_run() {
  const Scenario sc = flags.sc.to_scenario();
  ScenarioResult r;
  const Status st = run_scenario(sc, &r);
  if (st.not_applicable()) {
    std::fprintf(stderr, "iomodels: not applicable: %s\n", st.message().c_str());
    return 2;
  }
  if (!st.ok()) {
    std::fprintf(stderr, "iomodels: %s failed: %s\n", sc.model.c_str(), st.message().c_str());
    return 1;
  }
  std::fputs(summary_text(sc, r).c_str(), stdout);
  if (!flags.json.empty()) write_file_atomically(flags.json, result_json(sc, r).dump(2) + "\n");
  return 0;
}

}  // namespace iomodels::cli
