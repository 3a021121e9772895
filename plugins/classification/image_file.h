#pragma once
// Decoding image files for the file-based datasets, and the Split over a list of (file, label).
// Every way a file can be bad (missing, empty, truncated, not an image) becomes xp::BadSample so
// the loader can skip it; OpenCV itself only returns an empty Mat or decodes a truncated JPEG as
// a partly grey image, which would silently poison training.

#include <memory>
#include <string>
#include <vector>

#include <xp/batch_decode.h>
#include <xp/dataset.h>
#include <xp/params.h>
#include <xp/schema.h>

namespace xp::raster {
class BandSet;
}

namespace xp::classification {

struct DecodeOptions {
  int channels = 3;      // 3 = RGB (converted from OpenCV's BGR), 1 = grey
  int64_t height = 0;    // resize target, 0 = keep the file's size
  int64_t width = 0;
  bool verify_end = true;  // reject JPEG/PNG files without their end marker (truncated)
  bool nvjpeg = false;     // decoder = "nvjpeg": JPEGs decoded on the GPU (nvjpeg_decoder.h)
  bool scaled = false;     // scaled_decode resolved: large crops decoded at a reduced scale (jpeg_image.h)
  // decoder = "nvjpeg_batched": the GPU stage that decodes planned crops batch by batch
  // (nvjpeg_batch_stage.h), shared by the dataset's splits.
  std::shared_ptr<BatchDecodeStage> stage;
  // bands = [...]: the image file's bands by name, in that order, 8/16-bit kept (N-band TIFFs);
  // null = `channels` as above.
  std::shared_ptr<const raster::BandSet> bands;
  std::vector<std::string> band_names;  // bands' names; empty without bands

  // What DatasetInfo says about the channels: their count, and their names when `bands` names them.
  int64_t channel_count() const;
  std::vector<std::string> channel_names() const;

  // The schema parameters shared by the file-based datasets, and reading them back.
  static void add_to(Schema& schema);
  static DecodeOptions from(const Params& params);
};

// Throws xp::BadSample(path, reason).
cv::Mat decode_image_file(const std::string& path, const DecodeOptions& options);

class ImageFileSplit : public Split {
 public:
  ImageFileSplit(std::vector<std::string> paths, std::vector<int64_t> labels, DecodeOptions options)
      : paths_(std::move(paths)), labels_(std::move(labels)), options_(options) {}
  size_t size() const override { return paths_.size(); }
  Sample load(size_t index) const override;
  Sample load_lazy(size_t index) const override;  // JPEGs stay encoded (JpegImage)
  int64_t label(size_t index) const override { return labels_.at(index); }
  const std::string& path(size_t index) const { return paths_.at(index); }

 private:
  std::vector<std::string> paths_;
  std::vector<int64_t> labels_;
  DecodeOptions options_;
};

}  // namespace xp::classification
