#pragma once
// The files of a run folder the engine writes: train.log (appended), metrics.csv (one row per
// epoch, rewritten so that columns appearing later still line up) and skipped_samples.txt.
// With an empty folder nothing is written. Every write is checked (xp::FileError names the path
// and the OS's reason) and the rewritten files are replaced atomically.

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace xp::engine {

class RunFiles {
 public:
  explicit RunFiles(std::filesystem::path dir);

  void log(const std::string& line);
  void add_skipped(const std::string& split, int64_t epoch, int64_t index, const std::string& source,
                   const std::string& reason);
  void write_skipped_report() const;
  void write_metrics(const std::vector<std::map<std::string, double>>& rows) const;
  // Rows of an existing metrics.csv (for --resume); empty when there is none.
  std::vector<std::map<std::string, double>> read_metrics() const;

  std::filesystem::path log_path() const { return dir_ / "train.log"; }
  std::filesystem::path metrics_path() const { return dir_ / "metrics.csv"; }
  std::filesystem::path skipped_report_path() const { return dir_ / "skipped_samples.txt"; }

 private:
  struct Skip {
    std::string split;
    int64_t index;
    std::string source, reason;
    int64_t times = 0;
    int64_t first_epoch = 0;
  };
  std::filesystem::path dir_;
  std::vector<Skip> skipped_;
};

}  // namespace xp::engine
