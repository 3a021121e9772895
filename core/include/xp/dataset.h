#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xp/sample.h"

namespace xp {

enum class Task { Classification, Segmentation };

struct DatasetInfo {
  Task task = Task::Classification;
  int64_t num_classes = 0;               // segmentation: 1 (binary) or the number of classes
  std::vector<std::string> class_names;  // may be empty
  int64_t channels = 3;
  // One name per channel, in order, when the dataset names its bands (e.g. {"red", "green", "blue",
  // "dem"}); empty otherwise. Recorded with the normalization statistics so that a later run or
  // `xp predict` can check that it feeds the same bands in the same order.
  std::vector<std::string> band_names;
};

// One split of a dataset. load() is called from several loader threads at once and must be
// thread-safe; it throws xp::BadSample for an item that cannot be read (the loader skips it).
class Split {
 public:
  virtual ~Split() = default;
  virtual size_t size() const = 0;
  virtual Sample load(size_t index) const = 0;
  // As load(), but the image may stay encoded (Sample::encoded set, Sample::image empty) so that a
  // cropping transform decodes only what it keeps. The data loader calls this; the default decodes.
  virtual Sample load_lazy(size_t index) const { return load(index); }
  // A cheap label for samplers that must not decode images: the class for classification,
  // 1/0 "contains a positive pixel" for segmentation, -1 when unknown.
  virtual int64_t label(size_t index) const { (void)index; return -1; }
};

// Kind "dataset".
class Dataset {
 public:
  static constexpr const char* kKind = "dataset";
  virtual ~Dataset() = default;
  virtual DatasetInfo info() const = 0;
  // "train", "val", "test"; a dataset without a split throws xp::ConfigError.
  virtual std::shared_ptr<Split> split(const std::string& name) = 0;
};

}  // namespace xp
