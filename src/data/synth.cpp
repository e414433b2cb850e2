// Synthetic ACDC/LA generator. Everything is computed in plain C++ loops from std::mt19937_64
// streams (no torch RNG, no vectorised torch math) so the output does not depend on LibTorch's
// version, thread count or CPU dispatch.
#include "bcp/data/synth.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "bcp/data/case_list.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/util/rng.h"

namespace bcp::data {
namespace {

namespace fs = std::filesystem;
constexpr double kPi = 3.14159265358979323846;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A stream seeded from (seed, tag, a, b), so each case draws independently of the others.
uint64_t derive_seed(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b) {
  uint64_t s = splitmix64(seed);
  s = splitmix64(s ^ tag);
  s = splitmix64(s ^ a);
  return splitmix64(s ^ b);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : eng_(seed) {}
  /// Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * util::uniform01(eng_); }
  /// Uniform integer in [a, b] (util/rng.h: unbiased, the same with every standard library).
  int integer(int a, int b) {
    return static_cast<int>(util::uniform_int(eng_, a, static_cast<int64_t>(b) + 1));
  }
  /// Standard normal (Box-Muller; std::normal_distribution is not specified bit-exactly).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 1e-300) u1 = uniform(0, 1);
    const double u2 = uniform(0, 1);
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * kPi * u2);
    has_spare_ = true;
    return r * std::cos(2 * kPi * u2);
  }

 private:
  std::mt19937_64 eng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

/// Sum of a few random plane waves in normalised coordinates: a smooth random field for bias
/// and texture. `max_cycles` bounds the frequency (cycles across the volume).
struct SmoothField {
  struct Wave {
    std::array<double, 3> freq;
    double phase;
    double amp;
  };
  std::vector<Wave> waves;

