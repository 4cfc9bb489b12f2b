// CPU implementation of the global-threshold contract of
// torch_geometric_ugt/threshold.py: zero the k smallest scores over a list
// of float32 tensors, ordered by (value, global position), -0.0 == +0.0.
//
// Radix select on order-preserving uint32 keys without concatenating:
//   pass 1: per-thread histograms of the top 11 key bits (Narrow; 16 bits,
//           Wide, for several counts over many scores); the bin B that
//           holds the k-th smallest is found;
//   pass 2: every score outside B gets its mask (0 below B, 1 above), the
//           keys in B are gathered per segment, in position order, and
//           histogrammed on their next 11 (8) bits;
//   then the gathered keys (up to a sixth of all keys for typical score
//   distributions with Narrow: B spans a quarter of an octave; a 32nd of
//   that with Wide) are radix-selected on their last 10 (8) bits and their
//   masks written, in parallel over the segments; the ties at the
//   threshold that must go (the first ones in position order) are spread
//   over the segments by a prefix sum of their tie counts and pruned in
//   parallel too.
// Non-finite scores are screened from the histogram of pass 1 (their keys
// have bins of their own), so validation costs no extra pass, and it ends
// before any mask is written: a refused call leaves the masks untouched.
#include <torch/library.h>
#include <ATen/ATen.h>

#include "operator.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
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

struct Segment {
  int tensor;
  int64_t start;
  int64_t length;
};

std::vector<Segment> make_segments(const std::vector<at::Tensor>& scores) {
  std::vector<Segment> segments;
  for (int t = 0; t < static_cast<int>(scores.size()); ++t) {
    const int64_t n = scores[t].numel();
    for (int64_t s = 0; s < n; s += kSegment) {
      segments.push_back({t, s, std::min(kSegment, n - s)});
    }
  }
  return segments;
}

// The digits of the radix select: a key's top kBits (histogrammed in
// pass 1), then its middle and low bits (resolved on the candidates).
template <int kBits>
struct Radix {
  static constexpr int kTopShift = 32 - kBits;
  static constexpr int kTopBins = 1 << kBits;
  // Keys of -inf and negative NaNs fall in the first kNonFiniteBins top
  // bins, +inf and positive NaNs in the last ones, and no finite value
  // does: the histogram screens for non-finite scores at no extra cost.
  static constexpr int kNonFiniteBins = 1 << (kBits - 9);
  static constexpr int kMidBits = (kTopShift + 1) / 2;
  static constexpr int kLowBits = kTopShift - kMidBits;
  static constexpr int kMidShift = kLowBits;
  static constexpr int kMidBins = 1 << kMidBits;
  static constexpr int kLowBins = 1 << kLowBits;
  // interleaved sub-histograms per thread in pass 1 (fewer for the wide
  // one, whose size costs more than its chains of increments)
  static constexpr int kLanes = kBits > 11 ? 2 : 4;
};
// One selection, or several over few scores: 2048 top bins (a quarter of
// an octave each; a small histogram to clear and sum).
using Narrow = Radix<11>;
// Several selections over many scores: 65536 top bins, so that the keys
// in the cuts' bins (the candidates, finished in a second pass over them
// and touching the masks again) stay few whatever the number of cuts.
using Wide = Radix<16>;
// (from about half a million scores on, where it measured faster)
constexpr int64_t kWideFrom = int64_t{1} << 19;

struct Candidate {
  uint32_t key;
  uint32_t offset;  // within the segment
};

template <typename R, typename count_t>
std::vector<int64_t> top_histogram_impl(const std::vector<const float*>& data,
                                        const std::vector<Segment>& segments) {
  const int threads = at::get_num_threads();
  // kLanes interleaved sub-histograms per thread break the dependency
  // chains of repeated increments of one (hot) bin.
  constexpr int kLanes = R::kLanes;
  const size_t per_thread = static_cast<size_t>(kLanes) * R::kTopBins;
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
          ++hist[lane * R::kTopBins +
                 (float_key(p[j + lane]) >> R::kTopShift)];
        }
      }
      for (; j < n; ++j) ++hist[float_key(p[j]) >> R::kTopShift];
    }
  });
  std::vector<int64_t> total(R::kTopBins, 0);
  for (int t = 0; t < threads * kLanes; ++t) {
    const count_t* hist = local.data() + static_cast<size_t>(t) * R::kTopBins;
    for (int b = 0; b < R::kTopBins; ++b) total[b] += hist[b];
  }
  return total;
}

