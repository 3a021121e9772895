#include "data/collate.h"

#include <sstream>
#include <stdexcept>

namespace xp::data {

namespace {

// cv::Mat (H x W x C, any continuity) -> owning [C, H, W] float tensor.
torch::Tensor to_chw_float(const cv::Mat& mat, bool scale_uint8, const std::string& what, const std::string& source) {
  cv::Mat m = mat.isContinuous() ? mat : mat.clone();
  const int64_t h = m.rows, w = m.cols, c = m.channels();
  switch (m.depth()) {
    case CV_8U: {
      auto t = torch::from_blob(m.data, {h, w, c}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat32);
      return scale_uint8 ? t.div_(255.0) : t;
    }
    case CV_32F:
      // clone, not contiguous(): a one-channel permute is already "contiguous" and would keep
      // pointing into the Mat's buffer, which dies with the sample.
      return torch::from_blob(m.data, {h, w, c}, torch::kFloat32).permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
    default: {
      // Other depths (16-bit PNGs, doubles) are converted to float without rescaling.
      cv::Mat f;
      m.convertTo(f, CV_32F);
      if (f.empty()) throw std::runtime_error(source + ": cannot convert " + what + " to float");
      return torch::from_blob(f.data, {h, w, c}, torch::kFloat32).permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
    }
  }
}

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "x" : "") << t.size(i);
  return os.str();
}

}  // namespace

PreparedSample prepare_sample(const Sample& sample) {
  if (sample.image.empty()) throw std::runtime_error(sample.source + ": the dataset returned an empty image");
  PreparedSample out;
  out.image = to_chw_float(sample.image, true, "image", sample.source);
  if (!sample.mask.empty()) {
    if (sample.mask.channels() != 1)
      throw std::runtime_error(sample.source + ": a mask must have one channel, got " +
                               std::to_string(sample.mask.channels()));
    out.mask = to_chw_float(sample.mask, false, "mask", sample.source);
  }
  out.label = sample.label;
  out.labels = sample.labels;
  out.index = sample.index;
  out.source = sample.source;
  return out;
}

Batch collate(const std::vector<PreparedSample>& samples, Task task) {
  Batch batch;
  if (samples.empty()) return batch;
  const auto& first = samples.front();
  std::vector<torch::Tensor> images, masks;
  images.reserve(samples.size());
  std::vector<int64_t> labels, indices;
  std::map<std::string, std::vector<int64_t>> extra;
  for (const auto& s : samples) {
    if (!s.image.sizes().equals(first.image.sizes()))
      throw std::runtime_error("samples in one batch differ in size: " + first.source + " is " +
                               shape_of(first.image) + " (CxHxW), " + s.source + " is " + shape_of(s.image) +
                               "; add a resize or crop augmentation");
    images.push_back(s.image);
    if (s.mask.defined()) masks.push_back(s.mask);
    labels.push_back(s.label);
    indices.push_back(s.index);
    for (const auto& [name, value] : s.labels) extra[name].push_back(value);
  }
  batch.input = torch::stack(images);
  batch.index = torch::tensor(indices, torch::kInt64);
  if (task == Task::Segmentation) {
    if (masks.size() != samples.size())
      throw std::runtime_error("segmentation dataset returned a sample without a mask (" + first.source + ")");
    for (const auto& m : masks)
      if (!m.sizes().equals(masks.front().sizes()))
        throw std::runtime_error("masks in one batch differ in size; add a resize or crop augmentation");
    batch.target = torch::stack(masks);
  } else {
    batch.target = torch::tensor(labels, torch::kInt64);
    if (masks.size() == samples.size()) batch.extra["mask"] = torch::stack(masks);
  }
  for (auto& [name, values] : extra)
    if (values.size() == samples.size()) batch.extra[name] = torch::tensor(values, torch::kInt64);
  return batch;
}

}  // namespace xp::data
