// Description: draws the demo's timeline as SVG, one picture per story: a
// lane per thread on a time axis that every story shares (0 = the story's
// clock start), slices told apart by colour and by pattern, the numbered
// step marks, the trace's flow arrows, and the story's own request → data
// ready → used arrows on a row above the lanes.
#include "cli/demo_html_lanes.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <set>

namespace iomodels::cli {
namespace {

// Geometry, in px.
constexpr double kLabelW = 78, kPlotW = 880, kRightPad = 18;
constexpr double kTop = 6, kDataH = 24, kGap = 18, kLaneH = 36, kAxisH = 26;
constexpr double kSliceTop = 12, kSliceH = 20;  // within a lane

// A blocking call this long or longer slept; shorter ones found the answer
// at once and count as other syscalls.
constexpr double kSleptUs = 100;

struct Ev {
  char ph = 0;
  int tid = 0;
  double ts = 0, dur = 0;  // µs
  std::string name, cat, detail, id;
};

std::vector<Ev> events_of(const nlohmann::json& trace) {
  std::vector<Ev> out;
  if (!trace.contains("traceEvents") || !trace["traceEvents"].is_array()) return out;
  for (const auto& j : trace["traceEvents"]) {
    Ev e;
    const std::string ph = j.value("ph", "");
    if (ph.size() != 1) continue;
    e.ph = ph[0];
    e.tid = j.value("tid", 0);
    e.ts = j.value("ts", 0.0);
    e.dur = j.value("dur", 0.0);
    e.name = j.value("name", "");
    e.cat = j.value("cat", "");
    e.id = j.value("id", "");
    if (j.contains("args") && j["args"].contains("detail") && j["args"]["detail"].is_string())
      e.detail = j["args"]["detail"];
    if (j.contains("args") && j["args"].contains("name") && j["args"]["name"].is_string())
      e.detail = j["args"]["name"];
    out.push_back(std::move(e));
  }
  return out;
}

// What a slice shows the thread doing: "run", "sleep", "spin", "sys", or
// "" for the flows' anchor slices and the stories' parent slices.
std::string kind_of(const Ev& e) {
  static const std::set<std::string> blocking = {
      "read",           "recv",         "recvfrom",        "recvmsg",
      "readv",          "epoll_wait",   "epoll_pwait",     "epoll_pwait2",
      "poll",           "ppoll",        "select",          "pselect6",
      "futex",          "future.get()", "accept",          "accept4",
      "io_uring_enter", "nanosleep",    "clock_nanosleep", "wait4"};
  if (e.cat == "work" || e.cat == "callback") return "run";
  if (e.cat == "eagain") return "spin";
  if (e.cat == "flow" || e.cat == "story") return "";
  if (e.cat == "syscall" && blocking.count(e.name) != 0 && e.dur >= kSleptUs) return "sleep";
  return "sys";
}

const char* kind_words(const std::string& k) {
  if (k == "run") return "running";
  if (k == "sleep") return "sleeping in a blocking call";
  if (k == "spin") return "spinning on EAGAIN";
  return "syscall";
}

std::string dur_text(double us) {
  return us >= 1000 ? strf("%.1f ms", us / 1e3) : strf("%.1f µs", us);
}

// Where one story lies on the timeline.
struct Window {
  bool found = false;
  int tid = 0;
  double ts0 = 0, end = 0;  // its parent slice
  double t0 = 0;            // its clock's start (steps and verdicts count from here)
};

Window window_of(const Story& s, const std::vector<Ev>& evs) {
  Window w;
  if (s.trace_cut) return w;
  const std::string name = "story: " + s.title;
  for (const Ev& e : evs)
    if (e.ph == 'X' && e.cat == "story" && e.name == name) {
      w = {true, e.tid, e.ts, e.ts + e.dur, e.ts};
      break;
    }
  if (!w.found) return w;
  // A step mark sits at t0 + the step's time: the first one found sets t0.
  for (const Step& st : s.steps)
    for (const Ev& e : evs)
      if (e.ph == 'i' && e.name == st.text && e.ts >= w.ts0 && e.ts <= w.end) {
        w.t0 = e.ts - static_cast<double>(st.t_ns) / 1e3;
        return w;
      }
  return w;
}

// The time axis the stories share.
struct Scale {
  double lead = 0;  // µs before t0 that the widest story shows
  double k = 1;     // px per µs
  double tail = 0;  // µs after t0
  double x(const Window& w, double ts) const { return kLabelW + (ts - w.t0 + lead) * k; }
};

double nice_step(double span_ms) {
  const double raw = span_ms / 8;
  const double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-3))));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string slice_svg(const Ev& e, const std::string& kind, double x, double w, double y,
                      const Window& win) {
  std::string title = e.name + " · " + dur_text(e.dur) + " · " + kind_words(kind);
  if (!e.detail.empty()) title += " · " + e.detail;
  title += strf(" · t=%.1f ms", (e.ts - win.t0) / 1e3);
  std::string out = strf(
      "<rect class=\"s s-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
      "fill=\"url(#p-%s)\"><title>%s</title></rect>",
      kind.c_str(), x, y + kSliceTop, w, kSliceH, kind.c_str(), html_escape(title).c_str());
  const std::string label = e.name + " " + dur_text(e.dur);
  if (w >= 7.0 * static_cast<double>(label.size()))
    out += strf("<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\">%s</text>", x + 4, y + kSliceTop + 14,
                html_escape(label).c_str());
  return out;
}