template <typename R>
std::vector<int64_t> top_histogram(const std::vector<const float*>& data,
                                   const std::vector<Segment>& segments,
                                   int64_t total) {
  // 32-bit counters halve the histograms' cache footprint; they cannot
  // overflow below 2^32 elements.
  if (total < (int64_t{1} << 32)) {
    return top_histogram_impl<R, uint32_t>(data, segments);
  }
  return top_histogram_impl<R, int64_t>(data, segments);
}

template <typename R>
bool has_nonfinite(const std::vector<int64_t>& hist) {
  for (int b = 0; b < R::kNonFiniteBins; ++b) {
    if (hist[b] != 0 || hist[R::kTopBins - 1 - b] != 0) return true;
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

// What pass 2 counted besides the candidates.
struct SplitCounts {
  std::vector<int64_t> mid;  // histogram of the candidates' middle bits
  int64_t candidates = 0;    // keys inside the bin
};

// Pass 2: masks outside the key range [lo, hi] (0 below, 1 above),
// candidates inside it in position order, and the histogram of the
// candidates' middle bits. The loops are branch-free (the first
// vectorises, the second compacts the candidates into a per-thread scratch
// buffer), so the cost does not depend on how unpredictable the threshold
// comparisons are.
template <typename R, typename mask_t>
SplitCounts split_pass(const std::vector<const float*>& data,
                       const std::vector<Segment>& segments, uint32_t lo,
                       uint32_t hi, const std::vector<mask_t*>& out,
                       std::vector<std::vector<Candidate>>& candidates) {
  ThreadHistograms mid(R::kMidBins);
  ThreadHistograms counts(1);
  const uint32_t span = hi - lo;
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
      mask_t* __restrict__ m = out[seg.tensor] + seg.start;
      for (int64_t j = 0; j < n; ++j) {
        // Arithmetic, not a branch: vectorises for float masks.
        m[j] = static_cast<mask_t>(static_cast<float>(float_key(p[j]) > hi));
      }
      Candidate* __restrict__ buffer = scratch.get();
      int64_t count = 0;
      for (int64_t j = 0; j < n; ++j) {
        const uint32_t key = float_key(p[j]);
        buffer[count] = {key, static_cast<uint32_t>(j)};
        count += key - lo <= span;
      }
      for (int64_t j = 0; j < count; ++j) {
        ++hist[(buffer[j].key >> R::kMidShift) & (R::kMidBins - 1)];
      }
      local[0] += count;
      candidates[i].assign(buffer, buffer + count);
    }
  });
  SplitCounts result;
  result.candidates = counts.total()[0];
  result.mid = mid.total();
  return result;
}

// Histogram of the last 10 bits of the candidates whose upper 22 bits are
// `prefix`.
template <typename R>
std::vector<int64_t> low_histogram(
    const std::vector<std::vector<Candidate>>& candidates, uint32_t prefix) {
  ThreadHistograms low(R::kLowBins);
  at::parallel_for(0, static_cast<int64_t>(candidates.size()), 1,
                   [&](int64_t begin, int64_t end) {
    int64_t* hist = low.local();
    for (int64_t i = begin; i < end; ++i) {
      for (const Candidate& c : candidates[i]) {
        if ((c.key >> R::kMidShift) == prefix) {
          ++hist[c.key & (R::kLowBins - 1)];
        }
      }
    }
  });
  return low.total();
}

// The first `pruned` keys equal to a threshold, in position order, are
// spread over the segments by a prefix sum of their tie counts: segment i
// prunes what the segments before it left, up to its own ties. Entry
// i * stride + c is segment i's count (and quota) for cut c.
void tie_quotas(const std::vector<int64_t>& ties, int64_t stride,
                int64_t cut, int64_t pruned, std::vector<int64_t>& quotas) {
  for (size_t i = cut; i < ties.size() && pruned > 0; i += stride) {
    quotas[i] = std::min(ties[i], pruned);
    pruned -= quotas[i];
  }
}

