#include "task_panels.h"

#include <cmath>
#include <regex>

namespace xp::report {

std::map<std::string, double> mean_metrics(const std::vector<std::map<std::string, double>>& runs) {
  std::map<std::string, std::pair<double, int>> sum;
  for (const auto& r : runs)
    for (const auto& [k, v] : r)
      if (std::isfinite(v)) sum[k].first += v, ++sum[k].second;
  std::map<std::string, double> out;
  for (const auto& [k, s] : sum) out[k] = s.first / s.second;
  return out;
}

TaskPanels task_panels(const std::vector<std::pair<std::string, std::map<std::string, double>>>& labelled) {
  static const std::regex cm(R"(^(?:(.*)_)?cm_(\d+)_(\d+)$)"), per_class(R"(^(?:(.*)_)?(f1|recall)_class_(\d+)$)"),
      pr(R"(^(?:(.*)_)?obj_(precision|recall)_(\d+)$)"),
      reliability(R"(^(?:(.*)_)?reliability_(\d+)_(conf|freq|share)$)");
  TaskPanels out;
  for (const auto& [label, metrics] : labelled) {
    // split -> true -> pred -> count
    std::map<std::string, std::map<int, std::map<int, double>>> matrices;
    std::map<std::string, std::map<int, std::pair<double, double>>> curves;  // split -> threshold -> (p, r)
    std::map<std::string, std::map<int, std::pair<bool, bool>>> seen;
    std::map<std::string, std::map<int, std::map<std::string, double>>> bins;  // prefix -> bin -> conf/freq/share
    std::smatch m;
    for (const auto& [name, value] : metrics) {
      if (!std::isfinite(value)) continue;
      if (std::regex_match(name, m, cm)) {
        matrices[m[1]][std::stoi(m[2])][std::stoi(m[3])] = value;
      } else if (std::regex_match(name, m, per_class)) {
        auto& rows = m[2] == "f1" ? out.f1[m[1]] : out.recall[m[1]];
        rows.push_back({{"group", label}, {"class", std::stoi(m[3])}, {"value", value}});
      } else if (std::regex_match(name, m, pr)) {
        int t = std::stoi(m[3]);
        auto& point = curves[m[1]][t];
        auto& s = seen[m[1]][t];
        if (m[2] == "precision") point.first = value, s.first = true;
        else point.second = value, s.second = true;
      } else if (std::regex_match(name, m, reliability)) {
        bins[m[1]][std::stoi(m[2])][m[3]] = value;
      }
    }
    for (const auto& [split, rows] : matrices) {
      auto& cells = out.confusion[split];
      for (const auto& [truth, preds] : rows) {
        double total = 0;
        for (const auto& [p, c] : preds) total += c;
        for (const auto& [p, c] : preds)
          cells.push_back({{"facet", label}, {"truth", truth}, {"pred", p}, {"count", c}, {"rate", total > 0 ? c / total : 0.0}});
      }
    }
    for (const auto& [split, points] : curves)
      for (const auto& [t, pr_point] : points)
        if (seen[split][t].first && seen[split][t].second)
          out.pr[split].push_back({{"group", label}, {"threshold", t / 100.0}, {"precision", pr_point.first}, {"recall", pr_point.second}});
    for (const auto& [prefix, per_bin] : bins) {
      const bool after = prefix == "cal" || (prefix.size() > 4 && prefix.compare(prefix.size() - 4, 4, "_cal") == 0);
      const std::string split = after ? (prefix == "cal" ? "" : prefix.substr(0, prefix.size() - 4)) : prefix;
      for (const auto& [b, v] : per_bin)
        if (v.count("conf") && v.count("freq") && v.count("share"))
          out.reliability[split].push_back({{"group", label}, {"calibration", after ? "after" : "before"}, {"bin", b},
                                            {"conf", v.at("conf")}, {"freq", v.at("freq")}, {"share", v.at("share")}});
    }
  }
  return out;
}

}  // namespace xp::report