std::string story_svg(const Story& s, const Window& win, const Scale& sc,
                      const std::vector<Ev>& evs) {
  // The lanes: the story's own thread first, then each other thread with an
  // event inside the story, in the order they first appear.
  std::map<int, std::string> names;
  for (const Ev& e : evs)
    if (e.ph == 'M' && e.name == "thread_name") names[e.tid] = e.detail;
  std::vector<const Ev*> in;
  std::vector<int> tids = {win.tid};
  for (const Ev& e : evs) {
    if (e.ph == 'M' || e.ts < win.ts0 || e.ts > win.end) continue;
    in.push_back(&e);
    if (std::find(tids.begin(), tids.end(), e.tid) == tids.end()) tids.push_back(e.tid);
  }
  const auto lane = [&](int tid) {
    return static_cast<double>(std::find(tids.begin(), tids.end(), tid) - tids.begin());
  };
  const double lanes_y = kTop + kDataH + kGap;
  const auto lane_y = [&](int tid) { return lanes_y + lane(tid) * kLaneH; };
  const double width = kLabelW + kPlotW + kRightPad;
  const double axis_y = lanes_y + static_cast<double>(tids.size()) * kLaneH;
  const double height = axis_y + kAxisH;
  std::string o = strf(
      "<svg class=\"timeline\" data-story=\"%s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
      "height=\"%.0f\" role=\"img\" aria-label=\"timeline of the story %s\">",
      html_escape(s.title).c_str(), width, height, width, height, html_escape(s.title).c_str());
  // Lane backgrounds and names.
  o += strf("<text class=\"lane-name\" x=\"4\" y=\"%.1f\">the data</text>", kTop + 13);
  for (size_t i = 0; i < tids.size(); ++i) {
    const double y = lanes_y + static_cast<double>(i) * kLaneH;
    const auto it = names.find(tids[i]);
    const std::string name = it == names.end() ? strf("thread %d", tids[i]) : it->second;
    o += strf("<rect class=\"lane%s\" x=\"%.0f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\"/>",
              i % 2 ? " odd" : "", kLabelW, y, kPlotW, kLaneH);
    o += strf(
        "<text class=\"lane-name\" data-lane=\"%s\" x=\"4\" y=\"%.1f\">%s<title>thread %d "
        "(%s)</title></text>",
        html_escape(name).c_str(), y + kSliceTop + 14, html_escape(name).c_str(), tids[i],
        html_escape(name).c_str());
  }
  // Slices: the wide ones first, so that a syscall's tick stays on top.
  for (int pass = 0; pass < 2; ++pass)
    for (const Ev* e : in) {
      if (e->ph != 'X') continue;
      const std::string kind = kind_of(*e);
      if (kind.empty() || (kind == "sys") != (pass == 1)) continue;
      const double x = sc.x(win, e->ts);
      const double w = std::max(e->dur * sc.k, kind == "sys" ? 1.5 : 1.0);
      o += slice_svg(*e, kind, x, w, lane_y(e->tid), win);
    }
  // Step marks: a small triangle on the lane's top edge, its number beside it.
  for (const Ev* e : in) {
    if (e->ph != 'i') continue;
    const double x = sc.x(win, e->ts), y = lane_y(e->tid) + 2;
    std::string num;
    for (char c : e->name)
      if (c >= '0' && c <= '9')
        num += c;
      else if (c != ' ')
        break;
    o += strf(
        "<g class=\"mark\"><path d=\"M%.1f %.1f l-4 0 l4 7 l4 -7 z\"/><title>%s · t=%.1f "
        "ms</title></g>",
        x, y, html_escape(e->name).c_str(), (e->ts - win.t0) / 1e3);
    if (!num.empty())
      o += strf("<text class=\"num\" x=\"%.1f\" y=\"%.1f\">%s</text>", x + 5, y + 7, num.c_str());
  }
  // The trace's flow arrows: from where a request was issued to where it completed.
  std::map<std::string, std::string> req_names;
  for (const Ev* e : in)
    if (e->ph == 'b') req_names[e->id] = e->name;
  for (const Ev* s_ev : in) {
    if (s_ev->ph != 's') continue;
    for (const Ev* f : in) {
      if (f->ph != 'f' || f->id != s_ev->id) continue;
      const double x1 = sc.x(win, s_ev->ts), x2 = sc.x(win, f->ts);
      const double y1 = lane_y(s_ev->tid) + kSliceTop, y2 = lane_y(f->tid) + kSliceTop;
      const double lift = s_ev->tid == f->tid ? 10 : 0;
      const std::string what = req_names.count(s_ev->id) ? req_names[s_ev->id] : "request";
      o += strf(
          "<path class=\"flow\" d=\"M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f\" "
          "marker-end=\"url(#a-flow)\"><title>%s: issued at t=%.1f ms, completed at t=%.1f ms "
          "(%s)</title></path>",
          x1, y1, x1, y1 - lift, x2, y2 - lift, x2, y2, html_escape(what).c_str(),
          (s_ev->ts - win.t0) / 1e3, (f->ts - win.t0) / 1e3, dur_text(f->ts - s_ev->ts).c_str());
    }
  }
  // The story's own arrows, from its measured times: request sent → data
  // readable (seen by the watcher thread) → data used.
  if (s.status.ok() && s.t_used != 0) {
    const double xs = sc.x(win, win.t0 + static_cast<double>(s.t_sent) / 1e3);
    const double xr = sc.x(win, win.t0 + static_cast<double>(s.t_ready) / 1e3);
    const double xu = sc.x(win, win.t0 + static_cast<double>(s.t_used) / 1e3);
    int sent_tid = win.tid;
    for (const Ev* e : in)
      if (e->ph == 'b' && e->name == "download") sent_tid = e->tid;
    const double dy = kTop + kDataH - 3, ly_sent = lane_y(sent_tid) + 2, ly_used = lanes_y + 2;
    o += strf(
        "<rect class=\"inflight\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
        "fill=\"url(#p-inflight)\"><title>request in flight: sent at t=%.1f ms, readable at "
        "t=%.1f ms (%.1f ms)</title></rect>",
        xs, kTop, std::max(xr - xs, 1.0), kDataH - 8, ms(s.t_sent), ms(s.t_ready),
        ms(s.t_ready - s.t_sent));
    o += strf(
        "<rect class=\"satready\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
        "fill=\"url(#p-sat)\"><title>data sat ready %.1f ms: readable at t=%.1f ms, used at "
        "t=%.1f ms</title></rect>",
        xr, kTop, std::max(xu - xr, 1.0), kDataH - 8, ms(s.t_used - s.t_ready), ms(s.t_ready),
        ms(s.t_used));
    if (xr - xs > 150)
      o += strf("<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\">request in flight %.1f ms</text>",
                xs + 8, kTop + 12, ms(s.t_ready - s.t_sent));
    if (xu - xr > 110)
      o += strf("<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\">sat ready %.1f ms</text>", xr + 10,
                kTop + 12, ms(s.t_used - s.t_ready));
    o += strf(
        "<path class=\"arrow\" d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f\" "
        "marker-end=\"url(#a-story)\"><title>request sent at t=%.1f ms → data ready at "
        "t=%.1f ms</title></path>",
        xs, ly_sent, xs, dy, std::max(xr - 5, xs), dy, ms(s.t_sent), ms(s.t_ready));
    o += strf(
        "<path class=\"arrow\" d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f\" "
        "marker-end=\"url(#a-story)\"><title>data ready at t=%.1f ms → used at t=%.1f "
        "ms</title></path>",
        xr, dy, xu, dy, xu, ly_used, ms(s.t_ready), ms(s.t_used));
    o += strf(
        "<path class=\"ready\" d=\"M%.1f %.1f l5 5 l-5 5 l-5 -5 z\"><title>data readable at "
        "t=%.1f ms</title></path>",
        xr, dy - 5, ms(s.t_ready));
  }
  // The axis: ms since the story's clock started.
  o += strf("<line class=\"axis\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>", kLabelW,
            axis_y, kLabelW + kPlotW, axis_y);
  const double step = nice_step((sc.lead + sc.tail) / 1e3);
  for (double t = 0; t * 1e3 <= sc.tail + 1e-9; t += step) {
    const double x = sc.x(win, win.t0 + t * 1e3);
    o += strf(
        "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
        "<text class=\"ticklbl\" x=\"%.1f\" y=\"%.1f\">%g ms</text>",
        x, axis_y, x, axis_y + 5, x, axis_y + 17, t);
  }
  o += "</svg>";
  return o;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string strf(const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, ap2);
  va_end(ap2);
  return out;
}

