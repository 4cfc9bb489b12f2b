// torch_geometric_ugt::sparse_linear: y = x W^T + b for a weight W stored
// in CSR (one row per output channel), the product that a model squashed
// with squash(model, sparse=True) runs.
//
// A ticket's layer keeps few weights per output channel, and a GNN layer
// multiplies them with many nodes. So the nodes are taken in tiles of
// kTile: the tile's inputs are transposed into a buffer x_t (in x kTile,
// in the L1/L2 cache), and every output channel o accumulates
//     y_t[o, :] = b[o] + sum_{p in row o} values[p] * x_t[indices[p], :]
// as kTile-wide vector multiply-adds; y_t is transposed back into the
// output rows. The work is nnz * nodes multiply-adds plus one pass over the
// inputs and outputs (float tiles with AVX2 transpose in 8 x 8 register
// blocks); tiles run in parallel. Accumulation is in float (double for
// double inputs); half and bfloat16 are converted on the way.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

namespace {

constexpr int64_t kTile = 16;

// The multiply-adds of one tile (see above), on vectors of kBytes bytes
// (GCC/Clang vector extensions: 16 is SSE2 / NEON, 32 is AVX).
template <typename acc_t, int kBytes>
__attribute__((always_inline)) inline void tile_product_body(
    const acc_t* __restrict__ x_t, const int64_t* __restrict__ indptr,
    const int32_t* __restrict__ indices, const acc_t* __restrict__ values,
    const acc_t* __restrict__ bias, int64_t out_features,
    acc_t* __restrict__ y_t) {
  typedef acc_t vec __attribute__((vector_size(kBytes)));
  constexpr int64_t kLanes = kBytes / sizeof(acc_t);
  constexpr int64_t kVectors = kTile / kLanes;
  static_assert(kTile % kLanes == 0, "a tile is whole vectors");
  // kChains independent sums per output channel (nonzeros p, p + 1, ...
  // go to different ones), so that consecutive multiply-adds do not wait
  // for each other's results.
  constexpr int64_t kChains = 4;
  for (int64_t o = 0; o < out_features; ++o) {
    vec acc[kChains][kVectors];
    const acc_t start = bias != nullptr ? bias[o] : acc_t(0);
    for (int64_t v = 0; v < kVectors; ++v) {
      acc[0][v] = vec{} + start;
      for (int64_t c = 1; c < kChains; ++c) acc[c][v] = vec{};
    }
    const int64_t end = indptr[o + 1];
    int64_t p = indptr[o];
    for (; p + kChains <= end; p += kChains) {
      for (int64_t c = 0; c < kChains; ++c) {
        const vec w = vec{} + values[p + c];
        const acc_t* x = x_t + static_cast<int64_t>(indices[p + c]) * kTile;
        for (int64_t v = 0; v < kVectors; ++v) {
          vec xv;
          __builtin_memcpy(&xv, x + v * kLanes, sizeof(vec));
          acc[c][v] += w * xv;
        }
      }
    }
    for (; p < end; ++p) {
      const vec w = vec{} + values[p];
      const acc_t* x = x_t + static_cast<int64_t>(indices[p]) * kTile;
      for (int64_t v = 0; v < kVectors; ++v) {
        vec xv;
        __builtin_memcpy(&xv, x + v * kLanes, sizeof(vec));
        acc[0][v] += w * xv;
      }
    }
    for (int64_t v = 0; v < kVectors; ++v) {
      vec sum = acc[0][v];
      for (int64_t c = 1; c < kChains; ++c) sum += acc[c][v];
      __builtin_memcpy(y_t + o * kTile + v * kLanes, &sum, sizeof(vec));
    }
  }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define UGT_X86 1
// AVX2 + FMA code, chosen at run time on the CPUs that have them (the
// library itself is built for the baseline instruction set).
template <typename acc_t>
__attribute__((target("avx2,fma"))) void tile_product_avx2(
    const acc_t* x_t, const int64_t* indptr, const int32_t* indices,
    const acc_t* values, const acc_t* bias, int64_t out_features,
    acc_t* y_t) {
  tile_product_body<acc_t, 32>(x_t, indptr, indices, values, bias,
                               out_features, y_t);
}

bool has_avx2() {
  static const bool found =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return found;
}
#endif

template <typename acc_t>
void tile_product(const acc_t* x_t, const int64_t* indptr,
                  const int32_t* indices, const acc_t* values,
                  const acc_t* bias, int64_t out_features, acc_t* y_t) {
#ifdef UGT_X86
  if (has_avx2()) {
    tile_product_avx2<acc_t>(x_t, indptr, indices, values, bias,
                             out_features, y_t);
    return;
  }
#endif
  tile_product_body<acc_t, 16>(x_t, indptr, indices, values, bias,
                               out_features, y_t);
}

// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols
// (converted to dst_t): the columns c0 <= c < c1 of rows r0 <= r < r1,
// kTile x kTile block by block, so that a block's lines stay in the L1
// cache.
template <typename src_t, typename dst_t>
void transpose_scalar(const src_t* src, int64_t src_stride, dst_t* dst,
                      int64_t dst_stride, int64_t r0, int64_t r1, int64_t c0,
                      int64_t c1) {
  for (int64_t cb = c0; cb < c1; cb += kTile) {
    const int64_t ce = std::min(cb + kTile, c1);
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t c = cb; c < ce; ++c) {
        dst[c * dst_stride + r] = static_cast<dst_t>(src[r * src_stride + c]);
      }
    }
  }
}

