// Description: the demo's HTML page: a heading saying how it was made, the
// legend, one section per story (its timeline, its verdict lines beside it,
// its steps), the race of three downloads as a table and bars, the services
// story, and the timeline's trace embedded as JSON with a small inline script
// that summarises it and offers it as a file for Perfetto.
#include "cli/demo_html.h"

#include <algorithm>

#include "cli/demo_html_lanes.h"

namespace iomodels::cli {
namespace {

constexpr const char* kStyle = R"html(<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:18px 24px;color:#111;background:#fff;max-width:1500px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:16px;margin:0 0 4px}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12.5px}
.how{margin:0 0 6px;color:#333}
#trace-summary{color:#555;margin:0 0 10px}
.legend{list-style:none;padding:0;margin:4px 0 14px;columns:2;column-gap:28px}
.legend li{margin:2px 0;display:flex;align-items:center;gap:6px;break-inside:avoid}
.story{display:flex;flex-wrap:wrap;gap:4px 18px;border-top:1px solid #ccc;padding:10px 0}
.story .pic{flex:0 0 auto}
.story .words{flex:1 1 340px;min-width:300px}
.verdict{margin:4px 0;padding-left:18px}
.verdict li{margin:1px 0}
.verdict li::marker{content:"→ "}
.cost{color:#555;font-size:13px}
details{font-size:13px;color:#333}
.note{color:#8a3b00}
svg.defs{position:absolute}
svg text{font:11px system-ui,sans-serif;fill:#111}
.lane{fill:#f4f4f4}.lane.odd{fill:#ececec}
.lane-name{font-weight:600}
.s{stroke:#000;stroke-width:.4}.s:hover{stroke-width:2}
.lbl{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.mark path,.markp{fill:#444}.num{font-size:9px!important}
.flow{fill:none;stroke:#CC79A7;stroke-width:1.6;stroke-dasharray:4 2}
.arrow{fill:none;stroke:#000;stroke-width:1.6}
.ready{fill:#000}
.inflight,.satready{stroke:#777;stroke-width:.5}
.axis,.tick{stroke:#444}.ticklbl{text-anchor:middle;fill:#444}
table.race{border-collapse:collapse;margin:6px 0}
table.race td,table.race th{border:1px solid #bbb;padding:2px 8px;text-align:right}
table.race th:first-child,table.race td:first-child{text-align:left}
.bar-A{fill:#0072B2}.bar-B{fill:#E69F00}.bar-C{fill:#56B4E9}
</style>
)html";

// Reads the embedded trace, says what it holds, and offers it as a file to
// open in Perfetto (a blob: link, made here; nothing leaves the machine).
constexpr const char* kScript = R"html(<script>
(function () {
  "use strict";
  var out = document.getElementById("trace-summary");
  try {
    var doc = JSON.parse(document.getElementById("trace").textContent);
    var evs = doc.traceEvents || [];
    var threads = {}, slices = 0, flows = 0, stories = 0;
    evs.forEach(function (e) {
      if (e.ph === "M" && e.name === "thread_name") threads[e.tid] = e.args.name;
      if (e.ph === "X") slices++;
      if (e.ph === "s") flows++;
      if (e.ph === "X" && e.cat === "story" && e.name.indexOf("story: ") === 0) stories++;
    });
    var names = {};
    Object.keys(threads).forEach(function (t) { names[threads[t]] = true; });
    out.textContent = "Drawn from the " + evs.length + " trace events embedded in this page: " +
        stories + " stories, " + slices + " slices, " + flows + " flow arrows, " +
        Object.keys(threads).length + " threads (" + Object.keys(names).join(", ") + ")" +
        (doc.otherData && doc.otherData.truncated ? "; the recording was cut at its cap. " : ". ");
    var a = document.createElement("a");
    a.id = "trace-file";
    a.textContent = "Save the trace as JSON (opens in ui.perfetto.dev)";
    a.download = "demo-trace.json";
    a.href = URL.createObjectURL(new Blob([JSON.stringify(doc)], {type: "application/json"}));
    out.appendChild(a);
    document.body.setAttribute("data-trace-events", String(evs.length));
  } catch (err) {
    out.textContent = "The embedded trace could not be read: " + err;
  }
})();
</script>
)html";

std::string list(const std::vector<std::string>& lines, const char* cls) {
  std::string o = strf("<ul class=\"%s\">", cls);
  for (const std::string& l : lines) o += "<li>" + html_escape(l) + "</li>";
  return o + "</ul>";
}

std::string story_section(const Story& s, size_t i, const std::string& svg) {
  std::string o = strf("<section class=\"story\" id=\"story-%zu\" data-title=\"%s\">", i + 1,
                       html_escape(s.title).c_str());
  o += "<div class=\"pic\"><h2>" + html_escape(s.quadrant) + " (" + html_escape(s.title) + ")</h2>";
  if (!svg.empty())
    o += svg;
  else if (s.trace_cut)
    o += "<p class=\"note\">Not on the timeline: the story did not fit whole in "
         "--trace-events.</p>";
  else
    o += "<p class=\"note\">The timeline holds no events of this story.</p>";
  o += "</div><div class=\"words\">";
  if (!s.status.ok()) {
    o += "<p class=\"note\">failed: " + html_escape(s.status.message()) + "</p></div></section>";
    return o;
  }
  o += list(verdict(s), "verdict");
  o += strf("<p class=\"cost\">wall %.1f ms · CPU %.1f ms · checks %llu · syscalls %llu · %s</p>",
            s.m.wall_s * 1e3, s.m.cpu_s() * 1e3, static_cast<unsigned long long>(s.checks),
            static_cast<unsigned long long>(s.m.calls.syscalls), html_escape(s.waiting).c_str());
  o += "<details><summary>steps, in the order they happened</summary><table>";
  for (const Step& st : s.steps)
    o += strf("<tr><td><code>%s</code></td><td>t=%.1f ms</td></tr>", html_escape(st.text).c_str(),
              ms(st.t_ns));
  o += "</table></details></div></section>\n";
  return o;
}

// The race: when each download was sent and used, per way of waiting, as a
// table and as bars on one axis.
std::string race_section(const Race& race) {
  std::string o =
      "<section class=\"race\" id=\"race\"><h2>Three downloads, asked in the order A, B, "
      "C</h2>";
  o += strf("<p>From devices of %.0f, %.0f and %.0f ms; each finishes when its data comes.</p>",
            ms(race.latency_ns[0]), ms(race.latency_ns[1]), ms(race.latency_ns[2]));
  o += "<table class=\"race\"><tr><th>how</th><th>finished in order</th><th>A done</th>"
       "<th>B done</th><th>C done</th><th>all sent by</th></tr>";
  double max_ms = 1;
  for (const RaceRun* r : {&race.callbacks, &race.awaits}) {
    if (!r->status.ok() || r->done_ms.size() < 3 || r->sent_ms.size() < 3) {
      o += "<tr><td>" + html_escape(r->how) +
           "</td><td colspan=\"5\">failed: " + html_escape(r->status.message()) + "</td></tr>";
      continue;
    }
    o += "<tr><td>" + html_escape(r->how) + "</td><td>" + html_escape(r->order) + "</td>";
    for (int i = 0; i < 3; ++i) o += strf("<td>%.1f ms</td>", r->done_ms[static_cast<size_t>(i)]);
    o += strf("<td>%.1f ms</td></tr>", std::max({r->sent_ms[0], r->sent_ms[1], r->sent_ms[2]}));
    for (double v : r->done_ms) max_ms = std::max(max_ms, v);
  }
  o += "</table>";
  if (race.callbacks.status.ok() && race.awaits.status.ok())
    o += "<p>Both finished in the order the data came (" +
         html_escape(race.callbacks.order == race.awaits.order ? race.callbacks.order
                                                               : "see the table") +
         "), not the order asked (ABC): nothing waited for A while B and C were ready.</p>";
  // Bars: one row per download and way of waiting, from sent to done.
  const double x0 = 190, w = 600, row = 18;
  const double k = w / max_ms;
  std::string bars;
  double y = 4;
  for (const RaceRun* r : {&race.callbacks, &race.awaits}) {
    if (!r->status.ok() || r->done_ms.size() < 3 || r->sent_ms.size() < 3) continue;
    for (size_t i = 0; i < 3; ++i) {
      const char name = static_cast<char>('A' + i);
      const double a = r->sent_ms[i], b = r->done_ms[i];
      bars += strf(
          "<text x=\"4\" y=\"%.0f\">%s %c</text><rect class=\"bar-%c\" x=\"%.1f\" y=\"%.0f\" "
          "width=\"%.1f\" height=\"%.0f\"><title>%s: %c sent at t=%.1f ms, done at t=%.1f "
          "ms</title></rect><text x=\"%.1f\" y=\"%.0f\">%.1f ms</text>",
          y + 12, html_escape(r->how).c_str(), name, name, x0 + a * k, y + 2,
          std::max((b - a) * k, 1.0), row - 5, html_escape(r->how).c_str(), name, a, b,
          x0 + b * k + 4, y + 12, b);
      y += row;
    }
    y += 6;
  }
  if (!bars.empty())
    o += strf(
        "<svg class=\"race-bars\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
        "aria-label=\"the three downloads, sent to done\">%s</svg>",
        x0 + w + 70, y, bars.c_str());
  return o + "</section>\n";
}

}  // namespace

std::string demo_html(const DemoOutcome& d, const std::string& trace_json) {
  nlohmann::json trace = nlohmann::json::parse(trace_json, nullptr, /*allow_exceptions=*/false);
  if (trace.is_discarded()) trace = nlohmann::json::object();
  const std::vector<std::string> svgs = story_svgs(d, trace);
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>iomodels demo: the download() story, on a timeline</title>\n";
  o += kStyle;
  o += "</head><body>\n";
  o += timeline_defs();
  o += "<h1>The download() story, on a timeline</h1>\n";
  o += strf(
      "<p class=\"how\">Made by <code>iomodels demo --html FILE</code>: the device took %s, "
      "the program had %.1f ms of its own work. Each story asks for a document (1), does its "
      "own work (2), then uses the document (3) — the same three steps, written once per "
      "quadrant. Each lane is a thread; time runs left to right on one scale for every story, "
      "from 0 = the story's clock start. Hover over a slice, a mark or an arrow for its "
      "details.</p>\n",
      html_escape(d.latency).c_str(), ms(d.work_ns));
  o += "<p id=\"trace-summary\">The trace embedded in this page is summarised here by its "
       "script.</p>\n";
  o += timeline_legend();
  for (size_t i = 0; i < d.stories.size(); ++i)
    o += story_section(d.stories[i], i, i < svgs.size() ? svgs[i] : std::string());
  if (d.race_on) o += race_section(d.race);
  if (d.services_on)
    o += "<section id=\"services\"><h2>Between processes</h2><pre>" +
         html_escape(services_story_text(d.services, false)) + "</pre></section>\n";
  o += "<p class=\"cost\">Each story's → lines are computed from its own measurements: what "
       "the wall time followed (the wait, the work, or both in a row), how long the data sat "
       "ready before the program used it (a watcher thread sleeping in poll() saw when it "
       "became readable), and how many checks found nothing.</p>\n";
  // The trace, as data: "</" never appears raw inside the script element.
  std::string data = trace.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3)
    data.replace(at, 2, "<\\/");
  o += "<script type=\"application/json\" id=\"trace\">" + data + "</script>\n";
  o += kScript;
  o += "</body></html>\n";
  return o;
}

}  // namespace iomodels::cli
