#include "engine/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#include "util/zip_integrity.h"
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

// Already says which file and what is wrong with it: passed on as it is.
class CheckpointMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Torch's message for a truncated or foreign file is a wall of C++ frames ("PytorchStreamReader
// failed reading zip archive: failed finding central directory" + a backtrace); keep its first
// line and say which file, and what that means. Whatever else a corrupt file makes torch's reader
// throw (std::exception, not c10::Error) gets the same message.
[[noreturn]] void unreadable(const std::filesystem::path& file, const std::exception& e) {
  std::string why = e.what();
  why = why.substr(0, why.find('\n'));
  throw std::runtime_error("cannot read checkpoint '" + file.string() + "': " + why +
                           " (the file is truncated, corrupt or not an xp checkpoint)");
}

// The shapes and types of a module's parameters and buffers. Torch's InputArchive replaces each
// tensor by the file's (Tensor::set_) whatever its shape, so the checkpoint of another model, or a
// corrupt one, would load "fine" and fail later inside a matmul: compared before and after loading.
using StateShapes = std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, c10::ScalarType>>>;

StateShapes state_shapes(const torch::nn::Module& module) {
  StateShapes out;
  for (const auto& p : module.named_parameters(true))
    out.push_back({p.key(), {p.value().sizes().vec(), p.value().scalar_type()}});
  for (const auto& b : module.named_buffers(true))
    out.push_back({b.key(), {b.value().sizes().vec(), b.value().scalar_type()}});
  return out;
}

std::string shape_text(const std::pair<std::vector<int64_t>, c10::ScalarType>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.first.size(); ++i) t += (i ? ", " : "") + std::to_string(s.first[i]);
  return t + "] " + c10::toString(s.second);
}

void load_module_checked(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& what,
                         const std::filesystem::path& file) {
  const StateShapes before = state_shapes(module);
  module.load(archive);
  const StateShapes after = state_shapes(module);
  for (size_t i = 0; i < before.size() && i < after.size(); ++i)
    if (before[i] != after[i])
      throw CheckpointMismatch("checkpoint '" + file.string() + "' does not fit the " + what + ": its '" +
                               after[i].first + "' is " + shape_text(after[i].second) + ", the " + what +
                               "'s is " + shape_text(before[i].second) +
                               " (a checkpoint of another model or configuration, or a corrupt file)");
}

// The checkpoint's bytes, its zip members' CRCs verified (util/zip_integrity.h says why).
std::string read_verified(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open it: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(std::string("cannot read it: ") + std::strerror(errno));
  check_zip_integrity(bytes, "the archive");
  return bytes;
}

}  // namespace

void load_model_weights(const std::filesystem::path& file, torch::nn::Module& model, const torch::Device& map_location) {
  if (!std::filesystem::exists(file)) throw std::runtime_error("no checkpoint at " + file.string());
  try {
    const std::string bytes = read_verified(file);
    torch::serialize::InputArchive root;
    root.load_from(bytes.data(), bytes.size(), map_location);
    torch::serialize::InputArchive model_archive;
    root.read("model", model_archive);
    load_module_checked(model_archive, model, "model", file);
  } catch (const CheckpointMismatch&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, and whatever else torch's reader throws
    unreadable(file, e);
  }
}

namespace {

LoopState load_checkpoint_parts(torch::serialize::InputArchive& root, const CheckpointParts& parts,
                                const std::filesystem::path& file) {
  torch::serialize::InputArchive model_archive;
  root.read("model", model_archive);
  load_module_checked(model_archive, *parts.model, "model", file);
  if (parts.loss) {
    torch::serialize::InputArchive loss_archive;
    if (root.try_read("loss", loss_archive)) load_module_checked(loss_archive, *parts.loss, "loss", file);
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
        torch::Tensor& read_t = state[name];
        ema_archive.read("t" + std::to_string(i++), read_t, true);
        if (!read_t.sizes().equals(t.sizes()))  // copy_ would broadcast it silently
          throw CheckpointMismatch("checkpoint '" + file.string() + "' does not fit the model: its EMA of '" + name +
                                   "' is " + shape_text({read_t.sizes().vec(), read_t.scalar_type()}) +
                                   ", the model's is " + shape_text({t.sizes().vec(), t.scalar_type()}));
      }
      parts.ema->load_state(state, read(ema_archive, "updates").item<int64_t>());
    }
  }
  // The numbers of a corrupt file that still unpickles: refused here rather than met mid-run.
  auto impossible = [&file](const std::string& what) {
    return CheckpointMismatch("checkpoint '" + file.string() + "' holds an impossible " + what +
                              " (the file is corrupt or not an xp checkpoint)");
  };
  if (parts.scaler) {
    torch::serialize::InputArchive amp;
    if (root.try_read("amp", amp)) {
      const double scale = read(amp, "scale").item<double>();
      const int64_t good = read(amp, "good_steps").item<int64_t>(), skipped = read(amp, "skipped").item<int64_t>();
      if (!std::isfinite(scale) || scale <= 0 || good < 0 || skipped < 0) throw impossible("loss scaler state");
      parts.scaler->load(scale, good, skipped);
    }
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
  if (s.epoch < 0 || s.batches_done < 0 || s.step < 0 || s.loss_count < 0 || s.best_epoch < 0 || s.world_size < 1)
    throw impossible("loop state (epoch " + std::to_string(s.epoch) + ", batch " + std::to_string(s.batches_done) +
                     ", step " + std::to_string(s.step) + ", world size " + std::to_string(s.world_size) + ")");
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
    const std::string bytes = read_verified(file);
    torch::serialize::InputArchive root;
    root.load_from(bytes.data(), bytes.size(), map_location);
    return load_checkpoint_parts(root, parts, file);
  } catch (const CheckpointMismatch&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, and whatever else torch's reader throws
    unreadable(file, e);
  }
}

LoopState load_checkpoint_bytes(const std::string& bytes, const std::filesystem::path& file,
                                const CheckpointParts& parts, const torch::Device& map_location) {
  try {
    check_zip_integrity(bytes, "the archive");
    torch::serialize::InputArchive root;
    root.load_from(bytes.data(), bytes.size(), map_location);
    return load_checkpoint_parts(root, parts, file);
  } catch (const CheckpointMismatch&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, and whatever else torch's reader throws
    unreadable(file, e);
  }
}

}  // namespace xp::engine
