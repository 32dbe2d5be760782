// Description: a calibrate row printed as a small table and written as JSON.
#include "calibrate/report.h"

#include <cstdio>

#include "run/figures.h"

namespace iomodels::calibrate {

using nlohmann::json;

void print_row(const Row& r) {
  std::printf("\n%s\n  %s\n  iomodels step: %s\n",
              (r.part == "fio" ? "QD " + std::to_string(r.qd) + ": " : "")
                  .append(r.model + " vs " + r.tool)
                  .c_str(),
              r.compares.c_str(),
              r.step == Step::kRound ? "round (one request per read in flight per call, as bench)"
                                     : "batch (each connection loops over its requests)");
  if (!r.failed.empty()) {
    std::printf("  no result: %s\n", r.failed.c_str());
    return;
  }
  const Medians a = medians(r.ours), b = medians(r.theirs);
  std::printf("  %-28s %12s %10s %10s %12s\n", "median of each side", "ops/s", "p50 us", "p99 us",
              "CPU us/op");
  std::printf("  %-28s %12.0f %10.2f %10.2f %12.2f\n", ("iomodels " + r.model).c_str(), a.ops_per_s,
              a.p50_us, a.p99_us, a.cpu_us_per_op);
  std::printf("  %-28s %12.0f %10.2f %10.2f %12.2f\n", r.tool.substr(0, 28).c_str(), b.ops_per_s,
              b.p50_us, b.p99_us, b.cpu_us_per_op);
  std::printf("  %-28s %11.2fx %9.2fx %9.2fx %11.2fx\n", "iomodels / tool",
              ratio(a.ops_per_s, b.ops_per_s), ratio(a.p50_us, b.p50_us), ratio(a.p99_us, b.p99_us),
              ratio(a.cpu_us_per_op, b.cpu_us_per_op));
  const PairedRatios p = paired_ratios(r.ours, r.theirs);
  std::printf("  %-28s ops/s %s · p50 %s · p99 %s · CPU/op %s\n", "paired, median [95%]",
              paired_ratio_text(p.ops_per_s).c_str(), paired_ratio_text(p.p50_us).c_str(),
              paired_ratio_text(p.p99_us).c_str(), paired_ratio_text(p.cpu_us_per_op).c_str());
  if (!r.goal_text.empty())
    std::printf("  goal %s: %s\n", r.goal_text.c_str(), judge_goal(r.goal, p, a, b).word.c_str());
}

json row_json(const Row& r) {
  json j = {{"part", r.part},           {"model", r.model},
            {"tool", r.tool},           {"tool_command", r.tool_command},
            {"compares", r.compares},   {"scenario", scenario_json(r.sc)},
            {"step", step_name(r.step)}};
  if (r.part == "fio") j["qd"] = r.qd;
  if (!r.failed.empty()) {
    j[r.not_applicable ? "not_applicable" : "failed"] = r.failed;
    return j;
  }
  auto samples = [](const std::vector<Sample>& v) {
    json a = json::array();
    for (const Sample& s : v) a.push_back(sample_json(s));
    return a;
  };
  const Medians a = medians(r.ours), b = medians(r.theirs);
  j["iomodels"] = {{"median", medians_json(a)}, {"samples", samples(r.ours)}};
  j["tool_result"] = {{"median", medians_json(b)}, {"samples", samples(r.theirs)}};
  j["ratio"] = {{"ops_per_s", ratio(a.ops_per_s, b.ops_per_s)},
                {"p50_us", ratio(a.p50_us, b.p50_us)},
                {"p99_us", ratio(a.p99_us, b.p99_us)},
                {"cpu_us_per_op", ratio(a.cpu_us_per_op, b.cpu_us_per_op)}};
  const PairedRatios p = paired_ratios(r.ours, r.theirs);
  j["paired_ratio"] = {
      {"ops_per_s", paired_ratio_json(p.ops_per_s, paired_word(p.ops_per_s))},
      {"p50_us", paired_ratio_json(p.p50_us, paired_word(p.p50_us))},
      {"p99_us", paired_ratio_json(p.p99_us, paired_word(p.p99_us))},
      {"cpu_us_per_op", paired_ratio_json(p.cpu_us_per_op, paired_word(p.cpu_us_per_op))}};
  if (!r.goal_text.empty()) {
    const GoalVerdict g = judge_goal(r.goal, p, a, b);
    j["goal"] = {{"what", r.goal_text}, {"met", g.met}, {"verdict", g.word}, {"by", g.by}};
  }
  return j;
}

}  // namespace iomodels::calibrate
