// Description: the model registry, and the quadrant and mechanism names.
#include <string>

#include "models/model.h"

namespace iomodels {

#define IOMODELS_MODEL(id) extern const ModelInfo model_##id;
#include "models/list.h"
#undef IOMODELS_MODEL

namespace {
const ModelInfo* const kModels[] = {
#define IOMODELS_MODEL(id) &model_##id,
#include "models/list.h"
#undef IOMODELS_MODEL
};
}  // namespace

std::span<const ModelInfo* const> all_models() { return kModels; }

const ModelInfo* find_model(std::string_view name) {
  for (const ModelInfo* m : kModels)
    if (m->name == name) return m;
  return nullptr;
}

std::string why_not(const ModelInfo& m, const WorkloadOptions& w) {
  if (m.unavailable != nullptr) {
    if (std::string why = m.unavailable(); !why.empty()) return why;
  }
  if (m.not_applicable != nullptr) return m.not_applicable(w);
  return {};
}

std::string_view quadrant_name(Quadrant q) {
  switch (q) {
    case Quadrant::kSyncBlocking:
      return "sync-blocking";
    case Quadrant::kSyncNonblocking:
      return "sync-nonblocking";
    case Quadrant::kAsyncBlocking:
      return "async-blocking";
    case Quadrant::kAsyncNonblocking:
      return "async-nonblocking";
    case Quadrant::kMultiplexing:
      return "multiplexing";
  }
  return "?";
}

std::string_view mechanism_name(Mechanism m) {
  switch (m) {
    case Mechanism::kBlockingRead:
      return "blocking-read";
    case Mechanism::kThreads:
      return "threads";
    case Mechanism::kThreadPool:
      return "thread-pool";
    case Mechanism::kNonblockingRead:
      return "nonblocking-read";
    case Mechanism::kPoll:
      return "poll";
    case Mechanism::kSelect:
      return "select";
    case Mechanism::kEpoll:
      return "epoll";
    case Mechanism::kIoUring:
      return "io_uring";
  }
  return "?";
}

}  // namespace iomodels
