// Description: the demo's catalogue of stories (with each one's Python
// twin) and the verdict each story's own numbers give.
#include "cli/demo_story.h"

#include <cstdio>

namespace iomodels::cli {

std::string sched_text(const char* who, const SchedSplit& d) {
  char b[200];
  std::snprintf(b, sizeof b, "%s thread: running %.1f ms, runnable %.1f ms, sleeping %.1f ms", who,
                static_cast<double>(d.running) / 1e6, static_cast<double>(d.runnable) / 1e6,
                static_cast<double>(d.sleeping) / 1e6);
  return b;
}

const std::vector<StoryInfo>& demo_stories() {
  static const std::vector<StoryInfo> stories = {
      {StoryKind::kSyncBlocking, "sync · blocking", "read()",
       "sock.sendall(req)\n"
       "data = sock.recv(n)        # read(): the thread sleeps in the kernel\n"
       "work()\n"
       "use(data)"},
      {StoryKind::kSyncNonblocking, "sync · non-blocking", "O_NONBLOCK, EAGAIN",
       "sock.setblocking(False); sock.sendall(req)\n"
       "while True:\n"
       "    work_slice()\n"
       "    try: data = sock.recv(n); break\n"
       "    except BlockingIOError: pass   # read() -> EAGAIN: a wasted check"},
      {StoryKind::kAsyncBlocking, "async · blocking", "thread, future.get()",
       "with ThreadPoolExecutor(1) as ex:\n"
       "    fut = ex.submit(download)    # the worker sleeps in recv()\n"
       "    work()\n"
       "    data = fut.result()          # this thread sleeps on a futex"},
      {StoryKind::kAsyncNonblocking, "async · non-blocking", "epoll, callback",
       "loop.add_reader(sock, on_readable)   # epoll_ctl(ADD)\n"
       "sock.sendall(req)\n"
       "work()                    # the loop cannot call back until this returns\n"
       "loop.run_forever()        # epoll_wait(); on_readable() uses the data"},
      {StoryKind::kAwait, "async · non-blocking", "coroutine, co_await on epoll",
       "loop.set_task_factory(asyncio.eager_task_factory)   # Python 3.12+\n"
       "task = asyncio.create_task(download())  # runs to its first await now\n"
       "work()                    # download() already sent its request\n"
       "data = await task"},
      {StoryKind::kAwaitLazy, "async · non-blocking",
       "coroutine started lazily, as asyncio.create_task",
       "task = asyncio.create_task(download())   # scheduled, not run\n"
       "work()                    # download() has not started: nothing was sent\n"
       "data = await task         # yields to the loop: now download() sends"},
      {StoryKind::kStalledLoop, "async · non-blocking, misused",
       "blocking read() inside the event loop",
       "async def handler():\n"
       "    data = sock.recv(n)    # a blocking call inside async code: the loop stops\n"
       "    work(); use(data)\n"
       "# meanwhile loop.call_later / other tasks' callbacks are all late"},
  };
  return stories;
}

// What the wall time followed, judged from the story's own timestamps: if
// the wait (request sent to data readable) and the own work did not overlap,
// both, one after the other; if they did, whichever of the two ended last.
std::string followed(const Story& s) {
  const uint64_t work_start = s.t_work_end - s.work_ns;
  const bool overlapped = work_start < s.t_ready && s.t_sent < s.t_work_end;
  if (!overlapped) return "wait+work";
  return s.t_work_end >= s.t_ready ? "work" : "wait";
}

// The story's verdict, in words made of its numbers.
std::vector<std::string> verdict(const Story& s) {
  const double wait = ms(s.t_ready - s.t_sent), work = ms(s.work_ns), wall = s.m.wall_s * 1e3;
  const double sat = ms(s.t_used - s.t_ready);
  char b[320];
  std::vector<std::string> out;
  const std::string f = followed(s);
  if (f == "wait+work")
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms ≈ wait %.1f + work %.1f ms: one after the other, nothing overlapped", wall,
        wait, work);
  else if (f == "work")
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms followed the work (%.1f ms), not the wait (%.1f ms): they overlapped", wall,
        work, wait);
  else
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms followed the wait (%.1f ms), not the work (%.1f ms): they overlapped", wall,
        wait, work);
  out.push_back(b);
  std::snprintf(
      b, sizeof b, "data readable at t=%.1f ms, used at t=%.1f ms: it sat ready %.1f ms%s",
      ms(s.t_ready), ms(s.t_used), sat, sat >= 1.0 ? " while the program was busy elsewhere" : "");
  out.push_back(b);
  std::snprintf(b, sizeof b, "%llu of %llu checks found nothing (EAGAIN)",
                static_cast<unsigned long long>(s.eagain),
                static_cast<unsigned long long>(s.checks));
  out.push_back(b);
  if (s.stalled_ticks != 0) {
    std::snprintf(b, sizeof b,
                  "the loop was stuck: %llu timer ticks (every %.0f ms) fell due, the first ran "
                  "%.1f ms late",
                  static_cast<unsigned long long>(s.stalled_ticks), ms(kTickNs), ms(s.stall_ns));
    out.push_back(b);
  }
  if (s.main_sched.ok) out.push_back(sched_text("main", s.main_sched) + " (its schedstat)");
  return out;
}

}  // namespace iomodels::cli