  SmoothField() = default;
  SmoothField(Rng& rng, int n_waves, double max_cycles, double amplitude, int dims) {
    for (int k = 0; k < n_waves; ++k) {
      Wave w{};
      for (int d = 0; d < 3; ++d) w.freq[d] = d < dims ? rng.uniform(-max_cycles, max_cycles) : 0;
      w.phase = rng.uniform(0, 2 * kPi);
      w.amp = amplitude * rng.uniform(0.5, 1.0) / std::sqrt(static_cast<double>(n_waves));
      waves.push_back(w);
    }
  }
  double at(double u, double v, double w = 0) const {
    double s = 0;
    for (const auto& wave : waves)
      s += wave.amp * std::cos(2 * kPi * (wave.freq[0] * u + wave.freq[1] * v + wave.freq[2] * w) +
                               wave.phase);
    return s;
  }
};

/// Soft inside-membership of a signed distance (negative inside), edge width `s` pixels:
/// models partial-volume blur at boundaries.
double soft(double d, double s) {
  return 1.0 / (1.0 + std::exp(d / s));
}
double lerp(double a, double b, double t) {
  return a + (b - a) * t;
}
double wrap_angle(double a) {
  while (a > kPi) a -= 2 * kPi;
  while (a < -kPi) a += 2 * kPi;
  return a;
}

/// Rician noise: magnitude of a complex signal with Gaussian noise on both channels, as in MRI.
double rician(double v, double sigma, Rng& rng) {
  const double re = v + sigma * rng.normal();
  const double im = sigma * rng.normal();
  return std::sqrt(re * re + im * im);
}

/// Radius multiplier 1 + sum_k a_k cos(k phi + p_k), k = 2..4: smooth non-circular outlines.
struct Outline {
  std::array<double, 3> amp{};
  std::array<double, 3> phase{};
  Outline() = default;
  Outline(Rng& rng, double max_amp) {
    for (int k = 0; k < 3; ++k) {
      amp[k] = rng.uniform(-max_amp, max_amp);
      phase[k] = rng.uniform(0, 2 * kPi);
    }
  }
  double at(double phi) const {
    double r = 1;
    for (int k = 0; k < 3; ++k) r += amp[k] * std::cos((k + 2) * phi + phase[k]);
    return r;
  }
};

/// An ellipse blob in a slice (a distractor organ/vessel): pseudo signed distance in pixels.
struct Blob2 {
  double cy, cx, ay, ax, angle, intensity;
  double distance(double y, double x) const {
    const double c = std::cos(angle), s = std::sin(angle);
    const double u = ((x - cx) * c + (y - cy) * s) / ax;
    const double v = (-(x - cx) * s + (y - cy) * c) / ay;
    return (std::sqrt(u * u + v * v) - 1.0) * std::min(ax, ay);
  }
};

// ---------------------------------------------------------------- ACDC ------------------------

/// What stays fixed for a patient across frames and slices.
struct AcdcPatient {
  int64_t depth, height, width;
  double cy, cx, drift_y, drift_x;
  double r_lv, ecc, theta, t_myo;
  Outline endo, epi;
  double rv_angle, rv_half_width, rv_thick, rv_gap;
  int rv_slices;
  double apex_min, apex_gamma;
  double lv_int, rv_int, myo_int, bg_int, air_int;
  double body_cy, body_cx, body_ay, body_ax;
  SmoothField texture, bias;
  std::vector<Blob2> distractors;
  int n_papillary;
  double pap_radius, pap_angle;
  double noise, edge;
};

AcdcPatient make_patient(const SynthAcdcOptions& opt, int patient) {
  Rng rng(derive_seed(opt.seed, 0xACDC, static_cast<uint64_t>(patient), 0));
  AcdcPatient p{};
  p.height = rng.integer(opt.min_side, opt.max_side);
  p.width = rng.integer(opt.min_side, opt.max_side);
  p.depth = rng.integer(opt.min_slices, opt.max_slices);
  const double side = static_cast<double>(std::min(p.height, p.width));
  p.cy = p.height * (0.5 + rng.uniform(-0.08, 0.08));
  p.cx = p.width * (0.5 + rng.uniform(-0.08, 0.08));
  p.drift_y = rng.uniform(-0.8, 0.8);
  p.drift_x = rng.uniform(-0.8, 0.8);
  p.r_lv = side * rng.uniform(0.09, 0.14);
  p.ecc = rng.uniform(0.78, 1.0);
  p.theta = rng.uniform(0, kPi);
  p.t_myo = p.r_lv * rng.uniform(0.3, 0.5);
  p.endo = Outline(rng, 0.07);
  p.epi = Outline(rng, 0.18);
  p.rv_angle = kPi + rng.uniform(-0.7, 0.7);
  p.rv_half_width = rng.uniform(0.8, 1.3);
  p.rv_thick = p.r_lv * rng.uniform(0.7, 1.3);
  p.rv_gap = rng.uniform(0.0, 1.5);
  p.rv_slices = static_cast<int>(p.depth) - rng.integer(1, 2);
  p.apex_min = rng.uniform(0.15, 0.45);
  p.apex_gamma = rng.uniform(1.2, 2.2);
  // Overlapping ranges on purpose: myocardium vs. surrounding tissue and RV vs. LV blood are
  // not separable by intensity alone for some patients.
  p.lv_int = rng.uniform(0.55, 0.9);
  p.rv_int = p.lv_int * rng.uniform(0.75, 1.05);
  p.myo_int = rng.uniform(0.15, 0.38);
  p.bg_int = rng.uniform(0.22, 0.5);
  p.air_int = rng.uniform(0.0, 0.05);
  p.body_cy = p.height * (0.5 + rng.uniform(-0.05, 0.05));
  p.body_cx = p.width * (0.5 + rng.uniform(-0.05, 0.05));
  p.body_ay = p.height * rng.uniform(0.4, 0.5);
  p.body_ax = p.width * rng.uniform(0.42, 0.55);
  p.texture = SmoothField(rng, 6, 3.0, rng.uniform(0.03, 0.08), 2);
  p.bias = SmoothField(rng, 3, 1.2, rng.uniform(0.1, 0.35), 2);
  const double heart_extent = p.r_lv + p.t_myo * 1.5 + p.rv_thick + 4;
  const int n_blobs = rng.integer(2, 5);
  for (int b = 0; b < n_blobs; ++b) {
    Blob2 blob{};
    blob.ay = rng.uniform(3.0, 0.12 * side);
    blob.ax = rng.uniform(3.0, 0.12 * side);
    blob.angle = rng.uniform(0, kPi);
    blob.intensity = rng.uniform(0.1, 0.95);
    for (int attempt = 0; attempt < 30; ++attempt) {
      blob.cy = rng.uniform(0.1, 0.9) * p.height;
      blob.cx = rng.uniform(0.1, 0.9) * p.width;
      const double dist = std::hypot(blob.cy - p.cy, blob.cx - p.cx);
      if (dist > heart_extent + std::max(blob.ay, blob.ax)) break;
    }
    p.distractors.push_back(blob);
  }
  p.n_papillary = rng.integer(0, 3);
  p.pap_radius = rng.uniform(0.12, 0.22);
  p.pap_angle = rng.uniform(0, 2 * kPi);
  p.noise = rng.uniform(0.02, 0.07);
  p.edge = rng.uniform(0.5, 1.1);
  return p;
}

}  // namespace

