#pragma once
// One self-contained HTML page: sections of tables and Vega-Lite charts, the vendored Vega bundle
// inline, a Content-Security-Policy that forbids every network request (a page that tried one
// reports it in its error box), and a little script that renders the charts, sorts tables and
// counts what rendered (body data-charts-ok / data-errors, which the browser test reads).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace xp::report {

std::string html_escape(std::string_view text);
// JSON for inside a <script> element: every '<' written as \u003c, so no "</script>" can end it.
std::string script_json(const nlohmann::json& value);

// A table cell: its text and, for numbers, the exact value it sorts by (data-v, 17 digits).
struct Cell {
  std::string text;
  std::optional<double> value;
  std::string css;    // class of the cell ("best", "status-failed", ...)
  std::string title;  // tooltip
  Cell(std::string t = {}) : text(std::move(t)) {}  // NOLINT: plain text converts implicitly
  Cell(const char* t) : text(t) {}                  // NOLINT
  // A number shown as `shown` ("-" when not finite), sorted by `v`.
  static Cell number(double v, std::string shown);
};

// A table whose columns sort on a click on their header (numerically where cells carry values).
class HtmlTable {
 public:
  explicit HtmlTable(std::vector<std::string> header, std::string id = {});
  void add_row(std::vector<Cell> row, const std::string& css = {});
  size_t rows() const { return rows_.size(); }
  std::string html() const;

 private:
  std::vector<std::string> header_;
  std::string id_;
  std::vector<std::string> rows_;
};

class HtmlPage {
 public:
  HtmlPage(std::string title, std::string subtitle);
  // A placeholder that renders this Vega-Lite spec; put the returned HTML where the chart goes.
  std::string chart(nlohmann::json spec, const std::string& caption = {});
  // Sections appear in the order they are added, each linked from the page's table of contents.
  void section(const std::string& id, const std::string& heading, const std::string& body_html);
  // Raw data for readers and tests: <script type="application/json" id="xp-data-NAME">.
  void data(const std::string& name, const nlohmann::json& value);
  size_t charts() const { return specs_.size(); }
  std::string html() const;

 private:
  std::string title_, subtitle_;
  std::vector<nlohmann::json> specs_;
  std::vector<std::pair<std::string, std::string>> toc_;
  std::string body_, data_;
};

// Writes a page to `path` through a temporary file in the same folder, so a failed write leaves
// no half page; throws xp::ConfigError with the OS's reason (exit 2).
void write_page(const std::string& path, const std::string& html);

}  // namespace xp::report
