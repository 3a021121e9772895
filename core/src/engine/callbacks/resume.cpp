#include "engine/callbacks/resume.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "distributed/distributed_context.h"
#include "xp/errors.h"

namespace xp::engine {

namespace fs = std::filesystem;

namespace {

// metrics.csv's rows as text for the other ranks: one row a line, "name=value" separated by tabs,
// values with every digit (17 significant), so early stopping sees the same history on every rank.
std::string history_text(const std::vector<MetricsRow>& history) {
  std::string out;
  char buf[64];
  for (const auto& row : history) {
    bool first = true;
    for (const auto& [k, v] : row) {
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out += (first ? "" : "\t") + k + "=" + buf;
      first = false;
    }
    out += "\n";
  }
  return out;
}

std::vector<MetricsRow> history_rows(const std::string& text) {
  std::vector<MetricsRow> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    MetricsRow row;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) {
      const auto eq = field.rfind('=');
      if (eq != std::string::npos) row[field.substr(0, eq)] = std::strtod(field.c_str() + eq + 1, nullptr);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

std::string reshard_progress(LoopState& p, int64_t world_size, int64_t steps_per_epoch, int64_t accumulate,
                             int64_t batch_size) {
  const int64_t saved = std::max<int64_t>(1, p.world_size);
  p.world_size = world_size;
  if (saved == world_size) return "";
  std::ostringstream note;
  note << "the checkpoint was written by " << saved << " rank" << (saved == 1 ? "" : "s") << ", this run has "
       << world_size << ": the epoch order is re-sharded and the global batch is now " << batch_size * world_size
       << " (was " << batch_size * saved << "; train.batch_size is per rank)";
  if (p.batches_done > 0) {
    // The ranks' k-th batches together are the k-th global batch of the epoch's order
    // (distributed/shard.h): `batches_done` batches of `saved` ranks are the first
    // batches_done x saved blocks of batch_size samples, which the new ranks can continue from
    // when they divide evenly among them.
    const int64_t blocks = p.batches_done * saved;
    if (blocks % world_size != 0)
      throw ConfigError("cannot resume with " + std::to_string(world_size) + " rank(s): the checkpoint was written by " +
                        std::to_string(saved) + " ranks in the middle of epoch " + std::to_string(p.epoch + 1) +
                        ", after " + std::to_string(blocks) + " blocks of train.batch_size samples, which " +
                        std::to_string(world_size) + " ranks cannot share evenly; resume it with " +
                        std::to_string(saved) + " ranks (--nproc-per-node " + std::to_string(saved) +
                        "), or with a number of ranks that divides " + std::to_string(blocks));
    p.batches_done = blocks / world_size;
  }
  // The schedule counts optimizer steps of this world's epochs: continue where a run with this many
  // ranks would be at this point of the run.
  const int64_t step = p.epoch * steps_per_epoch + (p.batches_done + accumulate - 1) / accumulate;
  note << "; step " << p.step << " becomes " << step;
  p.step = step;
  return note.str();
}

ResumeCallback::ResumeCallback(fs::path last, TrainStep& step, const torch::Device& device, int64_t batch_size,
                               int64_t accumulate, RunLog& log, distributed::DistributedContext* dist)
    : last_(std::move(last)),
      step_(step),
      device_(device),
      batch_size_(batch_size),
      accumulate_(accumulate),
      log_(log),
      dist_(dist) {}

void ResumeCallback::on_fit_start(TrainState& state) {
  const bool data_parallel = dist_ && dist_->active();
  const bool reads = !data_parallel || dist_->is_rank0();
  std::string bytes, history;
  bool ok = true;
  std::exception_ptr failure;
  if (reads) {
    try {
      std::error_code ec;
      if (!fs::exists(last_, ec)) throw ConfigError("cannot resume: no checkpoint at " + last_.string());
      state.history = log_.files().read_metrics();
      if (data_parallel) {
        std::ifstream in(last_, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) throw std::runtime_error("cannot read checkpoint " + last_.string());
        history = history_text(state.history);
      }
    } catch (...) {
      ok = false;
      failure = std::current_exception();
    }
  }
  if (data_parallel) {
    dist_->broadcast_bytes(bytes, ok);
    if (ok) dist_->broadcast_bytes(history, ok);
  }
  if (failure) std::rethrow_exception(failure);

  if (data_parallel) {
    state.progress = load_checkpoint_bytes(bytes, last_, step_.checkpoint_parts(), device_);
    if (!reads) state.history = history_rows(history);
  } else {
    state.progress = load_checkpoint(last_, step_.checkpoint_parts(), device_);
  }
  LoopState& p = state.progress;
  // Rows past the checkpoint (written after it, before a crash) would be duplicated.
  while (!state.history.empty() && state.history.back()["epoch"] > static_cast<double>(p.epoch))
    state.history.pop_back();
  // A finished epoch without its row (metrics.csv edited, or written by an xp that saved the
  // checkpoint first) cannot be trained again: say so rather than resume with a silent gap.
  if (static_cast<int64_t>(state.history.size()) < p.epoch)
    log_.line("note: metrics.csv has rows for " + std::to_string(state.history.size()) + " of the " +
              std::to_string(p.epoch) + " epochs the checkpoint finished; the missing ones stay missing");
  // The checkpoint holds the unfinished epoch's training loss summed over all ranks (the fit loop
  // reduces it before an interrupt's checkpoint): rank 0 carries it on, the others start from zero.
  if (data_parallel && !dist_->is_rank0()) {
    p.loss_sum = 0;
    p.loss_count = 0;
  }
  const int64_t world = data_parallel ? dist_->world_size() : 1;
  const std::string note =
      reshard_progress(p, world, state.steps_per_epoch, accumulate_, batch_size_);
  log_.line("resumed from " + last_.string() + " at epoch " + std::to_string(p.epoch + 1) + ", batch " +
            std::to_string(p.batches_done) + ", step " + std::to_string(p.step) +
            (data_parallel ? " on " + std::to_string(world) + (world == 1 ? " rank" : " ranks") : ""));
  if (!note.empty()) log_.line("note: " + note);
}

}  // namespace xp::engine
