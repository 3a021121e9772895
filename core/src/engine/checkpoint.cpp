#include "engine/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <mutex>

#include "xp/base/atomic_file.h"

namespace xp::engine {

namespace {

torch::Tensor scalar(double v) { return torch::tensor(v, torch::kFloat64); }
torch::Tensor scalar(int64_t v) { return torch::tensor(v, torch::kInt64); }

torch::Tensor read(torch::serialize::InputArchive& in, const std::string& key) {
  torch::Tensor t;
  in.read(key, t);
  return t;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts, const LoopState& state) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive model_archive;
  parts.model->save(model_archive);
  root.write("model", model_archive);
  if (parts.loss) {
    torch::serialize::OutputArchive loss_archive;
    parts.loss->save(loss_archive);
    root.write("loss", loss_archive);
  }
  torch::serialize::OutputArchive optimizer_archive;
  parts.optimizer->save(optimizer_archive);
  root.write("optimizer", optimizer_archive);
  if (parts.ema) {
    torch::serialize::OutputArchive ema_archive;
    // Indexed keys: the tensors' dotted names are not valid archive keys. The map's order is fixed.
    int64_t i = 0;
    for (const auto& [name, t] : parts.ema->state()) ema_archive.write("t" + std::to_string(i++), t, true);
    ema_archive.write("updates", scalar(parts.ema->updates()), true);
    root.write("ema", ema_archive);
  }
  if (parts.scaler) {
    torch::serialize::OutputArchive amp;
    amp.write("scale", scalar(parts.scaler->current_scale()), true);
    amp.write("good_steps", scalar(parts.scaler->good_steps()), true);
    amp.write("skipped", scalar(parts.scaler->skipped_steps()), true);
    root.write("amp", amp);
  }
  root.write("epoch", scalar(state.epoch), true);
  root.write("batches_done", scalar(state.batches_done), true);
  root.write("step", scalar(state.step), true);
  root.write("loss_sum", scalar(state.loss_sum), true);
  root.write("loss_count", scalar(state.loss_count), true);
  root.write("has_best", scalar(static_cast<int64_t>(state.best.has_value())), true);
  root.write("best", scalar(state.best.value_or(0.0)), true);
  root.write("best_epoch", scalar(state.best_epoch), true);
  root.write("world_size", scalar(state.world_size), true);
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    root.write("torch_rng", gen.get_state(), true);
  }
  // Serialized in memory, then written by write_file_atomically: a full disk or a kill during the
  // write leaves the previous checkpoint intact, and the error names the OS's reason (torch's own
  // file writer reports neither).
  std::string bytes;
  root.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  create_directories_or_throw(file.parent_path(), "checkpoint folder");
  write_file_atomically(file, bytes, "checkpoint");
}

namespace {

// Torch's message for a truncated or foreign file is a wall of C++ frames ("PytorchStreamReader
// failed reading zip archive: failed finding central directory" + a backtrace); keep its first
// line and say which file, and what that means.
[[noreturn]] void unreadable(const std::filesystem::path& file, const std::exception& e) {
  std::string why = e.what();
  why = why.substr(0, why.find('\n'));
  throw std::runtime_error("cannot read checkpoint '" + file.string() + "': " + why +
                           " (the file is truncated, corrupt or not an xp checkpoint)");
}

}  // namespace

void load_model_weights(const std::filesystem::path& file, torch::nn::Module& model, const torch::Device& map_location) {
  if (!std::filesystem::exists(file)) throw std::runtime_error("no checkpoint at " + file.string());
  try {
    torch::serialize::InputArchive root;
    root.load_from(file.string(), map_location);
    torch::serialize::InputArchive model_archive;
    root.read("model", model_archive);
    model.load(model_archive);
  } catch (const c10::Error& e) {
    unreadable(file, e);
  }
}

namespace {

LoopState load_checkpoint_parts(torch::serialize::InputArchive& root, const CheckpointParts& parts) {
  torch::serialize::InputArchive model_archive;
  root.read("model", model_archive);
  parts.model->load(model_archive);
  if (parts.loss) {
    torch::serialize::InputArchive loss_archive;
    if (root.try_read("loss", loss_archive)) parts.loss->load(loss_archive);
  }
  torch::serialize::InputArchive optimizer_archive;
  root.read("optimizer", optimizer_archive);
  parts.optimizer->load(optimizer_archive);
  if (parts.ema) {
    torch::serialize::InputArchive ema_archive;
    if (root.try_read("ema", ema_archive)) {
      std::map<std::string, torch::Tensor> state;
      int64_t i = 0;
      for (const auto& [name, t] : parts.ema->state()) {
        (void)t;
        ema_archive.read("t" + std::to_string(i++), state[name], true);
      }
      parts.ema->load_state(state, read(ema_archive, "updates").item<int64_t>());
    }
  }
  if (parts.scaler) {
    torch::serialize::InputArchive amp;
    if (root.try_read("amp", amp))
      parts.scaler->load(read(amp, "scale").item<double>(), read(amp, "good_steps").item<int64_t>(),
                         read(amp, "skipped").item<int64_t>());
  }
  LoopState s;
  s.epoch = read(root, "epoch").item<int64_t>();
  s.batches_done = read(root, "batches_done").item<int64_t>();
  s.step = read(root, "step").item<int64_t>();
  s.loss_sum = read(root, "loss_sum").item<double>();
  s.loss_count = read(root, "loss_count").item<int64_t>();
  if (read(root, "has_best").item<int64_t>()) s.best = read(root, "best").item<double>();
  s.best_epoch = read(root, "best_epoch").item<int64_t>();
  torch::Tensor world;
  // Checkpoints from before data parallelism, or of one process, have no world size: 1.
  s.world_size = root.try_read("world_size", world, true) ? world.item<int64_t>() : 1;
  torch::Tensor rng = read(root, "torch_rng");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(rng.cpu());
  return s;
}

}  // namespace

LoopState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const torch::Device& map_location) {
  if (!std::filesystem::exists(file)) throw std::runtime_error("no checkpoint at " + file.string());
  try {
    torch::serialize::InputArchive root;
    root.load_from(file.string(), map_location);
    return load_checkpoint_parts(root, parts);
  } catch (const c10::Error& e) {
    unreadable(file, e);
  }
}

LoopState load_checkpoint_bytes(const std::string& bytes, const std::filesystem::path& file,
                                const CheckpointParts& parts, const torch::Device& map_location) {
  try {
    torch::serialize::InputArchive root;
    root.load_from(bytes.data(), bytes.size(), map_location);
    return load_checkpoint_parts(root, parts);
  } catch (const c10::Error& e) {
    unreadable(file, e);
  }
}

}  // namespace xp::engine