std::vector<std::string> story_svgs(const DemoOutcome& d, const nlohmann::json& trace) {
  const std::vector<Ev> evs = events_of(trace);
  std::vector<Window> wins;
  Scale sc;
  for (const Story& s : d.stories) {
    wins.push_back(window_of(s, evs));
    const Window& w = wins.back();
    if (!w.found) continue;
    sc.lead = std::max(sc.lead, w.t0 - w.ts0);
    sc.tail = std::max(sc.tail, w.end - w.t0);
  }
  sc.k = kPlotW / std::max(sc.lead + sc.tail, 1.0);
  std::vector<std::string> out;
  for (size_t i = 0; i < d.stories.size(); ++i)
    out.push_back(wins[i].found ? story_svg(d.stories[i], wins[i], sc, evs) : std::string());
  return out;
}

std::string timeline_defs() {
  return R"html(<svg class="defs" width="0" height="0" aria-hidden="true"><defs>
<pattern id="p-run" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#009E73"/></pattern>
<pattern id="p-sleep" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#d3e4f3"/><rect width="3" height="8" fill="#0072B2"/></pattern>
<pattern id="p-spin" width="7" height="7" patternUnits="userSpaceOnUse"><rect width="7" height="7" fill="#fbe0cf"/><path d="M0 0L7 7M7 0L0 7" stroke="#D55E00" stroke-width="1.6"/></pattern>
<pattern id="p-sys" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#333"/><rect y="2" width="4" height="1" fill="#999"/></pattern>
<pattern id="p-inflight" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#fff"/><circle cx="3" cy="3" r="1.3" fill="#777"/></pattern>
<pattern id="p-sat" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#F0E442"/><rect y="4" width="6" height="1.5" fill="#8a7f00"/></pattern>
<marker id="a-flow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#CC79A7"/></marker>
<marker id="a-story" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#000"/></marker>
</defs></svg>
)html";
}

