#include "engine/train_step.h"

#include "distributed/distributed_context.h"
#include "xp/errors.h"

namespace xp::engine {

namespace {

NamedParameters named_parameters(Model& model, Loss& loss) {
  NamedParameters out;
  for (const auto& p : model.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& p : loss.named_parameters(true)) out.emplace_back("loss." + p.key(), p.value());
  return out;
}

}  // namespace

TrainStep::TrainStep(Model& model, Loss& loss, const TrainOptions& options, const Runtime& runtime,
                     int64_t steps_per_epoch)
    : model_(model), loss_(loss), o_(options), amp_dtype_(runtime.amp_dtype), amp_device_(runtime.device.type()) {
  if (amp_dtype_ == torch::kHalf) scaler_ = std::make_unique<DynamicLossScaler>();
  runtime.place(model_);
  loss_.to(runtime.device);
  params_ = named_parameters(model_, loss_);
  if (params_.empty()) throw ConfigError("the model has no parameters to train");
  optimizer_ = build_optimizer(o_.optimizer, params_);
  if (o_.ema.enabled) ema_ = std::make_unique<WeightEma>(model_, o_.ema.decay);
  schedule_ = std::make_unique<LrSchedule>(o_.schedule, steps_per_epoch, steps_per_epoch * o_.total_epochs());
}

double TrainStep::base_lr(int64_t epoch) const {
  double lr = o_.optimizer.lr;
  const int64_t stage = o_.stage_of(epoch);
  if (stage >= 0) {
    const auto& st = o_.stages[stage];
    if (st.lr > 0) lr = st.lr;
    lr *= st.lr_scale;
  }
  return lr;
}

torch::Tensor TrainStep::forward(const Batch& batch) {
  if (dist_) dist_->before_forward();
  AutocastScope autocast(amp_dtype_, amp_device_);
  ModelOutput output = model_.forward(batch.input);
  return loss_.forward(output, batch);
}

void TrainStep::backward(torch::Tensor loss, bool will_step) {
  if (dist_) dist_->before_backward(will_step);
  if (o_.accumulate > 1) loss = loss / static_cast<double>(o_.accumulate);
  (scaler_ ? scaler_->scale(loss) : loss).backward();
}

void TrainStep::optimizer_step(int64_t epoch, int64_t& step) {
  set_learning_rate(optimizer_, lr(epoch, step));
  if (dist_) dist_->finish_gradients();  // .grad = the mean over ranks
  if (scaler_) {
    std::vector<torch::Tensor> all;
    for (const auto& [name, p] : params_) all.push_back(p);
    bool finite = scaler_->unscale(all);
    if (dist_) finite = !dist_->any(!finite);  // every rank skips the same steps
    scaler_->update(finite);
    if (!finite) {
      // fp16 overflow: skip this update (the scale has backed off); the schedule still advances.
      clear_gradients(params_);
      ++step;
      return;
    }
  }
  if (o_.grad_clip > 0) {
    std::vector<torch::Tensor> with_grad;
    for (const auto& [name, p] : params_) {
      (void)name;
      if (p.grad().defined()) with_grad.push_back(p);
    }
    torch::nn::utils::clip_grad_norm_(with_grad, o_.grad_clip);
  }
  optimizer_.optimizer->step();
  clear_gradients(params_);
  if (ema_) ema_->update(model_);
  ++step;
}

CheckpointParts TrainStep::checkpoint_parts() {
  CheckpointParts p;
  p.model = &model_;
  p.loss = &loss_;
  p.optimizer = optimizer_.optimizer.get();
  p.ema = ema_.get();
  p.scaler = scaler_.get();
  return p;
}

void TrainStep::swap_ema() {
  if (ema_ && o_.ema.evaluate) ema_->swap(model_);
}

TrainStep::EmaWeights::EmaWeights(TrainStep& step) : step_(step) { step_.swap_ema(); }
TrainStep::EmaWeights::~EmaWeights() { step_.swap_ema(); }

}  // namespace xp::engine