// Masks of the candidates: 0 below tau, 1 from tau up; then the first
// `ties_pruned` keys equal to tau, in position order, get 0 (each segment
// its quota, in parallel).
template <typename mask_t>
void write_candidates(const std::vector<mask_t*>& out,
                      const std::vector<Segment>& segments,
                      const std::vector<std::vector<Candidate>>& candidates,
                      int64_t count, uint32_t tau, int64_t ties_pruned) {
  const mask_t one = static_cast<mask_t>(1.0f);
  const mask_t zero = static_cast<mask_t>(0.0f);
  std::vector<int64_t> ties(segments.size(), 0);
  // A few thousand candidates are not worth waking the other threads for.
  const int64_t n = static_cast<int64_t>(segments.size());
  const int64_t grain = count < kSegment ? n : 1;
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
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
  if (ties_pruned == 0) return;
  std::vector<int64_t> quota(ties.size(), 0);
  tie_quotas(ties, 1, 0, ties_pruned, quota);
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t left = quota[i];
      mask_t* m = out[segments[i].tensor] + segments[i].start;
      for (auto c = candidates[i].begin(); left > 0; ++c) {
        if (c->key == tau) {
          m[c->offset] = zero;
          --left;
        }
      }
    }
  });
}

// The select, given the pass-1 histogram of the (screened) scores: pass 2,
// then the candidates.
template <typename R, typename mask_t>
void select(const std::vector<const float*>& data,
            const std::vector<Segment>& segments, int64_t total,
            const std::vector<int64_t>& hist, const std::vector<mask_t*>& out,
            int64_t k) {
  if (k == 0 || k == total) {
    const mask_t value = static_cast<mask_t>(k == 0 ? 1.0f : 0.0f);
    for (const Segment& seg : segments) {
      std::fill_n(out[seg.tensor] + seg.start, seg.length, value);
    }
    return;
  }
  const auto [bin, below_bin] = find_bin(hist, k);
  const uint32_t bin_lo = bin << R::kTopShift;
  const uint32_t bin_hi = bin_lo | ((1u << R::kTopShift) - 1);
  std::vector<std::vector<Candidate>> candidates(segments.size());
  const auto split =
      split_pass<R, mask_t>(data, segments, bin_lo, bin_hi, out, candidates);
  // Rank of the k-th smallest among the candidates, then within the
  // middle bin, then within the low bin: the keys equal to tau.
  const auto [mid_bin, below_mid] = find_bin(split.mid, k - below_bin);
  const uint32_t prefix = (bin << R::kMidBits) | mid_bin;
  const auto low = low_histogram<R>(candidates, prefix);
  const auto [low_bin, below_low] = find_bin(low, k - below_bin - below_mid);
  const uint32_t tau = (prefix << R::kLowBits) | low_bin;
  write_candidates<mask_t>(out, segments, candidates, split.candidates, tau,
                           k - below_bin - below_mid - below_low);
}

// Multicoated masks: C counts k_c, each coat the exact selection of its
// own k_c, every mask entry the share of coats that keep it. One pass 1
// (shared, above), then one merged pass 2: each key's level is the number
// of coats whose threshold bin lies below it, written at once, and the
// keys in any coat's bin are gathered (tagged with that level) and
// finished per coat as in select(): one pass over the scores for all
// coats (docs/kernel.md measures the cost against one selection).
struct CoatCut {
  uint32_t bin;        // the top bin holding the k-th smallest
  int64_t below;       // keys below that bin
  int64_t k;
  int slot;            // index of its bin among the distinct bins
};

// m[j] = float32(always + #{c : key_j > his[c]}) / share, with the number
// of cuts known at compile time up to 4 (so the loop vectorises).
template <typename mask_t, int kCuts>
void write_levels_fixed(const float* __restrict__ p, mask_t* __restrict__ m,
                        int64_t n, const uint32_t* his, uint32_t always,
                        float share) {
  uint32_t cut[kCuts > 0 ? kCuts : 1];
  for (int c = 0; c < kCuts; ++c) cut[c] = his[c];
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t key = float_key(p[j]);
    uint32_t level = always;
    for (int c = 0; c < kCuts; ++c) level += key > cut[c];
    m[j] = static_cast<mask_t>(static_cast<float>(level) / share);
  }
}

