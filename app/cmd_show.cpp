// xp show RUN: everything recorded about one run (config, provenance, metrics per epoch, artifacts).
// --html FILE also writes it as one self-contained page with its charts (report/run_page.h).
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

namespace xp::cli {
namespace {

std::string indent(const std::string& text, const std::string& pad = "  ") {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += pad + line + "\n";
  return out;
}

int show(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string run_key, format = "text", registry_path, html;
  desc.add_options()("run", po::value(&run_key)->required(), "run id, unique id prefix, or run folder")(
      "format,f", po::value(&format), "text or json")("diff", "print the git diff of a dirty checkout")(
      "html", po::value(&html), "also write the run as one self-contained HTML page (curves, provenance) to FILE")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_options("xp show RUN [--format text|json] [--diff] [--html FILE] [--registry PATH]", desc, pos, args, vm)) return kOk;
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
    for (const auto& n : run.summary_order) t.add_row({n, registry::format_value(run.summary.at(n), 6)});
    os << indent(t.text());
  }
  if (!rows.empty()) {
    os << "\nmetrics per epoch:\n";
    std::vector<std::string> header = {"epoch", "step"};
    header.insert(header.end(), names.begin(), names.end());
    registry::TextTable t(header);
    for (const auto& [key, values] : rows) {
      std::vector<std::string> row = {std::to_string(key.first), std::to_string(key.second)};
      for (const auto& n : names) {
        auto it = values.find(n);
        row.push_back(it == values.end() ? "-" : registry::format_value(it->second, 5));
      }
      t.add_row(row);
    }
    os << indent(t.text());
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