std::string timeline_legend() {
  struct Item {
    const char* swatch;
    const char* words;
  };
  static const Item items[] = {
      {"<rect x=\"1\" y=\"3\" width=\"34\" height=\"14\" fill=\"url(#p-run)\" stroke=\"#000\"/>",
       "running: the program's own work, or a callback (solid green)"},
      {"<rect x=\"1\" y=\"3\" width=\"34\" height=\"14\" fill=\"url(#p-sleep)\" stroke=\"#000\"/>",
       "sleeping in a blocking call: read(), epoll_wait(), future.get() … (blue, diagonal "
       "stripes)"},
      {"<rect x=\"1\" y=\"3\" width=\"34\" height=\"14\" fill=\"url(#p-spin)\" stroke=\"#000\"/>",
       "spinning: read() again and again, each EAGAIN (orange, crossed)"},
      {"<rect x=\"15\" y=\"3\" width=\"5\" height=\"14\" fill=\"url(#p-sys)\"/>",
       "another syscall that returned at once: write, fcntl, epoll_ctl … (a thin dark tick)"},
      {"<rect x=\"1\" y=\"5\" width=\"34\" height=\"10\" fill=\"url(#p-inflight)\" "
       "stroke=\"#777\"/>",
       "the data row: the request in flight, until the data became readable (dotted)"},
      {"<rect x=\"1\" y=\"5\" width=\"34\" height=\"10\" fill=\"url(#p-sat)\" stroke=\"#777\"/>",
       "the data sat ready, unread, until the program used it (yellow, lined)"},
      {"<path d=\"M2 16L2 6L32 6\" class=\"arrow\" marker-end=\"url(#a-story)\"/>",
       "request sent → data ready (◆) → data used: the story's measured times (black)"},
      {"<path d=\"M2 14C2 4 32 4 32 14\" class=\"flow\" marker-end=\"url(#a-flow)\"/>",
       "a request issued → completed, as the trace recorded it, across threads too (pink, "
       "dashed)"},
      {"<path d=\"M18 3l-4 0l4 7l4 -7z\" class=\"markp\"/>",
       "a step mark: the number is the step in the source (1 ask, 2 own work, 3 use)"},
  };
  std::string o = "<ul class=\"legend\">";
  for (const Item& it : items)
    o += strf("<li><svg width=\"38\" height=\"20\" aria-hidden=\"true\">%s</svg> %s</li>",
              it.swatch, html_escape(it.words).c_str());
  return o + "</ul>";
}

}  // namespace iomodels::cli
