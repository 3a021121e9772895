// xp show RUN: everything recorded about one run (config, provenance, metrics per epoch, artifacts).
// --html FILE also writes it as one self-contained page with its charts (report/run_page.h).
#include <fnmatch.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "command.h"
#include "ensemble_members.h"
#include "html_page.h"
#include "options.h"
#include "run_json.h"
#include "run_page.h"
#include "run_registry.h"
#include "text_table.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

std::string indent(const std::string& text, const std::string& pad = "  ") {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += pad + line + "\n";
  return out;
}

constexpr size_t kTableWidth = 100;  // the per-epoch table is split to fit a terminal this wide

// --metrics "val_*,loss": comma-separated names or globs.
std::vector<std::string> split_patterns(const std::string& text) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, ',')) {
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns)
    if (::fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// The per-epoch table as one or more tables of at most kTableWidth characters, each repeating
// the epoch and step columns, so a run with 40 metrics reads without horizontal scrolling.
std::string epoch_tables(const std::vector<std::string>& names,
                         const std::map<std::pair<int64_t, int64_t>, std::map<std::string, double>>& rows) {
  auto cell = [&](const std::map<std::string, double>& values, const std::string& n) {
    auto it = values.find(n);
    return it == values.end() ? std::string("-") : registry::format_value(it->second, 5);
  };
  std::vector<size_t> width;
  for (const auto& n : names) {
    size_t w = n.size();
    for (const auto& [key, values] : rows) w = std::max(w, cell(values, n).size());
    width.push_back(w + 2);  // the two spaces between columns
  }
  size_t fixed = 2 + std::string("epoch").size() + 2;
  size_t step_width = 4;
  for (const auto& [key, values] : rows) step_width = std::max(step_width, std::to_string(key.second).size());
  fixed += step_width + 2;
  std::string out;
  for (size_t begin = 0; begin < names.size();) {
    size_t end = begin, used = fixed;
    while (end < names.size() && (end == begin || used + width[end] <= kTableWidth)) used += width[end++];
    std::vector<std::string> header = {"epoch", "step"};
    header.insert(header.end(), names.begin() + static_cast<std::ptrdiff_t>(begin),
                  names.begin() + static_cast<std::ptrdiff_t>(end));
    registry::TextTable t(header);
    for (const auto& [key, values] : rows) {
      std::vector<std::string> row = {std::to_string(key.first), std::to_string(key.second)};
      for (size_t i = begin; i < end; ++i) row.push_back(cell(values, names[i]));
      t.add_row(row);
    }
    out += (begin ? "\n" : "") + indent(t.text());
    begin = end;
  }
  return out;
}

int show(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string run_key, format = "text", registry_path, html, metric_patterns;
  desc.add_options()("run", po::value(&run_key)->required(), "run id, unique id prefix, or run folder")(
      "format,f", po::value(&format), "text or json")("diff", "print the git diff of a dirty checkout")(
      "html", po::value(&html), "also write the run as one self-contained HTML page (curves, provenance) to FILE")(
      "metrics,m", po::value(&metric_patterns),
      "only these metrics in the summary and per-epoch table: comma-separated names or globs, e.g. 'val_*,loss'")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_options("xp show RUN [--metrics PATTERN,...] [--format text|json] [--diff] [--html FILE] [--registry PATH]",
                     desc, pos, args, vm))
    return kOk;
  if (format != "text" && format != "json") throw UsageError("--format must be text or json, not '" + format + "'");

  RunRegistry registry(existing_registry_path(registry_path));
  registry.mark_stale_runs_crashed();
  RunRecord run = registry.find_run(run_key);
  if (!html.empty()) {
    report::write_page(html, report::run_page_html(registry, run));
    std::cerr << "wrote " << html << "\n";
  }
  auto history = registry.metric_history(run.id);
  auto artifacts = registry.artifacts(run.id);
  const auto member_ids = registry::ensemble_members(run);

  // Per-epoch metrics as one row per (epoch, step) with a column per metric name.
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::map<std::pair<int64_t, int64_t>, std::map<std::string, double>> rows;
  for (const auto& p : history) {
    if (seen.insert(p.name).second) names.push_back(p.name);
    rows[{p.epoch, p.step}][p.name] = p.value;
  }
  const auto patterns = split_patterns(metric_patterns);
  if (!patterns.empty()) {
    // A pattern that matches nothing is a typo: say so instead of printing an empty table.
    std::vector<std::string> all = names;
    for (const auto& n : run.summary_order)
      if (!seen.count(n)) all.push_back(n);
    for (const auto& p : patterns)
      if (std::none_of(all.begin(), all.end(), [&](const std::string& n) { return matches_any(n, {p}); }))
        throw ConfigError("--metrics: run " + run.id + " has no metric matching '" + p + "'" + did_you_mean(p, all));
    names.erase(std::remove_if(names.begin(), names.end(), [&](const std::string& n) { return !matches_any(n, patterns); }),
                names.end());
  }

  if (format == "json") {
    auto j = registry::run_to_json(run);
    j["command_line"] = run.info.command_line;
    j["versions"] = {{"xp", run.info.xp_version}, {"torch", run.info.torch_version}, {"cuda", run.info.cuda_version}};
    j["device"] = run.info.device;
    j["git_diff"] = run.info.git_diff;
    j["config"] = run.info.config_text;
    j["params"] = run.info.params;
    nlohmann::json summary = nlohmann::json::object();
    for (const auto& [k, v] : run.summary) summary[k] = registry::json_number(v);
    j["summary"] = summary;
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& [key, values] : rows) {
      nlohmann::json v = nlohmann::json::object();
      for (const auto& [k, x] : values) v[k] = registry::json_number(x);
      epochs.push_back({{"epoch", key.first}, {"step", key.second}, {"values", v}});
    }
    j["epochs"] = epochs;
    nlohmann::json arts = nlohmann::json::array();
    for (const auto& a : artifacts)
      arts.push_back({{"path", a.path}, {"kind", a.kind}, {"size", a.size < 0 ? nlohmann::json(nullptr) : nlohmann::json(a.size)},
                      {"sha256", a.sha256}});
    j["artifacts"] = arts;
    if (registry::is_ensemble(run)) j["members"] = member_ids;
    std::cout << j.dump(2) << "\n";
    return kOk;
  }

  const auto& i = run.info;
  std::ostringstream os;
  os << "run " << run.id << "  " << run_status_name(run.status) << "\n";
  if (!run.message.empty()) os << "  message     " << run.message << "\n";
  os << "  experiment  " << i.experiment << (i.variant.empty() ? "" : "  variant " + i.variant) << "  seed " << i.seed
     << "\n";
  os << "  started     " << registry::format_time(run.start_time);
  if (run.end_time) os << "  ended " << registry::format_time(run.end_time);
  os << "  duration " << registry::format_duration(run.status == RunStatus::Running ? unix_now() - run.start_time : run.duration)
     << "\n";
  if (run.status == RunStatus::Running && run.heartbeat)
    os << "  heartbeat   " << registry::format_duration(unix_now() - *run.heartbeat) << " ago\n";
  os << "  host        " << i.host << " (pid " << i.pid << ")" << (i.device.empty() ? "" : ", device " + i.device) << "\n";
  os << "  command     " << i.command_line << "\n";
  os << "  versions    xp " << (i.xp_version.empty() ? "?" : i.xp_version) << ", LibTorch "
     << (i.torch_version.empty() ? "?" : i.torch_version) << ", CUDA " << (i.cuda_version.empty() ? "-" : i.cuda_version)
     << "\n";
  os << "  git         " << (i.git_commit.empty() ? "-" : i.git_commit);
  if (i.git_dirty) {
    size_t lines = std::count(i.git_diff.begin(), i.git_diff.end(), '\n');
    os << " + uncommitted changes (" << lines << " lines of diff" << (vm.count("diff") ? ")" : "; --diff prints it)");
  }
  os << "\n  config      sha256 " << i.config_hash << "\n";
  os << "  run dir     " << i.run_dir << "\n";
  if (!i.tags.empty()) {
    os << "  tags        ";
    bool first = true;
    for (const auto& [k, v] : i.tags) {
      os << (first ? "" : ", ") << k << "=" << v;
      first = false;
    }
    os << "\n";
  }
  if (registry::is_ensemble(run)) {
    // Each member with its own recorded values of the ensemble's summary metrics.
    os << "\nmembers (" << member_ids.size() << "):\n";
    std::vector<std::string> header = {"run", "experiment", "variant", "seed", "status"};
    header.insert(header.end(), run.summary_order.begin(), run.summary_order.end());
    registry::TextTable t(header);
    for (const auto& id : member_ids) {
      auto member = registry.get_run(id);
      if (!member) {
        std::vector<std::string> row = {id, "(deleted)", "-", "-", "-"};
        row.resize(header.size(), "-");
        t.add_row(row);
        continue;
      }
      std::vector<std::string> row = {id, member->info.experiment, member->info.variant.empty() ? "-" : member->info.variant,
                                      std::to_string(member->info.seed), run_status_name(member->status)};
      for (const auto& n : run.summary_order) {
        auto it = member->summary.find(n);
        row.push_back(it == member->summary.end() ? "-" : registry::format_value(it->second, 6));
      }
      t.add_row(row);
    }
    os << indent(t.text());
  }
  if (!run.summary.empty()) {
    os << "\nsummary:\n";
    registry::TextTable t({"metric", "value"});
    for (const auto& n : run.summary_order)
      if (matches_any(n, patterns)) t.add_row({n, registry::format_value(run.summary.at(n), 6)});
    if (t.rows()) os << indent(t.text());
  }
  if (!rows.empty() && !names.empty()) {
    os << "\nmetrics per epoch" << (patterns.empty() ? " (--metrics PATTERN to choose)" : "") << ":\n";
    os << epoch_tables(names, rows);
  }
  if (!artifacts.empty()) {
    os << "\nartifacts:\n";
    registry::TextTable t({"kind", "size", "sha256", "path"});
    for (const auto& a : artifacts)
      t.add_row({a.kind.empty() ? "-" : a.kind, a.size < 0 ? "missing" : std::to_string(a.size),
                 a.sha256.substr(0, 16), a.path});
    os << indent(t.text(200));
  }
  if (!i.config_text.empty()) os << "\nconfig:\n" << indent(i.config_text);
  if (i.git_dirty && vm.count("diff")) os << "\ngit diff:\n" << i.git_diff << (i.git_diff.empty() || i.git_diff.back() == '\n' ? "" : "\n");
  std::cout << os.str();
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("show", "show one run: config, provenance, metrics per epoch, artifacts", show);

}  // namespace xp::cli
