// What the CPU and CUDA implementations of the operator
// torch_geometric_ugt::prune_smallest_ share (see threshold_cpu.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace ugt {

// k comes as an integer CPU tensor (one count, or one per coat of a
// multicoated mask), so that a compiled graph reads the sparsity of the
// moment instead of baking it in.
inline std::vector<int64_t> counts_of(const at::Tensor& count) {
  TORCH_CHECK(count.numel() >= 1 && count.numel() <= 64 &&
                  count.dim() <= 1 && count.device().is_cpu() &&
                  !at::isFloatingType(count.scalar_type()) &&
                  !at::isComplexType(count.scalar_type()) &&
                  count.scalar_type() != at::kBool,
              "k must be an integer CPU tensor of 1 to 64 counts (0-D or "
              "1-D)");
  const auto flat = count.to(at::kLong).contiguous();
  const int64_t* p = flat.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + flat.numel());
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
