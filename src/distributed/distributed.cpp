#include "bcp/distributed/distributed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bcp/util/error_message.h"

#ifdef BCP_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef BCP_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace bcp::distributed {
namespace {

/// An environment variable as a whole integer in [low, high]; `fallback` when it is unset.
int64_t env_int(const char* name, int64_t fallback, int64_t low, int64_t high) {
  const char* text = std::getenv(name);
  if (!text) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || v < low || v > high)
    throw std::invalid_argument("environment variable " + std::string(name) + "=\"" + text +
                                "\": expected a whole number in [" + std::to_string(low) + ", " +
                                std::to_string(high) + "]");
  return v;
}

/// "300 s", "2.5 s".
std::string seconds_text(std::chrono::milliseconds t) {
  std::ostringstream os;
  os << static_cast<double>(t.count()) / 1000.0 << " s";
  return os.str();
}

/// Waits until MASTER_ADDR resolves (a cluster's name service may lag behind its launcher), at
/// most until `deadline`: c10d would otherwise retry it for its whole timeout, a line a second.
void resolve_master(const DistEnv& env, std::chrono::steady_clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  while (true) {
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(env.master_addr.c_str(), nullptr, &hints, &found);
    if (rc == 0) {
      ::freeaddrinfo(found);
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("MASTER_ADDR=" + env.master_addr +
                               ": cannot resolve this host name (" + ::gai_strerror(rc) +
                               ") within the rendezvous " + "timeout of " +
                               seconds_text(env.rendezvous_timeout));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

/// For one scope, stderr goes to /dev/null: c10d logs every retry of a rendezvous (a line a
/// second, and four lines for a port in use), and its failure becomes bcp's one line instead.
class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() {
    std::fflush(stderr);
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

#ifdef BCP_WITH_GLOO
bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}
#endif

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  if (e.world_size == 1) return e;
  for (const char* required : {"RANK", "MASTER_ADDR", "MASTER_PORT"})
    if (!std::getenv(required))
      throw std::invalid_argument("environment variable " + std::string(required) +
                                  " is not set, but WORLD_SIZE=" + std::to_string(e.world_size) +
                                  " asks for a distributed run (torchrun sets RANK, WORLD_SIZE, " +
                                  "MASTER_ADDR and MASTER_PORT)");
  e.rank = env_int("RANK", 0, 0, e.world_size - 1);
  e.local_rank = env_int("LOCAL_RANK", 0, 0, e.world_size - 1);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", 1, 1, e.world_size);
  e.master_addr = std::getenv("MASTER_ADDR");
  if (e.master_addr.empty())
    throw std::invalid_argument("environment variable MASTER_ADDR is empty");
  e.master_port = static_cast<int>(env_int("MASTER_PORT", 29500, 1, 65535));
  return e;
}

bool gloo_available() {
#ifdef BCP_WITH_GLOO
  return true;
#else
  return false;
#endif
}

// LibTorch 2 split the backends (Gloo, NCCL) off c10d::ProcessGroup into c10d::Backend, with the
// same collectives.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> group;
};

ProcessGroup::ProcessGroup(const DistEnv& env, torch::Device device,
                           std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), size_(env.world_size) {
  // Refused before the rendezvous, which would wait for the other ranks first.
#ifndef BCP_WITH_NCCL
  if (device.is_cuda())
    throw std::invalid_argument(
        "distributed training on CUDA needs NCCL, and this build has none (configure with "
        "-DBCP_WITH_NCCL=ON against a CUDA LibTorch)");
#endif
#ifndef BCP_WITH_GLOO
  if (!device.is_cuda())
    throw std::invalid_argument(
        "distributed training on CPU needs Gloo, and this build has none (its LibTorch ships no "
        "Gloo headers or library; Debian: apt-get install libgloo-dev, then reconfigure)");
#endif
  if (env.rendezvous_timeout.count() <= 0)
    throw std::invalid_argument("the rendezvous timeout must be > 0");
  resolve_master(env, std::chrono::steady_clock::now() + env.rendezvous_timeout);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(env.master_port);
  store_options.isServer = env.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(env.world_size);
  store_options.waitWorkers = true;
  // The store's timeout bounds the rendezvous: connecting, waiting for the other ranks, and the
  // backend's exchange of addresses through the store.
  store_options.timeout = env.rendezvous_timeout;
  QuietStderr quiet;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    // The rank is named by whoever reports the error (bcp train: "rank N: ...").
    throw std::runtime_error(std::string("cannot ") + (env.rank == 0 ? "host" : "reach") +
                             " the rendezvous at MASTER_ADDR:MASTER_PORT " + env.master_addr + ":" +
                             std::to_string(env.master_port) + " within " +
                             seconds_text(env.rendezvous_timeout) + ": " + util::error_message(e));
  }
  if (device.is_cuda()) {
#ifdef BCP_WITH_NCCL
    backend_ = "nccl";
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, rank_, size_, options);
    return;
#endif
  }
