// Data-parallel training on PyTorch's own distributed engine (c10d): Gloo on CPU, NCCL on CUDA.
// A process learns its place from torchrun's environment variables, joins the group through a
// TCP store on MASTER_ADDR:MASTER_PORT, and then does what DistributedDataParallel does:
// parameters and buffers from rank 0 at the start, buffers from rank 0 before every step
// (DDP's broadcast_buffers), and the gradients averaged over the ranks in buckets before every
// optimizer step, so every rank holds the same parameters after every step.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bcp::distributed {

/// Where this process sits in a data-parallel run.
struct DistEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;        ///< rank on this machine (picks the CUDA device)
  int64_t local_world_size = 1;  ///< ranks on this machine (share its cores)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// How long joining the group may take: resolving MASTER_ADDR, reaching (or, on rank 0,
  /// being reached by) the other ranks. Past it the rank fails with one line.
  std::chrono::milliseconds rendezvous_timeout = std::chrono::minutes(5);
  bool distributed() const { return world_size > 1; }
};

/// torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
/// MASTER_PORT. Without WORLD_SIZE: a single process. Throws naming the variable when one is
/// malformed, missing beside WORLD_SIZE > 1, or out of range.
DistEnv dist_env_from_environment();

/// Whether this build has c10d's Gloo backend (CPU ranks): LibTorch's headers and Gloo's found at
/// configure time.
bool gloo_available();

/// A process group with the few collectives training needs. Collectives block; a peer that died
/// surfaces as an exception (its connection closes), a peer that hangs after `timeout`.
class ProcessGroup {
 public:
  /// Joins the group: rank 0 hosts the store at master_addr:master_port, the others connect,
  /// all within env.rendezvous_timeout; `timeout` bounds each collective after that.
  /// Gloo for a CPU device; NCCL for CUDA where this build has it (BCP_WITH_NCCL).
  ProcessGroup(const DistEnv& env, torch::Device device,
               std::chrono::milliseconds timeout = std::chrono::hours(3));
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t size() const { return size_; }
  /// "gloo" or "nccl".
  const std::string& backend() const { return backend_; }

  /// Every tensor takes rank `root`'s values, in place.
  void broadcast(std::vector<torch::Tensor> tensors, int64_t root = 0);
  /// Every tensor becomes the sum over the ranks, in place (same bits on every rank).
  void all_reduce_sum(std::vector<torch::Tensor> tensors);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0;
  int64_t size_ = 1;
  std::string backend_;
};

/// Rank 0's parameters and buffers to every rank (the start of a run, or of a stage).
void broadcast_module(ProcessGroup& group, torch::nn::Module& module);
/// Rank 0's buffers (BatchNorm running statistics) to every rank.
void broadcast_buffers(ProcessGroup& group, torch::nn::Module& module);
/// Replaces every parameter's gradient by its mean over the ranks. Gradients are flattened into
/// buckets of at most `bucket_bytes` (as DDP's 25 MB) so a network costs a few collectives, not
/// one per tensor. A parameter without a gradient counts as zeros, as in DDP.
void average_gradients(ProcessGroup& group, torch::nn::Module& module,
                       int64_t bucket_bytes = 25 << 20);
/// The sum of `t` over the ranks, differentiable: the gradient that reaches `t` is the sum of the
/// ranks' gradients of the result (synchronised BatchNorm's nets::RankSum).
torch::Tensor rank_sum(ProcessGroup& group, const torch::Tensor& t);

/// The mean over the ranks of each value (losses for the log).
std::vector<double> average_values(ProcessGroup& group, const std::vector<double>& values);

/// Rank `rank`'s share [rank * n / size, (rank + 1) * n / size) of a batch's first dimension:
/// the ranks' shares are disjoint and together the whole batch.
torch::Tensor rank_share(const torch::Tensor& batch, int64_t rank, int64_t size);

/// A free TCP port on 127.0.0.1 for a local group (`bcp train --nproc`).
int free_local_port();

}  // namespace bcp::distributed
