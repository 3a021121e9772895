#include "distributed/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#ifdef XP_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef XP_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "xp/errors.h"

namespace xp::distributed {

PendingCollective::PendingCollective(c10::intrusive_ptr<c10d::Work> work, std::string what, std::string who)
    : work_(std::move(work)), what_(std::move(what)), who_(std::move(who)) {}
PendingCollective::~PendingCollective() = default;
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&&) noexcept = default;
bool PendingCollective::valid() const { return static_cast<bool>(work_); }

void PendingCollective::wait() {
  if (!work_) return;
  auto work = std::move(work_);
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw DistributedError(who_ + ": " + what_ + " failed: " + e.what() +
                           " (another rank died, hung past the timeout, or the network failed)");
  }
}

namespace {

c10d::ReduceOp to_c10d(Reduction op) {
  switch (op) {
    case Reduction::Max: return c10d::ReduceOp::MAX;
    case Reduction::Min: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

// One implementation for every c10d process group type: they share the collective signatures
// (ProcessGroup in LibTorch 1.13, Backend in 2.x) but not a base class across versions.
template <class Group>
class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(World world, std::string backend, c10::intrusive_ptr<c10d::Store> store,
                   c10::intrusive_ptr<Group> group, std::vector<std::string> hosts)
      : world_(std::move(world)), backend_(std::move(backend)), store_(std::move(store)),
        group_(std::move(group)), hosts_(std::move(hosts)) {}

  const World& world() const override { return world_; }
  std::string backend() const override { return backend_; }
  const std::vector<std::string>& hosts() const override { return hosts_; }

  PendingCollective all_reduce_async(torch::Tensor tensor, Reduction op) override {
    std::vector<torch::Tensor> tensors{std::move(tensor)};
    c10d::AllreduceOptions options;
    options.reduceOp = to_c10d(op);
    return run("all-reduce", [&] { return group_->allreduce(tensors, options); });
  }
  PendingCollective broadcast_async(torch::Tensor tensor, int root) override {
    std::vector<torch::Tensor> tensors{std::move(tensor)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    return run("broadcast", [&] { return group_->broadcast(tensors, options); });
  }
  void barrier() override {
    run("barrier", [&] { return group_->barrier(c10d::BarrierOptions()); }).wait();
  }

 private:
  template <class Start>
  PendingCollective run(const char* what, Start&& start) {
    try {
      return PendingCollective(start(), what, world_.describe());
    } catch (const std::exception& e) {
      throw DistributedError(world_.describe() + ": " + what + " could not start: " + e.what());
    }
  }

  World world_;
  std::string backend_;
  c10::intrusive_ptr<c10d::Store> store_;  // kept: rank 0's store is the rendezvous server
  c10::intrusive_ptr<Group> group_;
  std::vector<std::string> hosts_;
};

std::string resolve_backend(const ConnectOptions& options) {
  std::string b = options.backend;
  if (b == "auto") b = options.cuda_device && nccl_available() ? "nccl" : "gloo";
  if (b == "nccl" && !nccl_available())
    throw ConfigError("train.distributed.backend = \"nccl\" needs a CUDA LibTorch with NCCL; this xp is built on a "
                      "LibTorch without it; use backend = \"gloo\" (CPU) or \"auto\"");
  if (b == "nccl" && !options.cuda_device)
    throw ConfigError("train.distributed.backend = \"nccl\" needs train.device on CUDA; on the CPU use \"gloo\"");
  if (b == "gloo" && options.cuda_device)
    throw ConfigError("train.distributed.backend = \"gloo\" reduces CPU tensors only in xp; training on CUDA needs "
                      "\"nccl\" (or \"auto\")");
  if (b != "gloo" && b != "nccl")
    throw ConfigError("train.distributed.backend: unknown backend \"" + b + "\" (auto, gloo or nccl)");
  return b;
}

#ifdef XP_WITH_GLOO
std::shared_ptr<::gloo::transport::Device> gloo_device(const World& world) {
  // GLOO_SOCKET_IFNAME is the interface torch users already set; a job on one machine talks over
  // loopback; otherwise the address this host name resolves to.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (world.local_world_size >= world.world_size) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

}  // namespace

bool nccl_available() {
#ifdef XP_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Communicator> connect(const World& world, const ConnectOptions& options) {
  const std::string backend = resolve_backend(options);
  c10::intrusive_ptr<c10d::Store> store;
  std::vector<std::string> hosts(static_cast<size_t>(world.world_size));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(world.master_port);
    so.isServer = world.rank == 0;
    so.numWorkers = static_cast<std::size_t>(world.world_size);
    so.waitWorkers = true;
    so.timeout = options.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(world.master_addr, so);
    store = c10::make_intrusive<c10d::PrefixStore>("xp", tcp);
    const std::string host = world.host;
    store->set("host/" + std::to_string(world.rank), std::vector<uint8_t>(host.begin(), host.end()));
    for (int r = 0; r < world.world_size; ++r) {
      const auto bytes = store->get("host/" + std::to_string(r));
      hosts[static_cast<size_t>(r)] = std::string(bytes.begin(), bytes.end());
    }
  } catch (const std::exception& e) {
    throw DistributedError(world.describe() + ": rendezvous at " + world.master_addr + ":" +
                           std::to_string(world.master_port) + " failed: " + e.what());
  }
  try {
#ifdef XP_WITH_GLOO
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo_options->devices.push_back(gloo_device(world));
      gloo_options->threads = options.gloo_threads;
      auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store),
                                                               world.rank, world.world_size, gloo_options);
      return std::make_shared<C10dCommunicator<c10d::ProcessGroupGloo>>(world, backend, store, group, hosts);
    }
#endif
#ifdef XP_WITH_NCCL
    if (backend == "nccl") {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = options.timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store),
                                                             world.rank, world.world_size, nccl_options);
    return std::make_shared<C10dCommunicator<c10d::ProcessGroupNCCL>>(world, backend, store, group, hosts);
    }
#endif
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(world.describe() + ": creating the " + backend + " process group failed: " + e.what());
  }
  throw ConfigError("train.distributed.backend \"" + backend + "\" is not built into this xp (the gloo backend needs "
                    "libgloo-dev's headers at build time)");
}

}  // namespace xp::distributed
