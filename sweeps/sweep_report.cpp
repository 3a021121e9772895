#include "sweep_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iomanip>
#include <map>
#include <numeric>
#include <sstream>

#include "xp/base/toml_writer.h"

namespace xp::sweeps {

namespace {

int group_of(const TrialRecord& t) {
  switch (t.state) {
    case TrialState::Complete: return t.value && std::isfinite(*t.value) ? 0 : 3;
    case TrialState::Pruned: return 1;
    case TrialState::Running:
    case TrialState::Waiting: return 2;
    default: return 3;
  }
}

int64_t last_epoch(const TrialRecord& t) { return t.intermediate.empty() ? -1 : t.intermediate.rbegin()->first; }

void insert_dotted(Value::Table& root, const std::string& dotted, const Value& value) {
  Value::Table* t = &root;
  size_t start = 0;
  for (size_t dot; (dot = dotted.find('.', start)) != std::string::npos; start = dot + 1) {
    Value& child = (*t)[dotted.substr(start, dot - start)];
    if (child.type() != Value::Type::Table) child = Value(Value::Table{});
    t = &child.as_table();
  }
  (*t)[dotted.substr(start)] = value;
}

std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(5) << v;
  return os.str();
}

std::string short_value(const Value& v) {
  if (v.type() == Value::Type::Float) return fmt(v.as_float());
  return v.to_string();
}

std::string pad(std::string s, size_t n) {
  if (s.size() < n) s.resize(n, ' ');
  return s;
}

// Left-aligned columns, two spaces apart, each line after `indent`.
void print_columns(std::ostream& os, const std::vector<std::vector<std::string>>& rows, const std::string& indent = "") {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) line += pad(r[c], width[c] + 2);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    os << line << "\n";
  }
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);  // ties share the mean rank
    i = j + 1;
  }
  return r;
}

}  // namespace

std::vector<TrialRecord> rank_trials(std::vector<TrialRecord> trials, Direction direction) {
  std::stable_sort(trials.begin(), trials.end(), [&](const TrialRecord& a, const TrialRecord& b) {
    int ga = group_of(a), gb = group_of(b);
    if (ga != gb) return ga < gb;
    if (ga == 0 && *a.value != *b.value) return better(direction, *a.value, *b.value);
    if (ga == 1 && last_epoch(a) != last_epoch(b)) return last_epoch(a) > last_epoch(b);
    return a.number < b.number;
  });
  return trials;
}

std::optional<TrialRecord> best_trial(const std::vector<TrialRecord>& trials, Direction direction) {
  auto ranked = rank_trials(trials, direction);
  if (ranked.empty() || group_of(ranked.front()) != 0) return std::nullopt;
  return ranked.front();
}

std::string best_config_toml(const SweepConfig& config, const TrialRecord& trial, const std::string& sweep_id) {
  std::ostringstream os;
  os << "# Best trial " << trial.number << " of sweep " << sweep_id << ": " << config.metric << " = "
     << (trial.value ? fmt(*trial.value) : "?") << " (" << direction_name(config.direction) << ")\n";
  os << "# Run it: xp run THIS_FILE" << (config.variant.empty() ? "" : " --variant " + config.variant) << "\n";
  Value::Table root;
  insert_dotted(root, "experiment.extends", Value(config.experiment.string()));
  for (const auto& [k, v] : config.fixed) insert_dotted(root, k, v);
  for (const auto& [k, v] : trial.params) insert_dotted(root, k, v);
  os << "\n" << config::canonical_toml(root);  // the same writer as the canonical config runs are hashed by
  return os.str();
}

std::string trial_command_line(const SweepConfig& config, const TrialRecord& trial) {
  auto quote = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string cmd = "xp run " + quote(config.experiment.string());
  if (!config.variant.empty()) cmd += " --variant " + quote(config.variant);
  for (const auto& [k, v] : config.fixed) cmd += " --set " + quote(k + "=" + v.to_string());
  for (const auto& [k, v] : trial.params) cmd += " --set " + quote(k + "=" + v.to_string());
  if (!config.seeds.empty()) {
    cmd += " --seeds ";
    for (size_t i = 0; i < config.seeds.size(); ++i) cmd += (i ? "," : "") + std::to_string(config.seeds[i]);
  }
  return cmd;
}

std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 3) return std::nullopt;
  auto rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

std::string state_counts(const std::vector<TrialRecord>& trials) {
  std::map<std::string, int> counts;
  for (const auto& t : trials) counts[trial_state_name(t.state)]++;
  std::string s;
  for (const char* name : {"complete", "pruned", "running", "waiting", "failed", "crashed", "interrupted"})
    if (counts.count(name)) s += (s.empty() ? "" : ", ") + std::to_string(counts[name]) + " " + name;
  return s.empty() ? "no trials yet" : s;
}

void print_trial_table(std::ostream& os, const std::vector<TrialRecord>& ranked, const SweepConfig& config) {
  std::vector<std::string> keys;
  for (const auto& d : config.space.dimensions()) keys.push_back(d.key);
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"rank", "trial", "state", config.metric, "epochs"});
  for (const auto& k : keys) rows.front().push_back(k);
  int rank = 0;
  for (const auto& t : ranked) {
    std::vector<std::string> row;
    row.push_back(group_of(t) == 0 ? std::to_string(++rank) : "-");
    row.push_back(std::to_string(t.number));
    std::string state = trial_state_name(t.state);
    if (t.pruned_epoch) state += "@" + std::to_string(*t.pruned_epoch);
    row.push_back(state);
    row.push_back(t.value ? fmt(*t.value) : "");
    row.push_back(t.intermediate.empty() ? "" : std::to_string(last_epoch(t)));
    for (const auto& k : keys) {
      auto it = t.params.find(k);
      row.push_back(it == t.params.end() ? "" : short_value(it->second));
    }
    rows.push_back(std::move(row));
  }
  print_columns(os, rows);
}

