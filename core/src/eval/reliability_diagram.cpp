#include "eval/reliability_diagram.h"

#include <algorithm>

namespace xp {

ReliabilityDiagram::ReliabilityDiagram(int64_t bins)
    : count_(static_cast<size_t>(std::max<int64_t>(1, bins)), 0.0),
      probability_(count_.size(), 0.0),
      hits_(count_.size(), 0.0) {}

void ReliabilityDiagram::add(const torch::Tensor& logits_in, const torch::Tensor& targets_in) {
  torch::NoGradGuard no_grad;
  torch::Tensor logits = logits_in.detach().to(torch::kCPU, torch::kDouble), targets = targets_in.detach().to(torch::kCPU);
  torch::Tensor probability, hit;
  if (logits.dim() == 1 || logits.size(1) == 1) {
    auto p = torch::sigmoid(logits.reshape({-1}));
    auto y = targets.reshape({-1}).to(torch::kDouble);
    auto valid = (y == 0) | (y == 1);
    probability = p.index({valid});
    hit = y.index({valid});
  } else {
    const int64_t classes = logits.size(1);
    if (logits.dim() > 2) logits = logits.movedim(1, -1);
    auto p = torch::softmax(logits.reshape({-1, classes}), 1);
    auto y = targets.reshape({-1}).to(torch::kLong);
    auto valid = (y >= 0) & (y < classes);
    auto top = p.index({valid}).max(1);
    probability = std::get<0>(top);
    hit = (std::get<1>(top) == y.index({valid})).to(torch::kDouble);
  }
  if (probability.numel() == 0) return;
  const int64_t bins = this->bins();
  auto index = torch::clamp((probability * static_cast<double>(bins)).floor().to(torch::kLong), 0, bins - 1);
  auto count = torch::zeros({bins}, torch::kDouble).index_add_(0, index, torch::ones_like(probability));
  auto sum_p = torch::zeros({bins}, torch::kDouble).index_add_(0, index, probability);
  auto sum_hit = torch::zeros({bins}, torch::kDouble).index_add_(0, index, hit);
  for (int64_t b = 0; b < bins; ++b) {
    count_[b] += count[b].item<double>();
    probability_[b] += sum_p[b].item<double>();
    hits_[b] += sum_hit[b].item<double>();
  }
}

double ReliabilityDiagram::entries() const {
  double n = 0;
  for (double c : count_) n += c;
  return n;
}

std::map<std::string, double> ReliabilityDiagram::values(const std::string& prefix) const {
  std::map<std::string, double> out;
  const double n = entries();
  for (size_t b = 0; b < count_.size(); ++b) {
    if (count_[b] == 0) continue;
    const std::string stem = prefix + "_reliability_" + std::to_string(b) + "_";
    out[stem + "conf"] = probability_[b] / count_[b];
    out[stem + "freq"] = hits_[b] / count_[b];
    out[stem + "share"] = count_[b] / n;
  }
  return out;
}

}  // namespace xp
