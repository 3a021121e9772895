#include "engine/train_options.h"

#include <algorithm>
#include <thread>

#include "engine/train_schema.h"

namespace xp::engine {

namespace {

// Reads a Params table, falling back to the schema's default for keys it lacks.
class Reader {
 public:
  Reader(const Params& params, const Schema& schema) : params_(params), schema_(schema) {}
  const Value& get(const std::string& name) const {
    if (params_.has(name)) return params_.get(name);
    static const Value none;
    const ParamSpec* spec = schema_.find(name);
    return spec ? spec->default_value : none;
  }
  int64_t i(const std::string& n) const { return get(n).as_int(); }
  double f(const std::string& n) const { return get(n).as_float(); }
  bool b(const std::string& n) const { return get(n).as_bool(); }
  std::string s(const std::string& n) const { return get(n).as_string(); }
  std::vector<double> floats(const std::string& n) const {
    std::vector<double> out;
    if (get(n).is_none()) return out;
    for (const auto& v : get(n).as_list()) out.push_back(v.as_float());
    return out;
  }
  std::vector<std::string> strings(const std::string& n) const {
    std::vector<std::string> out;
    if (get(n).is_none()) return out;
    for (const auto& v : get(n).as_list()) out.push_back(v.as_string());
    return out;
  }
  Params section(const std::string& n) const { return params_.has(n) ? params_.get_section(n) : Params(); }
  std::vector<Params> sections(const std::string& n) const {
    return params_.has(n) ? params_.get_sections(n) : std::vector<Params>{};
  }
  const Schema& sub(const std::string& n) const { return *schema_.find(n)->section; }

 private:
  const Params& params_;
  const Schema& schema_;
};

}  // namespace

TrainOptions TrainOptions::from_params(const Params& train) {
  const Schema schema = train_schema();
  Reader r(train, schema);
  TrainOptions o;
  o.epochs = r.i("epochs");
  o.batch_size = r.i("batch_size");
  o.eval_batch_size = r.i("eval_batch_size");
  o.accumulate = r.i("accumulate");
  o.grad_clip = r.f("grad_clip");
  o.workers = r.i("workers");
  o.prefetch = r.i("prefetch");
  o.threads = r.i("threads");
  o.max_steps_per_epoch = r.i("max_steps_per_epoch");
  o.eval_every = r.i("eval_every");
  o.drop_last = r.b("drop_last");
  o.device = r.s("device");
  o.precision = r.s("precision");
  o.console = r.strings("console");
  o.channels_last = r.s("channels_last");
  o.cudnn_benchmark = r.b("cudnn_benchmark");
  o.pin_memory = r.b("pin_memory");
  o.normalize_on_device = r.s("normalize_on_device");

  Params op = r.section("optimizer");
  Reader ro(op, r.sub("optimizer"));
  o.optimizer.name = ro.s("name");
  o.optimizer.lr = ro.f("lr");
  o.optimizer.weight_decay = ro.f("weight_decay");
  o.optimizer.momentum = ro.f("momentum");
  o.optimizer.nesterov = ro.b("nesterov");
  o.optimizer.betas = ro.floats("betas");
  o.optimizer.eps = ro.f("eps");
  o.optimizer.no_decay_norm_bias = ro.b("no_decay_norm_bias");
  const Schema& group_schema = *r.sub("optimizer").find("groups")->section;
  for (const auto& g : ro.sections("groups")) {
    Reader rg(g, group_schema);
    o.optimizer.groups.push_back({rg.strings("params"), rg.f("lr_scale"), rg.f("weight_decay")});
  }

  Params sp = r.section("schedule");
  Reader rs(sp, r.sub("schedule"));
  o.schedule.name = rs.s("name");
  o.schedule.warmup_epochs = rs.f("warmup_epochs");
  o.schedule.step_epochs = rs.f("step_epochs");
  o.schedule.milestones = rs.floats("milestones");
  o.schedule.gamma = rs.f("gamma");
  o.schedule.min_lr = rs.f("min_lr");
  o.schedule.max_lr = rs.f("max_lr");
  o.schedule.pct_start = rs.f("pct_start");
  o.schedule.div_factor = rs.f("div_factor");
  o.schedule.final_div_factor = rs.f("final_div_factor");

  for (const auto& st : r.sections("stages")) {
    Reader rst(st, r.sub("stages"));
    o.stages.push_back({rst.i("epochs"), rst.strings("freeze"), rst.f("lr"), rst.f("lr_scale")});
  }

  Params cp = r.section("checkpoint");
  Reader rc(cp, r.sub("checkpoint"));
  o.checkpoint = {rc.s("monitor"), rc.s("mode"), rc.b("keep_every"), rc.s("test_with")};

  Params es = r.section("early_stopping");
  Reader re(es, r.sub("early_stopping"));
  o.early_stopping.enabled = re.b("enabled");
  o.early_stopping.monitor = re.s("monitor");
  o.early_stopping.mode = re.s("mode");
  o.early_stopping.patience = re.i("patience");
  o.early_stopping.min_delta = re.f("min_delta");
  o.early_stopping.start_epoch = re.i("start_epoch");
  o.early_stopping.window = re.i("window");

  Params em = r.section("ema");
  Reader rm(em, r.sub("ema"));
  o.ema = {rm.b("enabled"), rm.f("decay"), rm.b("evaluate")};

  o.tta = r.s("tta");
  Params ca = r.section("calibration");
  Reader rca(ca, r.sub("calibration"));
  o.calibration = {rca.b("enabled"), rca.b("temperature"), rca.b("threshold")};
  Params tb = r.section("tensorboard");
  Reader rtb(tb, r.sub("tensorboard"));
  o.tensorboard = {rtb.b("enabled"), rtb.i("log_every_n_steps"), rtb.i("images")};
  Params dp = r.section("distributed");
  Reader rd(dp, r.sub("distributed"));
  o.distributed.backend = rd.s("backend");
  o.distributed.bucket_mb = rd.f("bucket_mb");
  o.distributed.find_unused = rd.b("find_unused");
  o.distributed.broadcast_buffers = rd.b("broadcast_buffers");
  o.distributed.sync_batchnorm = rd.b("sync_batchnorm");
  o.distributed.timeout_s = rd.f("timeout_s");
  o.distributed.gloo_threads = rd.i("gloo_threads");
  return o;
}

int64_t TrainOptions::total_epochs() const {
  if (stages.empty()) return epochs;
  int64_t total = 0;
  for (const auto& s : stages) total += s.epochs;
  return total;
}

int64_t TrainOptions::stage_of(int64_t epoch) const {
  int64_t end = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    end += stages[i].epochs;
    if (epoch < end) return static_cast<int64_t>(i);
  }
  return stages.empty() ? -1 : static_cast<int64_t>(stages.size()) - 1;
}

int64_t resolve_workers(int64_t configured, bool cuda) {
  if (configured >= 0) return configured;
  if (!cuda) return 2;
  const int64_t cores = static_cast<int64_t>(std::thread::hardware_concurrency());
  return std::max<int64_t>(1, cores - 2);
}

}  // namespace xp::engine
