// CPU implementation of the global-threshold contract of
// torch_geometric_ugt/threshold.py: zero the k smallest scores over a list
// of float32 tensors, ordered by (value, global position), -0.0 == +0.0.
//
// Radix select on order-preserving uint32 keys without concatenating:
//   pass 1: per-thread histograms of the top 11 key bits; the bin B that
//           holds the k-th smallest is found;
//   pass 2: every score outside B gets its mask (0 below B, 1 above), the
//           keys in B are gathered per segment, in position order, and
//           histogrammed on their next 11 bits;
//   then the gathered keys (up to a sixth of all keys for typical score
//   distributions: B spans a quarter of an octave) are radix-selected on
//   their last 10 bits and their masks written, in parallel over the
//   segments; only the ties at the threshold are pruned serially, in
//   position order.
// Non-finite scores are screened from the histogram of pass 1 (their keys
// have bins of their own), so validation costs no extra pass.
//
// Banded select (a hint [lo, hi] from the caller, typically the previous
// threshold of a search whose scores moved a little): pass 2 alone, with
// the band instead of a histogram bin, also counting the keys below the band
// and the non-finite ones. When the k-th smallest lies in the band, the
// candidates are selected with nth_element and pass 1 is saved; otherwise
// the full select runs (the masks are rewritten). The masks never depend
// on the hint, only the time does.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr int64_t kSegment = 1 << 15;  // elements per work item

inline uint32_t float_key(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits = bits == 0x80000000u ? 0u : bits;  // -0.0 == +0.0
  // Negative: flip all bits; non-negative: set the sign bit.
  const uint32_t flip =
      static_cast<uint32_t>(static_cast<int32_t>(bits) >> 31) | 0x80000000u;
  return bits ^ flip;
}

inline float key_float(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key ^ 0x80000000u) : ~key;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Keys of +-inf and NaN: at most key(-inf) or at least key(+inf).
constexpr uint32_t kMinusInfKey = 0x007FFFFFu;
constexpr uint32_t kPlusInfKey = 0xFF800000u;

struct Segment {
  int tensor;
  int64_t start;
  int64_t length;
};

std::vector<Segment> make_segments(const std::vector<torch::Tensor>& scores) {
  std::vector<Segment> segments;
  for (int t = 0; t < static_cast<int>(scores.size()); ++t) {
    const int64_t n = scores[t].numel();
    for (int64_t s = 0; s < n; s += kSegment) {
      segments.push_back({t, s, std::min(kSegment, n - s)});
    }
  }
  return segments;
}

constexpr int kTopShift = 21;
constexpr int kTopBins = 1 << 11;

struct Candidate {
  uint32_t key;
  uint32_t offset;  // within the segment
};

// Keys of -inf and negative NaNs fall in the first 4 top bins, +inf and
// positive NaNs in the last 4, and no finite value does: the histogram
// screens for non-finite scores at no extra cost.
constexpr int kNonFiniteBins = 4;

template <typename count_t>
std::vector<int64_t> top_histogram_impl(const std::vector<const float*>& data,
                                        const std::vector<Segment>& segments) {
  const int threads = at::get_num_threads();
  // kLanes interleaved sub-histograms per thread break the dependency
  // chains of repeated increments of one (hot) bin.
  constexpr int kLanes = 4;
  const size_t per_thread = static_cast<size_t>(kLanes) * kTopBins;
  std::vector<count_t> local(static_cast<size_t>(threads) * per_thread, 0);
  at::parallel_for(0, static_cast<int64_t>(segments.size()), 1,
                   [&](int64_t begin, int64_t end) {
    const int tid = at::get_thread_num();
    count_t* hist = local.data() + static_cast<size_t>(tid) * per_thread;
    for (int64_t i = begin; i < end; ++i) {
      const Segment& seg = segments[i];
      const float* p = data[seg.tensor] + seg.start;
      const int64_t n = seg.length;
      int64_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        for (int lane = 0; lane < kLanes; ++lane) {
          ++hist[lane * kTopBins + (float_key(p[j + lane]) >> kTopShift)];
        }
      }
      for (; j < n; ++j) ++hist[float_key(p[j]) >> kTopShift];
    }
  });
  std::vector<int64_t> total(kTopBins, 0);
  for (int t = 0; t < threads * kLanes; ++t) {
    const count_t* hist = local.data() + static_cast<size_t>(t) * kTopBins;
    for (int b = 0; b < kTopBins; ++b) total[b] += hist[b];
  }
  return total;
}