std::vector<ParameterBucket> parameter_buckets(const std::vector<TrialRecord>& trials, const Dimension& d,
                                               Direction direction, size_t bins) {
  // (value, objective) of the completed trials that have this parameter.
  std::vector<std::pair<Value, double>> done;
  for (const auto& t : trials)
    if (group_of(t) == 0 && t.params.count(d.key)) done.emplace_back(t.params.at(d.key), *t.value);
  auto bucket = [&](std::string label, const std::vector<double>& objectives) {
    ParameterBucket b;
    b.label = std::move(label);
    b.trials = static_cast<int64_t>(objectives.size());
    if (!objectives.empty()) {
      b.mean = std::accumulate(objectives.begin(), objectives.end(), 0.0) / static_cast<double>(objectives.size());
      b.best = objectives.front();
      for (double v : objectives)
        if (better(direction, v, *b.best)) b.best = v;
    }
    return b;
  };

  std::vector<ParameterBucket> out;
  if (d.is_categorical()) {
    for (const auto& choice : d.values) {
      std::vector<double> objectives;
      for (const auto& [v, y] : done)
        if (short_value(v) == short_value(choice)) objectives.push_back(y);
      out.push_back(bucket(short_value(choice), objectives));
    }
    return out;
  }
  std::vector<std::pair<double, double>> xy;  // numeric value, objective; sorted by value
  for (const auto& [v, y] : done)
    if (v.is_number()) xy.emplace_back(v.as_float(), y);
  std::stable_sort(xy.begin(), xy.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t distinct = 0;
  for (size_t i = 0; i < xy.size(); ++i) distinct += i == 0 || xy[i].first != xy[i - 1].first;
  const size_t n = xy.size();
  for (size_t start = 0, b = 0; start < n; ++b) {
    size_t end = start + 1;
    if (distinct > bins) {
      // Quantile bin b ends at rank ceil((b + 1) n / bins), moved right past values equal to its last.
      end = std::max(end, ((b + 1) * n + bins - 1) / bins);
    }
    while (end < n && xy[end].first == xy[end - 1].first) ++end;
    std::vector<double> objectives;
    for (size_t i = start; i < end; ++i) objectives.push_back(xy[i].second);
    const double lo = xy[start].first, hi = xy[end - 1].first;
    out.push_back(bucket(lo == hi ? fmt(lo) : "[" + fmt(lo) + ", " + fmt(hi) + "]", objectives));
    start = end;
  }
  return out;
}

void print_parameter_summary(std::ostream& os, const std::vector<TrialRecord>& trials, const SweepConfig& config) {
  auto best = best_trial(trials, config.direction);
  std::vector<std::vector<std::string>> table = {
      {"parameter", "value", "trials", "mean " + config.metric, "best " + config.metric}};
  for (const auto& d : config.space.dimensions()) {
    os << "  " << d.key << " (" << dimension_type_name(d.type);
    if (!d.is_categorical()) os << " " << fmt(d.low) << ".." << fmt(d.high);
    os << ")";
    if (best && best->params.count(d.key)) os << "  best " << short_value(best->params.at(d.key));
    if (!d.is_categorical()) {
      std::vector<double> x, y;
      for (const auto& t : trials)
        if (group_of(t) == 0 && t.params.count(d.key) && t.params.at(d.key).is_number()) {
          x.push_back(t.params.at(d.key).as_float());
          y.push_back(*t.value);
        }
      auto rho = spearman(x, y);
      os << "  spearman(" << d.key << ", " << config.metric << ") = " << (rho ? fmt(*rho) : std::string("n/a"));
    }
    os << "\n";
    bool first = true;
    for (const auto& b : parameter_buckets(trials, d, config.direction)) {
      table.push_back({first ? d.key : "", b.label, std::to_string(b.trials), b.mean ? fmt(*b.mean) : "-",
                       b.best ? fmt(*b.best) : "-"});
      first = false;
    }
  }
  os << "\n";
  print_columns(os, table, "  ");
}

std::string write_sweep_report(std::ostream& os, const SweepRecord& sweep, const SweepConfig& config,
                               const std::vector<TrialRecord>& trials, int64_t top) {
  auto ranked = rank_trials(trials, sweep.direction);
  if (top > 0 && static_cast<int64_t>(ranked.size()) > top) ranked.resize(static_cast<size_t>(top));
  os << "sweep " << sweep.id << " (" << sweep_state_name(sweep.state) << "): " << state_counts(trials) << "; "
     << direction_name(sweep.direction) << " " << sweep.metric << "\n\n";
  print_trial_table(os, ranked, config);
  int64_t completed = 0;
  for (const auto& t : trials) completed += group_of(t) == 0;
  os << "\nparameters (over " << completed << " completed " << (completed == 1 ? "trial" : "trials") << "):\n";
  print_parameter_summary(os, trials, config);
  auto best = best_trial(trials, sweep.direction);
  if (!best) {
    os << "\nno completed trial yet\n";
    return {};
  }
  std::string toml = best_config_toml(config, *best, sweep.id);
  os << "\nbest configuration (trial " << best->number << "):\n\n" << toml << "\nor: " << trial_command_line(config, *best)
     << "\n";
  return toml;
}

}  // namespace xp::sweeps
