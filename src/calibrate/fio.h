// Description: calibrate's fio driver: fio's command line for a random-read
// job, its JSON output read into a Sample, and its start-up CPU.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibrate/process.h"
#include "calibrate/sample.h"
#include "sys/status.h"

namespace iomodels::calibrate {

struct FioJob {
  std::string engine;  // psync | io_uring | posixaio
  uint32_t qd = 1;
  std::string path;
  uint64_t file_bytes = 0;
  uint32_t block = 4096;
  uint64_t budget_ns = 0;
  // CPU seconds (wait4) of this same command run for 1 ms: fio's start-up
  // and tear-down, subtracted from each run's process CPU.
  double startup_cpu_s = 0;
};

// fio's command line for job `j`, `exe` first.
std::vector<std::string> fio_argv(const std::string& exe, const FioJob& j);

// A percentile from fio's JSON ("50.000000": ns), in microseconds.
double fio_percentile(const nlohmann::json& lat, const char* key);

// Reads the output of a fio run that exited 0 (`r`: its JSON on stdout, its
// wait4 CPU) into *out; `startup_cpu_s` is subtracted from the run's CPU.
Status fio_sample(const ToolRun& r, double startup_cpu_s, Sample* out);

// Runs job `j` (killed kToolGraceNs after its budget) into *out.
Status run_fio(const std::string& exe, const FioJob& j, Sample* out);

// fio's start-up and tear-down CPU for job `j`: the median of three runs of
// the same command with a 1 ms runtime (their few reads cost microseconds).
Status fio_startup_cpu(const std::string& exe, FioJob j, double* out);

}  // namespace iomodels::calibrate