std::vector<int64_t> top_histogram(const std::vector<const float*>& data,
                                   const std::vector<Segment>& segments,
                                   int64_t total) {
  // 32-bit counters halve the histograms' cache footprint; they cannot
  // overflow below 2^32 elements.
  if (total < (int64_t{1} << 32)) {
    return top_histogram_impl<uint32_t>(data, segments);
  }
  return top_histogram_impl<int64_t>(data, segments);
}

bool has_nonfinite(const std::vector<int64_t>& hist) {
  for (int b = 0; b < kNonFiniteBins; ++b) {
    if (hist[b] != 0 || hist[kTopBins - 1 - b] != 0) return true;
  }
  return false;
}

bool has_nan(const std::vector<const float*>& data,
             const std::vector<Segment>& segments) {
  for (const Segment& seg : segments) {
    const float* p = data[seg.tensor] + seg.start;
    for (int64_t j = 0; j < seg.length; ++j) {
      if (p[j] != p[j]) return true;
    }
  }
  return false;
}

// The bin holding the k-th smallest (1-based) and the count before it.
std::pair<uint32_t, int64_t> find_bin(const std::vector<int64_t>& hist,
                                      int64_t k) {
  int64_t before = 0;
  for (size_t b = 0; b < hist.size(); ++b) {
    if (before + hist[b] >= k) return {static_cast<uint32_t>(b), before};
    before += hist[b];
  }
  TORCH_CHECK(false, "internal error: rank beyond the histogram");
}

// Digits of the gathered keys below the top 11 bits.
constexpr int kMidShift = 10;
constexpr int kMidBins = 1 << 11;
constexpr int kLowBins = 1 << 10;

// Per-thread histograms, summed.
class ThreadHistograms {
 public:
  explicit ThreadHistograms(int bins)
      : bins_(bins),
        counts_(static_cast<size_t>(at::get_num_threads()) * bins, 0) {}
  int64_t* local() {
    return counts_.data() + static_cast<size_t>(at::get_thread_num()) * bins_;
  }
  std::vector<int64_t> total() const {
    std::vector<int64_t> sum(bins_, 0);
    for (size_t i = 0; i < counts_.size(); ++i) sum[i % bins_] += counts_[i];
    return sum;
  }

 private:
  int bins_;
  std::vector<int64_t> counts_;
};

// What a split pass counted besides the candidates.
struct SplitCounts {
  std::vector<int64_t> mid;  // histogram of the candidates' middle 11 bits
  int64_t below = 0;         // keys below the range
  int64_t candidates = 0;    // keys inside it
  int64_t nonfinite = 0;     // keys of +-inf and NaN
};

// One selection of a split pass: its key range, its masks and where its
// candidates go.
template <typename mask_t>
struct SplitTarget {
  uint32_t lo;
  uint32_t hi;
  const std::vector<mask_t*>* out;
  std::vector<std::vector<Candidate>>* candidates;
};