#ifdef UGT_X86
// One 8 x 8 float block transposed in registers (unpack, shuffle,
// permute2f128).
__attribute__((target("avx2,fma"))) inline void transpose8(
    const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride,
                     _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride,
                     _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

// The whole 8 x 8 blocks of rows < rows8, columns < cols8.
__attribute__((target("avx2,fma"))) void transpose_blocks_avx2(
    const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
    int64_t rows8, int64_t cols8) {
  for (int64_t c = 0; c < cols8; c += 8) {
    for (int64_t r = 0; r < rows8; r += 8) {
      transpose8(src + r * src_stride + c, src_stride, dst + c * dst_stride + r,
                 dst_stride);
    }
  }
}
#endif

// The tile's transposes: dst[c * dst_stride + r] = src[r * src_stride + c]
// for r < rows, c < cols; float to float with AVX2 in 8 x 8 register
// blocks, the rest by the scalar loop.
template <typename src_t, typename dst_t>
void transpose(const src_t* src, int64_t src_stride, dst_t* dst,
               int64_t dst_stride, int64_t rows, int64_t cols) {
  int64_t rows8 = 0;
  int64_t cols8 = 0;
#ifdef UGT_X86
  if constexpr (std::is_same_v<src_t, float> && std::is_same_v<dst_t, float>) {
    if (has_avx2()) {
      rows8 = rows / 8 * 8;
      cols8 = cols / 8 * 8;
      transpose_blocks_avx2(src, src_stride, dst, dst_stride, rows8, cols8);
    }
  }
#endif
  transpose_scalar(src, src_stride, dst, dst_stride, 0, rows8, cols8, cols);
  transpose_scalar(src, src_stride, dst, dst_stride, rows8, rows, 0, cols);
}

// Whether a tile's transposed inputs hold a non-finite value: x - x is 0
// for finite x and NaN otherwise, a branch-free test that vectorises; the
// tile is in the cache, so finite inputs cost no extra memory traffic.
template <typename acc_t>
bool has_nonfinite(const acc_t* x_t, int64_t size) {
  uint32_t any = 0;
  for (int64_t j = 0; j < size; ++j) {
    const acc_t d = x_t[j] - x_t[j];
    any |= d != d;
  }
  return any != 0;
}

// The product; marks in `nonfinite` the tiles (of kTile rows) whose inputs
// hold a NaN or an infinity.
template <typename scalar_t>
void sparse_linear_impl(const at::Tensor& input, const at::Tensor& indptr,
                        const at::Tensor& indices, const at::Tensor& values,
                        const c10::optional<at::Tensor>& bias,
                        at::Tensor& output, std::vector<uint8_t>& nonfinite) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t rows = input.size(0);
  const int64_t in_features = input.size(1);
  const int64_t out_features = indptr.numel() - 1;

  // values and bias in the accumulation type: float and double are read
  // as they are, half and bfloat16 converted once per call (O(nnz))
  const auto accumulated = [&](const at::Tensor& t) {
    return t.scalar_type() == c10::CppTypeToScalarType<acc_t>::value
               ? t
               : t.to(c10::CppTypeToScalarType<acc_t>::value);
  };
  const at::Tensor w = accumulated(values);
  c10::optional<at::Tensor> b;
  if (bias.has_value()) b = accumulated(*bias);
  const scalar_t* x = input.data_ptr<scalar_t>();
  scalar_t* y = output.data_ptr<scalar_t>();
  const int64_t* ip = indptr.data_ptr<int64_t>();
  const int32_t* ix = indices.data_ptr<int32_t>();
  const acc_t* wp = w.data_ptr<acc_t>();
  const acc_t* bb = b.has_value() ? b->data_ptr<acc_t>() : nullptr;
  const int64_t tiles = (rows + kTile - 1) / kTile;

  at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> x_t(static_cast<size_t>(in_features * kTile));
    std::vector<acc_t> y_t(static_cast<size_t>(out_features * kTile));
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t first = tile * kTile;
      const int64_t count = std::min(kTile, rows - first);
      transpose(x + first * in_features, in_features, x_t.data(), kTile,
                count, in_features);
      if (count < kTile) {  // the last tile: pad with 0
        for (int64_t j = 0; j < in_features; ++j) {
          for (int64_t r = count; r < kTile; ++r) x_t[j * kTile + r] = 0;
        }
      }
      nonfinite[tile] = has_nonfinite(x_t.data(), in_features * kTile);
      tile_product(x_t.data(), ip, ix, wp, bb, out_features, y_t.data());
      transpose(y_t.data(), kTile, y + first * out_features, out_features,
                out_features, count);
    }
  });
}

