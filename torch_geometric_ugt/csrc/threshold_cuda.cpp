// Torch binding of the CUDA global-threshold kernels (threshold_cuda.cu).
// Built on first use on machines with CUDA; see torch_geometric_ugt/backend.py.
#include <torch/extension.h>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <vector>

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

void prune_smallest_cuda(const std::vector<torch::Tensor>& scores,
                         const std::vector<torch::Tensor>& masks, int64_t k) {
  TORCH_CHECK(scores.size() == masks.size(),
              "one mask per score tensor is required");
  TORCH_CHECK(!scores.empty(), "no score tensors");
  const auto device = scores[0].device();
  TORCH_CHECK(device.is_cuda(), "prune_smallest_cuda takes CUDA tensors");
  const c10::cuda::CUDAGuard guard(device);
  const auto dtype = masks[0].scalar_type();

  std::vector<torch::Tensor> inputs;
  std::vector<torch::Tensor> outputs;
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
                          : torch::empty_like(masks[i],
                                              at::MemoryFormat::Contiguous));
    total += scores[i].numel();
  }
  k = std::min(std::max<int64_t>(k, 0), total);
  if (k == 0 || k == total) {
    for (const auto& mask : masks) mask.fill_(k == 0 ? 1.0 : 0.0);
    return;
  }

  // Host tables: per tensor the pointers, per chunk (tensor, start, length).
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  const auto cpu_int = torch::TensorOptions().dtype(torch::kInt);
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
  auto to_device = [&](torch::Tensor host) {
    return host.pin_memory().to(device, /*non_blocking=*/true);
  };
  const auto d_pointers = to_device(
      torch::from_blob(pointers.data(), {static_cast<int64_t>(pointers.size())},
                       cpu_long));
  const auto d_tensor = to_device(
      torch::from_blob(chunk_tensor.data(), {num_chunks}, cpu_int));
  const auto d_start = to_device(
      torch::from_blob(chunk_start.data(), {num_chunks}, cpu_long));
  const auto d_length = to_device(
      torch::from_blob(chunk_length.data(), {num_chunks}, cpu_int));
  const size_t bytes = ugt::prune_smallest_workspace_bytes(num_chunks);
  auto workspace = torch::empty(
      {static_cast<int64_t>(bytes)},
      torch::TensorOptions().dtype(torch::kByte).device(device));

  const auto* table = reinterpret_cast<const int64_t*>(d_pointers.data_ptr());
  const cudaError_t status = ugt::prune_smallest_cuda(
      reinterpret_cast<const float* const*>(table),
      reinterpret_cast<void* const*>(table + inputs.size()),
      mask_dtype(dtype), d_tensor.data_ptr<int32_t>(),
      d_start.data_ptr<int64_t>(), d_length.data_ptr<int32_t>(), num_chunks,
      k, workspace.data_ptr(), bytes, at::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, "prune_smallest_cuda failed: ",
              cudaGetErrorString(status));
  for (size_t i = 0; i < masks.size(); ++i) {
    if (!outputs[i].is_same(masks[i])) masks[i].copy_(outputs[i]);
  }
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("prune_smallest_", &prune_smallest_cuda,
        "Zero the k globally smallest scores (CUDA)");
}