Sample synth_acdc_volume(const SynthAcdcOptions& opt, int patient, int frame) {
  if (patient < 1) throw std::invalid_argument("synth_acdc_volume: patient must be >= 1");
  if (frame != 1 && frame != 2)
    throw std::invalid_argument("synth_acdc_volume: frame must be 1 or 2");
  if (opt.min_side < 32 || opt.max_side < opt.min_side)
    throw std::invalid_argument("synth ACDC: side range must satisfy 32 <= min_side <= max_side");
  if (opt.min_slices < 1 || opt.max_slices < opt.min_slices)
    throw std::invalid_argument(
        "synth ACDC: slice range must satisfy 1 <= min_slices <= max_slices");
  const AcdcPatient p = make_patient(opt, patient);
  Rng rng(
      derive_seed(opt.seed, 0xACDC, static_cast<uint64_t>(patient), static_cast<uint64_t>(frame)));
  // End-systole: the LV contracts and its wall thickens.
  const bool es = frame == 2;
  const double lv_scale = es ? rng.uniform(0.6, 0.8) : rng.uniform(0.95, 1.05);
  const double myo_scale = es ? rng.uniform(1.25, 1.5) : rng.uniform(0.95, 1.05);
  const double rv_scale = es ? rng.uniform(0.6, 0.85) : rng.uniform(0.95, 1.05);
  const double contrast = rng.uniform(0.92, 1.08);

  const int64_t D = p.depth, H = p.height, W = p.width;
  auto image = torch::empty({D, H, W}, torch::kFloat32);
  auto label = torch::zeros({D, H, W}, torch::kUInt8);
  float* img = image.data_ptr<float>();
  uint8_t* lab = label.data_ptr<uint8_t>();
  const double ct = std::cos(p.theta), st = std::sin(p.theta);

  for (int64_t z = 0; z < D; ++z) {
    const double u = D > 1 ? static_cast<double>(z) / static_cast<double>(D - 1) : 0.0;
    const double taper = 1.0 - (1.0 - p.apex_min) * std::pow(u, p.apex_gamma);
    const double cy = p.cy + p.drift_y * (z - D / 2.0) + 0.5 * rng.normal();
    const double cx = p.cx + p.drift_x * (z - D / 2.0) + 0.5 * rng.normal();
    const double r_endo0 = p.r_lv * lv_scale * taper * rng.uniform(0.95, 1.05);
    const double t_myo = p.t_myo * myo_scale * (0.75 + 0.25 * taper);
    const bool has_rv = z < p.rv_slices;
    const double rv_thick = p.rv_thick * rv_scale * (1.0 - 0.5 * u);
    const double slice_gain = rng.uniform(0.95, 1.05);
    // Papillary muscles: dark spots inside the cavity that ACDC labels as LV (class 3).
    std::vector<std::array<double, 3>> paps;
    for (int k = 0; k < p.n_papillary; ++k) {
      const double a = p.pap_angle + k * 2.2 + 0.2 * rng.normal();
      const double d = 0.55 * r_endo0;
      paps.push_back({cy + d * std::sin(a), cx + d * std::cos(a), p.pap_radius * r_endo0});
    }

    for (int64_t y = 0; y < H; ++y) {
      for (int64_t x = 0; x < W; ++x) {
        const double py = y - cy, px = x - cx;
        const double a = px * ct + py * st;
        const double b = (-px * st + py * ct) / p.ecc;
        const double rho = std::sqrt(a * a + b * b);
        const double phi = std::atan2(py, px);
        const double r_endo = r_endo0 * p.endo.at(phi);
        const double r_epi = r_endo + t_myo * p.epi.at(phi);
        const double d_endo = rho - r_endo;
        const double d_epi = rho - r_epi;
        double d_rv = 1e9;
        if (has_rv) {
          const double dphi = wrap_angle(phi - p.rv_angle);
          const double inner = r_epi + p.rv_gap;
          if (std::abs(dphi) < p.rv_half_width) {
            const double thick =
                rv_thick * std::pow(std::cos(dphi / p.rv_half_width * kPi / 2), 0.7);
            d_rv = std::max(inner - rho, rho - (inner + thick));
          } else {
            // Beyond the crescent's tips the band has zero width: distance to its end ray.
            d_rv = std::max(std::abs(rho - inner), rho * (std::abs(dphi) - p.rv_half_width));
          }
        }

        uint8_t cls = 0;
        if (d_endo < 0) {
          cls = 3;
        } else if (d_epi < 0) {
          cls = 2;
        } else if (d_rv < 0) {
          cls = 1;
        }

        const double yn = static_cast<double>(y) / H, xn = static_cast<double>(x) / W;
        const double by = (y - p.body_cy) / p.body_ay, bx = (x - p.body_cx) / p.body_ax;
        const double d_body = (std::sqrt(by * by + bx * bx) - 1.0) * std::min(p.body_ay, p.body_ax);
        double v = lerp(p.air_int, p.bg_int + p.texture.at(yn, xn, 0.1 * u), soft(d_body, 2.0));
        for (const auto& blob : p.distractors)
          v = lerp(v, blob.intensity, soft(blob.distance(y, x), p.edge * 1.5));
        if (has_rv) v = lerp(v, p.rv_int * contrast, soft(d_rv, p.edge));
        v = lerp(v, p.myo_int, soft(d_epi, p.edge));
        v = lerp(v, p.lv_int * contrast, soft(d_endo, p.edge));
        for (const auto& pap : paps) {
          const double d = std::hypot(y - pap[0], x - pap[1]) - pap[2];
          v = lerp(v, p.myo_int * 1.1, soft(d, p.edge * 0.7) * soft(d_endo, p.edge));
        }
        v *= std::exp(p.bias.at(yn, xn)) * slice_gain;
        v = rician(v, p.noise, rng);
        const int64_t i = (z * H + y) * W + x;
        img[i] = static_cast<float>(v);
        lab[i] = cls;
      }
    }
  }
  // Min-max to [0, 1] per volume, as the real ACDC HDF5 files are.
  const float lo = image.min().item<float>(), hi = image.max().item<float>();
  image.sub_(lo).div_(std::max(hi - lo, 1e-6f)).clamp_(0.0f, 1.0f);
  char name[64];
  std::snprintf(name, sizeof name, "patient%03d_frame%02d", patient, frame);
  return Sample{image, label, name};
}