// Pass 2, for one or more selections on the same scores: per selection,
// masks outside the key range [lo, hi] (0 below, 1 above), candidates
// inside it in position order, and (kMid: for one range that is one top
// bin) the histogram of the candidates' middle 11 bits. The selections are
// served segment by segment, so the scores are read from memory once. The
// loops are branch-free (the first vectorises, the second compacts the
// candidates into a per-thread scratch buffer), so the cost does not
// depend on how unpredictable the threshold comparisons are. Non-finite
// keys are counted in the first selection's counts.
template <typename mask_t, bool kMid>
std::vector<SplitCounts> split_pass(
    const std::vector<const float*>& data,
    const std::vector<Segment>& segments,
    const std::vector<SplitTarget<mask_t>>& targets) {
  const int num_targets = static_cast<int>(targets.size());
  TORCH_CHECK(!kMid || num_targets == 1,
              "internal error: one target for a histogram split");
  ThreadHistograms mid(kMid ? kMidBins : 1);
  ThreadHistograms counts(3 * num_targets);  // below, candidates, non-finite
  at::parallel_for(0, static_cast<int64_t>(segments.size()), 1,
                   [&](int64_t begin, int64_t end) {
    // Uninitialised on purpose: only the first `count` entries are read.
    std::unique_ptr<Candidate[]> scratch(new Candidate[kSegment]);
    int64_t* hist = mid.local();
    int64_t* local = counts.local();
    for (int64_t i = begin; i < end; ++i) {
      const Segment& seg = segments[i];
      const float* __restrict__ p = data[seg.tensor] + seg.start;
      const int64_t n = seg.length;
      for (int t = 0; t < num_targets; ++t) {
        const uint32_t lo = targets[t].lo;
        const uint32_t hi = targets[t].hi;
        const uint32_t span = hi - lo;
        mask_t* __restrict__ m = (*targets[t].out)[seg.tensor] + seg.start;
        uint32_t below = 0;
        uint32_t nonfinite = 0;
        for (int64_t j = 0; j < n; ++j) {
          const uint32_t key = float_key(p[j]);
          // Arithmetic, not a branch: vectorises for float masks.
          m[j] = static_cast<mask_t>(static_cast<float>(key > hi));
          below += key < lo;
          nonfinite +=
              key - (kMinusInfKey + 1) >= kPlusInfKey - kMinusInfKey - 1;
        }
        Candidate* __restrict__ buffer = scratch.get();
        int64_t count = 0;
        for (int64_t j = 0; j < n; ++j) {
          const uint32_t key = float_key(p[j]);
          buffer[count] = {key, static_cast<uint32_t>(j)};
          count += key - lo <= span;
        }
        if (kMid) {
          for (int64_t j = 0; j < count; ++j) {
            ++hist[(buffer[j].key >> kMidShift) & (kMidBins - 1)];
          }
        }
        local[3 * t] += below;
        local[3 * t + 1] += count;
        local[3 * t + 2] += nonfinite;
        (*targets[t].candidates)[i].assign(buffer, buffer + count);
      }
    }
  });
  const auto totals = counts.total();
  std::vector<SplitCounts> result(num_targets);
  for (int t = 0; t < num_targets; ++t) {
    result[t].below = totals[3 * t];
    result[t].candidates = totals[3 * t + 1];
    result[t].nonfinite = totals[3 * t + 2];
  }
  if (kMid) result[0].mid = mid.total();
  return result;
}

// Histogram of the last 10 bits of the candidates whose upper 22 bits are
// `prefix`.
std::vector<int64_t> low_histogram(
    const std::vector<std::vector<Candidate>>& candidates, uint32_t prefix) {
  ThreadHistograms low(kLowBins);
  at::parallel_for(0, static_cast<int64_t>(candidates.size()), 1,
                   [&](int64_t begin, int64_t end) {
    int64_t* hist = low.local();
    for (int64_t i = begin; i < end; ++i) {
      for (const Candidate& c : candidates[i]) {
        if ((c.key >> kMidShift) == prefix) ++hist[c.key & (kLowBins - 1)];
      }
    }
  });
  return low.total();
}