template <typename mask_t>
void write_levels(const float* p, mask_t* m, int64_t n, const uint32_t* his,
                  int cuts, uint32_t always, float share) {
  switch (cuts) {
    case 0: return write_levels_fixed<mask_t, 0>(p, m, n, his, always, share);
    case 1: return write_levels_fixed<mask_t, 1>(p, m, n, his, always, share);
    case 2: return write_levels_fixed<mask_t, 2>(p, m, n, his, always, share);
    case 3: return write_levels_fixed<mask_t, 3>(p, m, n, his, always, share);
    case 4: return write_levels_fixed<mask_t, 4>(p, m, n, his, always, share);
    default: break;
  }
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t key = float_key(p[j]);
    uint32_t level = always;
    for (int c = 0; c < cuts; ++c) level += key > his[c];
    m[j] = static_cast<mask_t>(static_cast<float>(level) / share);
  }
}

template <typename R, typename mask_t>
void select_levels(const std::vector<const float*>& data,
                   const std::vector<Segment>& segments, int64_t total,
                   const std::vector<int64_t>& hist,
                   const std::vector<mask_t*>& out,
                   const std::vector<int64_t>& ks) {
  const int coats = static_cast<int>(ks.size());
  // value of a level l: float32(l) / float32(C), in the mask's dtype
  std::vector<mask_t> value(coats + 1);
  for (int l = 0; l <= coats; ++l) {
    value[l] = static_cast<mask_t>(static_cast<float>(l) /
                                   static_cast<float>(coats));
  }
  int always = 0;  // coats with k = 0 keep every key
  std::vector<CoatCut> cuts;
  std::vector<uint32_t> bins;  // distinct bins of the cuts
  for (int64_t k : ks) {
    if (k == 0) {
      ++always;
    } else if (k < total) {
      const auto [bin, below] = find_bin(hist, k);
      auto at = std::find(bins.begin(), bins.end(), bin);
      if (at == bins.end()) at = bins.insert(bins.end(), bin);
      cuts.push_back({bin, below, k, static_cast<int>(at - bins.begin())});
    }  // k == total: the coat keeps nothing
  }
  const int slots = static_cast<int>(bins.size());
  std::vector<int16_t> slot_of(R::kTopBins, -1);
  for (int s = 0; s < slots; ++s) slot_of[bins[s]] = static_cast<int16_t>(s);
  std::vector<uint32_t> his;  // each cut's bin's last key
  for (const CoatCut& c : cuts) {
    his.push_back((c.bin << R::kTopShift) | ((1u << R::kTopShift) - 1));
  }
  const int ncuts = static_cast<int>(cuts.size());
  const float share = static_cast<float>(coats);

  // Merged pass 2: levels outside the cut bins, candidates inside them
  // (with the level of the cuts below), kept per segment and per bin
  // (slot) in position order, and per-slot histograms of their middle 11
  // bits.
  struct Tagged {
    uint32_t key;
    uint32_t offset;
    int32_t level;
  };
  const int64_t nseg = static_cast<int64_t>(segments.size());
  const int64_t nslot = std::max(slots, 1);
  // tagged[i * nslot + slot]: segment i's candidates in that slot's bin
  std::vector<std::vector<Tagged>> tagged(nseg * nslot);
  ThreadHistograms mid(nslot * R::kMidBins);
  std::vector<uint8_t> is_candidate(R::kTopBins, 0);
  for (uint32_t b : bins) is_candidate[b] = 1;
  at::parallel_for(0, nseg, 1, [&](int64_t begin, int64_t end) {
    // Uninitialised on purpose: only the first `count` entries are read.
    std::unique_ptr<Candidate[]> scratch(new Candidate[kSegment]);
    std::vector<int64_t> per_slot(nslot);
    int64_t* hist_mid = mid.local();
    for (int64_t i = begin; i < end; ++i) {
      const Segment& seg = segments[i];
      const float* __restrict__ p = data[seg.tensor] + seg.start;
      mask_t* __restrict__ m = out[seg.tensor] + seg.start;
      const int64_t n = seg.length;
      // Levels: branch-free comparisons with each cut's last key, and
      // float32(level) / float32(C) (vectorises for float masks).
      write_levels<mask_t>(p, m, n, his.data(), ncuts, always, share);
      // Candidates, compacted branch-free, then tagged into their slot.
      Candidate* __restrict__ buffer = scratch.get();
      int64_t count = 0;
      for (int64_t j = 0; j < n; ++j) {
        const uint32_t key = float_key(p[j]);
        buffer[count] = {key, static_cast<uint32_t>(j)};
        count += is_candidate[key >> R::kTopShift];
      }
      std::fill(per_slot.begin(), per_slot.end(), 0);
      for (int64_t j = 0; j < count; ++j) {
        ++per_slot[slot_of[buffer[j].key >> R::kTopShift]];
      }
      for (int64_t s = 0; s < nslot; ++s) {
        tagged[i * nslot + s].reserve(per_slot[s]);
      }
      for (int64_t j = 0; j < count; ++j) {
        const uint32_t key = buffer[j].key;
        const int slot = slot_of[key >> R::kTopShift];
        int level = always;
        for (int c = 0; c < ncuts; ++c) level += key > his[c];
        tagged[i * nslot + slot].push_back({key, buffer[j].offset, level});
        ++hist_mid[slot * R::kMidBins +
                   ((key >> R::kMidShift) & (R::kMidBins - 1))];
      }
    }
  });
  const std::vector<int64_t> mids = mid.total();
  // Per cut: the prefix of its middle bin, then (one pass over its slot's
  // candidates) its low histogram, threshold key tau and the ties at tau
  // it prunes.
  std::vector<uint32_t> prefixes(ncuts);
  std::vector<int64_t> ranks(ncuts);  // of tau among the prefix's keys
  for (int c = 0; c < ncuts; ++c) {
    const CoatCut& cut = cuts[c];
    const std::vector<int64_t> local(
        mids.begin() + cut.slot * R::kMidBins,
        mids.begin() + (cut.slot + 1) * R::kMidBins);
    const auto [mid_bin, below_mid] = find_bin(local, cut.k - cut.below);
    prefixes[c] = (cut.bin << R::kMidBits) | mid_bin;
    ranks[c] = cut.k - cut.below - below_mid;
  }
  ThreadHistograms lows(std::max(ncuts, 1) * R::kLowBins);
  at::parallel_for(0, nseg, 1, [&](int64_t begin, int64_t end) {
    int64_t* hist = lows.local();
    for (int64_t i = begin; i < end; ++i) {
      for (int c = 0; c < ncuts; ++c) {
        int64_t* mine = hist + c * R::kLowBins;
        for (const Tagged& t : tagged[i * nslot + cuts[c].slot]) {
          if ((t.key >> R::kMidShift) == prefixes[c]) {
            ++mine[t.key & (R::kLowBins - 1)];
          }
        }
      }
    }
  });
  const std::vector<int64_t> low = lows.total();
  std::vector<uint32_t> taus(ncuts);
  std::vector<int64_t> ties_pruned(ncuts);
  for (int c = 0; c < ncuts; ++c) {
    const std::vector<int64_t> local(low.begin() + c * R::kLowBins,
                                     low.begin() + (c + 1) * R::kLowBins);
    const auto [low_bin, below_low] = find_bin(local, ranks[c]);
    taus[c] = (prefixes[c] << R::kLowBits) | low_bin;
    ties_pruned[c] = ranks[c] - below_low;
  }
  // Candidates (in parallel): the cuts of their own bin keep keys from
  // tau up; each segment counts its keys equal to each cut's tau. Then
  // the first ties_pruned of them, in position order, lose that cut: each
  // segment its quota (tie_quotas), in parallel.
  std::vector<std::vector<int>> cuts_of_slot(nslot);
  for (int c = 0; c < ncuts; ++c) cuts_of_slot[cuts[c].slot].push_back(c);
  std::vector<int64_t> ties(static_cast<size_t>(nseg) * ncuts, 0);
  at::parallel_for(0, nseg, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      mask_t* m = out[segments[i].tensor] + segments[i].start;
      int64_t* mine = ties.data() + i * ncuts;
      for (int64_t s = 0; s < nslot; ++s) {
        for (Tagged& t : tagged[i * nslot + s]) {
          for (int c : cuts_of_slot[s]) {
            t.level += t.key >= taus[c];
            mine[c] += t.key == taus[c];
          }
          m[t.offset] = value[t.level];
        }
      }
    }
  });
  std::vector<int64_t> quota(ties.size(), 0);
  for (int c = 0; c < ncuts; ++c) {
    tie_quotas(ties, ncuts, c, ties_pruned[c], quota);
  }
  at::parallel_for(0, nseg, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      mask_t* m = out[segments[i].tensor] + segments[i].start;
      for (int c = 0; c < ncuts; ++c) {
        int64_t left = quota[i * ncuts + c];
        auto t = tagged[i * nslot + cuts[c].slot].begin();
        for (; left > 0; ++t) {
          if (t->key == taus[c]) {
            --left;
            --t->level;
            m[t->offset] = value[t->level];
          }
        }
      }
    }
  });
}


