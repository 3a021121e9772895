#include "engine/tensorboard_events.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/protobuf_encoder.h"

namespace xp::engine::tensorboard {

namespace {

// tensorflow.Event
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
// tensorflow.Summary and Summary.Value
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1, kValueSimpleValue = 2, kValueImage = 4, kValueTensor = 8, kValueMetadata = 9;
// Summary.Image
constexpr uint32_t kImageHeight = 1, kImageWidth = 2, kImageColorspace = 3, kImageEncoded = 4;
// SummaryMetadata and SummaryMetadata.PluginData
constexpr uint32_t kMetadataPluginData = 1, kPluginName = 1, kPluginContent = 2;
// TensorProto, TensorShapeProto and its Dim
constexpr uint32_t kTensorDtype = 1, kTensorShape = 2, kShapeDim = 2;
[[maybe_unused]] constexpr uint32_t kDimSize = 1;  // never written: the one dimension's size is 0
constexpr uint64_t kDtFloat = 1;
// tensorboard.hparams.HParamsPluginData (version = 0: the plugin's PLUGIN_DATA_VERSION)
constexpr uint32_t kSessionStartInfo = 3, kSessionEndInfo = 4;
// SessionStartInfo (hparams is a map<string, google.protobuf.Value>: entries {key = 1, value = 2})
constexpr uint32_t kStartHparams = 1, kStartGroupName = 4, kStartTime = 5;
constexpr uint32_t kMapKey = 1, kMapValue = 2;
// SessionEndInfo
constexpr uint32_t kEndStatus = 1, kEndTime = 2;
// google.protobuf.Value
constexpr uint32_t kNumberValue = 2, kStringValue = 3, kBoolValue = 4;

ProtobufEncoder event(double wall_time, int64_t step) {
  ProtobufEncoder e;
  e.float64(kEventWallTime, wall_time);
  if (step != 0) e.int64(kEventStep, step);
  return e;
}

std::string summary_event(double wall_time, int64_t step, const ProtobufEncoder& value) {
  ProtobufEncoder summary;
  summary.message(kSummaryValue, value);
  return event(wall_time, step).message(kEventSummary, summary).data();
}

// A google.protobuf.Value holding `text` as the type it reads as.
ProtobufEncoder typed_value(const std::string& text) {
  ProtobufEncoder v;
  if (text == "true" || text == "false") {
    v.varint(kBoolValue, text == "true");
    return v;
  }
  char* end = nullptr;
  errno = 0;
  const double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(number))
    v.float64(kNumberValue, number);
  else
    v.bytes(kStringValue, text);
  return v;
}

// An hparams plugin summary: the content is an HParamsPluginData with one field of the oneof set.
// Its value is an empty float tensor: TensorBoard only indexes summaries that carry a tensor, and the
// plugin's own writer uses this one (the shortest valid tensor).
std::string hparams_event(double wall_time, int64_t step, const std::string& tag, uint32_t data_field,
                          const ProtobufEncoder& data) {
  ProtobufEncoder plugin_data_content;
  plugin_data_content.message(data_field, data);
  ProtobufEncoder plugin_data;
  plugin_data.bytes(kPluginName, "hparams").bytes(kPluginContent, plugin_data_content.data());
  ProtobufEncoder metadata;
  metadata.message(kMetadataPluginData, plugin_data);
  ProtobufEncoder dim, shape, tensor;
  shape.message(kShapeDim, dim);  // one dimension of size 0
  tensor.varint(kTensorDtype, kDtFloat).message(kTensorShape, shape);
  ProtobufEncoder value;
  value.bytes(kValueTag, tag).message(kValueMetadata, metadata).message(kValueTensor, tensor);
  return summary_event(wall_time, step, value);
}

}  // namespace

std::string file_version_event(double wall_time) {
  return event(wall_time, 0).bytes(kEventFileVersion, "brain.Event:2").data();
}

std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  ProtobufEncoder v;
  v.bytes(kValueTag, tag).float32(kValueSimpleValue, value);
  return summary_event(wall_time, step, v);
}

std::string image_event(double wall_time, int64_t step, const std::string& tag, const EncodedImage& image) {
  ProtobufEncoder img;
  img.varint(kImageHeight, static_cast<uint64_t>(image.height))
      .varint(kImageWidth, static_cast<uint64_t>(image.width))
      .varint(kImageColorspace, static_cast<uint64_t>(image.colorspace))
      .bytes(kImageEncoded, image.png);
  ProtobufEncoder v;
  v.bytes(kValueTag, tag).message(kValueImage, img);
  return summary_event(wall_time, step, v);
}

std::string session_start_event(double wall_time, const std::map<std::string, std::string>& hparams,
                                 const std::string& group_name) {
  ProtobufEncoder start;
  for (const auto& [name, text] : hparams) {
    ProtobufEncoder entry;
    entry.bytes(kMapKey, name).message(kMapValue, typed_value(text));
    start.message(kStartHparams, entry);
  }
  if (!group_name.empty()) start.bytes(kStartGroupName, group_name);
  start.float64(kStartTime, wall_time);
  return hparams_event(wall_time, 0, "_hparams_/session_start_info", kSessionStartInfo, start);
}

std::string session_end_event(double wall_time, int64_t step, SessionStatus status) {
  ProtobufEncoder end;
  end.varint(kEndStatus, static_cast<uint64_t>(status)).float64(kEndTime, wall_time);
  return hparams_event(wall_time, step, "_hparams_/session_end_info", kSessionEndInfo, end);
}

}  // namespace xp::engine::tensorboard
