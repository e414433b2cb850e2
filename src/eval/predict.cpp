#include "bcp/eval/predict.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "bcp/data/intensity.h"
#include "bcp/data/nnunet.h"
#include "bcp/data/recipe.h"
#include "bcp/eval/evaluate.h"
#include "bcp/eval/largest_component.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/io/output_path.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/io/volume_format.h"
#include "bcp/io/volume_geometry.h"
#include "bcp/nets/model_archive.h"
#include "bcp/util/device.h"
#include "bcp/util/error_message.h"
#include "bcp/util/text.h"

namespace bcp::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// A file name split into its stem and extension (.nii.gz counts as one extension).
std::pair<std::string, std::string> split_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  std::string ext = io::volume_extension(name);
  if (ext.empty()) ext = fs::path(name).extension().string();  // not a volume: its last one
  return {name.substr(0, name.size() - ext.size()), ext};
}

/// The output file name for a case: the same name, single-file formats for two-file ones, and
/// nnU-Net's channel suffix dropped (CASE_0000.nii.gz -> CASE.nii.gz, as labelsTs names it).
std::string output_name(const std::string& input, bool drop_channel_suffix = true) {
  auto [stem, ext] = split_name(input);
  std::string case_name;
  if (drop_channel_suffix && data::channel_of_stem(stem, &case_name) == 0) stem = case_name;
  const std::string low = util::lower(ext);
  if (low == ".nhdr") return stem + ".nrrd";
  if (low == ".mhd") return stem + ".mha";
  if (low == ".hdf5") return stem + ".h5";
  return stem + ext;
}

/// One case to segment: one file per channel (an HDF5 file holds all of them) and the name its
/// mask gets under the output folder.
struct InputCase {
  std::vector<std::string> files;
  std::string output;
};

