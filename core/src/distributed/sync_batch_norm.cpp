#include "distributed/sync_batch_norm.h"

#include <ATen/ops/batch_norm_native.h>
#include <torch/autograd.h>
#include <torch/library.h>
#include <torch/torch.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

namespace xp::distributed {

namespace {

std::mutex g_mutex;
std::shared_ptr<Communicator> g_comm;  // set while a SyncBatchNorm lives
std::atomic<int64_t> g_calls{0};

std::shared_ptr<Communicator> current_communicator() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_comm;
}

// Sum across ranks whose gradient is the sum of the ranks' gradients: the statistics are shared,
// so the loss of every rank depends on every rank's input through them.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& local) {
    torch::Tensor out = local.contiguous().clone();
    if (auto comm = current_communicator()) comm->all_reduce(out);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grads) {
    torch::Tensor g = grads[0].contiguous().clone();
    auto comm = current_communicator();
    if (!comm) throw std::runtime_error("sync_batchnorm: backward after the data-parallel context ended");
    comm->all_reduce(g);
    return {g};
  }
};

at::Tensor batch_norm_kernel(const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                             const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& running_mean,
                             const c10::optional<at::Tensor>& running_var, bool training, double momentum, double eps,
                             bool cudnn_enabled) {
  auto comm = training && torch::GradMode::is_enabled() && input.dim() >= 2 ? current_communicator() : nullptr;
  if (!comm)
    return at::native::batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
                                  cudnn_enabled);
  ++g_calls;
  const int64_t channels = input.size(1);
  std::vector<int64_t> reduce_dims, shape(static_cast<size_t>(input.dim()), 1);
  shape[1] = channels;
  for (int64_t d = 0; d < input.dim(); ++d)
    if (d != 1) reduce_dims.push_back(d);
  // Half and bfloat16 inputs (autocast) are summed in float, as torch's own kernels accumulate.
  const bool reduced = input.scalar_type() == at::kHalf || input.scalar_type() == at::kBFloat16;
  const auto type = reduced ? at::kFloat : input.scalar_type();
  const bool has_mean = running_mean && running_mean->defined();
  const bool has_var = running_var && running_var->defined();
  const at::Tensor x = input.to(type);
  const at::Tensor shift = has_mean ? running_mean->detach().to(type, /*non_blocking=*/false, /*copy=*/true)
                                    : at::zeros({channels}, x.options().requires_grad(false));
  const at::Tensor xs = x - shift.view(shape);
  const at::Tensor count = at::full({1}, static_cast<double>(input.numel() / std::max<int64_t>(channels, 1)),
                                    x.options().requires_grad(false));
  const at::Tensor total = AllReduceSum::apply(at::cat({xs.sum(reduce_dims), (xs * xs).sum(reduce_dims), count}));
  const at::Tensor n = total.narrow(0, 2 * channels, 1).detach();
  const at::Tensor mean = total.narrow(0, 0, channels) / n;  // of x - shift
  const at::Tensor var = at::clamp_min(total.narrow(0, channels, channels) / n - mean * mean, 0.0);
  at::Tensor y = (xs - mean.view(shape)) * at::rsqrt(var + eps).view(shape);
  if (weight && weight->defined()) y = y * weight->view(shape);
  if (bias && bias->defined()) y = y + bias->view(shape);
  if (has_mean || has_var) {
    torch::NoGradGuard no_grad;
    if (has_mean) running_mean->mul_(1.0 - momentum).add_((mean.detach() + shift).to(running_mean->scalar_type()), momentum);
    if (has_var)
      running_var->mul_(1.0 - momentum).add_((var.detach() * n / (n - 1)).to(running_var->scalar_type()), momentum);
  }
  return y.to(input.scalar_type());
}

}  // namespace

SyncBatchNorm::SyncBatchNorm(std::shared_ptr<Communicator> comm) {
  if (current_communicator()) throw std::logic_error("sync_batchnorm: one synchronised batch norm at a time");
  // Autograd keys: the op is CompositeImplicitAutograd, and a kernel registered for a runtime key
  // wins over that alias. The registrations end with these objects; until the communicator is set
  // below, the kernel passes every call on to torch's.
  for (auto key : {c10::DispatchKey::AutogradCPU, c10::DispatchKey::AutogradCUDA}) {
    auto lib = std::make_unique<torch::Library>(torch::Library::IMPL, "aten", key, __FILE__, __LINE__);
    lib->impl("batch_norm", TORCH_FN(batch_norm_kernel));
    registrations_.push_back(std::move(lib));
  }
  g_calls = 0;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_comm = std::move(comm);
}

SyncBatchNorm::~SyncBatchNorm() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_comm.reset();
  }
  registrations_.clear();
}

int64_t SyncBatchNorm::synchronised_calls() const { return g_calls.load(); }

}  // namespace xp::distributed