// Pass 1 screens the scores, then the masks are written (into contiguous
// outputs, returned): a refused call writes nothing.
template <typename R>
std::vector<at::Tensor> screen_and_select(
    const std::vector<const float*>& data,
    const std::vector<Segment>& segments, int64_t total,
    at::TensorList masks, const std::vector<int64_t>& ks,
    bool reject_infinite) {
  const std::vector<int64_t> hist = top_histogram<R>(data, segments, total);
  TORCH_CHECK_VALUE(!(has_nonfinite<R>(hist) &&
                      (reject_infinite || has_nan(data, segments))),
                    "non-finite scores: no mask was written");
  std::vector<at::Tensor> outputs;
  for (const auto& mask : masks) {
    outputs.push_back(
        mask.is_contiguous()
            ? mask
            : at::empty_like(mask, at::MemoryFormat::Contiguous));
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, masks[0].scalar_type(), "prune_smallest_cpu",
      [&] {
        std::vector<scalar_t*> out;
        for (auto& o : outputs) out.push_back(o.data_ptr<scalar_t>());
        if (ks.size() == 1) {
          select<R, scalar_t>(data, segments, total, hist, out, ks[0]);
        } else {
          select_levels<R, scalar_t>(data, segments, total, hist, out, ks);
        }
      });
  return outputs;
}

}  // namespace