std::vector<std::string> list_files(const std::string& input) {
  if (input.empty()) throw std::invalid_argument("predict: no input given (--input)");
  if (fs::is_regular_file(input)) {
    if (!io::is_itk_volume_path(input) && !io::is_h5_path(input))
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
    if (e.is_regular_file() && (io::is_itk_volume_path(p) || io::is_h5_path(p))) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw std::runtime_error(input + ": no .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd or .h5 files");
  return files;
}

/// Files named CASE_XXXX<ext> (nnU-Net's channel suffix) by (CASE, ext) and channel; HDF5 files
/// (their `image` holds the channels) and names without the suffix stay `plain`.
struct ChannelFiles {
  std::map<std::pair<std::string, std::string>, std::map<int, std::string>> by_case;
  std::vector<std::string> plain;
};

ChannelFiles group_by_channel(const std::vector<std::string>& files) {
  ChannelFiles out;
  for (const auto& f : files) {
    auto [stem, ext] = split_name(f);
    std::string case_name;
    const int channel = io::is_h5_path(f) ? -1 : data::channel_of_stem(stem, &case_name);
    if (channel < 0)
      out.plain.push_back(f);
    else
      out.by_case[{case_name, ext}][channel] = f;
  }
  return out;
}

/// The cases of the input. A single-channel model segments every file; a C-channel one reads
/// scans named CASE_0000<ext> .. CASE_{C-1}<ext> (nnU-Net's naming) as one case, finding the
/// other channels beside a single given file, or HDF5 files whose `image` has the channels.
std::vector<InputCase> list_cases(const std::string& input, int64_t channels,
                                  const std::function<void(const std::string&)>& note) {
  const std::vector<std::string> files = list_files(input);
  ChannelFiles grouped = group_by_channel(files);
  std::vector<InputCase> cases;
  if (channels == 1) {
    // CASE_0000 alone is nnU-Net's single-channel name and its mask is CASE; beside CASE_0001 it
    // is either a plain number or one channel of a multi-channel scan, and dropping the suffix
    // would make one mask look like the whole case's.
    std::set<std::string> keep_names;
    for (const auto& [key, by_channel] : grouped.by_case) {
      if (by_channel.size() < 2) continue;
      for (const auto& entry : by_channel) keep_names.insert(entry.second);
      if (note)
        note(fs::path(by_channel.begin()->second).filename().string() + " .. " +
             fs::path(by_channel.rbegin()->second).filename().string() + ": " +
             std::to_string(by_channel.size()) + " files named like channels of one scan " +
             key.first +
             " (nnU-Net's naming), but the model reads 1 channel: each is segmented as its own "
             "scan and its mask keeps the file's name");
    }
    for (const auto& f : files) cases.push_back({{f}, output_name(f, !keep_names.count(f))});
    return cases;
  }
  for (const auto& f : grouped.plain) {
    if (!io::is_h5_path(f)) {
      const std::string ext = split_name(f).second;
      throw std::invalid_argument(
          f + ": a " + std::to_string(channels) + "-channel model reads scans named " +
          data::channel_file_name("CASE", 0, ext) + " .. " +
          data::channel_file_name("CASE", static_cast<size_t>(channels - 1), ext) +
          " (one file per channel)");
    }
    cases.push_back({{f}, output_name(f)});
  }
  auto& groups = grouped.by_case;
  if (fs::is_regular_file(input)) {  // one file given: the other channels beside it
    for (auto& [key, by_channel] : groups) {
      const fs::path dir = fs::path(by_channel.begin()->second).parent_path();
      for (int64_t k = 0; k < channels; ++k) {
        const fs::path sibling = dir / data::channel_file_name(key.first, k, key.second);
        if (fs::exists(sibling)) by_channel[static_cast<int>(k)] = sibling.string();
      }
    }
  }
  for (const auto& [key, by_channel] : groups) {
    const auto& [case_name, ext] = key;
    InputCase c;
    c.files = data::channel_list(case_name, by_channel, channels,
                                 fs::path(by_channel.begin()->second).parent_path().string(), ext);
    c.output = output_name(c.files[0]);
    cases.push_back(c);
  }
  std::sort(cases.begin(), cases.end(),
            [](const InputCase& a, const InputCase& b) { return a.files[0] < b.files[0]; });
  return cases;
}

/// One input as the network's array, with what is needed to write the mask back.
struct Loaded {
  torch::Tensor image;  ///< protocol order: 2D models (D, H, W), 3D models (X, Y, Z)
  io::Volume geometry;  ///< ITK inputs: spacing, origin, direction (data unset)
  torch::Tensor h5_spacing;
  bool itk = false;
  bool was_2d = false;  ///< a 2D ITK image, given to a 2D model as one slice
};

Loaded load_input(const InputCase& c, int64_t model_dims, int64_t channels,
                  const data::IntensityNorm& norm) {
  Loaded in;
  const std::string& path = c.files[0];
  torch::Tensor img;  // (C, spatial...)
  if (io::is_h5_path(path)) {
    io::H5File f(path);
    if (!f.has("image")) throw std::runtime_error(path + ": no dataset `image`");
    torch::Tensor image = f.read("image").to(torch::kFloat);
    if (f.has("spacing")) in.h5_spacing = f.read("spacing");
    if (channels > 1 && (image.dim() < 3 || image.size(0) != channels))
      throw std::runtime_error(path + ": a " + std::to_string(channels) +
                               "-channel model needs `image` with its channels first, got shape " +
                               c10::str(image.sizes()));
    if (!torch::isfinite(image).all().item<bool>())
      throw std::runtime_error(path + ": image holds NaN or Inf values");
    img = channels > 1 ? image : image.unsqueeze(0);
  } else {
    std::vector<torch::Tensor> normalised;
    for (size_t k = 0; k < c.files.size(); ++k) {
      io::Volume v = io::read_volume(c.files[k]);
      if (k == 0) {
        in.geometry = v;
      } else if (v.data.sizes() != in.geometry.data.sizes() || !io::same_geometry(v, in.geometry)) {
        throw std::runtime_error(c.files[k] + ": shape or geometry differs from " + path);
      }
      try {
        normalised.push_back(data::normalize_intensity(v.data, norm));
      } catch (const std::exception& e) {
        throw std::runtime_error(c.files[k] + ": " + util::error_message(e));
      }
    }
    in.geometry.data = torch::Tensor();
    in.itk = true;
    img = torch::stack(normalised);
  }
  if (img.dim() == 3 && model_dims == 2) {  // a 2D image: one slice
    img = img.unsqueeze(1);
    in.was_2d = true;
  }
  if (img.dim() != 4)
    throw std::runtime_error(path + ": a " + std::to_string(model_dims) +
                             "D model needs a 3D image" + (model_dims == 2 ? " or a 2D one" : "") +
                             ", got shape " +
                             c10::str(channels > 1 ? img.sizes() : img[0].sizes()));
  // 3D models were trained on arrays in ITK index order (the LA files, `bcp prepare --dim 3d`).
  if (in.itk && model_dims == 3) img = img.permute({0, 3, 2, 1}).contiguous();
  in.image = channels == 1 ? img[0] : img;
  return in;
}

/// OUT/probabilities/NAME.h5 for the mask OUT/NAME.EXT: a folder of its own, so OUT holds only
/// masks (what `bcp score --pred OUT` reads).
std::string probabilities_path(const std::string& mask_path) {
  const fs::path p(mask_path);
  return (p.parent_path() / "probabilities" / (split_name(mask_path).first + ".h5")).string();
}

void write_probabilities(const std::string& path, const Loaded& in, torch::Tensor prob,
                         int64_t model_dims) {
  prob = prob.to(torch::kCPU, torch::kFloat);
  if (in.itk && model_dims == 3) prob = prob.permute({0, 3, 2, 1});
  if (in.was_2d) prob = prob.squeeze(1);
  prob = prob.contiguous();
  // Whole lists (no emplace_back after a one-element list: GCC 12 warns about it, falsely).
  if (in.itk)
    io::write_h5_atomically(path,
                            {{"probabilities", prob},
                             {"spacing", torch::tensor(in.geometry.spacing, torch::kDouble)},
                             {"origin", torch::tensor(in.geometry.origin, torch::kDouble)},
                             {"direction", torch::tensor(in.geometry.direction, torch::kDouble)}});
  else if (in.h5_spacing.defined())
    io::write_h5_atomically(path, {{"probabilities", prob}, {"spacing", in.h5_spacing}});
  else
    io::write_h5_atomically(path, {{"probabilities", prob}});
}

void write_output(const std::string& path, const Loaded& in, torch::Tensor labels,
                  int64_t model_dims) {
  labels = labels.to(torch::kCPU, torch::kUInt8);
  if (in.itk && model_dims == 3) labels = labels.permute({2, 1, 0});
  if (in.was_2d) labels = labels.squeeze(0);
  labels = labels.contiguous();
  if (!in.itk) {
    // Whole lists (no emplace_back after a one-element list: GCC 12 warns about it, falsely).
    if (in.h5_spacing.defined())
      io::write_h5_atomically(path, {{"pred", labels}, {"spacing", in.h5_spacing}});
    else
      io::write_h5_atomically(path, {{"pred", labels}});
  } else {
    io::write_volume(path, labels, in.geometry.spacing, in.geometry.origin, in.geometry.direction);
  }
}

/// Written before the first mask, naming every file this run will write: a run that stops
/// half-way leaves the record of what is its own.
constexpr const char* kPlannedFile = "predictions.incomplete.json";

/// Refuses an output folder holding anything bcp predict did not write: masks take the input's
/// names, and a folder of reference labels (`--out raw/labelsTs`) must not lose them. Predict's
/// own files are the ones its predictions.json or planned list names (by file name), those two
/// files, probabilities/, and the temporary copies beside them. Returns the names of the earlier
/// runs' masks and probabilities still there, which the new records carry on as predict's.
std::vector<std::string> check_out_folder(const fs::path& out) {
  std::error_code ec;
  if (!fs::is_directory(out, ec)) return {};
  std::set<std::string> owned = {"predictions.json", kPlannedFile, "probabilities"};
  for (const char* record : {"predictions.json", kPlannedFile}) {
    const fs::path path = out / record;
    if (!fs::is_regular_file(path, ec)) continue;
    try {
      std::ifstream in(path);
      const json j = json::parse(in);
      for (const auto& c : j.at("cases")) {
        owned.insert(fs::path(c.at("output").get<std::string>()).filename().string());
        if (c.contains("probabilities"))
          owned.insert("probabilities/" +
                       fs::path(c["probabilities"].get<std::string>()).filename().string());
      }
      for (const auto& name : j.value("earlier_outputs", json::array()))
        owned.insert(name.get<std::string>());
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": not a bcp predict record (" +
                               util::error_message(e) + "); predict replaces only files it wrote");
    }
  }
  const auto is_owned = [&owned](const std::string& name) {
    if (owned.count(name)) return true;
    const size_t tmp = name.find(".tmp.");
    return tmp != std::string::npos && owned.count(name.substr(0, tmp));
  };
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(out)) entries.push_back(e.path());
  const fs::path probabilities = out / "probabilities";
  if (!fs::is_symlink(fs::symlink_status(probabilities)) && fs::is_directory(probabilities))
    for (const auto& e : fs::directory_iterator(probabilities)) entries.push_back(e.path());
  std::vector<std::string> earlier;
  for (const auto& e : entries) {
    const std::string name = e.lexically_relative(out).generic_string();
    if (!is_owned(name))
      throw std::runtime_error(
          e.string() +
          ": in the output folder, but not written by bcp predict; predict replaces only its own "
          "masks (name a new or empty --out, or move the file)");
    if (name != "predictions.json" && name != kPlannedFile && name != "probabilities" &&
        owned.count(name))
      earlier.push_back(name);
  }
  return earlier;
}

}  // namespace

