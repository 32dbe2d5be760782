// Description: the coroutine frame cache (see coro.h).
#include "models/coro.h"

#include <new>

namespace iomodels::detail {
namespace {

// A free list of frames of one size. A model's coroutines are all the same
// function, so one size covers them; frames of another size go to the heap.
class FrameCache {
 public:
  ~FrameCache() {
    while (head_ != nullptr) ::operator delete(pop());
  }

  void* take(size_t n) {
    if (n != size_ || head_ == nullptr) return nullptr;
    return pop();
  }

  void give(void* p, size_t n) {
    if (n != size_) {
      if (count_ > 0) {
        ::operator delete(p);
        return;
      }
      size_ = n;  // empty: switch to this size (a different model now runs here)
    }
    if (count_ >= kMaxFrames) {
      ::operator delete(p);
      return;
    }
    auto* node = static_cast<Node*>(p);
    node->next = head_;
    head_ = node;
    ++count_;
  }

 private:
  struct Node {
    Node* next;
  };
  // Enough for the largest workload (kMaxConnections); beyond, frames are freed.
  static constexpr size_t kMaxFrames = 65536;

  void* pop() {
    Node* n = head_;
    head_ = n->next;
    --count_;
    return n;
  }

  Node* head_ = nullptr;
  size_t size_ = 0;
  size_t count_ = 0;
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
