#include "engine/evaluator.h"

#include "distributed/distributed_context.h"
#include "engine/mixed_precision.h"
#include "engine/progress.h"
#include "eval/tta.h"

namespace xp::engine {

Evaluator::Evaluator(Parts parts, const TrainOptions& options, const Runtime& runtime)
    : p_(std::move(parts)), o_(options), rt_(runtime) {}

ModelOutput Evaluator::predict(const torch::Tensor& input) {
  if (o_.tta == "none") return p_.model->forward(input);
  // Metrics and losses expect logits: map the averaged probabilities back to logit space.
  torch::Tensor p = predict_probabilities(*p_.model, input, p_.task, o_.tta).clamp(1e-7, 1 - 1e-7);
  const bool binary = p_.task == Task::Segmentation && p.size(1) == 1;
  return {binary ? torch::log(p) - torch::log1p(-p) : torch::log(p), {}};
}

void Evaluator::for_each_batch(const Split& split, const std::function<void(Batch&)>& fn,
                               std::vector<data::SkippedSample>* skipped) {
  data::LoaderOptions lo;
  lo.batch_size = o_.eval_batch_size > 0 ? o_.eval_batch_size : o_.batch_size;
  lo.drop_last = false;
  lo.workers = resolve_workers(o_.workers, rt_.device.is_cuda());
  lo.prefetch = o_.prefetch;
  lo.seed = p_.seed;
  lo.task = p_.task;
  lo.pin_memory = o_.pin_memory && rt_.device.is_cuda();
  std::vector<int64_t> order(split.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (sharding()) order = dist_->shard_evaluation(order);
  // Evaluation transforms are drawn with epoch -1: the same for every evaluation.
  std::shared_ptr<const Split> alias(std::shared_ptr<const Split>{}, &split);
  const DeferredConversion* conversion = rt_.eval_conversion ? &*rt_.eval_conversion : nullptr;
  if (conversion) lo.deferred_conversion = conversion->host;
  data::EpochLoader loader(alias, conversion ? conversion->augment : p_.eval_augment, lo, -1, std::move(order));
  while (auto next = loader.next()) {
    if (interrupt_ && interrupt_->load()) break;
    Batch batch = rt_.to_device(std::move(*next), conversion);
    fn(batch);
  }
  if (skipped) *skipped = loader.skipped();
}

bool Evaluator::sharding() const {
  if (!dist_ || !dist_->active() || !shard_) return false;
  std::vector<Metric*> metrics;
  for (const auto& m : p_.metrics) metrics.push_back(m.get());
  return distributed::DistributedContext::can_shard_evaluation(metrics);
}

EvalResult Evaluator::evaluate(const Split& split, const EvalRequest& request) {
  torch::NoGradGuard no_grad;
  p_.model->eval();
  if (p_.loss) p_.loss->eval();
  for (auto& m : p_.metrics) m->reset();
  EvalResult result;
  double loss_sum = 0;
  int64_t count = 0, done = 0;
  std::ostringstream sink;
  const int64_t eval_batch = o_.eval_batch_size > 0 ? o_.eval_batch_size : o_.batch_size;
  ProgressBar bar(progress_out_ ? *progress_out_ : sink, tty_, request.prefix,
                  (static_cast<int64_t>(split.size()) + eval_batch - 1) / eval_batch);
  for_each_batch(
      split,
      [&](Batch& batch) {
        ModelOutput output;
        {
          AutocastScope autocast(rt_.amp_dtype, rt_.device.type());
          output = predict(batch.input);
        }
        if (output.logits.scalar_type() != torch::kFloat) output.logits = output.logits.to(torch::kFloat);
        if (request.adjust) output.logits = request.adjust(output.logits);
        if (request.on_batch) request.on_batch(batch, output.logits);
        if (p_.loss) loss_sum += p_.loss->forward(output, batch).item<double>() * static_cast<double>(batch.size());
        count += batch.size();
        for (auto& m : p_.metrics) m->update(output, batch);
        bar.update(++done, count ? loss_sum / static_cast<double>(count) : 0.0);
      },
      &result.skipped);
  bar.finish();
  result.interrupted = interrupt_ && interrupt_->load();
  if (sharding()) {
    std::vector<Metric*> metrics;
    for (const auto& m : p_.metrics) metrics.push_back(m.get());
    dist_->reduce_metrics(metrics);
    std::vector<double> sums{loss_sum, static_cast<double>(count)};
    dist_->reduce_sums(sums);
    loss_sum = sums[0];
    count = static_cast<int64_t>(sums[1]);
  }
  if (count == 0) return result;
  if (p_.loss) result.values[request.prefix + "_loss"] = loss_sum / static_cast<double>(count);
  for (auto& m : p_.metrics)
    for (const auto& [k, v] : m->compute()) result.values[request.prefix + "_" + k] = v;
  return result;
}

}  // namespace xp::engine
