// Composition: compose (in order), one_of (pick one by weight), some_of (pick n). Children are
// any augmentations, compositions included, each gated by its own `p`.
#include <algorithm>
#include <numeric>

#include "common.h"

namespace xp::augment {
namespace {

using Children = std::vector<std::shared_ptr<Augmentation>>;

class Compose : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Applies `transforms` in order")
        .add_plugins("transforms", Augmentation::kKind, "the transforms, each with its own p");
  }
  explicit Compose(const Params& raw) : children_(build_children(with_defaults(raw, schema()), "transforms")) {}
  void apply(Sample& s, Rng& rng) const override {
    for (const auto& c : children_) c->apply(s, rng);
  }

 private:
  Children children_;
};

class OneOf : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Applies one of `transforms`, chosen by `weights` (uniform when empty)")
        .add_plugins("transforms", Augmentation::kKind, "the candidates, each with its own p")
        .add_floats("weights", {}, "relative weight per transform (empty = equal)").min(0.0);
  }
  explicit OneOf(const Params& raw) {
    Params p = with_defaults(raw, schema());
    children_ = build_children(p, "transforms");
    if (children_.empty()) fail(p, "'transforms' must not be empty");
    auto w = p.get_floats("weights");
    if (w.empty()) w.assign(children_.size(), 1.0);
    if (w.size() != children_.size())
      fail(p, "'weights' has " + std::to_string(w.size()) + " values for " + std::to_string(children_.size()) +
                  " transforms");
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    if (total <= 0) fail(p, "'weights' must not all be zero");
    double run = 0;
    for (double x : w) cumulative_.push_back(run += x / total);
  }
  void apply(Sample& s, Rng& rng) const override {
    const double u = rng.uniform();
    size_t i = std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
    children_[std::min(i, children_.size() - 1)]->apply(s, rng);
  }

 private:
  Children children_;
  std::vector<double> cumulative_;
};

class SomeOf : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Applies `n` distinct transforms drawn at random, in the order listed")
        .add_plugins("transforms", Augmentation::kKind, "the candidates, each with its own p")
        .add_ints("n", {1, 1}, "range of how many to apply ([k] = exactly k)").min(0);
  }
  explicit SomeOf(const Params& raw) {
    Params p = with_defaults(raw, schema());
    children_ = build_children(p, "transforms");
    n_ = int_range_param(p, "n");
    if (n_.second > static_cast<int64_t>(children_.size()))
      fail(p, "'n' asks for up to " + std::to_string(n_.second) + " of " + std::to_string(children_.size()) +
                  " transforms");
  }
  void apply(Sample& s, Rng& rng) const override {
    const size_t n = static_cast<size_t>(rng.integer(n_.first, n_.second));
    std::vector<size_t> idx(children_.size());
    std::iota(idx.begin(), idx.end(), 0);
    for (size_t i = 0; i < n; ++i) std::swap(idx[i], idx[i + rng.integer(0, idx.size() - 1 - i)]);
    std::sort(idx.begin(), idx.begin() + n);
    for (size_t i = 0; i < n; ++i) children_[idx[i]]->apply(s, rng);
  }

 private:
  Children children_;
  std::pair<int64_t, int64_t> n_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("compose", xp::augment::Compose);
XP_REGISTER_AUGMENTATION("one_of", xp::augment::OneOf);
XP_REGISTER_AUGMENTATION("some_of", xp::augment::SomeOf);
