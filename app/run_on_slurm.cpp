#include "run_on_slurm.h"

#include <cstdlib>
#include <iostream>
#include <map>

#include "run_batch.h"
#include "run_registry.h"
#include "subprocess.h"

namespace xp::cli {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> many(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// What a task's child runs: `xp run FILE` with the options that shape every run. Not --variant and
// --seeds: each planned run brings its own. Paths are made absolute (a task may start elsewhere).
std::vector<std::string> run_command(const po::variables_map& vm, const SlurmRunOptions& o) {
  std::vector<std::string> argv = {sweeps::self_executable().string(), "run", fs::absolute(o.file).string()};
  for (const auto& s : many(vm, "set")) argv.insert(argv.end(), {"--set", s});
  for (const auto& t : many(vm, "tag")) argv.insert(argv.end(), {"--tag", t});
  for (const auto& p : many(vm, "plugin-path")) argv.insert(argv.end(), {"--plugin-path", fs::absolute(p).string()});
  argv.insert(argv.end(), {"--registry", registry_argument(o.registry)});
  return argv;
}

}  // namespace

std::map<std::string, std::string> slurm_tags() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  std::map<std::string, std::string> tags;
  std::string job = env("SLURM_ARRAY_JOB_ID");
  if (job.empty()) job = env("SLURM_JOB_ID");
  if (job.empty()) return tags;
  tags["slurm_job"] = job;
  if (auto task = env("SLURM_ARRAY_TASK_ID"); !task.empty() && !env("SLURM_ARRAY_JOB_ID").empty())
    tags["slurm_array_task"] = task;
  return tags;
}

int submit_runs_on_slurm(const std::vector<RunSpec>& specs, const po::variables_map& vm, const SlurmRunOptions& o) {
  sweeps::RunBatchSubmission sub;
  sub.plan.experiment = specs.front().experiment;
  sub.plan.experiment_file = fs::absolute(o.file);
  sub.plan.registry = o.registry;
  for (const auto& s : specs) sub.plan.runs.push_back({s.variant, s.seed, s.hash});
  // The task resolves the experiment as this process did (to check each run's config before it
  // trains it), so it gets --variant and --seeds too; its child gets the planned run's own.
  sub.task_command = run_command(vm, o);
  for (const auto& v : many(vm, "variant")) sub.task_command.insert(sub.task_command.end(), {"--variant", v});
  if (vm.count("seeds")) sub.task_command.insert(sub.task_command.end(), {"--seeds", vm["seeds"].as<std::string>()});
  sub.parallel = o.parallel;
  sub.sbatch_args = o.sbatch;
  sub.wait = o.wait;
  return sweeps::submit_run_batch(sub, std::cout);
}

int run_leased_run(const std::vector<RunSpec>& specs, const po::variables_map& vm, const SlurmRunOptions& o,
                   const std::string& batch) {
  sweeps::RunBatchTask task;
  task.registry = o.registry;
  task.batch_id = batch;
  task.run_command = run_command(vm, o);
  task.resolve_hash = [&specs](const std::string& variant, int64_t seed) {
    for (const auto& s : specs)
      if (s.variant == variant && s.seed == seed) return s.hash;
    return std::string();
  };
  return sweeps::run_batch_task(task, std::cout);
}

}  // namespace xp::cli
