#include "distributed/distributed_context.h"

#include <torch/torch.h>

#include <chrono>
#include <map>

#include "distributed/shard.h"
#include "xp/errors.h"

namespace xp::distributed {

namespace {

std::chrono::milliseconds timeout_of(const DistributedOptions& o) {
  return std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000.0));
}

// Broadcasts many tensors as one flat tensor per dtype (one collective each instead of hundreds).
void broadcast_coalesced(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root) {
  torch::NoGradGuard no_grad;
  std::map<std::pair<int, std::string>, std::vector<torch::Tensor>> groups;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0) groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  for (auto& [key, group] : groups) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.reshape({-1}));
    torch::Tensor flat = torch::cat(flat_parts);
    comm.broadcast(flat, root);
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

// Sums metric state through the communicator; NCCL needs the values on the GPU.
class CommunicatorStateReducer : public MetricStateReducer {
 public:
  CommunicatorStateReducer(Communicator& comm, torch::Device device) : comm_(comm), device_(device) {}
  void sum(int64_t* values, size_t count) override { reduce(values, count, torch::kLong, Reduction::Sum); }
  void sum(double* values, size_t count) override { reduce(values, count, torch::kDouble, Reduction::Sum); }
  void max(int64_t* values, size_t count) override { reduce(values, count, torch::kLong, Reduction::Max); }
  void sum(torch::Tensor& tensor) override {
    torch::Tensor t = tensor.to(device_).contiguous();
    if (t.data_ptr() == tensor.data_ptr()) t = t.clone();
    comm_.all_reduce(t, Reduction::Sum);
    tensor.copy_(t);
  }

 private:
  template <class T>
  void reduce(T* values, size_t count, torch::ScalarType type, Reduction op) {
    if (count == 0) return;
    torch::Tensor cpu = torch::from_blob(values, {static_cast<int64_t>(count)}, torch::TensorOptions().dtype(type));
    torch::Tensor t = cpu.to(device_, /*non_blocking=*/false, /*copy=*/true);
    comm_.all_reduce(t, op);
    cpu.copy_(t.to(torch::kCPU));
  }
  Communicator& comm_;
  torch::Device device_;
};

}  // namespace

DistributedContext::DistributedContext(World world, DistributedOptions options, torch::Device device)
    : world_(std::move(world)), options_(std::move(options)), device_(device) {}

DistributedContext::~DistributedContext() {
  sync_bn_.reset();  // before the communicator it uses
  reducer_.reset();
}

torch::Device DistributedContext::comm_device() const {
  return comm_ && comm_->backend() == "nccl" ? device_ : torch::Device(torch::kCPU);
}

std::unique_ptr<DistributedContext> DistributedContext::from_environment(const DistributedOptions& options,
                                                                         torch::Device device) {
  return create(discover_world(), options, device);
}

std::unique_ptr<DistributedContext> DistributedContext::create(const World& world, const DistributedOptions& options,
                                                               torch::Device device) {
  if (options.bucket_mb <= 0) throw ConfigError("train.distributed.bucket_mb must be > 0");
  if (options.timeout_s <= 0) throw ConfigError("train.distributed.timeout_s must be > 0");
  std::unique_ptr<DistributedContext> ctx(new DistributedContext(world, options, device));
  if (world.distributed()) {
    ConnectOptions co;
    co.backend = options.backend;
    co.cuda_device = device.is_cuda();
    co.timeout = timeout_of(options);
    co.gloo_threads = static_cast<int>(options.gloo_threads);
    ctx->comm_ = connect(world, co);
  }
  return ctx;
}

std::string DistributedContext::backend() const { return comm_ ? comm_->backend() : "none"; }

std::vector<std::string> DistributedContext::hosts() const {
  return comm_ ? comm_->hosts() : std::vector<std::string>{world_.host};
}

std::string DistributedContext::hosts_summary() const {
  const auto all = hosts();
  std::string out;
  for (size_t first = 0; first < all.size();) {
    size_t last = first;
    while (last + 1 < all.size() && all[last + 1] == all[first]) ++last;
    if (!out.empty()) out += ", ";
    out += all[first] + (first == last ? " (rank " + std::to_string(first) + ")"
                                       : " (ranks " + std::to_string(first) + "-" + std::to_string(last) + ")");
    first = last + 1;
  }
  return out;
}

torch::Device DistributedContext::device_for_local_rank(torch::Device configured, const World& world) {
  if (!configured.is_cuda() || world.world_size <= 1 || configured.has_index()) return configured;
  return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(world.local_rank));
}