#ifdef BCP_WITH_GLOO
  backend_ = "gloo";
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // Loopback for a local group; otherwise the interface GLOO_SOCKET_IFNAME names, or the one
  // this host's name resolves to (PyTorch's rule).
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (is_loopback(env.master_addr))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, rank_, size_, options);
#endif
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::broadcast(std::vector<torch::Tensor> tensors, int64_t root) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  // One tensor per call: Gloo's broadcast takes a list only of copies of one tensor.
  for (auto& t : tensors) {
    std::vector<torch::Tensor> one{t};
    impl_->group->broadcast(one, options)->wait();
  }
}

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor> tensors) {
  // Started together, waited for together: the buckets' transfers overlap.
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  std::vector<std::vector<torch::Tensor>> lists;
  lists.reserve(tensors.size());
  for (auto& t : tensors) {
    lists.push_back({t});
    pending.push_back(impl_->group->allreduce(lists.back()));
  }
  for (auto& w : pending) w->wait();
}

void ProcessGroup::barrier() {
  impl_->group->barrier()->wait();
}

namespace {

constexpr int64_t kBucketBytes = 25 << 20;

/// Flattens `tensors` into buckets of consecutive tensors of one dtype and device (at most
/// `bucket_bytes` each, or one tensor), runs `collective` on the buckets and copies the results
/// back: a network costs a few collectives instead of one per tensor.
void bucketed(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes,
              const std::function<void(std::vector<torch::Tensor>&)>& collective) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool fits = !buckets.empty() && bytes + size <= bucket_bytes &&
                      buckets.back().front().scalar_type() == t.scalar_type() &&
                      buckets.back().front().device() == t.device();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += size;
  }
  std::vector<torch::Tensor> flat;
  flat.reserve(buckets.size());
  for (const auto& b : buckets) {
    std::vector<torch::Tensor> pieces;
    pieces.reserve(b.size());
    for (const auto& t : b) pieces.push_back(t.reshape({-1}));
    flat.push_back(torch::cat(pieces));
  }
  collective(flat);
  for (size_t i = 0; i < buckets.size(); ++i) {
    int64_t offset = 0;
    for (auto& t : buckets[i]) {
      t.copy_(flat[i].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

}  // namespace

void broadcast_module(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> all = module.parameters();
  for (auto& b : module.buffers()) all.push_back(b);
  bucketed(all, kBucketBytes, [&](std::vector<torch::Tensor>& flat) { group.broadcast(flat); });
}

void broadcast_buffers(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  bucketed(module.buffers(), kBucketBytes,
           [&](std::vector<torch::Tensor>& flat) { group.broadcast(flat); });
}

void average_gradients(ProcessGroup& group, torch::nn::Module& module, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (auto& p : module.parameters()) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const double inv = 1.0 / static_cast<double>(group.size());
  bucketed(grads, bucket_bytes, [&](std::vector<torch::Tensor>& flat) {
    group.all_reduce_sum(flat);
    for (auto& f : flat) f.mul_(inv);
  });
}

std::vector<double> average_values(ProcessGroup& group, const std::vector<double>& values) {
  if (values.empty()) return {};
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  group.all_reduce_sum({t});
  t.div_(static_cast<double>(group.size()));
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

namespace {

/// All-reduce with autograd: forward sums the ranks' tensors, backward sums their gradients.
struct RankSumFunction : torch::autograd::Function<RankSumFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor t,
                               int64_t group_address) {
    ctx->saved_data["group"] = group_address;
    torch::Tensor out = t.detach().clone();
    reinterpret_cast<ProcessGroup*>(group_address)->all_reduce_sum({out});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    torch::Tensor g = grads[0].contiguous().clone();
    group->all_reduce_sum({g});
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor rank_sum(ProcessGroup& group, const torch::Tensor& t) {
  return RankSumFunction::apply(t.contiguous(), reinterpret_cast<int64_t>(&group));
}

torch::Tensor rank_share(const torch::Tensor& batch, int64_t rank, int64_t size) {
  if (!batch.defined() || size == 1) return batch;
  const int64_t n = batch.size(0);
  const int64_t begin = rank * n / size, end = (rank + 1) * n / size;
  return batch.narrow(0, begin, end - begin);
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot find a free port on 127.0.0.1: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace bcp::distributed
