#pragma once
// An exponential moving average of a model's weights (Polyak averaging), as the segmentation notes
// use for validation and checkpoints. Buffers (BatchNorm running stats) are copied, not averaged.

#include <map>
#include <string>

#include <torch/torch.h>

namespace xp {

class WeightEma {
 public:
  WeightEma(const torch::nn::Module& model, double decay);

  // ema = d * ema + (1 - d) * weight, with d = min(decay, (1 + n) / (10 + n)) after n updates: the
  // warm-up (as TensorFlow's ExponentialMovingAverage with num_updates) keeps a short run's average
  // from being dominated by the random initial weights.
  void update(const torch::nn::Module& model);
  // Exchanges the model's weights with the averaged ones; calling it again swaps them back.
  void swap(torch::nn::Module& model);

  int64_t updates() const { return updates_; }
  double decay() const { return decay_; }
  // For checkpoints: the averaged tensors by name, plus the update count.
  const std::map<std::string, torch::Tensor>& state() const { return shadow_; }
  void load_state(const std::map<std::string, torch::Tensor>& state, int64_t updates);

 private:
  double decay_;
  int64_t updates_ = 0;
  std::map<std::string, torch::Tensor> shadow_;
};

}  // namespace xp