namespace {

void check_count(const char* what, int n, int min) {
  if (n < min)
    throw std::invalid_argument(std::string("synth: ") + what + " must be >= " +
                                std::to_string(min) + ", got " + std::to_string(n));
}

void write_sample_h5(const std::string& path, const torch::Tensor& image,
                     const torch::Tensor& label) {
  io::write_h5_atomically(path, {{"image", image}, {"label", label}});
}

void create_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot create folder: " + ec.message());
}

void remove_lists(const fs::path& out, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    std::error_code ec;
    fs::remove(out / n, ec);
  }
}

}  // namespace

void write_synth_acdc(const std::string& out_dir, const SynthAcdcOptions& opt) {
  check_count("train patients", opt.train_patients, 1);
  check_count("val patients", opt.val_patients, 0);
  check_count("test patients", opt.test_patients, 0);
  const fs::path out(out_dir);
  create_dirs(out / "data" / "slices");
  remove_lists(out, {"train_slices.list", "train.list", "val.list", "test.list"});

  std::vector<std::string> train_slices, train, val, test;
  const int n_total = opt.train_patients + opt.val_patients + opt.test_patients;
  for (int patient = 1; patient <= n_total; ++patient) {
    const bool is_train = patient <= opt.train_patients;
    const bool is_val = !is_train && patient <= opt.train_patients + opt.val_patients;
    for (int frame = 1; frame <= 2; ++frame) {
      Sample s = synth_acdc_volume(opt, patient, frame);
      if (is_train) {
        train.push_back(s.name);
        for (int64_t z = 0; z < s.image.size(0); ++z) {
          const std::string slice = s.name + "_slice_" + std::to_string(z + 1);
          write_sample_h5((out / "data" / "slices" / (slice + ".h5")).string(), s.image[z],
                          s.label[z]);
          train_slices.push_back(slice);
        }
      } else {
        write_sample_h5((out / "data" / (s.name + ".h5")).string(), s.image, s.label);
        (is_val ? val : test).push_back(s.name);
      }
    }
  }
  // Lists last, test.list the very last: its presence marks a complete dataset.
  write_case_list((out / "train_slices.list").string(), train_slices);
  write_case_list((out / "train.list").string(), train);
  write_case_list((out / "val.list").string(), val);
  write_case_list((out / "test.list").string(), test);
}

