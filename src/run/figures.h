// Description: the figures every frontend reports, derived in one place from
// a measurement, the warnings that qualify them, and a result as JSON (the
// scenario, the environment, the figures, the latency spectrum, the peer's
// own statistics and the warnings).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "measure/histogram.h"
#include "measure/recorder.h"
#include "models/model.h"
#include "run/scenario.h"

namespace iomodels {

Figures figures(const Measurement& m, const Histogram& h, uint64_t requests, uint64_t bytes,
                const RunOptions& run = {});

// True when the peer answered later than the scenario asked it to wait: its
// p99 lateness (send time - due time) above the configured latency (the
// typical value of a distribution). Only for a latency above 0 and a local
// peer (a remote peer applies its own latency; a file has no peer).
bool peer_late(const Scenario& sc, const PeerStats& peer);

// The server role: true when the load generator, not the model, held the
// load back: its p99 lateness in sending a free connection's request above a
// quarter of a connection's interval between requests and above 500 us (a
// sleep's overshoot here), or its CPU at >= 90% of a core.
bool generator_late(const Scenario& sc, const PeerStats& peer);
// The generator's figures for results: offered and achieved load, latency
// from the schedule (corrected) and from the send (uncorrected); null in the
// client role.
nlohmann::json generator_json(const Scenario& sc, const ScenarioResult& r);

// What makes a result's figures less trustworthy, one sentence each (no
// newline): the machine was busy when the run started (r.load_at_start, see
// machine_busy in measure/env.h), the peer answered late (peer_late).
// Empty when neither holds.
std::vector<std::string> result_warnings(const Scenario& sc, const ScenarioResult& r);

nlohmann::json environment_json();
nlohmann::json scenario_json(const Scenario& sc);
nlohmann::json spectrum_json(const Histogram& h);
// The model's facts (Model::facts) as one object: {"threads": 2, "uring_setup": "..."}.
nlohmann::json model_facts_json(const std::vector<Model::Fact>& facts);
nlohmann::json result_json(const Scenario& sc, const ScenarioResult& r);

}  // namespace iomodels
