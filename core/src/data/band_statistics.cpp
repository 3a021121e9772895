#include "data/band_statistics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "xp/errors.h"

namespace xp::data {

namespace fs = std::filesystem;

namespace {

const char* depth_name(int depth) {
  return depth == CV_8U ? "uint8" : depth == CV_16U ? "uint16" : "float32";
}

// Exact statistics of integer pixel values from their histogram.
struct Histogram {
  std::vector<uint64_t> counts;
  uint64_t total() const {
    uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
  }
  // Nearest-rank percentile: the smallest value with at least p% of the pixels at or below it.
  double percentile(double p) const {
    const uint64_t n = total();
    const double rank = std::max(1.0, std::ceil(p / 100.0 * static_cast<double>(n)));
    uint64_t seen = 0;
    for (size_t v = 0; v < counts.size(); ++v) {
      seen += counts[v];
      if (static_cast<double>(seen) >= rank) return static_cast<double>(v);
    }
    return static_cast<double>(counts.size() - 1);
  }
  void mean_std(double lo, double hi, double& mean, double& stddev) const {
    long double sum = 0, sum2 = 0;
    uint64_t n = 0;
    for (size_t v = 0; v < counts.size(); ++v) {
      if (!counts[v]) continue;
      const long double x = std::clamp<double>(static_cast<double>(v), lo, hi);
      sum += x * counts[v];
      sum2 += x * x * counts[v];
      n += counts[v];
    }
    mean = static_cast<double>(sum / n);
    const long double var = sum2 / n - (sum / n) * (sum / n);
    stddev = std::sqrt(static_cast<double>(std::max<long double>(var, 0)));
  }
};

}  // namespace

BandStatistics compute_band_statistics(const Split& split, const BandStatisticsOptions& options,
                                       const std::vector<std::string>& band_names) {
  const auto& pct = options.clip_percentiles;
  if (!pct.empty() && (pct.size() != 2 || pct[0] < 0 || pct[1] > 100 || pct[0] >= pct[1]))
    throw std::invalid_argument("clip_percentiles must be [lo, hi] with 0 <= lo < hi <= 100");
  const int64_t n = static_cast<int64_t>(split.size());
  const int64_t used = options.max_samples > 0 ? std::min(n, options.max_samples) : n;
  BandStatistics out;
  out.bands = band_names;
  out.clip_percentiles = pct;
  int channels = -1, depth = -1;
  std::vector<Histogram> hist;
  std::vector<long double> sum, sum2;  // float bands
  uint64_t pixels = 0;
  for (int64_t k = 0; k < used; ++k) {
    const int64_t index = used == n ? k : k * n / used;  // spread over the split, not its head
    Sample s;
    try {
      s = split.load(static_cast<size_t>(index));
      decode_pending(s);
    } catch (const BadSample&) {
      ++out.skipped;
      continue;
    }
    const cv::Mat& image = s.image;
    if (channels < 0) {
      channels = image.channels();
      depth = image.depth() == CV_8U || image.depth() == CV_16U ? image.depth() : CV_32F;
      if (depth == CV_32F && !pct.empty())
        throw std::invalid_argument("clip_percentiles need 8- or 16-bit bands; " + s.source + " is " +
                                    std::to_string(image.elemSize1() * 8) + "-bit non-integer");
      if (depth == CV_32F) {
        sum.assign(channels, 0);
        sum2.assign(channels, 0);
      } else {
        hist.assign(channels, Histogram{std::vector<uint64_t>(depth == CV_8U ? 256 : 65536, 0)});
      }
    } else if (image.channels() != channels) {
      throw std::runtime_error("normalization statistics: " + s.source + " has " + std::to_string(image.channels()) +
                               " bands but earlier samples have " + std::to_string(channels));
    }
    const int sample_depth = image.depth() == CV_8U || image.depth() == CV_16U ? image.depth() : CV_32F;
    if (sample_depth != depth)
      throw std::runtime_error(std::string("normalization statistics: ") + s.source + " is " + depth_name(sample_depth) +
                               " but earlier samples are " + depth_name(depth));
    for (int r = 0; r < image.rows; ++r) {
      if (depth == CV_8U) {
        const uint8_t* p = image.ptr<uint8_t>(r);
        for (int i = 0; i < image.cols * channels; ++i) ++hist[i % channels].counts[p[i]];
      } else if (depth == CV_16U) {
        const uint16_t* p = image.ptr<uint16_t>(r);
        for (int i = 0; i < image.cols * channels; ++i) ++hist[i % channels].counts[p[i]];
      } else {
        cv::Mat row;
        image.row(r).convertTo(row, CV_64F);
        const double* p = row.ptr<double>(0);
        for (int i = 0; i < image.cols * channels; ++i) {
          sum[i % channels] += p[i];
          sum2[i % channels] += static_cast<long double>(p[i]) * p[i];
        }
      }
    }
    pixels += static_cast<uint64_t>(image.rows) * image.cols;
    ++out.samples;
  }
  if (out.samples == 0)
    throw std::runtime_error("normalization statistics: no readable sample in the training split (" +
                             std::to_string(out.skipped) + " skipped)");
  if (!band_names.empty() && static_cast<int>(band_names.size()) != channels)
    out.bands.clear();  // the dataset's names do not describe these samples
  out.depth = depth_name(depth);
  out.pixels = static_cast<int64_t>(pixels);
  for (int c = 0; c < channels; ++c) {
    double mean, stddev;
    if (depth == CV_32F) {
      mean = static_cast<double>(sum[c] / pixels);
      stddev = std::sqrt(static_cast<double>(std::max<long double>(sum2[c] / pixels - (sum[c] / pixels) * (sum[c] / pixels), 0)));
    } else {
      double lo = -INFINITY, hi = INFINITY;
      if (!pct.empty()) {
        lo = hist[c].percentile(pct[0]);
        hi = hist[c].percentile(pct[1]);
        out.clip_low.push_back(lo);
        out.clip_high.push_back(hi);
      }
      hist[c].mean_std(lo, hi, mean, stddev);
    }
    out.mean.push_back(mean);
    out.std.push_back(stddev > 0 ? stddev : 1.0);
  }
  return out;
}

void write_band_statistics(const BandStatistics& s, const fs::path& file) {
  nlohmann::json j;
  j["bands"] = s.bands;
  j["mean"] = s.mean;
  j["std"] = s.std;
  j["max_pixel_value"] = 1.0;
  j["clip_percentiles"] = s.clip_percentiles;
  j["clip_low"] = s.clip_low;
  j["clip_high"] = s.clip_high;
  j["depth"] = s.depth;
  j["split"] = s.split;
  j["samples"] = s.samples;
  j["skipped"] = s.skipped;
  j["pixels_per_band"] = s.pixels;
  j["formula"] = "x = (clip(v, clip_low, clip_high) - mean) / std, per band";
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    out << j.dump(2) << "\n";  // nlohmann writes doubles so that they read back exactly
    if (!out) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  fs::rename(tmp, file);  // a crash leaves the old file or none, never half a file
}

BandStatistics read_band_statistics(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string() + ": " + std::strerror(errno));
  BandStatistics s;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    s.bands = j.at("bands").get<std::vector<std::string>>();
    s.mean = j.at("mean").get<std::vector<double>>();
    s.std = j.at("std").get<std::vector<double>>();
    s.clip_percentiles = j.value("clip_percentiles", std::vector<double>{});
    s.clip_low = j.value("clip_low", std::vector<double>{});
    s.clip_high = j.value("clip_high", std::vector<double>{});
    s.depth = j.value("depth", std::string{});
    s.split = j.value("split", std::string("train"));
    s.samples = j.value("samples", int64_t{0});
    s.skipped = j.value("skipped", int64_t{0});
    s.pixels = j.value("pixels_per_band", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file.string() + ": not a normalization statistics file: " + e.what());
  }
  if (s.mean.empty() || s.mean.size() != s.std.size())
    throw std::runtime_error(file.string() + ": mean and std need the same, non-zero number of values");
  return s;
}

}  // namespace xp::data
