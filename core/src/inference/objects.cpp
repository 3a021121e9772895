#include "inference/objects.h"

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <cstring>
#include <fstream>
#include <iomanip>

#include <opencv2/imgproc.hpp>

#include "xp/errors.h"

namespace xp::inference {

std::vector<SceneObject> find_objects(const cv::Mat& mask, const cv::Mat& probability, int64_t min_area,
                                      int connectivity) {
  if (mask.type() != CV_8U) throw ConfigError("find_objects: the mask must be 8-bit, one channel");
  if (!probability.empty() && (probability.type() != CV_16U || probability.size() != mask.size()))
    throw ConfigError("find_objects: the probability map must be 16-bit and the mask's size");
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, connectivity, CV_32S);
  std::vector<double> sum(static_cast<size_t>(n), 0.0);
  std::vector<uint16_t> peak(static_cast<size_t>(n), 0);
  if (!probability.empty()) {
    for (int r = 0; r < labels.rows; ++r) {
      const int32_t* l = labels.ptr<int32_t>(r);
      const uint16_t* p = probability.ptr<uint16_t>(r);
      for (int c = 0; c < labels.cols; ++c)
        if (l[c] > 0) {
          sum[static_cast<size_t>(l[c])] += p[c];
          peak[static_cast<size_t>(l[c])] = std::max(peak[static_cast<size_t>(l[c])], p[c]);
        }
    }
  }
  std::vector<SceneObject> out;
  for (int i = 1; i < n; ++i) {
    SceneObject o;
    o.area = stats.at<int>(i, cv::CC_STAT_AREA);
    if (o.area < min_area) continue;
    o.id = static_cast<int64_t>(out.size()) + 1;
    o.x = stats.at<int>(i, cv::CC_STAT_LEFT);
    o.y = stats.at<int>(i, cv::CC_STAT_TOP);
    o.width = stats.at<int>(i, cv::CC_STAT_WIDTH);
    o.height = stats.at<int>(i, cv::CC_STAT_HEIGHT);
    o.centroid_x = centroids.at<double>(i, 0);
    o.centroid_y = centroids.at<double>(i, 1);
    o.mean_probability = sum[static_cast<size_t>(i)] / static_cast<double>(o.area) / kProbabilityScale;
    o.max_probability = peak[static_cast<size_t>(i)] / kProbabilityScale;
    out.push_back(o);
  }
  // OpenCV's label order depends on its labelling algorithm; number objects top to bottom, then
  // left to right, so ids are stable.
  std::sort(out.begin(), out.end(), [](const SceneObject& a, const SceneObject& b) {
    return std::tie(a.y, a.x, a.area, a.width, a.height) < std::tie(b.y, b.x, b.area, b.width, b.height);
  });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = static_cast<int64_t>(i) + 1;
  return out;
}

void write_objects_csv(const std::filesystem::path& file, const std::vector<SceneObject>& objects) {
  std::ofstream out(file);
  if (!out) throw ConfigError(file.string() + ": cannot write: " + std::strerror(errno));
  out << "id,area,x,y,width,height,centroid_x,centroid_y,mean_probability,max_probability\n";
  out << std::setprecision(6);
  for (const auto& o : objects)
    out << o.id << ',' << o.area << ',' << o.x << ',' << o.y << ',' << o.width << ',' << o.height << ','
        << o.centroid_x << ',' << o.centroid_y << ',' << o.mean_probability << ',' << o.max_probability << '\n';
  if (!out) throw ConfigError(file.string() + ": write failed: " + std::strerror(errno));
}

}  // namespace xp::inference
