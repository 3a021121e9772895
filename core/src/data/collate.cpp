#include "data/collate.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "xp/errors.h"

namespace xp::data {

namespace {

// cv::Mat (H x W x C, any continuity) -> owning [C, H, W] float tensor. Done with OpenCV into
// planes that alias the tensor: this runs on loader threads, where torch's own intra-op
// parallelism (an OpenMP team per calling thread) would oversubscribe the cores many times over.
torch::Tensor to_chw_float(const cv::Mat& mat, bool scale_uint8, const std::string& what, const std::string& source) {
  const int h = mat.rows, w = mat.cols, c = mat.channels();
  torch::Tensor out = torch::empty({c, h, w}, torch::kFloat32);
  std::vector<cv::Mat> planes;
  planes.reserve(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) planes.emplace_back(h, w, CV_32FC1, out.data_ptr<float>() + static_cast<size_t>(k) * h * w);
  // Without a `normalize`, integer pixels map to [0, 1] by their depth's range (16-bit data stays
  // 16-bit up to here: nothing is truncated to 8 bits).
  double scale = 1.0;
  if (scale_uint8 && mat.depth() == CV_8U) scale = 1.0 / 255.0;
  if (scale_uint8 && mat.depth() == CV_16U) scale = 1.0 / 65535.0;
  if (c == 1) {
    mat.convertTo(planes[0], CV_32F, scale);
  } else {
    cv::Mat f;
    mat.convertTo(f, CV_MAKETYPE(CV_32F, c), scale);
    if (f.empty()) throw std::runtime_error(source + ": cannot convert " + what + " to float");
    cv::split(f, planes);
  }
  // split/convertTo must have written into the tensor's memory, not reallocated the planes.
  if (planes[0].data != reinterpret_cast<uchar*>(out.data_ptr<float>()))
    throw std::logic_error(source + ": " + what + " conversion did not write in place");
  return out;
}

// cv::Mat uint8 (H x W x C, any continuity) -> owning [H, W, C] uint8 tensor, row by row.
torch::Tensor to_hwc_uint8(const cv::Mat& mat, bool pinned) {
  const int h = mat.rows, w = mat.cols, c = mat.channels();
  torch::Tensor out = torch::empty({h, w, c}, torch::TensorOptions(torch::kUInt8).pinned_memory(pinned));
  cv::Mat view(h, w, mat.type(), out.data_ptr<uint8_t>());
  mat.copyTo(view);
  return out;
}

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "x" : "") << t.size(i);
  return os.str();
}

}  // namespace

// One memcpy per sample: LibTorch's stack/cat moved about 250 MB/s here, slower than decoding the
// JPEGs.
torch::Tensor stack_samples(const std::vector<torch::Tensor>& parts, bool pinned) {
  const torch::Tensor& first = parts.front();
  std::vector<int64_t> shape{static_cast<int64_t>(parts.size())};
  for (int64_t d : first.sizes()) shape.push_back(d);
  torch::Tensor out = torch::empty(shape, torch::TensorOptions(first.scalar_type()).pinned_memory(pinned));
  const size_t bytes = static_cast<size_t>(first.numel()) * first.element_size();
  auto* dst = static_cast<char*>(out.data_ptr());
  for (size_t i = 0; i < parts.size(); ++i) {
    const torch::Tensor& p = parts[i];
    if (p.is_contiguous() && p.device().is_cpu() && p.scalar_type() == first.scalar_type())
      std::memcpy(dst + i * bytes, p.data_ptr(), bytes);
    else
      out[static_cast<int64_t>(i)].copy_(p);
  }
  return out;
}