// The dense product gives NaN at (i, o) when input i holds a non-finite
// value in a column that row o of the weight does not store (0 * inf and
// 0 * NaN are NaN), which the sparse product never reads. The product
// marked the tiles whose inputs hold any; for their rows, y[i, o] becomes
// NaN where not every non-finite column is stored in row o.
template <typename scalar_t>
void propagate_nonfinite(const at::Tensor& input, const at::Tensor& indptr,
                         const at::Tensor& indices, at::Tensor& output,
                         const std::vector<uint8_t>& nonfinite) {
  const int64_t rows = input.size(0);
  const int64_t in_features = input.size(1);
  const int64_t out_features = indptr.numel() - 1;
  const scalar_t* x = input.data_ptr<scalar_t>();
  const int64_t* ip = indptr.data_ptr<int64_t>();
  const int32_t* ix = indices.data_ptr<int32_t>();
  scalar_t* y = output.data_ptr<scalar_t>();
  const auto bad = [](scalar_t v) {
    return !std::isfinite(static_cast<double>(v));
  };
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (!nonfinite[i / kTile]) continue;
      const scalar_t* __restrict__ xi = x + i * in_features;
      int64_t total = 0;
      for (int64_t j = 0; j < in_features; ++j) total += bad(xi[j]);
      if (total == 0) continue;  // a finite row of a marked tile
      for (int64_t o = 0; o < out_features; ++o) {
        int64_t stored = 0;
        for (int64_t p = ip[o]; p < ip[o + 1]; ++p) stored += bad(xi[ix[p]]);
        if (stored < total) {
          y[i * out_features + o] =
              static_cast<scalar_t>(std::numeric_limits<float>::quiet_NaN());
        }
      }
    }
  });
}

