// Description: renders the demo's outcome: each story's steps and verdict,
// the measured 2x2 table, the race, the services story, and the JSON document.
#include "cli/demo_render.h"

#include <algorithm>
#include <cstdio>

#include "sys/time.h"

namespace iomodels::cli {
namespace {

struct Colors {
  const char* bold = "";
  const char* dim = "";
  const char* off = "";
};

void print_race(const Race& race, const Colors& k, bool python) {
  std::printf(
      "%sThree downloads, asked in the order A, B, C%s (devices of %.0f, %.0f and %.0f ms)\n",
      k.bold, k.off, ms(race.latency_ns[0]), ms(race.latency_ns[1]), ms(race.latency_ns[2]));
  for (const RaceRun* r : {&race.callbacks, &race.awaits}) {
    if (!r->status.ok()) {
      std::printf("  %-24s failed: %s\n", r->how.c_str(), r->status.message().c_str());
      continue;
    }
    std::string done;
    for (char name : r->order) {
      char b[48];
      std::snprintf(b, sizeof b, "%s%c at t=%.1f", done.empty() ? "" : ", ", name,
                    r->done_ms[static_cast<size_t>(name - 'A')]);
      done += b;
    }
    std::printf("  %-24s all sent by t=%.1f ms; finished %s ms\n", r->how.c_str(),
                std::max({r->sent_ms[0], r->sent_ms[1], r->sent_ms[2]}), done.c_str());
  }
  if (race.callbacks.status.ok() && race.awaits.status.ok())
    std::printf(
        "  → both finished in the order the data came (%s), not the order asked (ABC):\n"
        "    nothing waited for A while B and C were ready\n",
        race.callbacks.order == race.awaits.order ? race.callbacks.order.c_str() : "see above");
  if (python)
    std::printf(
        "  %sin Python:%s\n"
        "    for done in asyncio.as_completed([get(a), get(b), get(c)]):\n"
        "        use(await done)        # B first, then C, then A\n",
        k.dim, k.off);
  std::printf("\n");
}

void print_story(const Story& s, const Colors& k, bool python) {
  std::printf("%s%s (%s)%s\n", k.bold, s.quadrant.c_str(), s.title.c_str(), k.off);
  if (!s.status.ok()) {
    std::printf("  failed: %s\n\n", s.status.message().c_str());
    return;
  }
  for (const Step& st : s.steps)
    std::printf("  %-48s t=%8.1f ms\n", st.text.c_str(), static_cast<double>(st.t_ns) / 1e6);
  std::printf("  %swall %.1f ms · CPU %.1f ms · checks %llu · syscalls %llu%s\n", k.dim,
              s.m.wall_s * 1e3, s.m.cpu_s() * 1e3, static_cast<unsigned long long>(s.checks),
              static_cast<unsigned long long>(s.m.calls.syscalls), k.off);
  for (const std::string& line : verdict(s)) std::printf("  → %s\n", line.c_str());
  if (python) {
    std::printf("  %sin Python:%s\n", k.dim, k.off);
    size_t at = 0;
    while (at < s.python.size()) {
      const size_t nl = s.python.find('\n', at);
      const size_t end = nl == std::string::npos ? s.python.size() : nl;
      std::printf("    %s\n", s.python.substr(at, end - at).c_str());
      at = end + 1;
    }
  }
  std::printf("\n");
}

// The stories as one JSON document: every number a verdict is made of, and

// The stories as one JSON document: every number a verdict is made of, and
// the verdict, so that a reader (or a test) can check one against the other.
nlohmann::json story_json(const Story& s) {
  nlohmann::json j;
  j["quadrant"] = s.quadrant;
  j["title"] = s.title;
  j["python"] = s.python;
  j["ok"] = s.status.ok();
  if (!s.status.ok()) {
    j["error"] = s.status.message();
    return j;
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& st : s.steps) steps.push_back({{"t_ms", ms(st.t_ns)}, {"text", st.text}});
  j["steps"] = steps;
  j["wall_ms"] = s.m.wall_s * 1e3;
  j["cpu_ms"] = s.m.cpu_s() * 1e3;
  j["syscalls"] = s.m.calls.syscalls;
  j["checks"] = s.checks;
  j["wasted_checks"] = s.eagain;
  j["sent_ms"] = ms(s.t_sent);
  j["ready_ms"] = ms(s.t_ready);
  j["used_ms"] = ms(s.t_used);
  j["wait_ms"] = ms(s.t_ready - s.t_sent);
  j["work_ms"] = ms(s.work_ns);
  j["sat_ready_ms"] = ms(s.t_used - s.t_ready);
  j["followed"] = followed(s);
  if (s.stalled_ticks != 0) {
    j["stalled_ticks"] = s.stalled_ticks;
    j["first_tick_late_ms"] = ms(s.stall_ns);
  }
  if (s.main_sched.ok)
    j["main_thread"] = {{"running_ms", ms(s.main_sched.running)},
                        {"runnable_ms", ms(s.main_sched.runnable)},
                        {"sleeping_ms", ms(s.main_sched.sleeping)}};
  j["verdict"] = verdict(s);
  return j;
}

std::string cell(const Story& s) {
  if (!s.status.ok()) return "failed";
  char buf[64];
  std::snprintf(buf, sizeof buf, "wall %.0f ms, CPU %.0f ms", s.m.wall_s * 1e3, s.m.cpu_s() * 1e3);
  return buf;
}

}  // namespace

void print_demo_intro(const DemoOutcome& d) {
  std::printf(
      "The download() story: ask for a document (1), do %s of own work (2), use the\n"
      "document (3). The device takes %s. Steps are numbered as in the source and\n"
      "listed in the order they really happened.\n\n",
      format_duration(d.work_ns).c_str(), d.latency.c_str());
}

void print_demo_text(const DemoOutcome& d, const DemoStyle& style) {
  const Colors k = style.color ? Colors{"\033[1m", "\033[2m", "\033[0m"} : Colors{};
  const std::vector<Story>& stories = d.stories;
  for (const Story& s : stories) print_story(s, k, style.python);

  std::printf("%sThe 2x2 table, measured%s\n", k.bold, k.off);
  std::printf("         %-34s %-34s\n", "blocking", "non-blocking");
  std::printf("  sync   %-34s %-34s\n", cell(stories[0]).c_str(), cell(stories[1]).c_str());
  std::printf("         %-34s %-34s\n", stories[0].waiting.c_str(), stories[1].waiting.c_str());
  std::printf("  async  %-34s %-34s\n", cell(stories[2]).c_str(), cell(stories[3]).c_str());
  std::printf("         %-34s %-34s\n\n", stories[2].waiting.c_str(), stories[3].waiting.c_str());
  if (stories[4].status.ok() && stories[5].status.ok())
    std::printf(
        "%sTask start order, measured%s\n"
        "  eager (task.start(): runs to its first co_await at once): request sent at t=%.1f ms, "
        "wall %.1f ms\n"
        "  lazy  (asyncio.create_task: runs when the caller yields): request sent at t=%.1f ms, "
        "wall %.1f ms\n\n",
        k.bold, k.off, ms(stories[4].t_sent), stories[4].m.wall_s * 1e3, ms(stories[5].t_sent),
        stories[5].m.wall_s * 1e3);
  if (d.race_on) print_race(d.race, k, style.python);
  if (d.services_on) std::fputs(services_story_text(d.services, style.python).c_str(), stdout);
  std::printf(
      "Each story's → lines are computed from its own measurements: what the wall time\n"
      "followed (the wait, the work, or both in a row), how long the data sat ready\n"
      "before the program used it (a watcher thread sleeping in poll() saw when it\n"
      "became readable), and how many checks found nothing.\n");
}

nlohmann::json demo_json(const DemoOutcome& d) {
  const std::vector<Story>& stories = d.stories;
  const Race& race = d.race;
  const ServicesStory& services = d.services;
  nlohmann::json doc;
  doc["latency"] = d.latency;
  doc["work_ms"] = ms(d.work_ns);
  doc["stories"] = nlohmann::json::array();
  for (const Story& s : stories) doc["stories"].push_back(story_json(s));
  if (d.services_on)
    doc["services"] = {{"ran", services.ran},
                       {"skipped", services.skipped},
                       {"error", services.error},
                       {"sync", services.sync},
                       {"queue", services.queue}};
  if (d.race_on) {
    doc["race"] = {
        {"asked", "ABC"},
        {"latency_ms", {ms(race.latency_ns[0]), ms(race.latency_ns[1]), ms(race.latency_ns[2])}}};
    for (const RaceRun* r : {&race.callbacks, &race.awaits})
      doc["race"]["runs"].push_back({{"how", r->how},
                                     {"ok", r->status.ok()},
                                     {"error", r->status.message()},
                                     {"order", r->order},
                                     {"sent_ms", r->sent_ms},
                                     {"done_ms", r->done_ms}});
  }
  return doc;
}

void print_demo_timeline(const DemoOutcome& d, const std::string& path, size_t events,
                         bool truncated, uint64_t max_events) {
  std::printf("\ntimeline: %s (%zu events%s) — open it in ui.perfetto.dev\n", path.c_str(), events,
              truncated ? ", truncated" : "");
  // Which stories the timeline holds whole, and which it lost to --trace-events.
  for (const Story& s : d.stories)
    if (s.trace_cut)
      std::printf(
          "  not on the timeline: \"%s\" did not fit whole in --trace-events %llu "
          "(only its parent slice is there)\n",
          s.title.c_str(), static_cast<unsigned long long>(max_events));
}

}  // namespace iomodels::cli
