#include "slurm_launcher.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "xp/errors.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandOutput out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

std::vector<std::string> split_shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < text.size()) word += text[++i];
      else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) throw ConfigError("--sbatch: unbalanced quote in '" + text + "'");
  if (in_word) words.push_back(word);
  return words;
}

std::string submit_slurm_array(const SlurmArrayRequest& r) {
  if (r.tasks < 1 || r.parallel < 1) throw ConfigError("a Slurm array needs at least one task");
  fs::create_directories(r.log_dir);
  const fs::path script = r.log_dir / "slurm_array.sh";
  {
    std::ofstream out(script, std::ios::trunc);
    out << "#!/bin/bash\n"
        << "# Written by xp: every task leases its work (a sweep trial, a planned run) from the registry.\n"
        << "#SBATCH --job-name=" << r.job_name << "\n"
        << "#SBATCH --array=0-" << (r.tasks - 1) << "%" << r.parallel << "\n"
        << "#SBATCH --output=" << (r.log_dir / "slurm-%A_%a.out").string() << "\n"
        << "#SBATCH --requeue\n"
        << "exec";
    for (const auto& a : r.command) out << " " << shell_quote(a);
    out << "\n";
    if (!out) throw ConfigError("cannot write " + script.string());
  }
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  for (auto& w : split_shell_words(r.sbatch_args)) argv.push_back(w);
  argv.push_back(script.string());
  auto result = run_command(argv);
  if (result.exit_code == 127)
    throw ConfigError("sbatch not found: --launcher slurm needs Slurm's client commands on PATH");
  if (result.exit_code != 0)
    throw ConfigError("sbatch refused the job array (exit " + std::to_string(result.exit_code) +
                      "): " + trim(result.output) + "\n  script: " + script.string());
  // --parsable prints "jobid" or "jobid;cluster".
  std::string id = trim(result.output);
  if (auto nl = id.rfind('\n'); nl != std::string::npos) id = id.substr(nl + 1);
  if (auto semi = id.find(';'); semi != std::string::npos) id = id.substr(0, semi);
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw ConfigError("sbatch printed no job id: " + trim(result.output));
  return id;
}

SlurmQueue slurm_queue(const std::string& job_id) {
  // -r: one line per array task; %T: the state's long name.
  auto result = run_command({"squeue", "-h", "-r", "-j", job_id, "-o", "%T"});
  SlurmQueue q;
  if (result.exit_code != 0) {
    // A job that left the queue makes some Slurm versions fail with "Invalid job id specified".
    if (result.output.find("Invalid job id") != std::string::npos) return q;
    throw std::runtime_error("squeue -j " + job_id + " failed: " + trim(result.output));
  }
  std::istringstream lines(result.output);
  for (std::string state; std::getline(lines, state);) {
    state = trim(state);
    if (state.empty()) continue;
    if (state == "PENDING") ++q.pending;
    else if (state == "RUNNING" || state == "COMPLETING" || state == "CONFIGURING") ++q.running;
    else ++q.other;
  }
  return q;
}

std::string slurm_task_label() {
  const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* array_task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array_job && *array_job && array_task && *array_task) return std::string(array_job) + "_" + array_task;
  if (const char* job = std::getenv("SLURM_JOB_ID"); job && *job) return job;
  return "";
}

}  // namespace xp::sweeps
