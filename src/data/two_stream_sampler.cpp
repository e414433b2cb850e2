#include "bcp/data/two_stream_sampler.h"

#include <sstream>
#include <stdexcept>

#include "bcp/util/rng.h"

namespace bcp::data {
namespace {

using util::uniform_int;

std::vector<int64_t> permutation(const std::vector<int64_t>& v, std::mt19937_64& rng) {
  std::vector<int64_t> p = v;
  for (int64_t i = static_cast<int64_t>(p.size()) - 1; i > 0; --i)
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(uniform_int(rng, 0, i + 1))]);
  return p;
}

constexpr const char* kMagic = "bcp-two-stream-sampler-v1";

void write_vec(std::ostream& os, const std::vector<int64_t>& v) {
  os << v.size();
  for (int64_t x : v) os << ' ' << x;
  os << '\n';
}

std::vector<int64_t> read_vec(std::istream& is) {
  size_t n = 0;
  if (!(is >> n)) throw std::invalid_argument("TwoStreamSampler::load_state: malformed state");
  std::vector<int64_t> v(n);
  for (auto& x : v)
    if (!(is >> x)) throw std::invalid_argument("TwoStreamSampler::load_state: malformed state");
  return v;
}

}  // namespace

TwoStreamSampler::TwoStreamSampler(std::vector<int64_t> labeled_idx,
                                   std::vector<int64_t> unlabeled_idx, int64_t labeled_bs,
                                   int64_t unlabeled_bs, uint64_t seed,
                                   bool restart_unlabeled_each_epoch)
    : labeled_(std::move(labeled_idx)),
      unlabeled_(std::move(unlabeled_idx)),
      labeled_bs_(labeled_bs),
      unlabeled_bs_(unlabeled_bs),
      restart_unlabeled_(restart_unlabeled_each_epoch),
      batches_per_epoch_(0),
      rng_(seed) {
  if (labeled_bs_ < 1 || unlabeled_bs_ < 0)
    throw std::invalid_argument(
        "TwoStreamSampler: labeled_bs must be >= 1 and unlabeled_bs >= 0, got " +
        std::to_string(labeled_bs_) + " and " + std::to_string(unlabeled_bs_));
  if (static_cast<int64_t>(labeled_.size()) < labeled_bs_)
    throw std::invalid_argument("TwoStreamSampler: " + std::to_string(labeled_.size()) +
                                " labeled indices cannot fill one batch of " +
                                std::to_string(labeled_bs_));
  if (unlabeled_bs_ > 0 && unlabeled_.empty())
    throw std::invalid_argument("TwoStreamSampler: unlabeled_bs is " +
                                std::to_string(unlabeled_bs_) +
                                " but there are no unlabeled indices");
  batches_per_epoch_ = static_cast<int64_t>(labeled_.size()) / labeled_bs_;
}

void TwoStreamSampler::start_epoch() {
  lperm_ = permutation(labeled_, rng_);
  lpos_ = 0;
  batch_in_epoch_ = 0;
  ++epoch_;
  if (restart_unlabeled_ || uperm_.empty()) {
    uperm_.clear();
    upos_ = 0;
  }
}

void TwoStreamSampler::refill_unlabeled() {
  uperm_ = permutation(unlabeled_, rng_);
  upos_ = 0;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> TwoStreamSampler::next() {
  if (epoch_ == 0 || batch_in_epoch_ >= batches_per_epoch_) start_epoch();
  std::pair<std::vector<int64_t>, std::vector<int64_t>> out;
  out.first.assign(lperm_.begin() + lpos_, lperm_.begin() + lpos_ + labeled_bs_);
  lpos_ += labeled_bs_;
  out.second.reserve(static_cast<size_t>(unlabeled_bs_));
  while (static_cast<int64_t>(out.second.size()) < unlabeled_bs_) {
    // Lazily, as itertools.chain draws the next permutation only when the last one runs out.
    if (upos_ >= static_cast<int64_t>(uperm_.size())) refill_unlabeled();
    out.second.push_back(uperm_[static_cast<size_t>(upos_++)]);
  }
  ++batch_in_epoch_;
  ++served_;
  return out;
}

std::string TwoStreamSampler::save_state() const {
  std::ostringstream os;
  os << kMagic << '\n'
     << labeled_bs_ << ' ' << unlabeled_bs_ << ' ' << (restart_unlabeled_ ? 1 : 0) << '\n';
  write_vec(os, labeled_);
  write_vec(os, unlabeled_);
  os << rng_ << '\n';
  write_vec(os, lperm_);
  write_vec(os, uperm_);
  os << lpos_ << ' ' << upos_ << ' ' << epoch_ << ' ' << served_ << ' ' << batch_in_epoch_ << '\n';
  return os.str();
}

void TwoStreamSampler::load_state(const std::string& state) {
  std::istringstream is(state);
  std::string magic;
  if (!(is >> magic) || magic != kMagic)
    throw std::invalid_argument("TwoStreamSampler::load_state: not a sampler state (expected '" +
                                std::string(kMagic) + "' header)");
  int64_t lbs = 0, ubs = 0, restart = 0;
  if (!(is >> lbs >> ubs >> restart))
    throw std::invalid_argument("TwoStreamSampler::load_state: malformed state");
  const auto labeled = read_vec(is);
  const auto unlabeled = read_vec(is);
  if (lbs != labeled_bs_ || ubs != unlabeled_bs_ || (restart != 0) != restart_unlabeled_ ||
      labeled != labeled_ || unlabeled != unlabeled_)
    throw std::invalid_argument(
        "TwoStreamSampler::load_state: the state was saved by a sampler with other indices or "
        "batch sizes (saved labeled_bs " +
        std::to_string(lbs) + ", unlabeled_bs " + std::to_string(ubs) + ", " +
        std::to_string(labeled.size()) + " labeled, " + std::to_string(unlabeled.size()) +
        " unlabeled)");
  std::mt19937_64 rng;
  if (!(is >> rng)) throw std::invalid_argument("TwoStreamSampler::load_state: malformed state");
  auto lperm = read_vec(is);
  auto uperm = read_vec(is);
  int64_t lpos = 0, upos = 0, epoch = 0, served = 0, bie = 0;
  if (!(is >> lpos >> upos >> epoch >> served >> bie) || lpos < 0 ||
      lpos > static_cast<int64_t>(lperm.size()) || upos < 0 ||
      upos > static_cast<int64_t>(uperm.size()) || bie < 0 || bie > batches_per_epoch_ ||
      (epoch > 0 && (lperm.size() != labeled_.size() || lpos != bie * labeled_bs_)))
    throw std::invalid_argument("TwoStreamSampler::load_state: malformed state");
  rng_ = rng;
  lperm_ = std::move(lperm);
  uperm_ = std::move(uperm);
  lpos_ = lpos;
  upos_ = upos;
  epoch_ = epoch;
  served_ = served;
  batch_in_epoch_ = bie;
}

}  // namespace bcp::data
