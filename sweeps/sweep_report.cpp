#include "sweep_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iomanip>
#include <map>
#include <numeric>
#include <sstream>

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

bool bare_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string toml_key(const std::string& k) { return bare_key(k) ? k : Value(k).to_string(); }

// Writes `table` as TOML: plain values first, then one [section] per sub-table.
void emit_table(std::ostream& os, const Value::Table& table, const std::string& path) {
  bool header_written = path.empty();
  for (const auto& [k, v] : table) {
    if (v.type() == Value::Type::Table) continue;
    if (!header_written) os << "\n[" << path << "]\n", header_written = true;
    os << toml_key(k) << " = " << v.to_string() << "\n";
  }
  for (const auto& [k, v] : table)
    if (v.type() == Value::Type::Table)
      emit_table(os, v.as_table(), path.empty() ? toml_key(k) : path + "." + toml_key(k));
}

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
  emit_table(os, root, "");
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
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) line += pad(r[c], width[c] + 2);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    os << line << "\n";
  }
}

void print_parameter_summary(std::ostream& os, const std::vector<TrialRecord>& trials, const SweepConfig& config) {
  auto best = best_trial(trials, config.direction);
  std::vector<const TrialRecord*> done;
  for (const auto& t : trials)
    if (group_of(t) == 0) done.push_back(&t);
  for (const auto& d : config.space.dimensions()) {
    os << "  " << d.key << " (" << dimension_type_name(d.type);
    if (d.is_categorical()) {
      os << ")";
    } else {
      os << " " << fmt(d.low) << ".." << fmt(d.high) << ")";
    }
    if (best && best->params.count(d.key)) os << "  best " << short_value(best->params.at(d.key));
    if (d.is_categorical()) {
      std::map<std::string, std::pair<double, int>> per_value;
      for (const auto* t : done)
        if (t->params.count(d.key)) {
          auto& acc = per_value[short_value(t->params.at(d.key))];
          acc.first += *t->value;
          acc.second++;
        }
      os << "  mean " << config.metric << ":";
      for (const auto& v : d.values) {
        auto it = per_value.find(short_value(v));
        os << " " << short_value(v) << "="
           << (it == per_value.end() ? std::string("-") : fmt(it->second.first / it->second.second) + " (n=" +
                                                               std::to_string(it->second.second) + ")");
      }
    } else {
      std::vector<double> x, y;
      for (const auto* t : done)
        if (t->params.count(d.key) && t->params.at(d.key).is_number()) {
          x.push_back(t->params.at(d.key).as_float());
          y.push_back(*t->value);
        }
      auto rho = spearman(x, y);
      os << "  spearman(" << d.key << ", " << config.metric << ") = " << (rho ? fmt(*rho) : std::string("n/a"));
    }
    os << "\n";
  }
}

}  // namespace xp::sweeps
