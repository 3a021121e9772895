#include "html_page.h"

#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

#include "vega_bundle.h"
#include "xp/errors.h"

namespace xp::report {
namespace {

// No request may leave the page: scripts and styles are inline only, images only data: URLs.
// Vega compiles its expressions with Function(), hence 'unsafe-eval'.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'";

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c8cdd8}
nav{padding:6px 24px;background:#eef0f4;border-bottom:1px solid #d8dce4;position:sticky;top:0;z-index:2}
nav a{margin-right:14px;color:#2450a8;text-decoration:none;font-size:13px}
main{padding:8px 24px 40px}section{margin:18px 0 28px}h2{font-size:17px;border-bottom:1px solid #d8dce4;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px;background:#fff}
th,td{border:1px solid #d8dce4;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;cursor:pointer;user-select:none;white-space:nowrap}th.sorted-asc:after{content:" \25B2"}th.sorted-desc:after{content:" \25BC"}
td[data-v]{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#e6f4ea;font-weight:600}td.sig{color:#0a6b2f;font-weight:600}
tr.status-failed td,tr.status-crashed td,tr.status-diverged td{background:#fdecec}
tr.status-running td,tr.status-interrupted td,tr.status-pruned td{background:#fff6e0}
.status{font-weight:600}.muted{color:#6b7385}.note{color:#4a5263;font-size:13px;max-width:70em}
.chart{display:inline-block;margin:4px 12px 12px 0;vertical-align:top;background:#fff;border:1px solid #e3e6ec;padding:6px}
.chart figcaption{font-size:12px;color:#4a5263;margin-top:2px}
pre{background:#fff;border:1px solid #d8dce4;padding:8px;overflow:auto;max-height:30em;font-size:12px}
#xp-errors{background:#fdecec;border:1px solid #d33;color:#900;padding:8px 24px;white-space:pre-wrap}
.conclusion{font-size:15px;font-weight:600;margin:8px 0}
)css";

// In <head>, before anything can fail or fetch: records every JavaScript error, every resource
// that failed to load and every request the policy blocked, and shows them in #xp-errors.
constexpr const char* kEarlyScript = R"js(
(function () {
  var errors = window.xpErrors = [];
  window.xpFail = function (message) {
    errors.push(String(message));
    var box = document.getElementById('xp-errors');
    if (box) { box.textContent = errors.join('\n'); box.hidden = false; }
    if (document.body) document.body.setAttribute('data-errors', String(errors.length));
  };
  window.addEventListener('error', function (e) {
    if (e.target && e.target !== window && (e.target.src || e.target.href))
      xpFail('failed to load ' + (e.target.src || e.target.href));
    else
      xpFail('JavaScript error: ' + e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { xpFail('JavaScript error: ' + (e.reason && e.reason.message || e.reason)); });
  document.addEventListener('securitypolicyviolation', function (e) {
    xpFail('blocked a network request to ' + e.blockedURI + ' (' + e.violatedDirective + ')');
  });
})();
)js";

// Renders every chart with vega-embed (SVG, so the DOM holds the marks), sorts tables on header
// clicks, and shows what kEarlyScript recorded. When done,
// <body> carries data-charts (placeholders), data-charts-ok (rendered with at least one data
// mark), data-errors and data-done="1".
constexpr const char* kScript = R"js(
(function () {
  var body = document.body, fail = window.xpFail;
  body.setAttribute('data-errors', String(window.xpErrors.length));
  if (window.xpErrors.length) { fail(window.xpErrors.pop()); }

  function sortValue(td) {
    var v = td.getAttribute('data-v');
    return v === null ? null : parseFloat(v);
  }
  document.querySelectorAll('table.sortable th').forEach(function (th) {
    th.addEventListener('click', function () {
      var table = th.closest('table'), col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = !th.classList.contains('sorted-asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      var tbody = table.tBodies[0], rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var p = sortValue(x), q = sortValue(y), r;
        if (p !== null && q !== null && !isNaN(p) && !isNaN(q)) r = p - q;
        else if (p !== null && !isNaN(p)) r = -1;
        else if (q !== null && !isNaN(q)) r = 1;
        else r = x.textContent.localeCompare(y.textContent, undefined, {numeric: true});
        return asc ? r : -r;
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });

  var specs = JSON.parse(document.getElementById('xp-charts').textContent);
  var divs = document.querySelectorAll('div.chart-body'), pending = divs.length, ok = 0;
  body.setAttribute('data-charts', String(divs.length));
  function settle() {
    if (--pending === 0) { body.setAttribute('data-charts-ok', String(ok)); body.setAttribute('data-done', '1'); }
  }
  if (!divs.length) { body.setAttribute('data-charts-ok', '0'); body.setAttribute('data-done', '1'); }
  divs.forEach(function (div) {
    var n = +div.getAttribute('data-chart');
    vegaEmbed(div, specs[n], {actions: false, renderer: 'svg'}).then(function (result) {
      return result.view.runAsync().then(function () {
        var marks = div.querySelectorAll('g.role-mark > path, g.role-mark > line, g.role-mark > rect, g.role-mark > text').length;
        div.setAttribute('data-marks', String(marks));
        if (marks > 0) { ok++; div.setAttribute('data-rendered', 'ok'); }
        else { div.setAttribute('data-rendered', 'empty'); fail('chart ' + n + ' (' + (specs[n].title || '') + ') drew no data'); }
        settle();
      });
    }).catch(function (e) {
      div.setAttribute('data-rendered', 'error');
      fail('chart ' + n + ': ' + (e && e.message || e));
      settle();
    });
  });
})();
)js";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string script_json(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

Cell Cell::number(double v, std::string shown) {
  Cell c(std::isfinite(v) ? std::move(shown) : "-");
  if (std::isfinite(v)) c.value = v;
  return c;
}

HtmlTable::HtmlTable(std::vector<std::string> header, std::string id) : header_(std::move(header)), id_(std::move(id)) {}

void HtmlTable::add_row(std::vector<Cell> row, const std::string& css) {
  std::string tr = css.empty() ? "<tr>" : "<tr class=\"" + html_escape(css) + "\">";
  for (const auto& c : row) {
    tr += "<td";
    if (c.value) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", *c.value);
      tr += std::string(" data-v=\"") + buf + "\"";
    }
    if (!c.css.empty()) tr += " class=\"" + html_escape(c.css) + "\"";
    if (!c.title.empty()) tr += " title=\"" + html_escape(c.title) + "\"";
    tr += ">" + html_escape(c.text) + "</td>";
  }
  rows_.push_back(tr + "</tr>\n");
}

std::string HtmlTable::html() const {
  std::string out = "<table class=\"sortable\"" + (id_.empty() ? std::string() : " id=\"" + html_escape(id_) + "\"") +
                    "><thead><tr>";
  for (const auto& h : header_) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& r : rows_) out += r;
  return out + "</tbody></table>\n";
}

HtmlPage::HtmlPage(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

std::string HtmlPage::chart(nlohmann::json spec, const std::string& caption) {
  const size_t n = specs_.size();
  if (!spec.contains("$schema")) spec["$schema"] = "https://vega.github.io/schema/vega-lite/v6.json";
  specs_.push_back(std::move(spec));
  return "<figure class=\"chart\"><div class=\"chart-body\" data-chart=\"" + std::to_string(n) + "\"></div>" +
         (caption.empty() ? std::string() : "<figcaption>" + html_escape(caption) + "</figcaption>") + "</figure>";
}

void HtmlPage::section(const std::string& id, const std::string& heading, const std::string& body_html) {
  toc_.emplace_back(id, heading);
  body_ += "<section id=\"" + html_escape(id) + "\"><h2>" + html_escape(heading) + "</h2>\n" + body_html + "</section>\n";
}

void HtmlPage::data(const std::string& name, const nlohmann::json& value) {
  data_ += "<script type=\"application/json\" id=\"xp-data-" + html_escape(name) + "\">" + script_json(value) +
           "</script>\n";
}

std::string HtmlPage::html() const {
  std::string out;
  const auto vega = vega_js(), lite = vega_lite_js(), embed = vega_embed_js();
  out.reserve(vega.size() + lite.size() + embed.size() + body_.size() + data_.size() + 64 * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += std::string("<meta http-equiv=\"Content-Security-Policy\" content=\"") + kPolicy + "\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += std::string("<meta name=\"generator\" content=\"xp; ") + vega_versions() + "\">\n";
  out += "<title>" + html_escape(title_) + "</title>\n<style>" + kStyle + "</style>\n";
  out += std::string("<script>") + kEarlyScript + "</script>\n</head>\n<body>\n";
  out += "<header><h1>" + html_escape(title_) + "</h1><p>" + html_escape(subtitle_) + "</p></header>\n";
  out += "<div id=\"xp-errors\" hidden></div>\n<nav>";
  for (const auto& [id, heading] : toc_) out += "<a href=\"#" + html_escape(id) + "\">" + html_escape(heading) + "</a>";
  out += "</nav>\n<main>\n" + body_ + "</main>\n";
  out += "<footer class=\"note\" style=\"padding:0 24px 20px\">Written by xp; charts by ";
  out += html_escape(vega_versions());
  out += " (BSD-3-Clause), inline: this page needs no network.</footer>\n";
  out += data_;
  nlohmann::json specs = nlohmann::json::array();
  for (const auto& s : specs_) specs.push_back(s);
  out += "<script type=\"application/json\" id=\"xp-charts\">" + script_json(specs) + "</script>\n";
  out += "<script>";
  out.append(vega.data(), vega.size());
  out += "</script>\n<script>";
  out.append(lite.data(), lite.size());
  out += "</script>\n<script>";
  out.append(embed.data(), embed.size());
  out += "</script>\n<script>";
  out += kScript;
  out += "</script>\n</body></html>\n";
  return out;
}

void write_page(const std::string& path, const std::string& html) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw ConfigError("cannot write '" + path + "': " + std::strerror(errno));
    f.write(html.data(), static_cast<std::streamsize>(html.size()));
    f.flush();
    if (!f) {
      const int err = errno;
      std::remove(tmp.c_str());
      throw ConfigError("cannot write '" + path + "': " + std::strerror(err));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw ConfigError("cannot write '" + path + "': " + std::strerror(err));
  }
}

}  // namespace xp::report
