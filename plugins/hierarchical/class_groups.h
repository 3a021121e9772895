#pragma once
// The leaf -> group table of a two-level classification ("species/disease" leaves grouped by
// species), and the tensor operations the hierarchical model, loss and metric share. A group's
// leaves need not be contiguous: every operation goes through the table, so any class order works.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace xp::hierarchical {

class ClassGroups {
 public:
  // `groups[k]` is the group of leaf k. Throws std::invalid_argument when the table is empty, has
  // a negative entry, or skips a group number (each of 0..S-1 needs at least one leaf); `owner`
  // names the plugin in the message.
  ClassGroups(std::vector<int64_t> groups, const std::string& owner);

  int64_t leaves() const { return leaves_; }
  int64_t groups() const { return groups_; }
  // [K] int64 (CPU): the group of each leaf.
  const torch::Tensor& group_of() const { return group_of_; }

  // The group of each target leaf: [B] leaf indices -> [B] group indices, on the targets' device.
  torch::Tensor group_of_leaves(const torch::Tensor& leaves) const;
  // [B, S] -> [B, K]: each leaf gets the value of its group (a per-group quantity spread over the
  // group's leaves).
  torch::Tensor spread(const torch::Tensor& per_group) const;
  // [B, K] -> [B, S]: logsumexp over the leaves of each group, in float32 (log p(group) from
  // log p(leaf); the normaliser of a softmax restricted to the group).
  torch::Tensor group_logsumexp(const torch::Tensor& per_leaf) const;
  // [B, K] -> [B, S]: sum over the leaves of each group (a leaf distribution's group marginal).
  torch::Tensor group_sum(const torch::Tensor& per_leaf) const;
  // log p(leaf) = log_softmax(group logits)[group(leaf)] + log_softmax of the leaf logits over the
  // leaf's own group: a proper joint distribution over the K leaves. [B, S], [B, K] -> [B, K].
  torch::Tensor leaf_log_probs(const torch::Tensor& group_logits, const torch::Tensor& leaf_logits) const;
  // [B, K] bool: true where leaf k belongs to group `group[b]` ([B] group indices).
  torch::Tensor in_group(const torch::Tensor& group) const;

 private:
  int64_t leaves_ = 0, groups_ = 0;
  torch::Tensor group_of_;  // [K]
  torch::Tensor members_;   // [S * D] leaf indices, group by group, padded with K; D = largest group
  int64_t widest_ = 0;      // D
};

// Checks a [B, n] tensor and names the plugin and what it is in the message.
void check_width(const torch::Tensor& t, int64_t n, const std::string& owner, const std::string& what);

}  // namespace xp::hierarchical
