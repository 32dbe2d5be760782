// Description: the registry: one line per model, in the order `list` shows.
// Each model's file defines `const ModelInfo model_<id>`.
IOMODELS_MODEL(blocking)
IOMODELS_MODEL(epoll)
