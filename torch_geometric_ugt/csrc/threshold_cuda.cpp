// The CUDA implementation of the operator
// torch.ops.torch_geometric_ugt.prune_smallest_ (its schema is declared in
// torch_geometric_ugt/ops.py), around the kernels of threshold_cuda.cu.
// Built on first use on machines with CUDA; see torch_geometric_ugt/build.py.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "operator.h"
#include "threshold_cuda.h"

namespace {

ugt::MaskDtype mask_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return ugt::kFloat32;
    case at::kDouble:
      return ugt::kFloat64;
    case at::kHalf:
      return ugt::kFloat16;
    case at::kBFloat16:
      return ugt::kBFloat16;
    default:
      TORCH_CHECK(false, "masks must be float32, float64, float16 or bfloat16");
  }
}

}  // namespace

void prune_smallest_cuda(at::TensorList scores, at::TensorList masks,
                         const at::Tensor& count, bool reject_infinite) {
  TORCH_CHECK(scores.size() == masks.size(),
              "one mask per score tensor is required");
  const std::vector<int64_t> ks = ugt::counts_of(count);
  if (scores.empty()) return;
  if (ks.size() > 1) {
    // Multicoated masks: each coat's exact selection (one launch each),
    // summed; every entry is float32(kept) / float32(C), cast to the
    // mask's dtype. The first selection screens the scores before any
    // mask is written.
    mask_dtype(masks[0].scalar_type());
    std::vector<at::Tensor> kept, coat;
    for (size_t i = 0; i < scores.size(); ++i) {
      TORCH_CHECK(masks[i].device() == scores[0].device() &&
                      masks[i].scalar_type() == masks[0].scalar_type() &&
                      masks[i].sizes() == scores[i].sizes(),
                  "each mask must have its scores' shape and device, and "
                  "all masks one dtype");
      kept.push_back(at::zeros(scores[i].sizes(), scores[i].options()));
      coat.push_back(at::empty(scores[i].sizes(), scores[i].options()));
    }
    for (int64_t k : ks) {
      prune_smallest_cuda(scores, coat, at::scalar_tensor(k, at::kLong),
                          reject_infinite);
      for (size_t i = 0; i < kept.size(); ++i) kept[i].add_(coat[i]);
    }
    for (size_t i = 0; i < masks.size(); ++i) {
      masks[i].copy_(kept[i].div_(static_cast<double>(ks.size())));
    }
    ugt::bump_versions(masks);
    return;
  }
  int64_t k = ks[0];
  const auto device = scores[0].device();
  TORCH_CHECK(device.is_cuda(), "prune_smallest_cuda takes CUDA tensors");
  const c10::cuda::CUDAGuard guard(device);
  const auto dtype = masks[0].scalar_type();

  std::vector<at::Tensor> inputs;
  std::vector<at::Tensor> outputs;
  int64_t total = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    TORCH_CHECK(scores[i].device() == device && masks[i].device() == device,
                "all scores and masks must be on one device");
    TORCH_CHECK(scores[i].scalar_type() == at::kFloat,
                "native thresholding takes float32 scores");
    TORCH_CHECK(masks[i].scalar_type() == dtype,
                "all masks must share one dtype");
    TORCH_CHECK(scores[i].sizes() == masks[i].sizes(),
                "each mask must have the shape of its scores");
    inputs.push_back(scores[i].contiguous());
    outputs.push_back(masks[i].is_contiguous()
                          ? masks[i]
                          : at::empty_like(masks[i],
                                           at::MemoryFormat::Contiguous));
    total += scores[i].numel();
  }
  // Screen before any write (one reduction and one host synchronisation):
  // a refused call leaves the masks untouched.
  at::Tensor bad = at::zeros({}, inputs[0].options().dtype(at::kBool));
  for (const auto& input : inputs) {
    bad = bad.logical_or(reject_infinite
                             ? at::isfinite(input).all().logical_not()
                             : at::isnan(input).any());
  }
  TORCH_CHECK_VALUE(!bad.item<bool>(),
                    "non-finite scores: no mask was written");
  k = std::min(std::max<int64_t>(k, 0), total);
  if (k == 0 || k == total) {
    for (const auto& mask : masks) mask.fill_(k == 0 ? 1.0 : 0.0);
    ugt::bump_versions(masks);
    return;
  }

  // Host tables: per tensor the pointers, per chunk (tensor, start, length).
  const auto cpu_long = at::TensorOptions().dtype(at::kLong);
  const auto cpu_int = at::TensorOptions().dtype(at::kInt);
  std::vector<int64_t> pointers;
  std::vector<int32_t> chunk_tensor;
  std::vector<int64_t> chunk_start;
  std::vector<int32_t> chunk_length;
  for (size_t t = 0; t < inputs.size(); ++t) {
    pointers.push_back(reinterpret_cast<int64_t>(inputs[t].data_ptr<float>()));
  }
  for (size_t t = 0; t < outputs.size(); ++t) {
    pointers.push_back(reinterpret_cast<int64_t>(outputs[t].data_ptr()));
  }
  for (size_t t = 0; t < inputs.size(); ++t) {
    const int64_t n = inputs[t].numel();
    for (int64_t s = 0; s < n; s += ugt::kChunk) {
      chunk_tensor.push_back(static_cast<int32_t>(t));
      chunk_start.push_back(s);
      chunk_length.push_back(
          static_cast<int32_t>(std::min<int64_t>(ugt::kChunk, n - s)));
    }
  }
  const int64_t num_chunks = static_cast<int64_t>(chunk_tensor.size());
  auto to_device = [&](at::Tensor host) {
    return host.pin_memory().to(device, /*non_blocking=*/true);
  };
  const auto d_pointers = to_device(
      at::from_blob(pointers.data(), {static_cast<int64_t>(pointers.size())},
                       cpu_long));
  const auto d_tensor = to_device(
      at::from_blob(chunk_tensor.data(), {num_chunks}, cpu_int));
  const auto d_start = to_device(
      at::from_blob(chunk_start.data(), {num_chunks}, cpu_long));
  const auto d_length = to_device(
      at::from_blob(chunk_length.data(), {num_chunks}, cpu_int));
  const size_t bytes = ugt::prune_smallest_workspace_bytes(num_chunks);
  auto workspace = at::empty(
      {static_cast<int64_t>(bytes)},
      at::TensorOptions().dtype(at::kByte).device(device));

  const auto* table = reinterpret_cast<const int64_t*>(d_pointers.data_ptr());
  const cudaError_t status = ugt::prune_smallest_cuda(
      reinterpret_cast<const float* const*>(table),
      reinterpret_cast<void* const*>(table + inputs.size()),
      mask_dtype(dtype), d_tensor.data_ptr<int32_t>(),
      d_start.data_ptr<int64_t>(), d_length.data_ptr<int32_t>(), num_chunks,
      k, workspace.data_ptr(), bytes, c10::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, "prune_smallest_cuda failed: ",
              cudaGetErrorString(status));
  for (size_t i = 0; i < masks.size(); ++i) {
    if (!outputs[i].is_same(masks[i])) masks[i].copy_(outputs[i]);
  }
  ugt::bump_versions(masks);
}

TORCH_LIBRARY_IMPL(torch_geometric_ugt, CUDA, m) {
  m.impl("prune_smallest_", &prune_smallest_cuda);
}