// ---------------------------------------------------------------- LA --------------------------

namespace {

/// A rotated ellipsoid in voxel coordinates.
struct Ellipsoid {
  std::array<double, 3> c, r;
  std::array<double, 9> rot;  // rows: local axes in voxel coordinates
  double distance(double x, double y, double z) const {
    const double dx = x - c[0], dy = y - c[1], dz = z - c[2];
    double q = 0;
    for (int i = 0; i < 3; ++i) {
      const double l = (rot[3 * i] * dx + rot[3 * i + 1] * dy + rot[3 * i + 2] * dz) / r[i];
      q += l * l;
    }
    return (std::sqrt(q) - 1.0) * std::min({r[0], r[1], r[2]});
  }
};

std::array<double, 9> random_rotation(Rng& rng, double max_angle) {
  const double a = rng.uniform(-max_angle, max_angle), b = rng.uniform(-max_angle, max_angle),
               g = rng.uniform(-max_angle, max_angle);
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b),
               cg = std::cos(g), sg = std::sin(g);
  // Rz(a) * Ry(b) * Rx(g)
  return {ca * cb,
          ca * sb * sg - sa * cg,
          ca * sb * cg + sa * sg,
          sa * cb,
          sa * sb * sg + ca * cg,
          sa * sb * cg - ca * sg,
          -sb,
          cb * sg,
          cb * cg};
}

