#include "engine/tensorboard_writer.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace xp::engine {

namespace fs = std::filesystem;

namespace {

constexpr size_t kFlushBytes = 1u << 20;  // a megabyte of events (a few images) is worth a write

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

fs::path new_events_file(const fs::path& dir) {
  fs::create_directories(dir);
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string base = "events.out.tfevents." + std::to_string(seconds) + "." + host;
  fs::path path = dir / base;
  for (int n = 1; fs::exists(path); ++n) path = dir / (base + "." + std::to_string(n));
  return path;
}

TensorBoardWriter::TensorBoardWriter(const fs::path& dir, double flush_seconds)
    : records_(new_events_file(dir)),
      flush_seconds_(flush_seconds),
      last_flush_(std::chrono::steady_clock::now()) {
  records_.write(tensorboard::file_version_event(wall_time()));
  // The file is complete from the start: `tensorboard` finds it before the first epoch ends.
  flush();
}

void TensorBoardWriter::write(const std::string& event) {
  records_.write(event);
  if (records_.buffered_bytes() >= kFlushBytes ||
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_flush_).count() >= flush_seconds_)
    flush();
}

void TensorBoardWriter::scalar(const std::string& tag, int64_t step, double value) {
  write(tensorboard::scalar_event(wall_time(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::image(const std::string& tag, int64_t step, const cv::Mat& pixels) {
  if (pixels.empty() || pixels.depth() != CV_8U || (pixels.channels() != 1 && pixels.channels() != 3))
    throw std::invalid_argument("tensorboard image '" + tag + "': expected 8-bit grey or RGB pixels");
  cv::Mat bgr = pixels;  // imencode takes OpenCV's channel order
  if (pixels.channels() == 3) cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> png;
  if (!cv::imencode(".png", bgr, png)) throw std::runtime_error("tensorboard image '" + tag + "': PNG encoding failed");
  tensorboard::EncodedImage image;
  image.height = pixels.rows;
  image.width = pixels.cols;
  image.colorspace = pixels.channels() == 1 ? 1 : 3;
  image.png.assign(png.begin(), png.end());
  write(tensorboard::image_event(wall_time(), step, tag, image));
}

void TensorBoardWriter::session_start(const std::map<std::string, std::string>& hparams, const std::string& group_name) {
  write(tensorboard::session_start_event(wall_time(), hparams, group_name));
}

void TensorBoardWriter::session_end(int64_t step, tensorboard::SessionStatus status) {
  write(tensorboard::session_end_event(wall_time(), step, status));
}

void TensorBoardWriter::flush() {
  records_.flush();
  last_flush_ = std::chrono::steady_clock::now();
}

}  // namespace xp::engine
