// CPU implementation of the global-threshold contract of
// torch_geometric_ugt/threshold.py: zero the k smallest scores over a list
// of float32 tensors, ordered by (value, global position), -0.0 == +0.0.
//
// Radix select on order-preserving uint32 keys without concatenating:
//   passes 1-3: per-thread histograms of one radix digit (11, 11, 10 bits)
//           of the keys that share the digits chosen so far;
//   pass 4: write every mask, comparing floats (a tie prefix per segment only when some, but
//           not all, scores equal to the threshold must go).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

constexpr int64_t kSegment = 1 << 15;  // elements per work item

inline uint32_t float_key(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if (bits == 0x80000000u) bits = 0;  // -0.0 == +0.0
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

inline bool is_nan(float value) { return value != value; }

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

// One radix digit: bits [shift, shift + bits) of the key, counted over keys
// whose bits above the digit equal `prefix` (all keys for the top digit).
struct Digit {
  int shift;
  int bits;
};
constexpr Digit kDigits[3] = {{21, 11}, {10, 11}, {0, 10}};

std::vector<int64_t> histogram(const std::vector<const float*>& data,
                               const std::vector<Segment>& segments,
                               Digit digit, uint32_t prefix, bool top,
                               bool* saw_nan) {
  const int threads = at::get_num_threads();
  const int bins = 1 << digit.bits;
  const uint32_t digit_mask = static_cast<uint32_t>(bins - 1);
  const int above = digit.shift + digit.bits;
  std::vector<int64_t> local(static_cast<size_t>(threads) * bins, 0);
  std::vector<char> nan_flags(threads, 0);
  at::parallel_for(0, static_cast<int64_t>(segments.size()), 1,
                   [&](int64_t begin, int64_t end) {
    const int tid = at::get_thread_num();
    int64_t* hist = local.data() + static_cast<size_t>(tid) * bins;
    char nan = 0;
    for (int64_t i = begin; i < end; ++i) {
      const Segment& seg = segments[i];
      const float* p = data[seg.tensor] + seg.start;
      if (top) {
        for (int64_t j = 0; j < seg.length; ++j) {
          nan |= is_nan(p[j]);
          ++hist[float_key(p[j]) >> digit.shift];
        }
      } else {
        for (int64_t j = 0; j < seg.length; ++j) {
          const uint32_t key = float_key(p[j]);
          if ((key >> above) == prefix) {
            ++hist[(key >> digit.shift) & digit_mask];
          }
        }
      }
    }
    nan_flags[tid] |= nan;
  });
  std::vector<int64_t> total(bins, 0);
  for (int t = 0; t < threads; ++t) {
    const int64_t* hist = local.data() + static_cast<size_t>(t) * bins;
    for (int b = 0; b < bins; ++b) total[b] += hist[b];
    if (saw_nan != nullptr && nan_flags[t]) *saw_nan = true;
  }
  return total;
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

inline float key_float(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

template <typename mask_t>
void write_masks(const std::vector<const float*>& data,
                 const std::vector<mask_t*>& out,
                 const std::vector<Segment>& segments, float tau,
                 int64_t tie_budget, bool prune_all_ties) {
  // Keys order like floats with -0.0 == +0.0, so compare floats directly.
  const int64_t num_segments = static_cast<int64_t>(segments.size());
  // Ties pruned before each segment (only when ties must be split).
  std::vector<int64_t> tie_prefix;
  if (!prune_all_ties) {
    std::vector<int64_t> ties(num_segments, 0);
    at::parallel_for(0, num_segments, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const Segment& seg = segments[i];
        const float* p = data[seg.tensor] + seg.start;
        int64_t count = 0;
        for (int64_t j = 0; j < seg.length; ++j) count += p[j] == tau;
        ties[i] = count;
      }
    });
    tie_prefix.assign(num_segments, 0);
    int64_t running = 0;
    for (int64_t i = 0; i < num_segments; ++i) {
      tie_prefix[i] = running;
      running += ties[i];
    }
  }
  const mask_t one = static_cast<mask_t>(1.0f);
  const mask_t zero = static_cast<mask_t>(0.0f);
  at::parallel_for(0, num_segments, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Segment& seg = segments[i];
      const float* p = data[seg.tensor] + seg.start;
      mask_t* m = out[seg.tensor] + seg.start;
      if (prune_all_ties) {
        for (int64_t j = 0; j < seg.length; ++j) {
          m[j] = p[j] > tau ? one : zero;
        }
      } else {
        int64_t seen = tie_prefix[i];
        for (int64_t j = 0; j < seg.length; ++j) {
          if (p[j] == tau) {
            m[j] = seen < tie_budget ? zero : one;
            ++seen;
          } else {
            m[j] = p[j] > tau ? one : zero;
          }
        }
      }
    }
  });
}

}  // namespace