/// A capsule (pulmonary-vein stub): distance to a segment minus the radius.
struct Tube {
  std::array<double, 3> a, b;
  double radius;
  double distance(double x, double y, double z) const {
    const std::array<double, 3> ab{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    const std::array<double, 3> ap{x - a[0], y - a[1], z - a[2]};
    const double len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
    double t = (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / std::max(len2, 1e-9);
    t = std::clamp(t, 0.0, 1.0);
    const double ex = ap[0] - t * ab[0], ey = ap[1] - t * ab[1], ez = ap[2] - t * ab[2];
    return std::sqrt(ex * ex + ey * ey + ez * ez) - radius;
  }
};

}  // namespace

std::string synth_la_id(int index) {
  char id[32];
  std::snprintf(id, sizeof id, "SYNTHLA%03d", index);
  return id;
}

Sample synth_la_volume(const SynthLaOptions& opt, int index) {
  if (index < 0) throw std::invalid_argument("synth_la_volume: index must be >= 0");
  if (opt.size_x < 16 || opt.size_y < 16 || opt.size_z < 8)
    throw std::invalid_argument("synth LA: volume size must be at least 16x16x8, got " +
                                std::to_string(opt.size_x) + "x" + std::to_string(opt.size_y) +
                                "x" + std::to_string(opt.size_z));
  Rng rng(derive_seed(opt.seed, 0x1A, static_cast<uint64_t>(index), 0));
  const std::array<double, 3> size{static_cast<double>(opt.size_x), static_cast<double>(opt.size_y),
                                   static_cast<double>(opt.size_z)};

  // The atrium: a main ellipsoid, 2-4 lobes around it, 2-4 vein stubs leaving its surface.
  std::vector<Ellipsoid> parts;
  Ellipsoid body{};
  for (int i = 0; i < 3; ++i) {
    body.c[i] = size[i] * (0.5 + rng.uniform(-0.07, 0.07));
    body.r[i] = size[i] * rng.uniform(0.13, 0.2);
  }
  body.rot = random_rotation(rng, 0.6);
  parts.push_back(body);
  const int n_lobes = rng.integer(2, 4);
  for (int k = 0; k < n_lobes; ++k) {
    Ellipsoid e{};
    for (int i = 0; i < 3; ++i) {
      e.c[i] = body.c[i] + rng.normal() * 0.45 * body.r[i];
      e.r[i] = body.r[i] * rng.uniform(0.45, 0.8);
    }
    e.rot = random_rotation(rng, kPi);
    parts.push_back(e);
  }
  std::vector<Tube> veins;
  const int n_veins = rng.integer(2, 4);
  for (int k = 0; k < n_veins; ++k) {
    std::array<double, 3> dir{rng.normal(), rng.normal(), 0.5 * rng.normal()};
    const double n = std::sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]) + 1e-9;
    Tube t{};
    const double len = rng.uniform(8.0, 16.0);
    for (int i = 0; i < 3; ++i) {
      dir[i] /= n;
      t.a[i] = body.c[i] + dir[i] * body.r[i] * 0.7;
      t.b[i] = body.c[i] + dir[i] * (body.r[i] + len);
    }
    t.radius = rng.uniform(1.8, 3.5);
    veins.push_back(t);
  }
  SmoothField wobble(rng, 6, 3.0, rng.uniform(0.8, 2.0), 3);  // boundary irregularity, voxels

  // Distractors: other chambers/vessels, some as bright as atrial blood, some touching it.
  std::vector<Ellipsoid> distractors;
  std::vector<double> distractor_int;
  const int n_distractors = rng.integer(3, 6);
  for (int k = 0; k < n_distractors; ++k) {
    Ellipsoid e{};
    for (int attempt = 0; attempt < 30; ++attempt) {
      for (int i = 0; i < 3; ++i) {
        e.c[i] = size[i] * rng.uniform(0.1, 0.9);
        e.r[i] = size[i] * rng.uniform(0.05, 0.15);
      }
      if (body.distance(e.c[0], e.c[1], e.c[2]) > 4.0) break;
    }
    e.rot = random_rotation(rng, kPi);
    distractors.push_back(e);
    distractor_int.push_back(rng.uniform(0.2, 0.95));
  }
  const double blood = rng.uniform(0.65, 0.95);
  const double wall = rng.uniform(0.25, 0.85);  // LGE wall enhancement varies a lot
  const double tissue = rng.uniform(0.2, 0.4);
  const double edge = rng.uniform(0.6, 1.2);
  const double noise = rng.uniform(0.03, 0.08);
  SmoothField texture(rng, 8, 4.0, rng.uniform(0.03, 0.07), 3);
  SmoothField bias(rng, 3, 1.0, rng.uniform(0.1, 0.3), 3);

  // A labelled wall is drawn thicker (3 voxels, LA's own 1.5), so that a short run can learn it.
  const double wall_width = opt.label_wall ? 3.0 : 1.5;
  const int64_t X = opt.size_x, Y = opt.size_y, Z = opt.size_z;
  auto image = torch::empty({X, Y, Z}, torch::kFloat32);
  auto label = torch::zeros({X, Y, Z}, torch::kUInt8);
  float* img = image.data_ptr<float>();
  uint8_t* lab = label.data_ptr<uint8_t>();
  for (int64_t x = 0; x < X; ++x) {
    for (int64_t y = 0; y < Y; ++y) {
      for (int64_t z = 0; z < Z; ++z) {
        const double xn = x / size[0], yn = y / size[1], zn = z / size[2];
        double d = 1e9;
        for (const auto& e : parts) d = std::min(d, e.distance(x, y, z));
        for (const auto& t : veins) d = std::min(d, t.distance(x, y, z));
        d += wobble.at(xn, yn, zn);
        double v = tissue + texture.at(xn, yn, zn);
        for (size_t k = 0; k < distractors.size(); ++k)
          v = lerp(v, distractor_int[k], soft(distractors[k].distance(x, y, z), edge * 1.5));
        v = lerp(v, wall, soft(d - wall_width, edge));
        v = lerp(v, blood, soft(d, edge));
        v *= std::exp(bias.at(xn, yn, zn));
        v = rician(v, noise, rng);
        const int64_t i = (x * Y + y) * Z + z;
        img[i] = static_cast<float>(v);
        lab[i] = d < 0 ? 1 : (opt.label_wall && d < wall_width ? 2 : 0);
      }
    }
  }
  // z-score over the volume, as mri_norm2.h5 is.
  // Sums in a fixed order here, not torch reductions, whose split depends on the thread count.
  const int64_t n = image.numel();
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < n; ++i) sum += img[i];
  const double mean = sum / n;
  for (int64_t i = 0; i < n; ++i) sum2 += (img[i] - mean) * (img[i] - mean);
  const double sd = std::max(std::sqrt(sum2 / std::max<int64_t>(n - 1, 1)), 1e-6);
  for (int64_t i = 0; i < n; ++i) img[i] = static_cast<float>((img[i] - mean) / sd);
  return Sample{image, label, synth_la_id(index)};
}

