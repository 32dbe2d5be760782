// Description: calibrate's fio driver: the command line of a random-read job
// on iomodels' data file, and fio's JSON read into ops/s, latency and CPU.
#include "calibrate/fio.h"

#include <algorithm>

#include "workload/workload.h"

namespace iomodels::calibrate {

using nlohmann::json;

std::vector<std::string> fio_argv(const std::string& exe, const FioJob& j) {
  std::vector<std::string> a = {
      exe, "--name=calibrate", "--filename=" + j.path, "--readonly", "--rw=randread",
      "--bs=" + std::to_string(j.block),
      // iomodels' reads start at multiples of 4 KiB.
      "--blockalign=" + std::to_string(kFileAlign), "--size=" + std::to_string(j.file_bytes),
      "--ioengine=" + j.engine,
      // Offsets drawn with replacement, as iomodels draws them.
      "--norandommap",
      // The data stays cached, as it does for iomodels.
      "--invalidate=0", "--time_based",
      "--runtime=" + std::to_string(std::max<uint64_t>(j.budget_ns / 1'000'000, 1)) + "ms",
      "--lat_percentiles=1", "--percentile_list=50:99", "--group_reporting",
      // Jobs as threads of one process, as iomodels' threads are. fio's
      // forked jobs each call setsid(), so each is a scheduler autogroup of
      // its own: on a busy machine 16 of them took 3.5x the CPU share of 16
      // threads (671K against 189K IOPS here), which measures the scheduler.
      "--thread", "--output-format=json"};
  // psync has one read in flight per job: depth N is N jobs.
  if (j.engine == "psync")
    a.push_back("--numjobs=" + std::to_string(j.qd));
  else
    a.push_back("--iodepth=" + std::to_string(j.qd));
  return a;
}

double fio_percentile(const json& lat, const char* key) {
  if (!lat.contains("percentile")) return 0;
  const json& p = lat.at("percentile");
  return p.contains(key) ? p.at(key).get<double>() / 1e3 : 0;
}

Status run_fio(const std::string& exe, const FioJob& j, Sample* out) {
  const std::vector<std::string> argv = fio_argv(exe, j);
  const ToolRun r = run_tool(argv, j.budget_ns + kToolGraceNs);
  if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("fio", r));
  return fio_sample(r, j.startup_cpu_s, out);
}

Status fio_sample(const ToolRun& r, double startup_cpu_s, Sample* out) {
  // fio may print notes before its JSON.
  const size_t brace = r.out.find('{');
  const json doc =
      json::parse(brace == std::string::npos ? std::string() : r.out.substr(brace), nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc.at("jobs").empty())
    return Status::error("fio printed no JSON result: " + first_line(r.out + r.err));
  const json& job = doc.at("jobs").at(0);
  if (job.value("error", 0) != 0)
    return Status::error("fio job failed with error " + std::to_string(job.value("error", 0)) +
                         ": " + first_line(r.err));
  const json& rd = job.at("read");
  const double ios = rd.at("total_ios").get<double>();
  if (ios <= 0) return Status::error("fio read nothing: " + first_line(r.err));
  // fio's own CPU figures cover each job's I/O window but only the job's own
  // thread (getrusage(RUSAGE_THREAD)): not the io-wq workers that run
  // io_uring's reads of tmpfs here, nor glibc's POSIX AIO threads. So CPU
  // per I/O is the process CPU of the whole fio run (wait4: every thread of
  // every fio process) less fio's start-up, measured by the same command run
  // for 1 ms; never below the job threads' own figure.
  const double job_runtime_s = job.at("job_runtime").get<double>() / 1e3;
  const double usr_s = job.at("usr_cpu").get<double>() / 100 * job_runtime_s;
  const double sys_s = job.at("sys_cpu").get<double>() / 100 * job_runtime_s;
  const double process_s = r.user_s + r.sys_s;
  const double cpu_s = std::max(process_s - startup_cpu_s, usr_s + sys_s);
  const json& lat = rd.contains("lat_ns") && rd.at("lat_ns").contains("percentile")
                        ? rd.at("lat_ns")
                        : rd.at("clat_ns");
  out->ops = static_cast<uint64_t>(ios);
  out->ops_per_s = rd.at("iops").get<double>();
  out->wall_s = rd.at("runtime").get<double>() / 1e3;
  out->p50_us = fio_percentile(lat, "50.000000");
  out->p99_us = fio_percentile(lat, "99.000000");
  out->cpu_us_per_op = cpu_s * 1e6 / ios;
  out->extra = {
      {"cpu_source",
       "wait4 rusage of the whole fio run (every thread) less fio's start-up (the same command "
       "run for 1 ms), at least fio's own job-thread figure"},
      {"process_cpu_s", process_s},
      {"startup_cpu_s", startup_cpu_s},
      {"job_thread_cpu_us_per_op", (usr_s + sys_s) * 1e6 / ios},
      {"job_thread_cpu_source",
       "fio usr_cpu + sys_cpu x job_runtime: the jobs' own threads over their I/O windows"},
      {"ctx", job.value("ctx", 0.0)}};
  return {};
}

Status fio_startup_cpu(const std::string& exe, FioJob j, double* out) {
  j.budget_ns = 1'000'000;
  std::vector<double> cpu;
  for (int i = 0; i < 3; ++i) {
    const ToolRun r = run_tool(fio_argv(exe, j), j.budget_ns + kToolGraceNs);
    if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("fio", r));
    cpu.push_back(r.user_s + r.sys_s);
  }
  std::sort(cpu.begin(), cpu.end());
  *out = cpu[1];
  return {};
}

}  // namespace iomodels::calibrate
