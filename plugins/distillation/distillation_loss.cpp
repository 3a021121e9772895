// Knowledge distillation (Hinton et al. 2015): the student learns from the softened predictions of
// one or more teachers as well as from the labels,
//   loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * hard(s, y),
// t the teachers' logits averaged, s the student's, hard any loss plugin (default cross_entropy).
// T^2 keeps the soft term's gradients on the scale of the hard term's as T grows. The teachers run
// in eval mode without gradients on the very batch the student sees (after augmentation and
// normalization), so a teacher must take the student's input: same channels, size, normalization.
#include <xp/plugin.h>
#include <xp/trained_model.h>

#include <filesystem>
#include <mutex>

#include <torch/script.h>

namespace {

namespace fs = std::filesystem;

// A teacher: an xp model or a TorchScript module returning logits (a tensor, a tuple whose first
// element is the logits, or a dict with "logits").
class Teacher {
 public:
  explicit Teacher(const std::string& source, const std::string& checkpoint, const std::string& where) : source_(source) {
    std::error_code ec;
    fs::path path = source;
    if (!fs::exists(path, ec)) path = latest_run_of(source, checkpoint);
    if (path.empty()) path = find_run_folder(source);
    if (path.empty())
      throw xp::ConfigError("distillation: teacher '" + source + "' is neither a run folder, an experiment or run "
                            "id under ./xp-runs, nor a TorchScript file", where);
    if (fs::is_directory(path, ec)) {
      xp::TrainedModel t = xp::load_trained_model(path, checkpoint);
      if (t.info.task != xp::Task::Classification)
        throw xp::ConfigError("distillation: teacher " + path.string() + " is a segmentation run; distillation "
                              "here is for classification", where);
      xp_ = t.model;
      classes_ = t.info.num_classes;
    } else {
      try {
        script_ = std::make_shared<torch::jit::script::Module>(torch::jit::load(path.string(), torch::kCPU));
      } catch (const std::exception& e) {
        throw xp::ConfigError("distillation: teacher " + path.string() + " is not a TorchScript file: " +
                              std::string(e.what()).substr(0, 200), where);
      }
      script_->eval();
    }
  }

  torch::Tensor logits(const torch::Tensor& input) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (device_ != input.device()) {  // follow the student (the trainer moves only the loss' own modules)
      if (xp_) xp_->to(input.device());
      if (script_) script_->to(input.device());
      device_ = input.device();
    }
    if (xp_) {
      xp_->eval();
      return xp_->forward(input).logits;
    }
    torch::jit::IValue out = script_->forward({input});
    if (out.isTensor()) return out.toTensor();
    if (out.isTuple()) return out.toTuple()->elements().at(0).toTensor();
    if (out.isGenericDict()) return out.toGenericDict().at("logits").toTensor();
    throw xp::ConfigError("distillation: TorchScript teacher " + source_ + " returns neither a tensor, a tuple nor "
                          "a dict with \"logits\"");
  }

  int64_t classes() const { return classes_; }  // 0: unknown until the first batch (TorchScript)
  const std::string& source() const { return source_; }

 private:
  // An experiment name under ./xp-runs: its newest run (ids grow with time) that has the checkpoint.
  static fs::path latest_run_of(const std::string& experiment, const std::string& checkpoint) {
    std::error_code ec;
    const fs::path dir = fs::path("xp-runs") / experiment;
    if (experiment.empty() || experiment.find('/') != std::string::npos || !fs::is_directory(dir, ec)) return {};
    fs::path best;
    for (const auto& run : fs::directory_iterator(dir, ec))
      if (fs::exists(run.path() / "checkpoints" / (checkpoint + ".pt"), ec) && fs::exists(run.path() / "config.toml", ec) &&
          (best.empty() || run.path().filename() > best.filename()))
        best = run.path();
    return best;
  }

  // A run id (or unique prefix) under ./xp-runs/<experiment>/.
  static fs::path find_run_folder(const std::string& id) {
    std::error_code ec;
    fs::path found;
    if (id.empty() || !fs::is_directory("xp-runs", ec)) return {};
    for (const auto& experiment : fs::directory_iterator("xp-runs", ec)) {
      if (!experiment.is_directory(ec)) continue;
      for (const auto& run : fs::directory_iterator(experiment.path(), ec))
        if (run.is_directory(ec) && run.path().filename().string().rfind(id, 0) == 0 &&
            fs::exists(run.path() / "config.toml", ec)) {
          if (!found.empty()) throw xp::ConfigError("distillation: teacher id '" + id + "' is ambiguous under ./xp-runs");
          found = run.path();
        }
    }
    return found;
  }

  std::string source_;
  std::shared_ptr<xp::Model> xp_;
  std::shared_ptr<torch::jit::script::Module> script_;
  torch::Device device_{torch::kCPU};
  int64_t classes_ = 0;
  std::mutex mutex_;
};

