#include "distributed/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <map>
#include <tuple>

namespace xp::distributed {

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, std::vector<std::string> names,
                                 std::shared_ptr<Communicator> comm, int64_t bucket_bytes, bool find_unused)
    : params_(std::move(params)), names_(std::move(names)), comm_(std::move(comm)), find_unused_(find_unused) {
  names_.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i)
    if (names_[i].empty()) names_[i] = "parameter " + std::to_string(i);
  slots_.resize(params_.size());
  ready_.assign(params_.size(), 0);

  // Buckets in reverse registration order, one open bucket per (device, dtype).
  std::map<std::tuple<int, int, int>, size_t> open;  // device type, device index, dtype -> bucket
  std::map<size_t, int64_t> bucket_fill;              // bucket -> bytes
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    if (p.is_sparse()) throw std::invalid_argument("distributed training: sparse parameter " + names_[k] + " is not supported");
    const auto key = std::make_tuple(static_cast<int>(p.device().type()), static_cast<int>(p.device().index()),
                                     static_cast<int>(p.scalar_type()));
    auto it = open.find(key);
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (it == open.end() || (bucket_fill[it->second] > 0 && bucket_fill[it->second] + bytes > bucket_bytes)) {
      buckets_.emplace_back();
      it = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    Bucket& b = buckets_[it->second];
    int64_t offset = 0;
    for (size_t q : b.params) offset += slots_[q].numel;
    slots_[k] = {it->second, offset, p.numel()};
    b.params.push_back(k);
    bucket_fill[it->second] += bytes;
  }
  for (auto& b : buckets_) {
    int64_t total = 0;
    for (size_t q : b.params) total += slots_[q].numel;
    const auto& first = params_[b.params.front()];
    b.flat = torch::zeros({total}, first.options().requires_grad(false));
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());

  // A post-hook on the gradient accumulator runs after `.grad` has been updated, like DDP's.
  for (size_t i = 0; i < params_.size(); ++i) {
    auto acc = torch::autograd::impl::grad_accumulator(params_[i]);
    if (!acc) throw std::invalid_argument("distributed training: " + names_[i] + " is not a leaf that requires grad");
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient_ready(i);
          return outputs;
        })));
    accumulators_.push_back(std::move(acc));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
}

void GradientReducer::prepare(bool sync) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (armed_ && sync_)
    throw std::logic_error("distributed training: prepare(true) called again before finish(): call finish_gradients() "
                           "after the backward of every step that steps the optimizer");
  sync_ = sync;
  armed_ = sync;
  std::fill(ready_.begin(), ready_.end(), 0);
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.started = false;
  }
  next_bucket_ = 0;
  error_.clear();
}

void GradientReducer::copy_into_bucket(size_t index) {
  const Slot& s = slots_[index];
  auto dst = buckets_[s.bucket].flat.narrow(0, s.offset, s.numel);
  const auto& grad = params_[index].grad();
  if (grad.defined())
    dst.copy_(grad.reshape({-1}));
  else
    dst.zero_();
}

void GradientReducer::on_gradient_ready(size_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;  // an accumulation micro-step (no_sync) or a backward outside training
  if (ready_[index]) {
    throw std::logic_error("distributed training: the gradient of " + names_[index] +
                           " became ready twice in one synced step; call backward once per micro-step "
                           "(or sum the losses first)");
  }
  ready_[index] = 1;
  copy_into_bucket(index);
  Bucket& b = buckets_[slots_[index].bucket];
  if (--b.pending == 0) start_ready_buckets();
}

void GradientReducer::start_ready_buckets() {
  const double scale = 1.0 / comm_->world().world_size;
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].pending == 0) {
    Bucket& b = buckets_[next_bucket_++];
    b.flat.mul_(scale);  // average: divide before summing, as DDP does
    b.work = comm_->all_reduce_async(b.flat, Reduction::Sum);
    b.started = true;
  }
}

void GradientReducer::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!armed_) return;
  armed_ = false;
  // Parameters whose hook did not fire took no part in this backward.
  std::vector<std::string> unused;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (ready_[i]) continue;
    if (!find_unused_ && unused.size() < 8) unused.push_back(names_[i]);
    ready_[i] = 1;
    copy_into_bucket(i);
    --buckets_[slots_[i].bucket].pending;
  }
  // Start the rest even when about to fail: the other ranks expect this rank's collectives.
  start_ready_buckets();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : buckets_) b.work.wait();
  stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++stats_.reductions;
  if (!unused.empty()) {
    std::string list;
    for (const auto& n : unused) list += (list.empty() ? "" : ", ") + n;
    throw std::runtime_error("distributed training: no gradient reached " + list +
                             " in this step; set train.distributed.find_unused = true when some parameters do not "
                             "take part in every forward (or freeze them)");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    auto averaged = buckets_[s.bucket].flat.narrow(0, s.offset, s.numel).view(params_[i].sizes());
    auto& grad = params_[i].mutable_grad();
    if (grad.defined())
      grad.copy_(averaged);
    else
      grad = averaged.clone(at::MemoryFormat::Contiguous);
  }
}

}  // namespace xp::distributed
