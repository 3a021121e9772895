#pragma once
// The objects of a segmentation mask: its 8-connected components (OpenCV), with their area,
// bounding box, centroid and the mean and maximum probability over their pixels.

#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::inference {

// Probability maps are stored as 16-bit images: one level is 1 / 65535.
constexpr double kProbabilityScale = 65535.0;

struct SceneObject {
  int64_t id = 0;  // 1-based, ordered by the bounding box's top, then left edge
  int64_t area = 0;
  int64_t x = 0, y = 0, width = 0, height = 0;  // bounding box, pixels
  double centroid_x = 0, centroid_y = 0;
  double mean_probability = 0, max_probability = 0;
};

// mask: CV_8U, non-zero = object. probability: CV_16U (p * 65535) of the same size, or empty
// (probabilities then 0). Components smaller than min_area pixels are left out.
std::vector<SceneObject> find_objects(const cv::Mat& mask, const cv::Mat& probability, int64_t min_area = 1,
                                      int connectivity = 8);

// id,area,x,y,width,height,centroid_x,centroid_y,mean_probability,max_probability
void write_objects_csv(const std::filesystem::path& file, const std::vector<SceneObject>& objects);

}  // namespace xp::inference
