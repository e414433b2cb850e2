#include "bcp/eval/predict.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bcp/data/intensity.h"
#include "bcp/eval/evaluate.h"
#include "bcp/eval/largest_component.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/util/error_message.h"

namespace bcp::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_h5_path(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  return ext == ".h5" || ext == ".hdf5";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The output file name for an input: the same name, single-file formats for two-file ones, and
/// nnU-Net's channel suffix dropped (CASE_0000.nii.gz -> CASE.nii.gz, as labelsTs names it).
std::string output_name(const std::string& input) {
  std::string name = fs::path(input).filename().string();
  const std::string low = lower(name);
  std::string ext = lower(fs::path(name).extension().string());
  if (ends_with(low, ".nii.gz")) ext = ".nii.gz";
  std::string stem = name.substr(0, name.size() - ext.size());
  if (stem.size() > 5 && ends_with(stem, "_0000")) stem.resize(stem.size() - 5);
  if (ext == ".nhdr") return stem + ".nrrd";
  if (ext == ".mhd") return stem + ".mha";
  if (ext == ".hdf5") return stem + ".h5";
  return stem + name.substr(name.size() - ext.size());
}

std::vector<std::string> list_inputs(const std::string& input) {
  if (input.empty()) throw std::invalid_argument("predict: no input given (--input)");
  if (fs::is_regular_file(input)) {
    if (!io::is_itk_volume_path(input) && !is_h5_path(input))
      throw std::invalid_argument(input +
                                  ": unsupported file type (use .nii, .nii.gz, .nrrd, .nhdr, "
                                  ".mha, .mhd or .h5)");
    return {input};
  }
  if (!fs::is_directory(input)) throw std::runtime_error(input + ": input not found");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(input)) {
    const std::string p = e.path().string();
    // .raw/.zraw companions of .mhd and .nhdr are read through their header.
    if (e.is_regular_file() && (io::is_itk_volume_path(p) || is_h5_path(p))) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw std::runtime_error(input + ": no .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd or .h5 files");
  return files;
}

/// The checkpoint's intensity rule; "auto" (and checkpoints from before the key) means the
/// authors' files: ACDC min-max, LA z-score.
data::IntensityNorm intensity_of(const json& meta, const std::string& dataset) {
  data::IntensityNorm norm;
  norm.kind = "auto";
  // A trainer's checkpoint keeps its config at the top; save_model's files under "extra".
  const json* config = nullptr;
  if (meta.is_object() && meta.contains("config") && meta["config"].is_object())
    config = &meta["config"];
  else if (meta.is_object() && meta.contains("extra") && meta["extra"].is_object() &&
           meta["extra"].contains("config") && meta["extra"]["config"].is_object())
    config = &meta["extra"]["config"];
  if (config) {
    const auto& d = config->value("data", json::object());
    if (d.contains("intensity") && d["intensity"].is_string()) norm.kind = d["intensity"];
    if (d.contains("ct_window") && d["ct_window"].is_array() && d["ct_window"].size() == 2) {
      norm.ct_low = d["ct_window"][0].get<double>();
      norm.ct_high = d["ct_window"][1].get<double>();
    }
  }
  if (norm.kind == "auto") norm.kind = dataset == "acdc" ? "minmax" : "zscore";
  data::validate(norm);
  return norm;
}

/// One input as the network's array, with what is needed to write the mask back.
struct Loaded {
  torch::Tensor image;  ///< protocol order: 2D models (D, H, W), 3D models (X, Y, Z)
  io::Volume geometry;  ///< ITK inputs: spacing, origin, direction (data unset)
  torch::Tensor h5_spacing;
  bool itk = false;
  bool was_2d = false;  ///< a 2D ITK image, given to a 2D model as one slice
};

Loaded load_input(const std::string& path, int64_t model_dims, const data::IntensityNorm& norm) {
  Loaded in;
  if (is_h5_path(path)) {
    io::H5File f(path);
    if (!f.has("image")) throw std::runtime_error(path + ": no dataset `image`");
    in.image = f.read("image").to(torch::kFloat);
    if (f.has("spacing")) in.h5_spacing = f.read("spacing");
    if (in.image.dim() == 2 && model_dims == 2) {
      in.image = in.image.unsqueeze(0);
      in.was_2d = true;
    }
    if (!torch::isfinite(in.image).all().item<bool>())
      throw std::runtime_error(path + ": image holds NaN or Inf values");
  } else {
    io::Volume v = io::read_volume(path);
    in.itk = true;
    try {
      in.image = data::normalize_intensity(v.data, norm);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + util::error_message(e));
    }
    v.data = torch::Tensor();
    in.geometry = std::move(v);
    if (in.image.dim() == 2 && model_dims == 2) {
      in.image = in.image.unsqueeze(0);
      in.was_2d = true;
    }
    // 3D models were trained on arrays in ITK index order (the LA files, `bcp prepare --dim 3d`).
    if (model_dims == 3 && in.image.dim() == 3) in.image = in.image.permute({2, 1, 0}).contiguous();
  }
  if (in.image.dim() != 3)
    throw std::runtime_error(path + ": a " + std::to_string(model_dims) +
                             "D model needs a 3D image" + (model_dims == 2 ? " or a 2D one" : "") +
                             ", got shape " + c10::str(in.image.sizes()));
  return in;
}