void write_synth_la(const std::string& out_dir, const SynthLaOptions& opt) {
  check_count("train cases", opt.train_cases, 1);
  check_count("val cases", opt.val_cases, 0);
  check_count("test cases", opt.test_cases, 0);
  const fs::path out(out_dir);
  create_dirs(out / "2018LA_Seg_Training Set");
  remove_lists(out, {"train.list", "val.list", "test.list"});
  std::vector<std::string> train, val, test;
  const int n_total = opt.train_cases + opt.val_cases + opt.test_cases;
  for (int index = 0; index < n_total; ++index) {
    Sample s = synth_la_volume(opt, index);
    const fs::path dir = out / "2018LA_Seg_Training Set" / s.name;
    create_dirs(dir);
    write_sample_h5((dir / "mri_norm2.h5").string(), s.image, s.label);
    if (index < opt.train_cases) {
      train.push_back(s.name);
    } else if (index < opt.train_cases + opt.val_cases) {
      val.push_back(s.name);
    } else {
      test.push_back(s.name);
    }
  }
  write_case_list((out / "train.list").string(), train);
  write_case_list((out / "val.list").string(), val);
  write_case_list((out / "test.list").string(), test);
}

// ------------------------------------------------------------- nnU-Net -------------------------

void write_synth_nnunet(const std::string& out_dir, const SynthNnunetOptions& opt) {
  if (opt.dim != 2 && opt.dim != 3)
    throw std::invalid_argument("synth: nnunet dim must be 2 or 3, got " + std::to_string(opt.dim));
  check_count("labeled cases", opt.labeled, 1);
  check_count("unlabeled cases", opt.unlabeled, 0);
  check_count("test cases", opt.test, 0);
  check_count("channels", opt.channels, 1);
  const int classes = opt.classes != 0 ? opt.classes : opt.dim == 2 ? 4 : 2;
  if ((opt.dim == 2 && classes != 2 && classes != 4) ||
      (opt.dim == 3 && classes != 2 && classes != 3))
    throw std::invalid_argument("synth: nnunet dim " + std::to_string(opt.dim) + " makes 2 or " +
                                (opt.dim == 2 ? "4" : "3") + " classes, not " +
                                std::to_string(classes));
  if (!(opt.size_jitter >= 0 && opt.size_jitter < 1))
    throw std::invalid_argument("synth: size jitter must be in [0, 1)");
  if (!opt.spacing.empty() &&
      (opt.spacing.size() != 3 ||
       std::any_of(opt.spacing.begin(), opt.spacing.end(), [](double v) { return !(v > 0); })))
    throw std::invalid_argument("synth: spacing needs 3 positive values (x, y, z)");
  const fs::path out(out_dir);
  for (const char* d : {"imagesTr", "labelsTr", "unlabeledTr", "imagesTs", "labelsTs"})
    create_dirs(out / d);
  {
    std::error_code ec;
    fs::remove(out / "dataset.json", ec);
  }
  const int total = opt.labeled + opt.unlabeled + opt.test;
  for (int i = 0; i < total; ++i) {
    Sample s;
    if (opt.dim == 2) {
      SynthAcdcOptions a;
      a.seed = opt.seed;
      s = synth_acdc_volume(a, i + 1, 1 + i % 2);  // (D, H, W)
    } else {
      SynthLaOptions l;
      l.seed = opt.seed;
      l.size_x = opt.size_x;
      l.size_y = opt.size_y;
      l.size_z = opt.size_z;
      l.label_wall = classes == 3;
      if (opt.size_jitter > 0) {
        Rng rng(derive_seed(opt.seed, 0x73697a /* "siz" */, static_cast<uint64_t>(i), 0));
        for (int64_t* side : {&l.size_x, &l.size_y, &l.size_z})
          *side = std::max<int64_t>(
              4, std::llround(static_cast<double>(*side) *
                              rng.uniform(1 - opt.size_jitter, 1 + opt.size_jitter)));
      }
      s = synth_la_volume(l, i);  // (X, Y, Z): torch order is the reverse
      s.image = s.image.permute({2, 1, 0}).contiguous();
      s.label = s.label.permute({2, 1, 0}).contiguous();
    }
    // Scanner-like geometry, different per case: thick slices, a shifted origin, and a rotation
    // about the slice axis (torch order: axis 0 is the slowest, the slice axis).
    const double angle = 0.25 + 0.05 * i;
    const double c = std::cos(angle), sn = std::sin(angle);
    if (opt.dim == 2 && classes == 2) s.label = s.label.gt(0).to(torch::kUInt8);
    const std::vector<double> spacing =
        !opt.spacing.empty() ? std::vector<double>{opt.spacing[2], opt.spacing[1], opt.spacing[0]}
        : opt.dim == 2       ? std::vector<double>{8.0 + 0.5 * (i % 3), 1.4, 1.4}
                             : std::vector<double>{1.25, 0.75, 0.7 + 0.05 * (i % 2)};
    const std::vector<double> origin = {-40.0 + i, 12.5 - 2.0 * i, -100.0 + 3.0 * i};
    const std::vector<double> direction = {1, 0, 0, 0, c, -sn, 0, sn, c};
    // Raw intensities as int16 counts, as scanners store them.
    auto raw = (s.image - s.image.min()) * (opt.dim == 2 ? 800.0 : 300.0) + 50.0;
    raw = raw.round().to(torch::kInt16);
    if (opt.mixed_dtypes && i % 2 == 1) raw = raw.to(torch::kFloat32) + 0.25f;
    char name[32];
    std::snprintf(name, sizeof name, "synth_%03d", i + 1);
    const bool labeled = i < opt.labeled, unlabeled = !labeled && i < opt.labeled + opt.unlabeled;
    const fs::path image_dir = out / (labeled     ? "imagesTr"
                                      : unlabeled ? "unlabeledTr"
                                                  : "imagesTs");
    io::write_volume((image_dir / (std::string(name) + "_0000.nii.gz")).string(), raw, spacing,
                     origin, direction);
    for (int k = 1; k < opt.channels; ++k) {
      Rng rng(derive_seed(opt.seed, 0x636861 /* "cha" */, static_cast<uint64_t>(i),
                          static_cast<uint64_t>(k)));
      auto noise = torch::empty(raw.sizes(), torch::kFloat);
      float* n = noise.data_ptr<float>();
      for (int64_t v = 0; v < noise.numel(); ++v) n[v] = static_cast<float>(20.0 * rng.normal());
      auto other = (raw.max() - raw).to(torch::kFloat) * (0.5 + 0.25 * k) + 100.0 + noise;
      char file[64];
      std::snprintf(file, sizeof file, "%s_%04d.nii.gz", name, k);
      io::write_volume((image_dir / file).string(), other.round().to(torch::kInt16), spacing,
                       origin, direction);
    }
    if (opt.partial_labels) {
      const int64_t rows = s.label.size(1);
      s.label.slice(0, 1, s.label.size(0), 2).fill_(classes);
      s.label.slice(1, 0, (rows + 3) / 4).fill_(classes);
    }
    if (!unlabeled)
      io::write_volume(
          (out / (labeled ? "labelsTr" : "labelsTs") / (std::string(name) + ".nii.gz")).string(),
          opt.mixed_dtypes && i % 3 == 0 ? s.label.to(torch::kFloat32) : s.label, spacing, origin,
          direction);
  }
  nlohmann::json labels = opt.dim == 2 ? nlohmann::json{{"background", 0},
                                                        {"right_ventricle", 1},
                                                        {"myocardium", 2},
                                                        {"left_ventricle", 3}}
                                       : nlohmann::json{{"background", 0}, {"left_atrium", 1}};
  if (opt.dim == 2 && classes == 2) labels = {{"background", 0}, {"heart", 1}};
  if (opt.dim == 3 && classes == 3)
    labels = {{"background", 0}, {"left_atrium", 1}, {"atrial_wall", 2}};
  if (opt.partial_labels) labels["ignore"] = static_cast<int>(labels.size());
  nlohmann::json channel_names = nlohmann::json::object();
  for (int k = 0; k < opt.channels; ++k)
    channel_names[std::to_string(k)] = k == 0 ? "MRI" : "MRI_contrast" + std::to_string(k);
  const nlohmann::json meta = {{"name", opt.dim == 2 ? "SynthCardiac" : "SynthAtrium"},
                               {"channel_names", channel_names},
                               {"labels", labels},
                               {"numTraining", opt.labeled},
                               {"file_ending", ".nii.gz"}};
  io::write_file_atomically((out / "dataset.json").string(), meta.dump(2) + "\n");
}

}  // namespace bcp::data