// Checks that (indptr, indices, values) is a CSR matrix of out x in
// entries that matches the input, in O(out + nnz): a bad weight is an
// error, never a read out of bounds.
void check_operands(const at::Tensor& input, const at::Tensor& indptr,
                    const at::Tensor& indices, const at::Tensor& values,
                    const c10::optional<at::Tensor>& bias) {
  TORCH_CHECK(input.dim() >= 1, "sparse_linear: the input needs at least "
              "one dimension (its last one is the features)");
  TORCH_CHECK(indptr.dim() == 1 && indptr.numel() >= 1 &&
                  indptr.scalar_type() == at::kLong,
              "sparse_linear: indptr must be a 1-D int64 tensor of "
              "out_features + 1 entries");
  TORCH_CHECK(indices.dim() == 1 && indices.scalar_type() == at::kInt,
              "sparse_linear: indices must be a 1-D int32 tensor");
  TORCH_CHECK(values.dim() == 1 && values.numel() == indices.numel(),
              "sparse_linear: values must be 1-D, one per index");
  TORCH_CHECK(values.scalar_type() == input.scalar_type(),
              "sparse_linear: the input is ", input.scalar_type(),
              " but the weight is ", values.scalar_type(),
              "; convert the model (e.g. model.to(torch.", 
              input.scalar_type(), ")) or the input");
  for (const auto* t : {&input, &indptr, &indices, &values}) {
    TORCH_CHECK(t->device().is_cpu(), "sparse_linear: CPU tensors expected");
  }
  const int64_t out_features = indptr.numel() - 1;
  if (bias.has_value()) {
    TORCH_CHECK(bias->dim() == 1 && bias->numel() == out_features &&
                    bias->scalar_type() == input.scalar_type() &&
                    bias->device().is_cpu(),
                "sparse_linear: the bias must be a 1-D CPU tensor of ",
                out_features, " entries of the input's dtype");
  }
  const int64_t* ip = indptr.data_ptr<int64_t>();
  TORCH_CHECK(ip[0] == 0 && ip[out_features] == values.numel(),
              "sparse_linear: indptr must start at 0 and end at nnz");
  for (int64_t o = 0; o < out_features; ++o) {
    TORCH_CHECK(ip[o] <= ip[o + 1], "sparse_linear: indptr must not "
                "decrease");
  }
  const int64_t in_features = input.size(-1);
  const int32_t* ix = indices.data_ptr<int32_t>();
  for (int64_t p = 0; p < indices.numel(); ++p) {
    TORCH_CHECK(ix[p] >= 0 && ix[p] < in_features, "sparse_linear: column ",
                ix[p], " is out of range for an input of ", in_features,
                " features");
  }
}

at::Tensor sparse_linear_cpu(const at::Tensor& input, const at::Tensor& indptr,
                             const at::Tensor& indices,
                             const at::Tensor& values,
                             const c10::optional<at::Tensor>& bias) {
  const auto ip = indptr.contiguous();
  const auto ix = indices.contiguous();
  const auto v = values.contiguous();
  c10::optional<at::Tensor> b;
  if (bias.has_value()) b = bias->contiguous();
  check_operands(input, ip, ix, v, b);
  const int64_t in_features = input.size(-1);
  const int64_t out_features = ip.numel() - 1;
  auto sizes = input.sizes().vec();
  sizes.back() = out_features;
  int64_t rows = 1;  // the samples: all leading dimensions
  for (size_t d = 0; d + 1 < sizes.size(); ++d) rows *= sizes[d];
  auto output = at::empty(sizes, input.options());
  if (rows == 0 || out_features == 0) return output;
  const auto x = input.reshape({rows, in_features}).contiguous();
  auto y = output.view({rows, out_features});
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, x.scalar_type(), "sparse_linear", [&] {
        std::vector<uint8_t> nonfinite((rows + kTile - 1) / kTile, 0);
        sparse_linear_impl<scalar_t>(x, ip, ix, v, b, y, nonfinite);
        if (std::any_of(nonfinite.begin(), nonfinite.end(),
                        [](uint8_t flag) { return flag != 0; })) {
          propagate_nonfinite<scalar_t>(x, ip, ix, y, nonfinite);
        }
      });
  return output;
}

}  // namespace

// The CPU kernel of torch.ops.torch_geometric_ugt.sparse_linear (schema
// and fake kernel: torch_geometric_ugt/ops.py).
TORCH_LIBRARY_IMPL(torch_geometric_ugt, CPU, m) {
  m.impl("sparse_linear", &sparse_linear_cpu);
}
