// Description: the `iomodels` binary: list, run, bench, demo, peer, calibrate, overhead,
// chain, compare.
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>

#include "bench/command.h"
#include "calibrate/command.h"
#include "chain/command.h"
#include "cli/commands.h"
#include "compare/command.h"
#include "frontend/frontend.h"
#include "measure/env.h"
#include "overhead/command.h"
#include "sys/cleanup.h"

int main(int argc, char** argv) {
  using namespace iomodels::cli;
  using iomodels::bench::add_bench;
  using iomodels::bench::run_bench;
  using iomodels::calibrate::add_calibrate;
  using iomodels::calibrate::run_calibrate;
  using iomodels::chain::add_chain;
  using iomodels::chain::add_chain_service;
  using iomodels::chain::run_chain;
  using iomodels::chain::run_chain_service;
  using iomodels::compare::add_compare;
  using iomodels::compare::run_compare;
  using iomodels::frontend::UsageError;
  using iomodels::overhead::add_overhead;
  using iomodels::overhead::run_overhead;
  // A write to a peer that died is an error to report (-EPIPE), not a reason
  // to die: pipes and io_uring writes raise SIGPIPE otherwise.
  ::signal(SIGPIPE, SIG_IGN);
  // Ctrl-C (or SIGTERM, SIGHUP) removes the temporary files of a result
  // still being written before the process ends.
  iomodels::sys::install_signal_cleanup();
  CLI::App app{
      "iomodels: what each I/O model costs while a program waits for slow I/O.\n"
      "A forked peer process plays a slow device; each model (blocking, polling, threads,\n"
      "poll/select, epoll, io_uring, coroutines) drives the same workload and is measured."};
  app.set_version_flag("--version", iomodels::iomodels_version());
  app.require_subcommand(1);
  CLI::App* list = add_list(app);
  CLI::App* run = add_run(app);
  CLI::App* peer = add_peer(app);
  CLI::App* demo = add_demo(app);
  CLI::App* sweep = add_sweep(app);
  CLI::App* bench = add_bench(app);
  CLI::App* calibrate = add_calibrate(app);
  CLI::App* overhead = add_overhead(app);
  CLI::App* chain = add_chain(app);
  CLI::App* chain_service = add_chain_service(app);
  CLI::App* compare = add_compare(app);
  try {
    app.parse(argc, argv);
    if (list->parsed()) return run_list();
    if (run->parsed()) return run_run();
    if (peer->parsed()) return run_peer();
    if (demo->parsed()) return run_demo();
    if (sweep->parsed()) return run_sweep();
    if (bench->parsed()) return run_bench();
    if (calibrate->parsed()) return run_calibrate();
    if (overhead->parsed()) return run_overhead();
    if (chain->parsed()) return run_chain();
    if (chain_service->parsed()) return run_chain_service();
    if (compare->parsed()) return run_compare();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "iomodels: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "iomodels: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "iomodels: out of memory: an allocation failed (a memory limit such as ulimit "
                 "-v, or fewer connections or threads)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "iomodels: %s\n", e.what());
    return 1;
  }
  return 2;
}