// Masks of the candidates: 0 below tau, 1 from tau up; then the first
// `ties_pruned` keys equal to tau, in position order, get 0.
template <typename mask_t>
void write_candidates(const std::vector<mask_t*>& out,
                      const std::vector<Segment>& segments,
                      const std::vector<std::vector<Candidate>>& candidates,
                      int64_t count, uint32_t tau, int64_t ties_pruned) {
  const mask_t one = static_cast<mask_t>(1.0f);
  const mask_t zero = static_cast<mask_t>(0.0f);
  std::vector<int64_t> ties(segments.size(), 0);
  // A few thousand candidates (a banded select) are not worth waking the
  // other threads for.
  const int64_t n = static_cast<int64_t>(segments.size());
  at::parallel_for(0, n, count < kSegment ? n : 1,
                   [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      mask_t* m = out[segments[i].tensor] + segments[i].start;
      int64_t count = 0;
      for (const Candidate& c : candidates[i]) {
        m[c.offset] = c.key >= tau ? one : zero;
        count += c.key == tau;
      }
      ties[i] = count;
    }
  });
  for (size_t i = 0; i < segments.size() && ties_pruned > 0; ++i) {
    if (ties[i] == 0) continue;
    mask_t* m = out[segments[i].tensor] + segments[i].start;
    for (const Candidate& c : candidates[i]) {
      if (c.key == tau && ties_pruned > 0) {
        m[c.offset] = zero;
        --ties_pruned;
      }
    }
  }
}

}  // namespace

// The k-th smallest (1-based) of the candidates' keys and how many of the
// candidates below it are pruned: the first `ties` keys equal to it.
std::pair<uint32_t, int64_t> select_candidates(
    const std::vector<std::vector<Candidate>>& candidates, int64_t count,
    int64_t k) {
  std::vector<uint32_t> keys;
  keys.reserve(static_cast<size_t>(count));
  for (const auto& segment : candidates) {
    for (const Candidate& c : segment) keys.push_back(c.key);
  }
  std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end());
  const uint32_t tau = keys[k - 1];
  int64_t below = 0;
  for (int64_t i = 0; i < k - 1; ++i) below += keys[i] < tau;
  return {tau, k - below};
}

// Ranks of the band suggested for the next call: total / kBandShare above
// and below the threshold's rank.
constexpr int64_t kBandShare = 128;  // +- total / kBandShare ranks

struct Selection {
  bool ok = true;      // false: NaN (or inf, if refused) found, no write
  double tau = std::numeric_limits<double>::quiet_NaN();  // the k-th
                       // smallest score (NaN for k = 0 or k = total)
  bool in_band = false;  // the hint's band held it: pass 1 was saved
  int64_t candidates = 0;  // scores that were in the band
  double band_lo = std::numeric_limits<double>::quiet_NaN();  // suggested
  double band_hi = std::numeric_limits<double>::quiet_NaN();  // next band
};

// One selection of a call: k, its masks (as given, and the contiguous
// tensors written) and its hint band.
struct Request {
  int64_t k;
  std::vector<torch::Tensor> masks;
  std::vector<torch::Tensor> outputs;
  bool banded;
  double band_lo;
  double band_hi;
};

