#include "class_groups.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include <torch/torch.h>

namespace xp::hierarchical {

ClassGroups::ClassGroups(std::vector<int64_t> groups, const std::string& owner)
    : leaves_(static_cast<int64_t>(groups.size())) {
  if (groups.empty()) throw std::invalid_argument(owner + ": class_groups is empty and no dataset supplied it");
  std::vector<std::vector<int64_t>> members;
  for (int64_t k = 0; k < leaves_; ++k) {
    const int64_t g = groups[k];
    if (g < 0) throw std::invalid_argument(owner + ": class_groups[" + std::to_string(k) + "] is negative");
    if (g >= static_cast<int64_t>(members.size())) members.resize(g + 1);
    members[g].push_back(k);
  }
  groups_ = static_cast<int64_t>(members.size());
  for (int64_t g = 0; g < groups_; ++g) {
    if (members[g].empty())
      throw std::invalid_argument(owner + ": class_groups has no class in group " + std::to_string(g) +
                                  " (groups must be numbered 0.." + std::to_string(groups_ - 1) + " without gaps)");
    widest_ = std::max<int64_t>(widest_, static_cast<int64_t>(members[g].size()));
  }
  std::vector<int64_t> flat;
  for (const auto& m : members) {
    flat.insert(flat.end(), m.begin(), m.end());
    flat.insert(flat.end(), widest_ - static_cast<int64_t>(m.size()), leaves_);  // the padding column
  }
  group_of_ = torch::tensor(groups, torch::kLong);
  members_ = torch::tensor(flat, torch::kLong);
}

torch::Tensor ClassGroups::group_of_leaves(const torch::Tensor& leaves) const {
  return group_of_.to(leaves.device()).index_select(0, leaves.to(torch::kLong).flatten()).view_as(leaves);
}

torch::Tensor ClassGroups::spread(const torch::Tensor& per_group) const {
  return per_group.index_select(1, group_of_.to(per_group.device()));
}

torch::Tensor ClassGroups::group_logsumexp(const torch::Tensor& per_leaf) const {
  // Gather the leaves into a [B, S, D] block padded with -inf (which adds nothing to a
  // logsumexp): memory B*S*D, close to B*K when the groups have similar sizes, instead of the
  // B*S*K of masking the whole row once per group.
  torch::Tensor x = per_leaf.to(torch::kFloat32);
  torch::Tensor padded =
      torch::cat({x, torch::full({x.size(0), 1}, -std::numeric_limits<float>::infinity(), x.options())}, 1);
  return padded.index_select(1, members_.to(x.device())).view({x.size(0), groups_, widest_}).logsumexp(2);
}

torch::Tensor ClassGroups::group_sum(const torch::Tensor& per_leaf) const {
  torch::Tensor x = per_leaf.to(torch::kFloat32);
  return torch::zeros({x.size(0), groups_}, x.options()).index_add(1, group_of_.to(x.device()), x);
}

torch::Tensor ClassGroups::leaf_log_probs(const torch::Tensor& group_logits, const torch::Tensor& leaf_logits) const {
  torch::Tensor log_group = torch::log_softmax(group_logits.to(torch::kFloat32), 1);
  torch::Tensor leaf = leaf_logits.to(torch::kFloat32);
  return spread(log_group) + leaf - spread(group_logsumexp(leaf));
}

torch::Tensor ClassGroups::in_group(const torch::Tensor& group) const {
  return group_of_.to(group.device()).unsqueeze(0) == group.to(torch::kLong).unsqueeze(1);
}

void check_width(const torch::Tensor& t, int64_t n, const std::string& owner, const std::string& what) {
  if (!t.defined() || t.dim() != 2 || t.size(1) != n)
    throw std::invalid_argument(owner + ": expects " + what + " [B, " + std::to_string(n) + "], got " +
                                (t.defined() ? "a tensor of " + std::to_string(t.dim()) + " dims" +
                                                   (t.dim() == 2 ? " with " + std::to_string(t.size(1)) + " columns" : "")
                                             : "none"));
}

}  // namespace xp::hierarchical
