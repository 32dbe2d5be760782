// Description: the registry: one line per model, in the order `list` shows.
// Each model's file defines `const ModelInfo model_<id>`.
IOMODELS_MODEL(blocking)
IOMODELS_MODEL(epoll)
IOMODELS_MODEL(uring)
IOMODELS_MODEL(uring_sqpoll)
IOMODELS_MODEL(uring_fixed)
IOMODELS_MODEL(uring_multishot)
