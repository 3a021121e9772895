#pragma once
// TensorBoard's event messages, encoded by hand (util/protobuf_encoder.h): each function returns one
// serialized tensorflow.Event, ready to be a TFRecord. Field numbers follow
// tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto and the hparams plugin's
// plugin_data.proto and api.proto (tensorboard/plugins/hparams).

#include <cstdint>
#include <map>
#include <string>

namespace xp::engine::tensorboard {

// The first record of every events file: Event{file_version = "brain.Event:2"}.
std::string file_version_event(double wall_time);

// A scalar, as Summary.Value.simple_value (TensorBoard's scalars dashboard).
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);

// An encoded image (PNG bytes) for the images dashboard. colorspace: 1 grey, 3 RGB, 4 RGBA.
struct EncodedImage {
  int height = 0, width = 0, colorspace = 0;
  std::string png;
};
std::string image_event(double wall_time, int64_t step, const std::string& tag, const EncodedImage& image);

// HParams plugin: the run is one session. Values that parse as numbers become numbers, "true" and
// "false" booleans, everything else strings, so the HParams dashboard can sort and filter them.
// TensorBoard derives the experiment (the hparam and metric columns) from every session's start info
// and the scalar tags of the session's run; no `_hparams_/experiment` summary is written, because
// TensorBoard takes the first one it finds for the whole log directory and would hide the
// hyperparameters of every other variant under `--logdir xp-runs`.
std::string session_start_event(double wall_time, const std::map<std::string, std::string>& hparams,
                                 const std::string& group_name = {});

enum class SessionStatus { Unknown = 0, Success = 1, Failure = 2, Running = 3 };  // api.proto Status
std::string session_end_event(double wall_time, int64_t step, SessionStatus status);

}  // namespace xp::engine::tensorboard