void DistributedContext::prepare_model(torch::nn::Module& model, bool broadcast) {
  if (!comm_) return;
  reducer_.reset();  // unhook the previous parameter set first
  std::vector<torch::Tensor> state;
  for (const auto& p : model.parameters()) state.push_back(p);
  buffers_.clear();
  for (const auto& b : model.buffers()) {
    state.push_back(b);
    buffers_.push_back(b);
  }
  if (broadcast) broadcast_coalesced(*comm_, state, 0);

  std::vector<torch::Tensor> trainable;
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    trainable.push_back(item.value());
    names.push_back(item.key());
  }
  if (options_.sync_batchnorm && !sync_bn_) sync_bn_ = std::make_unique<SyncBatchNorm>(comm_);
  if (trainable.empty()) return;
  const auto bucket_bytes = static_cast<int64_t>(options_.bucket_mb * 1024.0 * 1024.0);
  reducer_ = std::make_unique<GradientReducer>(trainable, names, comm_, bucket_bytes, options_.find_unused);
}

void DistributedContext::before_forward() {
  if (!comm_ || !options_.broadcast_buffers || buffers_.empty()) return;
  broadcast_coalesced(*comm_, buffers_, 0);
}

void DistributedContext::before_backward(bool will_step) {
  if (reducer_) reducer_->prepare(will_step);
}

void DistributedContext::finish_gradients() {
  if (reducer_) reducer_->finish();
}

std::vector<int64_t> DistributedContext::shard_training(const std::vector<int64_t>& order, int64_t batch_size) const {
  if (!comm_) return order;
  return shard_for_training(order, world_.rank, world_.world_size, batch_size);
}

std::vector<int64_t> DistributedContext::shard_evaluation(const std::vector<int64_t>& order) const {
  if (!comm_) return order;
  return shard_for_evaluation(order, world_.rank, world_.world_size);
}

// A reducer that only records whether every metric accepted; used to ask without communicating.
namespace {
class ProbeReducer : public MetricStateReducer {
 public:
  void sum(int64_t*, size_t) override {}
  void sum(double*, size_t) override {}
  void max(int64_t*, size_t) override {}
  void sum(torch::Tensor&) override {}
};
}  // namespace

bool DistributedContext::can_shard_evaluation(const std::vector<Metric*>& metrics) {
  // Summing with a no-op reducer leaves the state as it is: a safe question to ask any metric.
  ProbeReducer probe;
  for (Metric* m : metrics)
    if (!m->reduce_state(probe)) return false;
  return true;
}

bool DistributedContext::reduce_metrics(const std::vector<Metric*>& metrics) {
  if (!comm_) return true;
  if (!can_shard_evaluation(metrics)) return false;
  CommunicatorStateReducer reducer(*comm_, comm_device());
  for (Metric* m : metrics) m->reduce_state(reducer);
  return true;
}

void DistributedContext::reduce_sums(std::vector<double>& values) {
  if (!comm_ || values.empty()) return;
  CommunicatorStateReducer reducer(*comm_, comm_device());
  reducer.sum(values.data(), values.size());
}

bool DistributedContext::any(bool flag) {
  if (!comm_) return flag;
  int64_t v = flag ? 1 : 0;
  CommunicatorStateReducer reducer(*comm_, comm_device());
  reducer.max(&v, 1);
  return v != 0;
}

void DistributedContext::broadcast(torch::Tensor tensor, int root) {
  if (comm_) comm_->broadcast(tensor, root);
}

void DistributedContext::broadcast_bytes(std::string& bytes, bool ok, int root) {
  if (!comm_) return;
  const auto on = torch::TensorOptions().device(comm_device());
  const bool is_root = world_.rank == root;
  torch::Tensor size = torch::tensor({is_root ? (ok ? static_cast<int64_t>(bytes.size()) : int64_t{-1}) : int64_t{0}},
                                     torch::kLong).to(comm_device());
  comm_->broadcast(size, root);
  const int64_t n = size.cpu().item<int64_t>();
  if (n < 0) {
    if (is_root) return;  // the root reports its own error
    throw DistributedError(world_.describe() + ": rank " + std::to_string(root) +
                           " could not read what it was to send (its error says why)");
  }
  torch::Tensor data = is_root ? torch::from_blob(bytes.data(), {n}, torch::kUInt8).to(comm_device(), false, true)
                               : torch::empty({n}, on.dtype(torch::kUInt8));
  if (n > 0) comm_->broadcast(data, root);
  if (!is_root) {
    torch::Tensor cpu = data.cpu().contiguous();
    bytes.assign(reinterpret_cast<const char*>(cpu.data_ptr<uint8_t>()), static_cast<size_t>(n));
  }
}

void DistributedContext::barrier() {
  if (comm_) comm_->barrier();
}

}  // namespace xp::distributed
