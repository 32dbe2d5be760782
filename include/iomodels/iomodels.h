// Description: iomodels as a library, behind one include: describe a
// Scenario (model × workload), open a Session on it (the peer forked, the
// connections and the model set up, all untimed), measure one window, and
// read the figures. The registry lists the models; the parsers read the same
// texts the command line takes ("1ms", "4KiB", "exp:1ms").
//
//   iomodels::Scenario sc;
//   sc.model = "uring";
//   sc.workload.connections = 64;
//   std::unique_ptr<iomodels::Session> s;
//   iomodels::Session::open(sc, &s);
//   iomodels::ScenarioResult r;
//   s->measure(1000, &r);  // r.figures.cpu_us_per_req, r.figures.p99_us, ...
#pragma once

// What a library user needs, and nothing the layers keep for themselves (the
// syscall wrappers, the ring, the peer, the environment probes): the scenario
// and its figures, the session that runs it, the model registry, the parsers
// of the command line's texts, and Status.
#include "models/model.h"
#include "run/figures.h"
#include "run/scenario.h"
#include "run/session.h"
#include "sys/status.h"
#include "workload/parse.h"
