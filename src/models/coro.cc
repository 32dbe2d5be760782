// Description: the coroutine frame cache (see coro.h).
#include "models/coro.h"

#include <new>

namespace iomodels::detail {
namespace {

// Free lists of frames by size. A model's coroutines are all one function,
// so one size covers a model; a few lists let models that take turns on a
// thread (a benchmark grid) each keep theirs. Other sizes go to the heap.
class FrameCache {
 public:
  ~FrameCache() {
    for (List& l : lists_)
      while (l.head != nullptr) ::operator delete(l.pop());
  }

  void* take(size_t n) {
    for (List& l : lists_)
      if (l.size == n && l.head != nullptr) return l.pop();
    return nullptr;
  }

  void give(void* p, size_t n) {
    List* to = nullptr;
    for (List& l : lists_) {
      if (l.size == n) {
        to = &l;
        break;
      }
      if (to == nullptr && l.count == 0) to = &l;  // an empty list can take a new size
    }
    if (to == nullptr || to->count >= kMaxFrames) {
      ::operator delete(p);
      return;
    }
    to->size = n;
    to->push(p);
  }

 private:
  struct Node {
    Node* next;
  };
  struct List {
    Node* head = nullptr;
    size_t size = 0;
    size_t count = 0;
    void push(void* p) {
      auto* node = static_cast<Node*>(p);
      node->next = head;
      head = node;
      ++count;
    }
    void* pop() {
      Node* node = head;
      head = node->next;
      --count;
      return node;
    }
  };
  // More than the largest workload (kMaxConnections); beyond, frames are freed.
  static constexpr size_t kMaxFrames = 65536;
  // Two coroutine models today; room for a few more.
  static constexpr size_t kLists = 4;

  List lists_[kLists];
};

FrameCache& cache() {
  thread_local FrameCache c;
  return c;
}

}  // namespace

void* coro_frame_alloc(size_t n) {
  if (void* p = cache().take(n)) return p;
  return ::operator new(n < sizeof(void*) ? sizeof(void*) : n);
}

void coro_frame_free(void* p, size_t n) noexcept { cache().give(p, n); }

}  // namespace iomodels::detail