// The full select of one request, given the pass-1 histogram of the
// (screened) scores: pass 2, then the candidates.
template <typename mask_t>
void full_select(const std::vector<const float*>& data,
                 const std::vector<Segment>& segments, int64_t total,
                 const std::vector<int64_t>& hist,
                 const std::vector<mask_t*>& out, int64_t k,
                 Selection& result) {
  if (k == 0 || k == total) {
    const mask_t value = static_cast<mask_t>(k == 0 ? 1.0f : 0.0f);
    for (const Segment& seg : segments) {
      std::fill_n(out[seg.tensor] + seg.start, seg.length, value);
    }
    return;
  }
  const auto [bin, below_bin] = find_bin(hist, k);
  const uint32_t bin_lo = bin << kTopShift;
  const uint32_t bin_hi = bin_lo | ((1u << kTopShift) - 1);
  std::vector<std::vector<Candidate>> candidates(segments.size());
  const auto split = split_pass<mask_t, true>(
      data, segments, {{bin_lo, bin_hi, &out, &candidates}})[0];
  const auto& mid = split.mid;
  // Rank of the k-th smallest among the candidates, then within the
  // middle bin, then within the low bin: the keys equal to tau.
  const auto [mid_bin, below_mid] = find_bin(mid, k - below_bin);
  const uint32_t prefix = (bin << 11) | mid_bin;
  const auto low = low_histogram(candidates, prefix);
  const auto [low_bin, below_low] = find_bin(low, k - below_bin - below_mid);
  const uint32_t tau = (prefix << 10) | low_bin;
  write_candidates<mask_t>(out, segments, candidates, split.candidates, tau,
                           k - below_bin - below_mid - below_low);
  result.tau = key_float(tau);
  // The next band: the middle bins holding the ranks k -+ total /
  // kBandShare, clipped to the candidates of this bin.
  const int64_t reach = std::max<int64_t>(total / kBandShare, 1);
  const int64_t first = std::max<int64_t>(k - below_bin - reach, 1);
  const int64_t last =
      std::min<int64_t>(k - below_bin + reach, split.candidates);
  const uint32_t lo_mid = find_bin(mid, first).first;
  const uint32_t hi_mid = find_bin(mid, last).first;
  result.band_lo = key_float((bin << kTopShift) | (lo_mid << kMidShift));
  result.band_hi = key_float((bin << kTopShift) | (hi_mid << kMidShift) |
                             ((1u << kMidShift) - 1));
}

