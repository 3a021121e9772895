// A model exported from Python with torch.jit (tools/export_torchscript.py), used as is
// (mode = "logits": class logits [B, K] or dense logits [B, K, H, W]), as a feature extractor under
// a new linear head (mode = "features"), or as the encoder of a segmentation model (mode =
// "pyramid": its feature maps at several strides, for the decoder of unet / unet_plus_plus).
// The jit module's own parameters and buffers are registered under "backbone" (see jit_mirror.h),
// so freezing "backbone.*", parameter groups, checkpoints, EMA and device moves work on it like on
// any xp model; the new classifier is "head".
#include <xp/plugin.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/script.h>

#include "first_conv.h"
#include "jit_mirror.h"

namespace {

namespace fs = std::filesystem;

std::string shape_string(torch::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

// c10::Error messages carry a C++ backtrace after the first line; users need the first line.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

const char* const kHowToExport =
    "export one with tools/export_torchscript.py (torch.jit.script or torch.jit.trace, then .save(); "
    "torch.save() of a model or state_dict is not TorchScript)";

class TorchScriptModel : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema(
               "A TorchScript model exported from Python (timm, torchvision...), fine-tuned as is or under a "
               "new head. Modules: backbone (the jit module's own names), head (features mode)")
        .add_required("path", xp::ParamType::String,
                      "the .pt file saved by torch.jit (relative to the working directory)")
        .add_string("mode", "auto", "logits: the model's output is the logits ([B, K], or [B, K, H, W] at the "
                                    "input's size); features: it is features, pooled if [B, C, H, W], under a "
                                    "new linear head; pyramid: a list of feature maps (a segmentation encoder); "
                                    "auto: pyramid as a unet's encoder, logits elsewhere")
            .choices({"auto", "logits", "features", "pyramid"})
        .add_string("method", "forward", "the jit method to call, e.g. forward_features")
        .add_ints("input_size", {3, 224, 224},
                  "[C, H, W] of a probe forward at construction that learns the output size")
            .min(1)
        .add_int("in_channels", 0,
                 "channels of the data when they differ from input_size[0] (1 is repeated, others get "
                 "a learned 1x1 conv 'adapter', or an extended first convolution: new_bands); 0 = input_size[0]")
            .range(0, 64)
        .add_string("new_bands", "adapter", "how bands beyond input_size[0] reach the backbone: adapter (a learned "
                                            "1x1 conv to input_size[0] bands) or first_conv (the first convolution "
                                            "gets more input channels, initialised to the mean of its filters)")
            .choices({"adapter", "first_conv"})
        .add_string("first_conv", "", "new_bands = first_conv: the parameter name of the first convolution's "
                                      "weight, e.g. conv1.weight; empty = the first 4-d parameter over input_size[0] "
                                      "channels")
        .add_float("dropout", 0.0, "dropout before the new head (features mode)").range(0.0, 0.99)
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit TorchScriptModel(const xp::Params& p)
      : path_(p.get_string("path")),
        method_(p.get_string("method")),
        features_(p.get_string("mode") == "features"),
        pyramid_(p.get_string("mode") == "pyramid") {
    const std::string& where = p.where();
    std::vector<int64_t> input_size = p.get_ints("input_size");
    if (input_size.size() != 3)
      throw xp::ConfigError("torchscript: input_size is [C, H, W], got " + shape_string(input_size), where);
    backbone_channels_ = input_size[0];
    in_channels_ = p.get_int("in_channels") > 0 ? p.get_int("in_channels") : backbone_channels_;

    load(where);
    if (p.get_string("new_bands") == "first_conv" && in_channels_ != backbone_channels_ && in_channels_ != 1) {
      extend_first_conv(p.get_string("first_conv"), where);
      backbone_channels_ = in_channels_;
      input_size[0] = in_channels_;
    }
    backbone_ = register_module("backbone", xp::torchscript::mirror_jit_module(jit_));
    if (in_channels_ != backbone_channels_ && in_channels_ != 1)
      adapter_ = register_module("adapter", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels_, backbone_channels_, 1)));

