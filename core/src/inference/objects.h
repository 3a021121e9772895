#pragma once
// The objects of a segmentation mask: its 8-connected components, with their area,
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

// The objects of a mask given in strips of rows, top to bottom: connected components labelled on
// the fly (runs of each row joined to the previous row's runs through union-find), so memory holds
// two rows of runs and the statistics of the objects still open, never a label image.
class ObjectTracker {
 public:
  explicit ObjectTracker(int64_t width, int connectivity = 8);
  // The next rows: mask CV_8U (non-zero = object), probability CV_16U of the same size, or empty.
  void add_rows(const cv::Mat& mask, const cv::Mat& probability);
  // Every object, ordered by the bounding box's top, then left edge; those under min_area left out.
  std::vector<SceneObject> finish(int64_t min_area = 1);

 private:
  struct Stats {
    int64_t area = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    double sum_x = 0, sum_y = 0, sum_p = 0;
    uint16_t max_p = 0;
  };
  struct Run {
    int64_t begin, end;  // [begin, end]
    int32_t label;
  };
  int32_t find(int32_t l);
  int32_t new_label();
  void close_object(int32_t root);

  int64_t width_;
  int connectivity_;
  int64_t y_ = 0;
  std::vector<int32_t> parent_;
  std::vector<Stats> stats_;
  std::vector<int64_t> seen_;  // per label: the last row that closed or continued it
  std::vector<int32_t> free_, merged_;
  std::vector<Run> previous_, current_;
  std::vector<SceneObject> done_;
};

// mask: CV_8U, non-zero = object. probability: CV_16U (p * 65535) of the same size, or empty
// (probabilities then 0). Components smaller than min_area pixels are left out.
std::vector<SceneObject> find_objects(const cv::Mat& mask, const cv::Mat& probability, int64_t min_area = 1,
                                      int connectivity = 8);

// id,area,x,y,width,height,centroid_x,centroid_y,mean_probability,max_probability
void write_objects_csv(const std::filesystem::path& file, const std::vector<SceneObject>& objects);

}  // namespace xp::inference