void prune_smallest_cpu(const std::vector<torch::Tensor>& scores,
                        const std::vector<torch::Tensor>& masks, int64_t k) {
  TORCH_CHECK(scores.size() == masks.size(),
              "one mask per score tensor is required");
  std::vector<torch::Tensor> contiguous;
  std::vector<const float*> data;
  int64_t total = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    TORCH_CHECK(scores[i].device().is_cpu() && masks[i].device().is_cpu(),
                "prune_smallest_cpu takes CPU tensors");
    TORCH_CHECK(scores[i].scalar_type() == at::kFloat,
                "native thresholding takes float32 scores");
    TORCH_CHECK(scores[i].sizes() == masks[i].sizes(),
                "each mask must have the shape of its scores");
    contiguous.push_back(scores[i].contiguous());
    data.push_back(contiguous.back().data_ptr<float>());
    total += scores[i].numel();
  }
  k = std::min(std::max<int64_t>(k, 0), total);
  if (k == 0 || k == total) {
    for (const auto& mask : masks) mask.fill_(k == 0 ? 1.0 : 0.0);
    return;
  }
  const std::vector<Segment> segments = make_segments(contiguous);

  bool saw_nan = false;
  uint32_t prefix = 0;
  int64_t rank = k;  // 1-based rank of the threshold among the candidates
  int64_t below = 0;
  int64_t equal = 0;
  for (int d = 0; d < 3; ++d) {
    const auto hist = histogram(data, segments, kDigits[d], prefix, d == 0,
                                d == 0 ? &saw_nan : nullptr);
    TORCH_CHECK(!saw_nan, "scores contain NaN; no mask can be chosen");
    const auto [bin, before] = find_bin(hist, rank);
    prefix = (prefix << kDigits[d].bits) | bin;
    rank -= before;
    below += before;
    equal = hist[bin];
  }
  const float tau = key_float(prefix);
  const int64_t tie_budget = k - below;  // 1 <= tie_budget <= equal
  const bool prune_all_ties = tie_budget == equal;

  std::vector<torch::Tensor> outputs;
  for (const auto& mask : masks) {
    outputs.push_back(mask.is_contiguous() ? mask
                                           : torch::empty_like(
                                                 mask, at::MemoryFormat::Contiguous));
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, masks.empty() ? at::kFloat : masks[0].scalar_type(),
      "prune_smallest_cpu", [&] {
        std::vector<scalar_t*> out;
        for (auto& o : outputs) {
          TORCH_CHECK(o.scalar_type() == outputs[0].scalar_type(),
                      "all masks must share one dtype");
          out.push_back(o.data_ptr<scalar_t>());
        }
        write_masks<scalar_t>(data, out, segments, tau, tie_budget,
                              prune_all_ties);
      });
  for (size_t i = 0; i < masks.size(); ++i) {
    if (!outputs[i].is_same(masks[i])) masks[i].copy_(outputs[i]);
  }
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("prune_smallest_", &prune_smallest_cpu,
        "Zero the k globally smallest scores (CPU)");
}