// Zeroes the k smallest scores (ties by position) over all tensors. Throws
// a ValueError, having written nothing, if a score is NaN (or infinite,
// with reject_infinite).
void prune_smallest_cpu(at::TensorList scores, at::TensorList masks,
                        const at::Tensor& count, bool reject_infinite) {
  std::vector<int64_t> ks = ugt::counts_of(count);
  TORCH_CHECK(scores.size() == masks.size(),
              "one mask per score tensor is required");
  std::vector<at::Tensor> contiguous;
  std::vector<const float*> data;
  int64_t total = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    TORCH_CHECK(scores[i].device().is_cpu() && masks[i].device().is_cpu(),
                "prune_smallest_cpu takes CPU tensors");
    TORCH_CHECK(scores[i].scalar_type() == at::kFloat,
                "native thresholding takes float32 scores");
    TORCH_CHECK(scores[i].sizes() == masks[i].sizes(),
                "each mask must have the shape of its scores");
    TORCH_CHECK(masks[i].scalar_type() == masks[0].scalar_type(),
                "all masks must share one dtype");
    contiguous.push_back(scores[i].contiguous());
    data.push_back(contiguous.back().data_ptr<float>());
    total += scores[i].numel();
  }
  if (scores.empty()) return;
  for (int64_t& k : ks) k = std::min(std::max<int64_t>(k, 0), total);
  const std::vector<Segment> segments = make_segments(contiguous);
  // Several selections over many scores take the wide histogram.
  const std::vector<at::Tensor> outputs =
      ks.size() > 1 && total >= kWideFrom
          ? screen_and_select<Wide>(data, segments, total, masks, ks,
                                    reject_infinite)
          : screen_and_select<Narrow>(data, segments, total, masks, ks,
                                      reject_infinite);
  for (size_t i = 0; i < masks.size(); ++i) {
    if (!outputs[i].is_same(masks[i])) masks[i].copy_(outputs[i]);
  }
  ugt::bump_versions(masks);
}

// The CPU kernel of torch.ops.torch_geometric_ugt.prune_smallest_, whose
// schema (the masks are mutated arguments) and fake kernel are declared
// once, in torch_geometric_ugt/ops.py.
TORCH_LIBRARY_IMPL(torch_geometric_ugt, CPU, m) {
  m.impl("prune_smallest_", &prune_smallest_cpu);
}