class Distillation : public xp::Loss {
 public:
  static xp::Schema schema() {
    return xp::Schema("Knowledge distillation: alpha * T^2 * KL(teacher || student at temperature T) + (1 - alpha) "
                      "* hard loss; teachers (finished xp runs or TorchScript files) averaged, in eval mode, "
                      "without gradients, on the student's batch")
        .tasks({"classification"})
        .add_strings("teachers", {}, "run folders, experiment names (their newest run under ./xp-runs), run ids, or TorchScript files; several are averaged")
        .add_string("checkpoint", "best", "teacher runs' weights: best or last").choices({"best", "last"})
        .add_float("temperature", 4.0, "softening temperature T").range(0.05, 100.0)
        .add_float("alpha", 0.9, "weight of the soft (teacher) term; 1 - alpha weighs the hard loss").range(0.0, 1.0)
        .add_string("average", "logits", "how teachers are combined: logits (mean logits) or probs (mean "
                                         "tempered probabilities)").choices({"logits", "probs"})
        .add_plugin("hard", "loss", "loss on the labels (default cross_entropy)").optional();
  }

  explicit Distillation(const xp::Params& p)
      : temperature_(p.get_float("temperature")), alpha_(p.get_float("alpha")),
        average_probs_(p.get_string("average") == "probs") {
    const auto sources = p.get_strings("teachers");
    if (sources.empty())
      throw xp::ConfigError("distillation: `teachers` is empty; name at least one finished run folder or TorchScript file",
                            p.where());
    // Not registered as submodules: the trainer would otherwise train, checkpoint and mode-switch
    // them with the loss.
    for (const auto& s : sources) teachers_.push_back(std::make_shared<Teacher>(s, p.get_string("checkpoint"), p.where()));
    hard_ = register_module("hard", xp::create<xp::Loss>(hard_params(p)));
  }

  // The teachers' combined soft distribution at temperature T, [B, K] (log space).
  torch::Tensor teacher_log_probs(const torch::Tensor& input, int64_t classes) {
    torch::NoGradGuard no_grad;
    torch::Tensor sum;
    for (auto& t : teachers_) {
      torch::Tensor z = t->logits(input).to(torch::kFloat);
      if (z.dim() != 2 || z.size(1) != classes)
        throw xp::ConfigError("distillation: teacher " + t->source() + " gives logits of shape " + shape(z) +
                              " for a student with " + std::to_string(classes) + " classes");
      torch::Tensor term = average_probs_ ? torch::softmax(z / temperature_, 1) : z;
      sum = sum.defined() ? sum + term : term;
    }
    torch::Tensor mean = sum / static_cast<double>(teachers_.size());
    return average_probs_ ? torch::log(mean.clamp_min(1e-12)) : torch::log_softmax(mean / temperature_, 1);
  }

  torch::Tensor forward(const xp::ModelOutput& output, const xp::Batch& batch) override {
    const torch::Tensor& s = output.logits;
    if (s.dim() != 2)
      throw xp::ConfigError("distillation: the student's logits have shape " + shape(s) + "; distillation is for "
                            "classification logits [B, K]");
    if (!batch.input.defined() || batch.input.dim() < 2)
      throw xp::ConfigError("distillation: the batch carries no input for the teachers");
    torch::Tensor hard = hard_->forward(output, batch);
    if (alpha_ == 0.0) return hard;
    torch::Tensor log_pt = teacher_log_probs(batch.input.to(s.device()), s.size(1));
    torch::Tensor log_ps = torch::log_softmax(s.to(torch::kFloat) / temperature_, 1);
    // KL(p_t || p_s) summed over classes, averaged over the batch ("batchmean").
    torch::Tensor kl = (log_pt.exp() * (log_pt - log_ps)).sum(1).mean();
    return alpha_ * temperature_ * temperature_ * kl + (1.0 - alpha_) * hard;
  }

 private:
  static std::string shape(const torch::Tensor& t) {
    std::string out = "[";
    for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
    return out + "]";
  }
  static xp::Params hard_params(const xp::Params& p) {
    if (p.has("hard")) return p.get_plugin("hard");
    const xp::PluginEntry& entry = xp::PluginRegistry::instance().get("loss", "cross_entropy");
    xp::Value::Table defaults;
    for (const auto& spec : entry.schema.params())
      if (!spec.default_value.is_none()) defaults[spec.name] = spec.default_value;
    return xp::Params("cross_entropy", std::move(defaults), p.where());
  }

  double temperature_, alpha_;
  bool average_probs_;
  std::vector<std::shared_ptr<Teacher>> teachers_;
  std::shared_ptr<xp::Loss> hard_;
};

}  // namespace

XP_REGISTER_LOSS("distillation", Distillation);
