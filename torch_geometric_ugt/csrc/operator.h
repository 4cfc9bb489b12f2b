// What the CPU and CUDA implementations of the operator
// torch_geometric_ugt::prune_smallest_ share (see threshold_cpu.cpp).
#pragma once

#include <ATen/ATen.h>

namespace ugt {

// k comes as a one-element integer CPU tensor, so that a compiled graph
// reads the sparsity of the moment instead of baking it in.
inline int64_t count_of(const at::Tensor& count) {
  TORCH_CHECK(count.numel() == 1 && count.device().is_cpu() &&
                  !at::isFloatingType(count.scalar_type()) &&
                  !at::isComplexType(count.scalar_type()) &&
                  count.scalar_type() != at::kBool,
              "k must be a one-element integer CPU tensor");
  return count.item<int64_t>();
}

// The masks were written behind autograd's back: bump their versions, so
// that a mask saved for a backward pass is never used changed (autograd
// raises instead, as for any in-place write).
inline void bump_versions(at::TensorList masks) {
  for (const auto& mask : masks) {
    if (!mask.is_inference()) mask.unsafeGetTensorImpl()->bump_version();
  }
}

}  // namespace ugt
