// Launcher of the CUDA global-threshold kernels. Raw pointers and CUDA types
// only, so that threshold_cuda.cu compiles without the torch headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace ugt {

// Elements per chunk: one thread block handles one chunk of one tensor.
constexpr int kThreads = 256;
constexpr int kItems = 16;
constexpr int kChunk = kThreads * kItems;

enum MaskDtype : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

// Device bytes of the workspace for `num_chunks` chunks.
size_t prune_smallest_workspace_bytes(int64_t num_chunks);

// Zeroes the k smallest of all scores (1 <= k < total), ordered by
// (value, global position), -0.0 == +0.0, writing 0/1 masks. The scores
// must hold no NaN (the Python caller screens them). All arrays are
// device arrays: score / mask pointers per tensor, and per chunk the tensor
// index, start offset and length (chunks in global order). Everything is
// enqueued on `stream`; nothing synchronises with the host.
cudaError_t prune_smallest_cuda(const float* const* scores,
                                void* const* masks, MaskDtype mask_dtype,
                                const int32_t* chunk_tensor,
                                const int64_t* chunk_start,
                                const int32_t* chunk_length,
                                int64_t num_chunks, int64_t k,
                                void* workspace, size_t workspace_bytes,
                                cudaStream_t stream);

}  // namespace ugt
