#include "object_matching.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <opencv2/imgproc.hpp>

namespace xp::seg {

std::vector<ObjectCounts> match_objects(const cv::Mat& predicted, const cv::Mat& truth,
                                        const std::vector<double>& thresholds, int connectivity, int64_t min_area) {
  cv::Mat pred_labels, true_labels;
  int n_pred = cv::connectedComponents(predicted != 0, pred_labels, connectivity, CV_32S) - 1;
  int n_true = cv::connectedComponents(truth != 0, true_labels, connectivity, CV_32S) - 1;

  std::vector<int64_t> pred_area(n_pred + 1, 0), true_area(n_true + 1, 0);
  std::map<std::pair<int, int>, int64_t> overlap;
  for (int y = 0; y < predicted.rows; ++y) {
    const int* p = pred_labels.ptr<int>(y);
    const int* t = true_labels.ptr<int>(y);
    for (int x = 0; x < predicted.cols; ++x) {
      ++pred_area[p[x]];
      ++true_area[t[x]];
      if (p[x] > 0 && t[x] > 0) ++overlap[{p[x], t[x]}];
    }
  }
  std::vector<bool> kept(n_pred + 1, true);
  int kept_pred = 0;
  for (int i = 1; i <= n_pred; ++i) {
    kept[i] = pred_area[i] >= min_area;
    kept_pred += kept[i];
  }

  // (iou, pred, true), best first; ties broken by labels so the result is deterministic.
  std::vector<std::tuple<double, int, int>> pairs;
  for (const auto& [key, inter] : overlap) {
    if (!kept[key.first]) continue;
    double uni = static_cast<double>(pred_area[key.first] + true_area[key.second] - inter);
    pairs.emplace_back(static_cast<double>(inter) / uni, key.first, key.second);
  }
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
    return std::make_pair(std::get<1>(a), std::get<2>(a)) < std::make_pair(std::get<1>(b), std::get<2>(b));
  });

  std::vector<ObjectCounts> out;
  for (double threshold : thresholds) {
    std::vector<bool> pred_used(n_pred + 1, false), true_used(n_true + 1, false);
    ObjectCounts c;
    for (const auto& [iou, p, t] : pairs) {
      if (iou < threshold) break;
      if (pred_used[p] || true_used[t]) continue;
      pred_used[p] = true_used[t] = true;
      ++c.tp;
    }
    c.fp = kept_pred - c.tp;
    c.fn = n_true - c.tp;
    out.push_back(c);
  }
  return out;
}

}  // namespace xp::seg
