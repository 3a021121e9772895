// xp diff RUN_A RUN_B: what differs between two runs, in configuration and in results.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <set>

#include "command.h"
#include "options.h"
#include "run_json.h"
#include "run_registry.h"
#include "text_table.h"

namespace xp::cli {
namespace {

int diff(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string a_key, b_key, format = "text", registry_path;
  desc.add_options()("a", po::value(&a_key)->required(), "first run (id, prefix or folder)")(
      "b", po::value(&b_key)->required(), "second run")("all", "also list config keys that are equal")(
      "format,f", po::value(&format), "text or json")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (!parse_options("xp diff RUN_A RUN_B [--all] [--format text|json] [--registry PATH]", desc, pos, args, vm))
    return kOk;
  if (format != "text" && format != "json") throw UsageError("--format must be text or json, not '" + format + "'");
  RunRegistry registry(existing_registry_path(registry_path));
  RunRecord a = registry.find_run(a_key), b = registry.find_run(b_key);

  const char* absent = "(absent)";
  std::set<std::string> keys;
  for (const auto& [k, v] : a.info.params) keys.insert(k);
  for (const auto& [k, v] : b.info.params) keys.insert(k);
  struct Row {
    std::string key, a, b;
    bool differs;
  };
  std::vector<Row> config;
  for (const auto& k : keys) {
    auto ia = a.info.params.find(k), ib = b.info.params.find(k);
    std::string va = ia == a.info.params.end() ? absent : ia->second;
    std::string vb = ib == b.info.params.end() ? absent : ib->second;
    if (va != vb || vm.count("all")) config.push_back({k, va, vb, va != vb});
  }
  // Provenance that explains differing results even when the configs are equal.
  std::vector<Row> meta;
  auto add_meta = [&](const std::string& name, const std::string& x, const std::string& y) {
    if (x != y) meta.push_back({name, x, y, true});
  };
  add_meta("experiment", a.info.experiment, b.info.experiment);
  add_meta("variant", a.info.variant, b.info.variant);
  add_meta("seed", std::to_string(a.info.seed), std::to_string(b.info.seed));
  add_meta("status", run_status_name(a.status), run_status_name(b.status));
  add_meta("git_commit", a.info.git_commit + (a.info.git_dirty ? " (dirty)" : ""),
           b.info.git_commit + (b.info.git_dirty ? " (dirty)" : ""));
  add_meta("xp_version", a.info.xp_version, b.info.xp_version);
  add_meta("torch_version", a.info.torch_version, b.info.torch_version);
  add_meta("cuda_version", a.info.cuda_version, b.info.cuda_version);
  add_meta("device", a.info.device, b.info.device);
  add_meta("host", a.info.host, b.info.host);

  auto ma = a.metrics(), mb = b.metrics();
  std::set<std::string> names;
  for (const auto& [k, v] : ma) names.insert(k);
  for (const auto& [k, v] : mb) names.insert(k);

  if (format == "json") {
    nlohmann::json cfg = nlohmann::json::array(), md = nlohmann::json::array(), res = nlohmann::json::array();
    auto val = [&](const std::string& s) { return s == absent ? nlohmann::json(nullptr) : nlohmann::json(s); };
    for (const auto& r : config) cfg.push_back({{"key", r.key}, {"a", val(r.a)}, {"b", val(r.b)}, {"differs", r.differs}});
    for (const auto& r : meta) md.push_back({{"field", r.key}, {"a", r.a}, {"b", r.b}});
    for (const auto& n : names) {
      auto ia = ma.find(n), ib = mb.find(n);
      nlohmann::json x = ia == ma.end() ? nlohmann::json(nullptr) : registry::json_number(ia->second);
      nlohmann::json y = ib == mb.end() ? nlohmann::json(nullptr) : registry::json_number(ib->second);
      nlohmann::json d = ia != ma.end() && ib != mb.end() ? registry::json_number(ib->second - ia->second) : nlohmann::json(nullptr);
      res.push_back({{"metric", n}, {"a", x}, {"b", y}, {"b_minus_a", d}});
    }
    std::cout << nlohmann::json{{"a", a.id}, {"b", b.id}, {"same_config", a.info.config_hash == b.info.config_hash},
                                {"config", cfg}, {"metadata", md}, {"metrics", res}}
                     .dump(2)
              << "\n";
    return kOk;
  }

  std::cout << "a: " << a.id << "  " << a.info.experiment << (a.info.variant.empty() ? "" : "/" + a.info.variant)
            << " seed " << a.info.seed << "  " << run_status_name(a.status) << "\n";
  std::cout << "b: " << b.id << "  " << b.info.experiment << (b.info.variant.empty() ? "" : "/" + b.info.variant)
            << " seed " << b.info.seed << "  " << run_status_name(b.status) << "\n\n";
  size_t differing = std::count_if(config.begin(), config.end(), [](const Row& r) { return r.differs; });
  if (a.info.config_hash == b.info.config_hash && !a.info.config_hash.empty())
    std::cout << "config: identical (sha256 " << a.info.config_hash.substr(0, 12) << ")\n";
  else
    std::cout << "config: " << differing << " of " << keys.size() << " keys differ\n";
  if (!config.empty()) {
    registry::TextTable t({"key", "a", "b"});
    for (const auto& r : config) t.add_row({(r.differs ? "" : "  ") + r.key, r.a, r.b});
    std::cout << t.text(60);
  }
  if (!meta.empty()) {
    std::cout << "\nprovenance:\n";
    registry::TextTable t({"field", "a", "b"});
    for (const auto& r : meta) t.add_row({r.key, r.a, r.b});
    std::cout << t.text(60);
  }
  std::cout << "\nresults:\n";
  if (names.empty()) {
    std::cout << "  (no metrics recorded)\n";
    return kOk;
  }
  // final_X (the summary's copy of the last epoch) repeats X (the last recorded value of the
  // per-epoch metric): one row each. The rest in reading order: best, test, then the others.
  std::vector<std::string> shown;
  for (const auto& n : names)
    if (!(n.rfind("final_", 0) == 0 && names.count(n.substr(6)))) shown.push_back(n);
  auto rank = [](const std::string& n) {
    return n.rfind("best_", 0) == 0 ? 0 : n.rfind("test_", 0) == 0 ? 1 : n.rfind("val_", 0) == 0 ? 2 : 3;
  };
  std::stable_sort(shown.begin(), shown.end(), [&](const std::string& x, const std::string& y) { return rank(x) < rank(y); });
  registry::TextTable t({"metric", "a", "b", "b - a"});
  for (const auto& n : shown) {
    auto ia = ma.find(n), ib = mb.find(n);
    std::optional<double> x, y, d;
    if (ia != ma.end()) x = ia->second;
    if (ib != mb.end()) y = ib->second;
    if (x && y) d = *y - *x;
    std::string delta = d ? (*d > 0 ? "+" : "") + registry::format_value(d) : "-";
    t.add_row({n, registry::format_value(x, 6), registry::format_value(y, 6), delta});
  }
  std::cout << t.text();
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("diff", "compare two runs: differing config keys, provenance and results", diff);

}  // namespace xp::cli
