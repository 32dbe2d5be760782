// Description: the subcommands of the cli frontend: list, run, peer, demo.
// add_* registers one with the app; run_* executes it after parsing and
// returns the exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace iomodels::cli {

CLI::App* add_list(CLI::App& app);
int run_list();
CLI::App* add_run(CLI::App& app);
int run_run();
CLI::App* add_peer(CLI::App& app);
int run_peer();
CLI::App* add_demo(CLI::App& app);
int run_demo();
CLI::App* add_sweep(CLI::App& app);
int run_sweep();

}  // namespace iomodels::cli