void write_output(const std::string& path, const Loaded& in, torch::Tensor labels,
                  int64_t model_dims) {
  labels = labels.to(torch::kCPU, torch::kUInt8);
  if (in.itk && model_dims == 3) labels = labels.permute({2, 1, 0});
  if (in.was_2d) labels = labels.squeeze(0);
  labels = labels.contiguous();
  if (!in.itk) {
    std::vector<std::pair<std::string, torch::Tensor>> data = {{"pred", labels}};
    if (in.h5_spacing.defined()) data.emplace_back("spacing", in.h5_spacing);
    io::write_h5_atomically(path, data);
  } else {
    io::write_volume(path, labels, in.geometry.spacing, in.geometry.origin,
                     in.geometry.direction);
  }
}

}  // namespace

std::vector<PredictedCase> predict(const PredictOptions& o) {
  // Everything is checked before the first (possibly long) case.
  if (o.model_path.empty()) throw std::invalid_argument("predict: no checkpoint given (--model)");
  if (!fs::is_regular_file(o.model_path))
    throw std::runtime_error(o.model_path + ": checkpoint not found");
  if (o.out_dir.empty()) throw std::invalid_argument("predict: no output folder given (--out)");
  if (o.largest_component != "auto" && o.largest_component != "on" && o.largest_component != "off")
    throw std::invalid_argument("predict: largest component must be auto, on or off, got \"" +
                                o.largest_component + "\"");
  if (o.precision != "fp32" && o.precision != "bf16")
    throw std::invalid_argument("predict: precision must be fp32 or bf16, got \"" + o.precision +
                                "\"");
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(o.device);
  } catch (const c10::Error&) {
    throw std::invalid_argument("predict: unknown device \"" + o.device +
                                "\" (use cpu, cuda or cuda:N)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("predict: device \"" + o.device +
                                "\" requested but CUDA is not available");
  const auto inputs = list_inputs(o.input);
  std::map<std::string, std::string> by_output;
  for (const auto& in : inputs) {
    auto [it, fresh] = by_output.emplace(output_name(in), in);
    if (!fresh)
      throw std::invalid_argument("predict: " + in + " and " + it->second +
                                  " would both be written as " + it->first);
  }
  const fs::path input_dir =
      fs::is_directory(o.input) ? fs::path(o.input) : fs::path(o.input).parent_path();
  std::error_code ec;
  if (fs::exists(o.out_dir) &&
      fs::equivalent(o.out_dir, input_dir.empty() ? fs::path(".") : input_dir, ec))
    throw std::invalid_argument("predict: output folder " + o.out_dir +
                                " is the input's folder; masks would replace the scans");

  const auto archive = io::load_tensor_archive(o.model_path);
  auto model = nets::model_from_archive(archive, o.model_prefix, o.model_path);
  ModelEvaluateOptions protocol = checkpoint_protocol(archive.meta, model->config());
  const int64_t dims = model->spatial_dims();
  const data::IntensityNorm norm = intensity_of(archive.meta, protocol.dataset);
  if (o.largest_component == "off") protocol.la.largest_component = false;
  const bool per_class_component = o.largest_component == "on" && dims == 2;

  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  const Predictor predictor = model_predictor(*model, o.precision);
  fs::create_directories(o.out_dir);
  // A summary left by an earlier run would mark this one complete if it stopped half-way.
  fs::remove(fs::path(o.out_dir) / "predictions.json", ec);
  std::vector<PredictedCase> done;
  json written = json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    PredictedCase pc;
    pc.input = inputs[i];
    pc.output = (fs::path(o.out_dir) / output_name(inputs[i])).string();
    Loaded in = load_input(inputs[i], dims, norm);
    torch::Tensor labels;
    try {
      labels = predict_case(*model, predictor, in.image, protocol);
    } catch (const c10::Error& e) {
      throw std::runtime_error(inputs[i] + ": " + e.what_without_backtrace());
    }
    if (per_class_component) labels = largest_component_per_class(labels, 3);
    write_output(pc.output, in, labels, dims);
    pc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    written.push_back({{"input", pc.input}, {"output", pc.output}, {"seconds", pc.seconds}});
    done.push_back(pc);
    if (o.progress) o.progress(pc, i, inputs.size());
  }
  const json summary = {{"model", o.model_path},
                        {"network", o.model_prefix.empty() ? "model" : o.model_prefix},
                        {"protocol", protocol.dataset == "acdc" ? "slice-wise 2D" : "sliding window 3D"},
                        {"intensity", norm.kind},
                        {"precision", o.precision},
                        {"cases", written}};
  io::write_file_atomically((fs::path(o.out_dir) / "predictions.json").string(),
                            summary.dump(2) + "\n");
  return done;
}

}  // namespace bcp::eval
