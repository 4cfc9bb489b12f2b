// CUDA implementation of the global-threshold contract (see threshold.py):
// radix select over order-preserving uint32 keys of all score tensors
// (three digits of 11, 11 and 10 bits, block histograms in shared memory),
// the threshold kept on the device, then one fused pass that writes every
// mask. Ties at the threshold are pruned by global position: per-chunk tie
// counts, a device-wide exclusive scan, and a block scan inside each chunk.
#include "threshold_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>

namespace ugt {
namespace {

constexpr int kMaxBins = 2048;
struct DigitSpec {
  int shift;
  int bits;
};
__constant__ DigitSpec kDigitSpecs[3] = {{21, 11}, {10, 11}, {0, 10}};

struct State {
  unsigned int prefix;      // digits chosen so far
  long long rank;           // 1-based rank of the threshold among candidates
  long long below;          // scores strictly below the candidates
  long long equal;          // scores equal to the threshold
  float tau;                // the threshold value
  int prune_all_ties;       // every score equal to tau is pruned
};

struct Workspace {
  unsigned long long* hist;  // kMaxBins
  State* state;
  long long* chunk_ties;     // num_chunks
  long long* chunk_prefix;   // num_chunks
  void* scan_temp;
  size_t scan_bytes;
};

size_t align(size_t bytes) { return (bytes + 255) / 256 * 256; }

size_t scan_temp_bytes(int64_t num_chunks) {
  size_t bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, bytes,
                                static_cast<long long*>(nullptr),
                                static_cast<long long*>(nullptr),
                                static_cast<int>(num_chunks));
  return bytes;
}

Workspace carve(void* base, int64_t num_chunks) {
  char* p = static_cast<char*>(base);
  Workspace w;
  w.hist = reinterpret_cast<unsigned long long*>(p);
  p += align(sizeof(unsigned long long) * kMaxBins);
  w.state = reinterpret_cast<State*>(p);
  p += align(sizeof(State));
  w.chunk_ties = reinterpret_cast<long long*>(p);
  p += align(sizeof(long long) * num_chunks);
  w.chunk_prefix = reinterpret_cast<long long*>(p);
  p += align(sizeof(long long) * num_chunks);
  w.scan_temp = p;
  w.scan_bytes = scan_temp_bytes(num_chunks);
  return w;
}

__device__ __forceinline__ unsigned int float_key(float value) {
  unsigned int bits = __float_as_uint(value);
  if (bits == 0x80000000u) bits = 0u;  // -0.0 == +0.0
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__device__ __forceinline__ float key_float(unsigned int key) {
  const unsigned int bits = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
  return __uint_as_float(bits);
}

__global__ void init_kernel(State* state, unsigned long long* hist,
                            long long k) {
  for (int b = threadIdx.x; b < kMaxBins; b += blockDim.x) hist[b] = 0ull;
  if (threadIdx.x == 0) {
    state->prefix = 0u;
    state->rank = k;
    state->below = 0;
    state->equal = 0;
    state->tau = 0.0f;
    state->prune_all_ties = 0;
  }
}

__global__ void __launch_bounds__(kThreads)
    histogram_kernel(const float* const* scores, const int32_t* chunk_tensor,
                     const int64_t* chunk_start, const int32_t* chunk_length,
                     int digit, unsigned long long* hist,
                     const State* state) {
  __shared__ unsigned int local[kMaxBins];
  const DigitSpec spec = kDigitSpecs[digit];
  const int bins = 1 << spec.bits;
  for (int b = threadIdx.x; b < bins; b += blockDim.x) local[b] = 0u;
  __syncthreads();
  const int64_t chunk = blockIdx.x;
  const float* p = scores[chunk_tensor[chunk]] + chunk_start[chunk];
  const int length = chunk_length[chunk];
  const int above = spec.shift + spec.bits;
  const unsigned int prefix = state->prefix;
  const unsigned int digit_mask = static_cast<unsigned int>(bins - 1);
  for (int i = threadIdx.x; i < length; i += blockDim.x) {
    const unsigned int key = float_key(p[i]);
    if (digit == 0) {
      atomicAdd(&local[key >> spec.shift], 1u);
    } else if ((key >> above) == prefix) {
      atomicAdd(&local[(key >> spec.shift) & digit_mask], 1u);
    }
  }
  __syncthreads();
  for (int b = threadIdx.x; b < bins; b += blockDim.x) {
    if (local[b] != 0u) atomicAdd(&hist[b], local[b]);
  }
}

__global__ void select_kernel(int digit, unsigned long long* hist,
                              State* state, long long k) {
  // One block: thread 0 walks the (at most 2048) bins, all threads then
  // clear the histogram for the next digit.
  if (threadIdx.x == 0) {
    const DigitSpec spec = kDigitSpecs[digit];
    const int bins = 1 << spec.bits;
    long long before = 0;
    long long rank = state->rank;
    int bin = bins - 1;
    for (int b = 0; b < bins; ++b) {
      const long long count = static_cast<long long>(hist[b]);
      if (before + count >= rank) {
        bin = b;
        break;
      }
      before += count;
    }
    state->prefix = (state->prefix << spec.bits) | static_cast<unsigned>(bin);
    state->rank = rank - before;
    state->below += before;
    state->equal = static_cast<long long>(hist[bin]);
    if (digit == 2) {
      state->tau = key_float(state->prefix);
      state->prune_all_ties = (k - state->below) == state->equal;
    }
  }
  __syncthreads();
  for (int b = threadIdx.x; b < kMaxBins; b += blockDim.x) hist[b] = 0ull;
}

__global__ void __launch_bounds__(kThreads)
    tie_count_kernel(const float* const* scores, const int32_t* chunk_tensor,
                     const int64_t* chunk_start, const int32_t* chunk_length,
                     const State* state, long long* chunk_ties) {
  using BlockReduce = cub::BlockReduce<long long, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  const int64_t chunk = blockIdx.x;
  if (state->prune_all_ties) {  // uniform over the block
    if (threadIdx.x == 0) chunk_ties[chunk] = 0;
    return;
  }
  const float tau = state->tau;
  const float* p = scores[chunk_tensor[chunk]] + chunk_start[chunk];
  const int length = chunk_length[chunk];
  long long count = 0;
  for (int i = threadIdx.x; i < length; i += blockDim.x) count += p[i] == tau;
  const long long total = BlockReduce(temp).Sum(count);
  if (threadIdx.x == 0) chunk_ties[chunk] = total;
}

template <typename mask_t>
__device__ __forceinline__ mask_t cast_mask(float value);
template <>
__device__ __forceinline__ float cast_mask<float>(float value) {
  return value;
}
template <>
__device__ __forceinline__ double cast_mask<double>(float value) {
  return static_cast<double>(value);
}
template <>
__device__ __forceinline__ __half cast_mask<__half>(float value) {
  return __float2half(value);
}
template <>
__device__ __forceinline__ __nv_bfloat16 cast_mask<__nv_bfloat16>(
    float value) {
  return __float2bfloat16(value);
}

template <typename mask_t>
__global__ void __launch_bounds__(kThreads)
    write_kernel(const float* const* scores, void* const* masks,
                 const int32_t* chunk_tensor, const int64_t* chunk_start,
                 const int32_t* chunk_length, const State* state,
                 const long long* chunk_prefix, long long k) {
  using BlockScan = cub::BlockScan<int, kThreads>;
  __shared__ typename BlockScan::TempStorage temp;
  const int64_t chunk = blockIdx.x;
  const int tensor = chunk_tensor[chunk];
  const float* p = scores[tensor] + chunk_start[chunk];
  mask_t* m = static_cast<mask_t*>(masks[tensor]) + chunk_start[chunk];
  const int length = chunk_length[chunk];
  const float tau = state->tau;
  const mask_t one = cast_mask<mask_t>(1.0f);
  const mask_t zero = cast_mask<mask_t>(0.0f);
  if (state->prune_all_ties) {  // coalesced: consecutive threads
    for (int i = threadIdx.x; i < length; i += blockDim.x) {
      m[i] = p[i] > tau ? one : zero;
    }
    return;
  }
  // Thread t owns items [t * kItems, (t + 1) * kItems) so that a block scan
  // of per-thread tie counts orders the ties by position.
  const long long budget = k - state->below;
  const int first = threadIdx.x * kItems;
  int ties = 0;
  for (int j = 0; j < kItems; ++j) {
    const int i = first + j;
    if (i < length && p[i] == tau) ++ties;
  }
  int before = 0;
  BlockScan(temp).ExclusiveSum(ties, before);
  long long seen = chunk_prefix[chunk] + before;
  for (int j = 0; j < kItems; ++j) {
    const int i = first + j;
    if (i >= length) break;
    const float value = p[i];
    if (value == tau) {
      m[i] = seen < budget ? zero : one;
      ++seen;
    } else {
      m[i] = value > tau ? one : zero;
    }
  }
}

template <typename mask_t>
void launch_write(const float* const* scores, void* const* masks,
                  const int32_t* chunk_tensor, const int64_t* chunk_start,
                  const int32_t* chunk_length, int64_t num_chunks,
                  const Workspace& w, long long k, cudaStream_t stream) {
  write_kernel<mask_t><<<static_cast<unsigned>(num_chunks), kThreads, 0,
                         stream>>>(scores, masks, chunk_tensor, chunk_start,
                                   chunk_length, w.state, w.chunk_prefix, k);
}

}  // namespace

size_t prune_smallest_workspace_bytes(int64_t num_chunks) {
  return align(sizeof(unsigned long long) * kMaxBins) + align(sizeof(State)) +
         2 * align(sizeof(long long) * num_chunks) +
         align(scan_temp_bytes(num_chunks));
}

cudaError_t prune_smallest_cuda(const float* const* scores,
                                void* const* masks, MaskDtype mask_dtype,
                                const int32_t* chunk_tensor,
                                const int64_t* chunk_start,
                                const int32_t* chunk_length,
                                int64_t num_chunks, int64_t k,
                                void* workspace, size_t workspace_bytes,
                                cudaStream_t stream) {
  if (num_chunks <= 0) return cudaSuccess;
  if (workspace_bytes < prune_smallest_workspace_bytes(num_chunks)) {
    return cudaErrorInvalidValue;
  }
  Workspace w = carve(workspace, num_chunks);
  const unsigned grid = static_cast<unsigned>(num_chunks);
  init_kernel<<<1, kThreads, 0, stream>>>(w.state, w.hist, k);
  for (int digit = 0; digit < 3; ++digit) {
    histogram_kernel<<<grid, kThreads, 0, stream>>>(
        scores, chunk_tensor, chunk_start, chunk_length, digit, w.hist,
        w.state);
    select_kernel<<<1, kThreads, 0, stream>>>(digit, w.hist, w.state, k);
  }
  tie_count_kernel<<<grid, kThreads, 0, stream>>>(
      scores, chunk_tensor, chunk_start, chunk_length, w.state, w.chunk_ties);
  size_t scan_bytes = w.scan_bytes;
  cudaError_t status = cub::DeviceScan::ExclusiveSum(
      w.scan_temp, scan_bytes, w.chunk_ties, w.chunk_prefix,
      static_cast<int>(num_chunks), stream);
  if (status != cudaSuccess) return status;
  switch (mask_dtype) {
    case kFloat32:
      launch_write<float>(scores, masks, chunk_tensor, chunk_start,
                          chunk_length, num_chunks, w, k, stream);
      break;
    case kFloat64:
      launch_write<double>(scores, masks, chunk_tensor, chunk_start,
                           chunk_length, num_chunks, w, k, stream);
      break;
    case kFloat16:
      launch_write<__half>(scores, masks, chunk_tensor, chunk_start,
                           chunk_length, num_chunks, w, k, stream);
      break;
    case kBFloat16:
      launch_write<__nv_bfloat16>(scores, masks, chunk_tensor, chunk_start,
                                  chunk_length, num_chunks, w, k, stream);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace ugt