std::vector<PredictedCase> predict(const PredictOptions& o) {
  // Everything is checked before the first (possibly long) case.
  if (o.model_path.empty()) throw std::invalid_argument("predict: no checkpoint given (--model)");
  if (fs::exists(o.model_path)) io::check_not_folder_or_pth(o.model_path);
  if (!fs::is_regular_file(o.model_path))
    throw std::runtime_error(o.model_path + ": checkpoint not found");
  if (o.out_dir.empty()) throw std::invalid_argument("predict: no output folder given (--out)");
  const torch::Device device = util::parse_device(o.device, "predict");
  // The checkpoint first: it says how many channels make a case.
  const auto archive = io::load_tensor_archive(o.model_path);
  auto model = nets::model_from_archive(archive, o.model_prefix, o.model_path);
  const int64_t channels = model->config().in_channels;
  const auto inputs = list_cases(o.input, channels, o.note);
  std::map<std::string, std::string> by_output;
  for (const auto& in : inputs) {
    auto [it, fresh] = by_output.emplace(in.output, in.files[0]);
    if (!fresh)
      throw std::invalid_argument("predict: " + in.files[0] + " and " + it->second +
                                  " would both be written as " + it->first);
    if (!o.save_probabilities) continue;
    // a.nii.gz and a.nrrd have two mask names but one probabilities/a.h5.
    auto [pit, pfresh] = by_output.emplace(probabilities_path(in.output), in.files[0]);
    if (!pfresh)
      throw std::invalid_argument("predict: " + in.files[0] + " and " + pit->second +
                                  " would both write their probabilities to " + pit->first);
  }
  const fs::path input_dir =
      fs::is_directory(o.input) ? fs::path(o.input) : fs::path(o.input).parent_path();
  std::error_code ec;
  if (fs::exists(o.out_dir) &&
      fs::equivalent(o.out_dir, input_dir.empty() ? fs::path(".") : input_dir, ec))
    throw std::invalid_argument("predict: output folder " + o.out_dir +
                                " is the input's folder; masks would replace the scans");

  const std::vector<std::string> earlier_outputs = check_out_folder(o.out_dir);

  EvalProtocol recorded;
  try {
    recorded = checkpoint_eval_protocol(archive.meta, model->config());
  } catch (const std::exception& e) {
    throw std::runtime_error(o.model_path + ": " + util::error_message(e));
  }
  ModelEvaluateOptions protocol = evaluate_options(recorded);
  const int64_t dims = model->spatial_dims();
  // "auto" (and checkpoints from before the rule was recorded) means the authors' files: ACDC
  // min-max, LA z-score.
  data::IntensityNorm norm = recorded.intensity;
  if (norm.kind == data::IntensityKind::kAuto)
    norm.kind = data::recipe_of(protocol.dataset).reference_intensity;
  data::validate(norm);
  if (o.largest_component == LargestComponent::kOff) protocol.la.largest_component = false;
  if (o.largest_component == LargestComponent::kOn) protocol.la.largest_component = true;
  const bool per_class_component = o.largest_component == LargestComponent::kOn && dims == 2;

  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  const Predictor predictor = model_predictor(*model, o.precision);
  fs::create_directories(o.out_dir);
  if (o.save_probabilities) io::make_dir_inside(o.out_dir, "probabilities");
  // A summary left by an earlier run would mark this one complete if it stopped half-way.
  fs::remove(fs::path(o.out_dir) / "predictions.json", ec);
  {
    json planned = json::array();
    for (const auto& in : inputs) {
      json entry = {{"output", in.output}};
      if (o.save_probabilities) entry["probabilities"] = probabilities_path(in.output);
      planned.push_back(entry);
    }
    io::write_file_atomically(
        (fs::path(o.out_dir) / kPlannedFile).string(),
        json{{"cases", planned}, {"earlier_outputs", earlier_outputs}}.dump(2) + "\n");
  }
  std::vector<PredictedCase> done;
  json written = json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    PredictedCase pc;
    pc.input = inputs[i].files[0];
    pc.output = (fs::path(o.out_dir) / inputs[i].output).string();
    Loaded in = load_input(inputs[i], dims, channels, norm);
    torch::Tensor labels, prob;
    try {
      labels = predict_case(*model, predictor, in.image, protocol,
                            o.save_probabilities ? &prob : nullptr);
    } catch (const c10::Error& e) {
      throw std::runtime_error(pc.input + ": " + e.what_without_backtrace());
    }
    if (per_class_component) labels = largest_component_per_class(labels, 3);
    write_output(pc.output, in, labels, dims);
    if (o.save_probabilities) {
      pc.probabilities = probabilities_path(pc.output);
      write_probabilities(pc.probabilities, in, prob, dims);
    }
    pc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json entry = {{"input", pc.input}, {"output", pc.output}, {"seconds", pc.seconds}};
    if (o.save_probabilities) entry["probabilities"] = pc.probabilities;
    written.push_back(entry);
    done.push_back(pc);
    if (o.progress) o.progress(pc, i, inputs.size());
  }
  const json summary = {{"model", o.model_path},
                        {"network", o.model_prefix.empty() ? "model" : o.model_prefix},
                        {"protocol", data::recipe_of(protocol.dataset).protocol_text},
                        {"intensity", norm.kind},
                        {"precision", o.precision},
                        {"cases", written},
                        // Masks of earlier runs into this folder, still predict's to replace.
                        {"earlier_outputs", earlier_outputs}};
  io::write_file_atomically((fs::path(o.out_dir) / "predictions.json").string(),
                            summary.dump(2) + "\n");
  fs::remove(fs::path(o.out_dir) / kPlannedFile, ec);
  return done;
}

}  // namespace bcp::eval