PreparedSample prepare_sample(const Sample& sample, const PixelConversion* deferred, bool pinned) {
  PreparedSample out;
  if (deferred && sample.image.empty() && sample.encoded && sample.encoded->batch_stage())
    out.pending = std::dynamic_pointer_cast<const PlannedCrop>(sample.encoded);
  if (out.pending && !sample.mask.empty())
    throw std::logic_error(sample.source + ": a sample with a mask was left to the batch decode stage");
  if (out.pending) {
    // The batch stage decodes it (collate); nothing to convert here.
  } else if (sample.image.empty()) {
    throw std::runtime_error(sample.source + ": the dataset returned an empty image");
  } else if (deferred && sample.image.depth() == CV_8U)
    out.image = to_hwc_uint8(sample.image, pinned);
  else if (deferred)
    out.image = deferred->apply_to_float_chw(to_chw_float(sample.image, false, "image", sample.source));
  else
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

namespace {

// A batch with samples left to a batch stage: the stage decodes them and uploads the others.
Batch collate_on_stage(BatchDecodeStage& stage, const std::vector<PreparedSample>& samples, Task task,
                       std::vector<std::pair<size_t, std::string>>* failed) {
  if (task == Task::Segmentation) throw std::logic_error("collate: segmentation samples left to a batch stage");
  std::vector<BatchDecodeStage::Item> items(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    items[i].source = s.source;
    if (s.pending) {
      items[i].planned = s.pending;
      items[i].examined = s.examined;
    } else if (s.image.scalar_type() == torch::kUInt8) {
      items[i].decoded = s.image;
    } else {
      throw std::runtime_error(s.source + ": a float sample cannot join a batch decoded on the GPU (a transform before "
                                          "the crop made floats); use the dataset's decoder = \"cpu\"");
    }
  }
  BatchDecodeStage::Result result = stage.run(items);
  std::vector<bool> dropped(samples.size(), false);
  for (const auto& [i, why] : result.failed) {
    if (!failed) throw BadSample(samples.at(i).source, why);
    dropped.at(i) = true;
    failed->emplace_back(i, why);
  }
  Batch batch;
  batch.input = result.images;
  std::vector<int64_t> labels, indices;
  std::map<std::string, std::vector<int64_t>> extra;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (dropped[i]) continue;
    labels.push_back(samples[i].label);
    indices.push_back(samples[i].index);
    for (const auto& [name, value] : samples[i].labels) extra[name].push_back(value);
  }
  batch.index = torch::tensor(indices, torch::kInt64);
  batch.target = torch::tensor(labels, torch::kInt64);
  for (auto& [name, values] : extra)
    if (values.size() == labels.size()) batch.extra[name] = torch::tensor(values, torch::kInt64);
  return batch;
}

}  // namespace

Batch collate(const std::vector<PreparedSample>& samples, Task task, bool pinned, const PixelConversion* deferred,
              std::vector<std::pair<size_t, std::string>>* failed) {
  Batch batch;
  if (samples.empty()) return batch;
  for (const auto& s : samples)
    if (s.pending) return collate_on_stage(*s.pending->batch_stage(), samples, task, failed);
  const auto& first = samples.front();
  std::vector<torch::Tensor> images, masks;
  images.reserve(samples.size());
  bool all_uint8 = true, any_uint8 = false;
  for (const auto& s : samples) {
    const bool is_uint8 = s.image.scalar_type() == torch::kUInt8;
    all_uint8 = all_uint8 && is_uint8;
    any_uint8 = any_uint8 || is_uint8;
  }
  for (const auto& s : samples) {
    if (any_uint8 && !all_uint8 && s.image.scalar_type() == torch::kUInt8) {
      if (!deferred) throw std::logic_error("collate: uint8 samples without the conversion that defers them");
      images.push_back(deferred->apply(s.image.unsqueeze(0)).squeeze(0).contiguous());
    } else {
      images.push_back(s.image);
    }
  }
  const char* layout = all_uint8 ? " (HxWxC)" : " (CxHxW)";
  std::vector<int64_t> labels, indices;
  std::map<std::string, std::vector<int64_t>> extra;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (!images[i].sizes().equals(images[0].sizes()))
      throw std::runtime_error("samples in one batch differ in size: " + first.source + " is " +
                               shape_of(images[0]) + layout + ", " + s.source + " is " + shape_of(images[i]) +
                               "; add a resize or crop augmentation");
    if (s.mask.defined()) masks.push_back(s.mask);
    labels.push_back(s.label);
    indices.push_back(s.index);
    for (const auto& [name, value] : s.labels) extra[name].push_back(value);
  }
  batch.input = stack_samples(images, pinned);
  batch.index = torch::tensor(indices, torch::kInt64);
  if (task == Task::Segmentation) {
    if (masks.size() != samples.size())
      throw std::runtime_error("segmentation dataset returned a sample without a mask (" + first.source + ")");
    for (const auto& m : masks)
      if (!m.sizes().equals(masks.front().sizes()))
        throw std::runtime_error("masks in one batch differ in size; add a resize or crop augmentation");
    batch.target = stack_samples(masks, pinned);
  } else {
    batch.target = torch::tensor(labels, torch::kInt64);
    if (masks.size() == samples.size()) batch.extra["mask"] = stack_samples(masks, pinned);
  }
  for (auto& [name, values] : extra)
    if (values.size() == samples.size()) batch.extra[name] = torch::tensor(values, torch::kInt64);
  return batch;
}

}  // namespace xp::data
