// Description: sweep's points: one model at one offered load, its
// repetitions and their medians, whether it holds (on schedule, tail in
// bounds) and is resolved, its JSON and its line of the table; and a model's
// knee from its points.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "measure/resolution.h"
#include "run/exec.h"
#include "run/session.h"

namespace iomodels::cli::sweep {

// A point holds when the model served the load on schedule (>= 95% of it)
// and its p99 stayed within 10x of its p99 at the lowest load; a point where
// the peer itself was late is judged on the schedule only.
inline constexpr double kOnSchedule = 0.95;
inline constexpr double kTailFactor = 10;

// One measurement of a point.
struct Rep {
  ScenarioResult r;
  double on_schedule = 0;  // the schedule's span over the model's wall, at most 1
  bool late = false;       // the peer (generator) itself was late
};

// One model at one load: its repetitions and their medians.
struct Point {
  std::string model;
  double offered = 0;
  Scenario sc;
  // A program of the user's (sweep --exec) instead of a registered model.
  std::shared_ptr<const ExecSpec> exec;
  std::vector<Rep> reps;
  // Medians over the repetitions.
  double achieved = 0, on_schedule = 0, cpu_util = 0, cpu_us = 0, syscalls = 0, ctx = 0;
  double p50 = 0, p99 = 0, p999 = 0, uncorrected_p99 = -1, peer_cpu = 0;
  double cpu_util_min = 0, cpu_util_max = 0, p99_min = 0, p99_max = 0;
  bool late = false;  // in any repetition
  bool holds = false;
  bool resolved = false;  // with repetitions: CPU per request and load known to ±precision
  std::string why;        // why it does not hold
};

// The medians of a point's repetitions, and whether it holds: served on
// schedule, and p99 within kTailFactor of base_p99 (unless the peer was late).
void summarise(Point* p, double base_p99);

// A point over its repetitions: resolved when its CPU per request and its
// achieved load are known to ±precision (measure/resolution.h).
PointSpread point_spread(const Point& p, double precision);

// A point's object in sweep's JSON (docs/json.md).
nlohmann::json point_json(const Point& p);

// A point's line of the table: medians, and with repetitions their range.
void print_point(FILE* out, const Point& p);

// "5k", "1.2M", "500": a load for the table and the messages.
std::string rate_text(double r);

// A model at a load, ready to measure: the schedule lasts `duration_ns`.
Point make_point(const Scenario& base, const std::string& model, double rate, uint64_t duration_ns);

// Measures one more repetition of `p`. A run that does not complete is
// printed with why and, unless the model does not apply, counted in
// `failed`; then false.
bool measure_rep(FILE* human, Point* p, int* failed);

// A model's knee: the load it held, and the one above it it did not.
struct Knee {
  std::optional<double> held;    // none: not even the lowest load
  std::optional<double> failed;  // none: held at every load measured
  std::string why;
};

// The knee from a model's points, in order of load: the highest load held
// with every load below it held too.
Knee knee_of(const std::vector<const Point*>& pts);

}  // namespace iomodels::cli::sweep
