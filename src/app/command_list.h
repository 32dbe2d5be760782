// Description: the subcommands of `iomodels`, one row each, in the order
// `iomodels --help` lists them. A row names the frontend's namespace, the
// factory its file defines, the command's name, the one line the main help
// shows, and whether it is hidden (run by iomodels itself). Adding a command
// is its file plus one row here; command_table.h turns the rows into the
// factories' declarations and the dispatch table.
//
// IOMODELS_COMMAND(namespace, factory, name, summary, hidden)
IOMODELS_COMMAND(cli, make_list_command, "list",
                 "list the models, their quadrants and the transports", false)
IOMODELS_COMMAND(cli, make_run_command, "run", "run one scenario and print what it cost", false)
IOMODELS_COMMAND(cli, make_peer_command, "peer",
                 "run the peer alone, for run/bench --peer HOST:PORT", false)
IOMODELS_COMMAND(cli, make_demo_command, "demo",
                 "the download() story once per quadrant: what runs when, and what the CPU does",
                 false)
IOMODELS_COMMAND(cli, make_sweep_command, "sweep",
                 "each model at a series of offered loads: CPU and latency at equal load", false)
IOMODELS_COMMAND(bench, make_bench_command, "bench",
                 "run the grid model × transport × connections × size × latency (Google Benchmark)",
                 false)
IOMODELS_COMMAND(calibrate, make_calibrate_command, "calibrate",
                 "measure iomodels against fio and sockperf, interleaved, with ratios", false)
IOMODELS_COMMAND(overhead, make_overhead_command, "overhead",
                 "what the harness's own per-request work costs, beside a minimal loop", false)
IOMODELS_COMMAND(ladder, make_ladder_command, "ladder",
                 "the io_uring feature ladder: each feature's CPU per request against the step "
                 "before, with intervals",
                 false)
IOMODELS_COMMAND(chain, make_chain_command, "chain",
                 "services A -> B -> C as processes: synchronous calls against a JetStream queue",
                 false)
IOMODELS_COMMAND(chain, make_chain_service_command, "chain-service",
                 "one service of `iomodels chain` (started by it)", true)
IOMODELS_COMMAND(compare, make_compare_command, "compare",
                 "compare two results files: medians, changes, significance, CI gates", false)
IOMODELS_COMMAND(compare, make_ab_command, "ab",
                 "two builds on the same run, alternately: B/A per figure, its interval, a verdict",
                 false)
