// Description: `iomodels list`: every model with its quadrant and whether it
// can run here, and every transport.
#include <cstdio>
#include <vector>

#include "frontend/command.h"
#include "frontend/frontend.h"
#include "measure/env.h"
#include "sys/uring.h"

namespace iomodels::cli {

using namespace frontend;

namespace {

// `list` has no flags: it reports what this build and this kernel offer.
class ListCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override {
    app->description("list the models, their quadrants and the transports");
  }
  int execute() override;
};

int ListCommand::execute() {
  std::printf("models:\n");
  for (const ModelInfo* m : all_models()) {
    std::string why = m->unavailable ? m->unavailable() : std::string();
    std::printf("  %-16s %-18s %s\n", std::string(m->name).c_str(),
                std::string(quadrant_name(m->quadrant)).c_str(),
                why.empty() ? "available" : ("unavailable: " + why).c_str());
    std::printf("  %-16s %-18s   %s\n", "", "", std::string(m->summary).c_str());
    std::vector<Transport> ts(all_transports().begin(), all_transports().end());
    ts.push_back(Transport::kFile);
    for (Transport t : ts) {
      WorkloadOptions w;
      w.transport = t;
      if (std::string na = m->not_applicable ? m->not_applicable(w) : ""; !na.empty())
        std::printf("  %-16s %-18s   not applicable on %s: %s\n", "", "",
                    std::string(transport_name(t)).c_str(), na.c_str());
    }
  }
  std::printf("\ntransports:\n");
  std::printf("  pipe          two pipes per connection (request, response)\n");
  std::printf("  socketpair    AF_UNIX stream socket pair\n");
  std::printf("  tcp           TCP over loopback, TCP_NODELAY (or --peer HOST:PORT)\n");
  std::printf(
      "  file          no peer: each connection is one pread in flight at a random 4 KiB-\n"
      "                aligned offset of a data file (default 256 MiB in /dev/shm; --file,\n"
      "                --file-size, --direct)\n");
  std::printf("\nio_uring: %s\n", sys::uring_probe().describe().c_str());
  return 0;
}

}  // namespace

std::unique_ptr<Command> make_list_command() { return std::make_unique<ListCommand>(); }

}  // namespace iomodels::cli
