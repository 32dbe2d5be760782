// Description: the busy-polling sweep behind `polling` (spin) and
// `polling-sleep` (sleep between sweeps): one thread, O_NONBLOCK fds, and
// read() asked again and again until it stops saying EAGAIN.
#pragma once

#include <memory>

#include "models/model.h"

namespace iomodels::detail {

// Sleeps options.poll_interval_ns between sweeps if `sleep_between_sweeps`,
// else spins.
std::unique_ptr<Model> make_polling(bool sleep_between_sweeps);

}  // namespace iomodels::detail