// Zeroes the k smallest scores for every (masks, k, band) request on the
// same scores; returns one Selection per request. Requests with a hint
// band (finite, ordered; 0 < k < total) share one banded pass over the
// scores; those it does not hold, and those without a band, run the full
// select. The bands decide which path runs, never the masks.
std::vector<Selection> prune_smallest_cpu(
    const std::vector<torch::Tensor>& scores,
    const std::vector<std::vector<torch::Tensor>>& mask_sets,
    const std::vector<int64_t>& ks, bool reject_infinite,
    const std::vector<double>& bands_lo,
    const std::vector<double>& bands_hi) {
  const size_t num = mask_sets.size();
  TORCH_CHECK(num >= 1 && ks.size() == num && bands_lo.size() == num &&
                  bands_hi.size() == num,
              "one k and one band per mask set are required");
  std::vector<torch::Tensor> contiguous;
  std::vector<const float*> data;
  int64_t total = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    TORCH_CHECK(scores[i].device().is_cpu(),
                "prune_smallest_cpu takes CPU tensors");
    TORCH_CHECK(scores[i].scalar_type() == at::kFloat,
                "native thresholding takes float32 scores");
    contiguous.push_back(scores[i].contiguous());
    data.push_back(contiguous.back().data_ptr<float>());
    total += scores[i].numel();
  }
  const auto dtype = mask_sets[0].empty() ? at::kFloat
                                          : mask_sets[0][0].scalar_type();
  std::vector<Request> requests(num);
  for (size_t r = 0; r < num; ++r) {
    Request& request = requests[r];
    const auto& masks = mask_sets[r];
    TORCH_CHECK(scores.size() == masks.size(),
                "one mask per score tensor is required");
    for (size_t i = 0; i < masks.size(); ++i) {
      TORCH_CHECK(masks[i].device().is_cpu(),
                  "prune_smallest_cpu takes CPU tensors");
      TORCH_CHECK(scores[i].sizes() == masks[i].sizes(),
                  "each mask must have the shape of its scores");
      TORCH_CHECK(masks[i].scalar_type() == dtype,
                  "all masks must share one dtype");
      request.outputs.push_back(
          masks[i].is_contiguous()
              ? masks[i]
              : torch::empty_like(masks[i], at::MemoryFormat::Contiguous));
    }
    request.masks = masks;
    request.k = std::min(std::max<int64_t>(ks[r], 0), total);
    request.band_lo = bands_lo[r];
    request.band_hi = bands_hi[r];
    request.banded = 0 < request.k && request.k < total &&
                     std::isfinite(request.band_lo) &&
                     std::isfinite(request.band_hi) &&
                     request.band_lo <= request.band_hi;
  }
  const std::vector<Segment> segments = make_segments(contiguous);
  std::vector<Selection> results(num);
  bool refused = false;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, dtype, "prune_smallest_cpu", [&] {
        std::vector<std::vector<scalar_t*>> out(num);
        for (size_t r = 0; r < num; ++r) {
          for (auto& o : requests[r].outputs) {
            out[r].push_back(o.data_ptr<scalar_t>());
          }
        }
        std::vector<bool> done(num, false);
        std::vector<size_t> banded;
        std::vector<SplitTarget<scalar_t>> targets;
        std::vector<std::vector<std::vector<Candidate>>> candidates(num);
        for (size_t r = 0; r < num; ++r) {
          if (!requests[r].banded) continue;
          candidates[r].resize(segments.size());
          banded.push_back(r);
          targets.push_back(
              {float_key(static_cast<float>(requests[r].band_lo)),
               float_key(static_cast<float>(requests[r].band_hi)), &out[r],
               &candidates[r]});
        }
        if (!targets.empty()) {
          const auto splits =
              split_pass<scalar_t, false>(data, segments, targets);
          // A non-finite score: every request runs the full select, whose
          // pass 1 screens (and rewrites every mask).
          const bool screened = splits[0].nonfinite == 0;
          for (size_t t = 0; t < banded.size() && screened; ++t) {
            const size_t r = banded[t];
            const int64_t k = requests[r].k;
            const auto& split = splits[t];
            results[r].candidates = split.candidates;
            if (split.below < k && k <= split.below + split.candidates) {
              const auto [tau, ties] = select_candidates(
                  candidates[r], split.candidates, k - split.below);
              write_candidates<scalar_t>(out[r], segments, candidates[r],
                                         split.candidates, tau, ties);
              results[r].tau = key_float(tau);
              results[r].in_band = true;
              done[r] = true;
            }
          }
        }
        // One pass 1 (histogram and screen) serves every full select.
        std::vector<int64_t> hist;
        for (size_t r = 0; r < num; ++r) {
          if (done[r]) continue;
          if (hist.empty()) {
            hist = top_histogram(data, segments, total);
            if (has_nonfinite(hist) &&
                (reject_infinite || has_nan(data, segments))) {
              refused = true;
              return;
            }
          }
          full_select<scalar_t>(data, segments, total, hist, out[r],
                                requests[r].k, results[r]);
        }
      });
  for (size_t r = 0; r < num; ++r) {
    if (refused) {
      results[r].ok = false;
      continue;
    }
    const Request& request = requests[r];
    for (size_t i = 0; i < request.masks.size(); ++i) {
      if (!request.outputs[i].is_same(request.masks[i])) {
        request.masks[i].copy_(request.outputs[i]);
      }
    }
  }
  return results;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  pybind11::class_<Selection>(m, "Selection")
      .def_readonly("ok", &Selection::ok)
      .def_readonly("tau", &Selection::tau)
      .def_readonly("in_band", &Selection::in_band)
      .def_readonly("candidates", &Selection::candidates)
      .def_readonly("band_lo", &Selection::band_lo)
      .def_readonly("band_hi", &Selection::band_hi);
  m.def("prune_smallest_", &prune_smallest_cpu,
        "Zero the k globally smallest scores (CPU), for every (mask set, "
        "k, band) on the same scores. Returns one Selection each: ok is "
        "false if some score is NaN (or infinite, with reject_infinite); "
        "nothing was written then unless a band was given. band_lo / "
        "band_hi, when finite, is a band worth passing with the next call "
        "on slightly changed scores.",
        pybind11::arg("scores"), pybind11::arg("mask_sets"),
        pybind11::arg("ks"), pybind11::arg("reject_infinite"),
        pybind11::arg("bands_lo"), pybind11::arg("bands_hi"));
}