    const int64_t classes = p.get_int("num_classes");
    if (features_ && classes <= 0)
      throw xp::ConfigError("torchscript: num_classes is 0 and no dataset supplied it; set num_classes", where);
    const int64_t out_size = probe(input_size, where);
    if (pyramid_) {
      // An encoder: its consumer (unet, unet_plus_plus) reads the maps; num_classes means nothing.
    } else if (features_) {
      double dropout = p.get_float("dropout");
      if (dropout > 0) dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
      head_ = register_module("head", torch::nn::Linear(out_size, classes));
    } else if (classes > 0 && classes != out_size) {
      throw xp::ConfigError("torchscript: " + path_ + " outputs " + std::to_string(out_size) +
                                (dense_ ? " logit maps per pixel" : " values per image") + " but num_classes is " +
                                std::to_string(classes) +
                                (dense_ ? " (dense logits " + dense_shape_ + ")" +
                                              "; a segmentation model must output num_classes maps at the "
                                              "input's size (segmentation_models_pytorch: classes=1 for binary "
                                              "masks); for feature maps under a new head set mode = \"features\""
                                        : std::string("; to train a new head on its output set mode = \"features\" "
                                                      "(and export with --features to drop the model's own "
                                                      "classifier)")),
                            where);
    }
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    if (input.dim() != 4 || input.size(1) != in_channels_)
      throw std::invalid_argument("torchscript expects input [B, " + std::to_string(in_channels_) + ", H, W], got " +
                                  shape_string(input.sizes()) + " (check in_channels and the dataset's channels)");
    xp::ModelOutput out;
    if (pyramid_) {
      // The maps as aux "pyramid_0" (finest) .. "pyramid_{n-1}"; logits is the deepest map.
      std::vector<torch::Tensor> maps = call_pyramid(adapt(input));
      for (size_t i = 0; i < maps.size(); ++i) out.aux["pyramid_" + std::to_string(i)] = maps[i];
      out.logits = maps.back();
      return out;
    }
    torch::Tensor y = call(adapt(input));
    if (!features_) {
      if (y.dim() == 4 && (y.size(2) != input.size(2) || y.size(3) != input.size(3)))
        throw std::invalid_argument("torchscript: " + path_ + "." + method_ + " returned dense logits " +
                                    shape_string(y.sizes()) + " for an input " + shape_string(input.sizes()) +
                                    ": they must have the input's (the mask's) height and width (many "
                                    "segmentation models need sides that are multiples of 32)");
      out.logits = y;
      return out;
    }
    torch::Tensor x = pooled(y);
    out.aux["features"] = x;
    if (dropout_) x = dropout_->forward(x);
    out.logits = head_->forward(x);
    return out;
  }

  // The jit module keeps its own training flag (BatchNorm, dropout inside scripted code read it).
  void train(bool on = true) override {
    torch::nn::Module::train(on);
    jit_.train(on);
  }

 private:
  void load(const std::string& where) {
    if (!fs::exists(path_))
      throw xp::ConfigError("torchscript: " + path_ + " does not exist (relative paths start at the working "
                            "directory, " + fs::current_path().string() + ")",
                            where);
    if (fs::is_directory(path_)) throw xp::ConfigError("torchscript: " + path_ + " is a folder, not a .pt file", where);
    try {
      // On the CPU whatever device it was exported on; the engine moves the model afterwards.
      jit_ = torch::jit::load(path_, torch::kCPU);
    } catch (const c10::Error& e) {
      throw xp::ConfigError("torchscript: " + path_ + " is not a TorchScript archive (" +
                                first_line(e.what_without_backtrace()) + "); " + kHowToExport,
                            where);
    }
    if (!jit_.find_method(method_)) {
      std::vector<std::string> names;
      for (const auto& m : jit_.get_methods())
        if (m.name().rfind("__", 0) != 0) names.push_back(m.name());
      if (names.empty())
        throw xp::ConfigError("torchscript: " + path_ + " has no methods, so it is data, not a model (an xp "
                              "checkpoint?); " + kHowToExport,
                              where);
      throw xp::ConfigError("torchscript: " + path_ + " has no method '" + method_ + "'; it has " + join(names) +
                                " (set method, or export the method with @torch.jit.export)",
                            where);
    }
  }

  // One forward in eval mode and one in training mode on zeros, without gradients: learns the
  // output size, proves the method runs on input_size, and catches a scripted forward that replaces
  // its buffers instead of updating them (the mirror would lose them). BatchNorm statistics the
  // training-mode probe moved are put back.
  int64_t probe(const std::vector<int64_t>& input_size, const std::string& where) {
    torch::NoGradGuard no_grad;
    std::map<std::string, torch::Tensor> saved;
    for (const auto& b : backbone_->named_buffers()) saved[b.key()] = b.value().clone();
    const bool was_training = is_training();
    torch::Tensor zeros = torch::zeros({2, input_size[0], input_size[1], input_size[2]});
    std::vector<int64_t> sizes;
    try {
      for (bool training : {false, true}) {
        train(training);
        if (pyramid_) {
          check_pyramid(call_pyramid(zeros), zeros);
          sizes = {2, 0};
          continue;
        }
        torch::Tensor y = call(zeros);
        if (features_) y = pooled(y);
        if (!features_ && y.dim() == 4) {
          check_dense(y, zeros);
          y = y.flatten(2).select(2, 0);  // [B, K]: the map count is what num_classes is checked against
        }
        if (y.dim() != 2 || y.size(0) != 2)
          throw std::invalid_argument("its output is " + shape_string(y.sizes()) + " for an input " +
                                      shape_string(zeros.sizes()) + "; logits mode needs [B, num_classes] or " +
                                      "dense logits [B, num_classes, H, W] (for features, set mode = " +
                                      "\"features\"; for a segmentation encoder, mode = \"pyramid\")");
        if (!sizes.empty() && sizes != y.sizes().vec())
          throw std::invalid_argument("its output is " + shape_string(sizes) + " in eval mode but " +
                                      shape_string(y.sizes()) + " in training mode");
        sizes = y.sizes().vec();
      }
    } catch (const c10::Error& e) {
      throw xp::ConfigError("torchscript: the probe forward of " + path_ + "." + method_ + " on input_size " +
                                shape_string(input_size) + " failed: " + first_line(e.what_without_backtrace()) +
                                " (set input_size to what the model was exported for)",
                            where);
    } catch (const std::invalid_argument& e) {
      throw xp::ConfigError("torchscript: " + path_ + "." + method_ + ": " + e.what(), where);
    } catch (const std::runtime_error& e) {
      // The TorchScript interpreter reports errors inside the graph as torch::jit::JITException.
      throw xp::ConfigError("torchscript: the probe forward of " + path_ + "." + method_ + " on input_size " +
                                shape_string(input_size) + " failed: " + first_line(e.what()) +
                                " (set input_size to what the model was exported for)",
                            where);
    }
    train(was_training);
    if (!xp::torchscript::mirror_is_current(*backbone_, jit_))
      throw xp::ConfigError("torchscript: " + path_ + " assigns new tensors to its parameters or buffers in " +
                                method_ + " instead of updating them in place; xp cannot train such a module",
                            where);
    for (const auto& b : backbone_->named_buffers()) b.value().copy_(saved.at(b.key()));
    return sizes[1];
  }

  // Dense logits (a segmentation model) must come at the input's size, which is the mask's.
  void check_dense(const torch::Tensor& y, const torch::Tensor& x) {
    dense_ = true;
    dense_shape_ = shape_string(y.sizes());
    if (y.size(0) != x.size(0) || y.size(2) != x.size(2) || y.size(3) != x.size(3))
      throw std::invalid_argument("its dense logits are " + shape_string(y.sizes()) + " for an input " +
                                  shape_string(x.sizes()) + "; they must have the input's (the mask's) height and " +
                                  "width: upsample inside the exported model (segmentation_models_pytorch models " +
                                  "do), or use it as an encoder (mode = \"pyramid\" under unet)");
  }

  // A pyramid is maps [B, C_i, H_i, W_i], finest first, none larger than the input or the map before.
  void check_pyramid(const std::vector<torch::Tensor>& maps, const torch::Tensor& x) {
    std::string shapes;
    for (const auto& m : maps) shapes += (shapes.empty() ? "" : ", ") + shape_string(m.sizes());
    const auto* before = &x;
    for (const auto& m : maps) {
      if (m.dim() != 4 || m.size(0) != x.size(0) || m.size(2) > before->size(2) || m.size(3) > before->size(3))
        throw std::invalid_argument("pyramid mode needs feature maps [B, C, H, W] from fine to coarse, none " +
                                    std::string("larger than the input or the map before it; got ") + shapes +
                                    " for an input " + shape_string(x.sizes()));
      before = &m;
    }
  }

  torch::Tensor adapt(const torch::Tensor& x) {
    if (adapter_) return adapter_->forward(x);
    if (in_channels_ != backbone_channels_) return x.repeat({1, backbone_channels_, 1, 1});
    return x;
  }

  // Some models return a tuple in training mode (Inception's auxiliary logits, distilled ViTs):
  // the first element is the main output.
  torch::Tensor call(const torch::Tensor& x) {
    c10::IValue out = jit_.get_method(method_)({x});
    if (out.isTuple() && !out.toTupleRef().elements().empty()) {
      c10::IValue first = out.toTupleRef().elements()[0];
      out = std::move(first);
    } else if (out.isList() && !out.toListRef().empty()) {
      c10::IValue first = out.toListRef()[0];
      out = std::move(first);
    }
    if (!out.isTensor())
      throw std::invalid_argument("torchscript: " + path_ + "." + method_ + " returned " + out.tagKind() +
                                  ", not a tensor");
    return out.toTensor();
  }

  // A feature pyramid: a list or tuple of tensors (timm features_only, smp encoders, torchvision
  // IntermediateLayerGetter's values). A dict is not accepted: its order is not the strides'.
  std::vector<torch::Tensor> call_pyramid(const torch::Tensor& x) {
    c10::IValue out = jit_.get_method(method_)({x});
    std::vector<c10::IValue> items;
    if (out.isTuple()) {
      for (const auto& v : out.toTupleRef().elements()) items.push_back(v);
    } else if (out.isList()) {
      for (const auto& v : out.toListRef()) items.push_back(v);
    }
    std::vector<torch::Tensor> maps;
    for (const auto& v : items)
      if (v.isTensor()) maps.push_back(v.toTensor());
    if (maps.empty() || maps.size() != items.size())
      throw std::invalid_argument("torchscript: " + path_ + "." + method_ + " returned " + out.tagKind() +
                                  "; pyramid mode needs a list or tuple of feature maps (timm: features_only=True; "
                                  "segmentation_models_pytorch: model.encoder)");
    return maps;
  }

  void extend_first_conv(const std::string& name, const std::string& where) {
    if (in_channels_ < backbone_channels_)
      throw xp::ConfigError("torchscript: new_bands = \"first_conv\" adds bands to the first convolution, but "
                            "in_channels = " + std::to_string(in_channels_) + " is fewer than input_size[0] = " +
                                std::to_string(backbone_channels_) + " (use new_bands = \"adapter\")",
                            where);
    const std::string conv = name.empty() ? xp::torchscript::find_first_conv(jit_, backbone_channels_) : name;
    if (conv.empty())
      throw xp::ConfigError("torchscript: " + path_ + " has no 4-d parameter over input_size[0] = " +
                                std::to_string(backbone_channels_) + " channels to extend; set first_conv",
                            where);
    try {
      xp::torchscript::extend_first_conv(jit_, conv, backbone_channels_, in_channels_);
    } catch (const std::invalid_argument& e) {
      throw xp::ConfigError("torchscript: " + path_ + ": " + e.what(), where);
    }
  }

  // Features as [B, F]: feature maps are global-average-pooled; token sequences [B, N, D] are not
  // guessed at (class token or mean?): the exported model must pool them.
  torch::Tensor pooled(const torch::Tensor& y) const {
    if (y.dim() == 2) return y;
    if (y.dim() == 4) return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
    throw std::invalid_argument("features of shape " + shape_string(y.sizes()) +
                                " are neither [B, F] nor [B, C, H, W]; export a method that pools them (timm: "
                                "export with --features, which calls reset_classifier(0))");
  }

  std::string path_, method_;
  bool features_, pyramid_;
  bool dense_ = false;  // logits mode, and the model's logits are maps
  std::string dense_shape_;  // their shape at the probe, for messages
  int64_t backbone_channels_ = 3, in_channels_ = 3;
  torch::jit::Module jit_;
  std::shared_ptr<torch::nn::Module> backbone_;
  torch::nn::Conv2d adapter_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("torchscript", TorchScriptModel);
