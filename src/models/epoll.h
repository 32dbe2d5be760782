// Description: the epoll reactor behind `epoll` (level-triggered) and
// `epoll-et` (edge-triggered): one thread, non-blocking fds, and a callback
// per ready connection dispatched from epoll_wait.
#pragma once

#include <memory>

#include "models/model.h"

namespace iomodels::detail {

std::unique_ptr<Model> make_epoll_reactor(bool edge_triggered);

}  // namespace iomodels::detail
