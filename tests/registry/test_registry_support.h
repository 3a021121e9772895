#pragma once
// Shared by the registry, where and report tests: a scratch folder and a registry filled with runs.
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>

#include "run_registry.h"

namespace xp::registry_test {

// A fresh folder under $TMPDIR, removed when the object goes away.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xp_registry_test_XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline RunInfo run_info(const std::string& experiment, const std::string& variant, int64_t seed,
                        std::map<std::string, std::string> params = {}) {
  RunInfo info;
  info.experiment = experiment;
  info.variant = variant;
  info.seed = seed;
  info.params = std::move(params);
  info.config_text = "[experiment]\nname = \"" + experiment + "\"\n";
  info.config_hash = "hash-" + variant;
  info.command_line = "xp run " + experiment + ".toml";
  info.xp_version = "0.1.0";
  info.torch_version = "1.13.1";
  info.device = "cpu";
  info.git_commit = "0123456789abcdef";
  return info;
}

// Records one finished run with `epochs` epochs of val_acc rising to `final_acc` and a summary.
inline std::string record_run(RunRegistry& reg, const std::string& experiment, const std::string& variant,
                              int64_t seed, double final_acc, std::map<std::string, std::string> params = {},
                              RunStatus status = RunStatus::Finished, int epochs = 3) {
  std::string id = reg.begin(run_info(experiment, variant, seed, std::move(params)));
  for (int e = 1; e <= epochs; ++e)
    reg.log_metrics(id, e, e * 10, {{"val_acc", final_acc - 0.1 * (epochs - e)}, {"train_loss", 1.0 / e}});
  reg.set_summary(id, {{"test_acc", final_acc - 0.01}});
  reg.finish(id, status);
  return id;
}

}  // namespace xp::registry_test
