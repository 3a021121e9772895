#pragma once
// Object-level scoring of one binary prediction against one binary truth: connected components on
// both sides, then greedy one-to-one matching of the pairs in decreasing IoU order, a pair counting
// when its IoU reaches the threshold.

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::seg {

struct ObjectCounts {
  int64_t tp = 0, fp = 0, fn = 0;
  ObjectCounts& operator+=(const ObjectCounts& o) {
    tp += o.tp;
    fp += o.fp;
    fn += o.fn;
    return *this;
  }
};

// `predicted` and `truth` are CV_8U, non-zero = positive. Predicted components smaller than
// `min_area` pixels are dropped (speckle). One result per threshold.
std::vector<ObjectCounts> match_objects(const cv::Mat& predicted, const cv::Mat& truth,
                                        const std::vector<double>& iou_thresholds, int connectivity = 8,
                                        int64_t min_area = 1);

}  // namespace xp::seg
