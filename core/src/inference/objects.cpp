#include "inference/objects.h"

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <cstring>
#include <fstream>
#include <iomanip>


#include "xp/errors.h"

namespace xp::inference {

ObjectTracker::ObjectTracker(int64_t width, int connectivity) : width_(width), connectivity_(connectivity) {
  if (connectivity != 4 && connectivity != 8) throw ConfigError("connectivity must be 4 or 8");
}

int32_t ObjectTracker::find(int32_t l) {
  while (parent_[static_cast<size_t>(l)] != l) {
    int32_t& up = parent_[static_cast<size_t>(l)];
    up = parent_[static_cast<size_t>(up)];  // path halving
    l = up;
  }
  return l;
}

int32_t ObjectTracker::new_label() {
  int32_t l;
  if (!free_.empty()) {
    l = free_.back();
    free_.pop_back();
  } else {
    l = static_cast<int32_t>(parent_.size());
    parent_.push_back(l);
    stats_.emplace_back();
    seen_.push_back(-1);
  }
  parent_[static_cast<size_t>(l)] = l;
  stats_[static_cast<size_t>(l)] = Stats{};
  seen_[static_cast<size_t>(l)] = -1;
  return l;
}

void ObjectTracker::close_object(int32_t root) {
  const Stats& s = stats_[static_cast<size_t>(root)];
  SceneObject o;
  o.area = s.area;
  o.x = s.x0, o.y = s.y0, o.width = s.x1 - s.x0 + 1, o.height = s.y1 - s.y0 + 1;
  o.centroid_x = s.sum_x / static_cast<double>(s.area);
  o.centroid_y = s.sum_y / static_cast<double>(s.area);
  o.mean_probability = s.sum_p / static_cast<double>(s.area) / kProbabilityScale;
  o.max_probability = s.max_p / kProbabilityScale;
  done_.push_back(o);
}

void ObjectTracker::add_rows(const cv::Mat& mask, const cv::Mat& probability) {
  if (mask.type() != CV_8U || mask.cols != width_) throw ConfigError("find_objects: the mask must be 8-bit, one channel");
  if (!probability.empty() && (probability.type() != CV_16U || probability.size() != mask.size()))
    throw ConfigError("find_objects: the probability map must be 16-bit and the mask's size");
  const int64_t slack = connectivity_ == 8 ? 1 : 0;  // diagonal neighbours touch under 8-connectivity
  for (int r = 0; r < mask.rows; ++r, ++y_) {
    const uint8_t* m = mask.ptr<uint8_t>(r);
    const uint16_t* p = probability.empty() ? nullptr : probability.ptr<uint16_t>(r);
    current_.clear();
    size_t j = 0;
    for (int64_t x = 0; x < width_;) {
      if (!m[x]) {
        ++x;
        continue;
      }
      const int64_t begin = x;
      double sum_p = 0;
      uint16_t max_p = 0;
      for (; x < width_ && m[x]; ++x)
        if (p) sum_p += p[x], max_p = std::max(max_p, p[x]);
      const int64_t end = x - 1, len = end - begin + 1;
      // Join every run of the previous row that touches this one.
      while (j < previous_.size() && previous_[j].end + slack < begin) ++j;
      int32_t label = -1;
      for (size_t k = j; k < previous_.size() && previous_[k].begin <= end + slack; ++k) {
        const int32_t other = find(previous_[k].label);
        if (label < 0) {
          label = other;
        } else if (other != label) {
          Stats& a = stats_[static_cast<size_t>(label)];
          const Stats& b = stats_[static_cast<size_t>(other)];
          a.area += b.area, a.sum_x += b.sum_x, a.sum_y += b.sum_y, a.sum_p += b.sum_p;
          a.max_p = std::max(a.max_p, b.max_p);
          a.x0 = std::min(a.x0, b.x0), a.x1 = std::max(a.x1, b.x1), a.y0 = std::min(a.y0, b.y0);
          parent_[static_cast<size_t>(other)] = label;
          merged_.push_back(other);
        }
      }
      if (label < 0) {
        label = new_label();
        Stats& s = stats_[static_cast<size_t>(label)];
        s.x0 = begin, s.x1 = end, s.y0 = y_;
      }
      Stats& s = stats_[static_cast<size_t>(label)];
      s.area += len;
      s.sum_x += static_cast<double>((begin + end) * len / 2);
      s.sum_y += static_cast<double>(y_ * len);
      s.sum_p += sum_p;
      s.max_p = std::max(s.max_p, max_p);
      s.x0 = std::min(s.x0, begin), s.x1 = std::max(s.x1, end), s.y1 = y_;
      current_.push_back({begin, end, label});
    }
    // Objects of the previous row that no run of this row continues are complete.
    for (auto& run : current_) {
      run.label = find(run.label);
      seen_[static_cast<size_t>(run.label)] = y_;
    }
    for (const auto& run : previous_) {
      const int32_t root = find(run.label);
      if (seen_[static_cast<size_t>(root)] == y_) continue;
      seen_[static_cast<size_t>(root)] = y_;
      close_object(root);
      free_.push_back(root);
    }
    free_.insert(free_.end(), merged_.begin(), merged_.end());
    merged_.clear();
    std::swap(previous_, current_);
  }
}

std::vector<SceneObject> ObjectTracker::finish(int64_t min_area) {
  for (const auto& run : previous_) {
    const int32_t root = find(run.label);
    if (seen_[static_cast<size_t>(root)] == y_) continue;
    seen_[static_cast<size_t>(root)] = y_;
    close_object(root);
  }
  previous_.clear();
  std::vector<SceneObject> out;
  for (const auto& o : done_)
    if (o.area >= min_area) out.push_back(o);
  done_.clear();
  // Number objects top to bottom, then left to right, so ids are stable.
  std::sort(out.begin(), out.end(), [](const SceneObject& a, const SceneObject& b) {
    return std::tie(a.y, a.x, a.area, a.width, a.height) < std::tie(b.y, b.x, b.area, b.width, b.height);
  });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = static_cast<int64_t>(i) + 1;
  return out;
}

std::vector<SceneObject> find_objects(const cv::Mat& mask, const cv::Mat& probability, int64_t min_area,
                                      int connectivity) {
  if (mask.type() != CV_8U) throw ConfigError("find_objects: the mask must be 8-bit, one channel");
  ObjectTracker tracker(mask.cols, connectivity);
  tracker.add_rows(mask, probability);
  return tracker.finish(min_area);
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
