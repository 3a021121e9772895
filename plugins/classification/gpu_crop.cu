// gpu_crop.h: one thread per output pixel, one grid z-slice per image of the batch.
#include "gpu_crop.h"

namespace xp::classification {

namespace {

constexpr int kBlockX = 32, kBlockY = 8;

__global__ void batched_crop(const GpuCrop* crops, unsigned char* out, int out_height, int out_width) {
  const int x = blockIdx.x * kBlockX + threadIdx.x, y = blockIdx.y * kBlockY + threadIdx.y;
  if (x >= out_width || y >= out_height) return;
  const GpuCrop c = crops[blockIdx.z];
  // cv::resize INTER_LINEAR: source coordinate (d + 0.5) * scale - 0.5, clamped to the region.
  const float fx = fminf(fmaxf((x + 0.5f) * (static_cast<float>(c.width) / out_width) - 0.5f, 0.0f),
                         static_cast<float>(c.width - 1));
  const float fy = fminf(fmaxf((y + 0.5f) * (static_cast<float>(c.height) / out_height) - 0.5f, 0.0f),
                         static_cast<float>(c.height - 1));
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const int x1 = min(x0 + 1, c.width - 1), y1 = min(y0 + 1, c.height - 1);
  const float ax = fx - static_cast<float>(x0), ay = fy - static_cast<float>(y0);
  const unsigned char* r0 = c.source + static_cast<size_t>(c.y + y0) * c.pitch + static_cast<size_t>(c.x) * 3;
  const unsigned char* r1 = c.source + static_cast<size_t>(c.y + y1) * c.pitch + static_cast<size_t>(c.x) * 3;
  const int ox = c.hflip ? out_width - 1 - x : x;
  unsigned char* o = out + ((static_cast<size_t>(blockIdx.z) * out_height + y) * out_width + ox) * 3;
#pragma unroll
  for (int ch = 0; ch < 3; ++ch) {
    const float top = r0[x0 * 3 + ch] + ax * (static_cast<float>(r0[x1 * 3 + ch]) - r0[x0 * 3 + ch]);
    const float bottom = r1[x0 * 3 + ch] + ax * (static_cast<float>(r1[x1 * 3 + ch]) - r1[x0 * 3 + ch]);
    o[ch] = static_cast<unsigned char>(__float2int_rn(fminf(fmaxf(top + ay * (bottom - top), 0.0f), 255.0f)));
  }
}

}  // namespace

cudaError_t launch_batched_crop(const GpuCrop* crops, int n, unsigned char* out, int out_height, int out_width,
                                cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const dim3 block(kBlockX, kBlockY);
  const dim3 grid((out_width + kBlockX - 1) / kBlockX, (out_height + kBlockY - 1) / kBlockY, static_cast<unsigned>(n));
  batched_crop<<<grid, block, 0, stream>>>(crops, out, out_height, out_width);
  return cudaGetLastError();
}

}  // namespace xp::classification
