#include "engine/run_files.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <set>
#include <sstream>

#include "xp/base/atomic_file.h"

namespace xp::engine {

namespace fs = std::filesystem;

RunFiles::RunFiles(fs::path dir) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  create_directories_or_throw(dir_, "run folder");
}

void RunFiles::log(const std::string& line) {
  if (dir_.empty()) return;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y-%m-%d %H:%M:%S") << "  " << line << "\n";
  // One append per line, checked: a full disk ends the run with the OS's reason instead of
  // silently dropping the log.
  append_to_file(log_path(), os.str(), "run log");
}

void RunFiles::add_skipped(const std::string& split, int64_t epoch, int64_t index, const std::string& source,
                           const std::string& reason) {
  for (auto& s : skipped_)
    if (s.split == split && s.index == index) {
      ++s.times;
      return;
    }
  skipped_.push_back({split, index, source, reason, 1, epoch});
}

void RunFiles::write_skipped_report() const {
  if (dir_.empty()) return;
  std::ostringstream out;
  out << "# samples the loader skipped because the dataset could not read them (xp::BadSample)\n";
  out << "# " << skipped_.size() << " distinct samples\n";
  out << "split\tindex\ttimes\tfirst_epoch\tsource\treason\n";
  for (const auto& s : skipped_)
    out << s.split << "\t" << s.index << "\t" << s.times << "\t" << s.first_epoch << "\t" << s.source << "\t"
        << s.reason << "\n";
  write_file_atomically(skipped_report_path(), out.str(), "skipped-samples report");
}

void RunFiles::write_metrics(const std::vector<std::map<std::string, double>>& rows) const {
  if (dir_.empty()) return;
  std::vector<std::string> columns{"epoch", "step"};
  std::set<std::string> seen(columns.begin(), columns.end());
  for (const auto& row : rows)
    for (const auto& [k, v] : row)
      if (seen.insert(k).second) columns.push_back(k);
  std::ostringstream out;
  {
    for (size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << columns[i];
    out << "\n" << std::setprecision(17);
    for (const auto& row : rows) {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (i) out << ",";
        auto it = row.find(columns[i]);
        if (it != row.end() && !std::isnan(it->second)) out << it->second;
      }
      out << "\n";
    }
  }
  write_file_atomically(metrics_path(), out.str(), "metrics file");
}

std::vector<std::map<std::string, double>> RunFiles::read_metrics() const {
  std::vector<std::map<std::string, double>> rows;
  std::ifstream in(metrics_path());
  std::string line;
  if (!in || !std::getline(in, line)) return rows;
  std::vector<std::string> columns;
  {
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) columns.push_back(c);
  }
  while (std::getline(in, line)) {
    std::map<std::string, double> row;
    std::stringstream ss(line);
    std::string cell;
    for (size_t i = 0; i < columns.size() && std::getline(ss, cell, ','); ++i)
      if (!cell.empty()) row[columns[i]] = std::stod(cell);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace xp::engine
