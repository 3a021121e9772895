#pragma once
// A run's TensorBoard events file: <dir>/events.out.tfevents.<unix seconds>.<hostname>, TFRecords of
// tensorflow.Event messages (engine/tensorboard_events.h). Each writer starts a new file, so a
// resumed run appends one next to the first; TensorBoard reads a folder's files as one run and
// drops the steps a restart repeats.
//
// Events are buffered in memory; flush() writes them (the trainer calls it every epoch), and so
// does the writer itself when its buffer is large or has waited `flush_seconds`.

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include <opencv2/core.hpp>

#include "engine/tensorboard_events.h"
#include "util/tfrecord_writer.h"

namespace xp::engine {

class TensorBoardWriter {
 public:
  // Creates `dir` when missing and the events file in it; throws std::runtime_error when it cannot.
  explicit TensorBoardWriter(const std::filesystem::path& dir, double flush_seconds = 30.0);

  void scalar(const std::string& tag, int64_t step, double value);
  // `pixels`: CV_8UC1 (grey) or CV_8UC3 in RGB order; stored as PNG.
  void image(const std::string& tag, int64_t step, const cv::Mat& pixels);
  void session_start(const std::map<std::string, std::string>& hparams, const std::string& group_name = {});
  void session_end(int64_t step, tensorboard::SessionStatus status);
  void flush();

  const std::filesystem::path& path() const { return records_.path(); }

 private:
  void write(const std::string& event);

  TFRecordWriter records_;
  double flush_seconds_;
  std::chrono::steady_clock::time_point last_flush_;
};

// The path for a new events file in `dir` (created when missing): events.out.tfevents.<seconds>.<hostname>, with a
// ".N" suffix when a file of that name exists (a resume within the same second).
std::filesystem::path new_events_file(const std::filesystem::path& dir);

}  // namespace xp::engine
