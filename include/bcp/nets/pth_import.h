// PyTorch `.pth` checkpoints (torch.save's zip format, PyTorch >= 1.6) read without running
// anything from them, and loaded into a bcp network.
//
// A .pth's data.pkl is a Python pickle, and unpickling it in Python can call any function the
// file names (torch.load's well-known code-execution hole). It is read here by a restricted
// unpickler that only builds values: it knows the opcodes torch.save emits and exactly four kinds
// of global (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter,
// and torch.<Type>Storage as a dtype tag); any other global is refused by name before anything
// else happens. The zip container and its tensor records are read with LibTorch's
// caffe2::serialize::PyTorchStreamReader.
//
// Why not LibTorch's own torch::jit::Unpickler (pickle_load): in LibTorch 1.13 it turns every
// collections.OrderedDict into None (so `torch.save(model.state_dict())` fails with "Expected
// GenericDict but got None"), treats BUILD as REDUCE (the state dict's `_metadata`) and lacks
// SETITEM/APPEND, so it cannot read the files this module exists for.
#pragma once
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bcp/nets/segmentation_net.h"

namespace bcp::nets {

/// The keys under which a wrapped checkpoint ({'net': state_dict, 'iter': ...}) is searched for
/// its weights, in this order, when the top-level object is not a state dict itself.
inline const std::vector<std::string>& pth_state_dict_keys() {
  static const std::vector<std::string> keys = {"state_dict", "net", "model", "model_state_dict",
                                                "student"};
  return keys;
}

/// The weights found in a .pth.
struct PthStateDict {
  /// By key as in the file, less a "module." prefix (see `stripped_module_prefix`). CPU tensors
  /// in the file's dtypes, possibly views sharing storage (as torch.save stored them).
  std::map<std::string, torch::Tensor> tensors;
  std::string location;  ///< "" when the top-level object is the state dict, else its key ("net")
  bool stripped_module_prefix = false;  ///< every key began with "module." (DataParallel)
};

/// Reads the state dict of the .pth at `path`: the top-level object when it is a non-empty dict
/// of tensors with string keys, else the first of pth_state_dict_keys() whose value is one.
/// When every key starts with "module.", that prefix is removed. Throws std::runtime_error, one
/// line starting with `path`, when the file is missing, empty, truncated or not a zip archive,
/// in PyTorch's legacy (pre-1.6) format (the message says how to re-save it), names a pickle
/// global outside the whitelist (named in the message), or holds no state dict (the message lists
/// the top-level keys).
PthStateDict read_pth_state_dict(const std::string& path);

/// Runs the restricted unpickler alone over a pickle (a .pth's data.pkl), every tensor storage
/// read as zeros (at most 4 Mi elements each): what `bcp import` does to a file's pickle, for
/// fuzzing and tests. Returns what was built ("dict with keys 'a', 'b'"); throws
/// std::runtime_error for anything it refuses.
std::string describe_pickle(const char* data, size_t size);

/// A network with a .pth's weights.
struct PthImport {
  std::shared_ptr<SegmentationNetImpl> model;  ///< on the CPU, float32, in eval mode
  std::string location;                        ///< as PthStateDict::location
  size_t loaded = 0;                           ///< parameters and buffers set from the file
  /// Keys of the file's state dict that the network does not have (e.g. the authors'
  /// projection_head.*, which forward() never uses), sorted.
  std::vector<std::string> ignored_keys;
};

/// Builds make_model(config) and loads the state dict of the .pth at `path` into it: every
/// parameter and buffer of the network must be in the file with its shape (BatchNorm's
/// num_batches_tracked may be absent), and keys the network lacks are ignored and reported.
/// Throws std::invalid_argument for a bad `config`, and std::runtime_error (one line starting
/// with `path`) for read_pth_state_dict's errors and for weights that do not fit: a missing key
/// or a shape mismatch, naming the key and both shapes (e.g. another class count).
PthImport import_pth(const std::string& path, const ModelConfig& config);

}  // namespace bcp::nets
