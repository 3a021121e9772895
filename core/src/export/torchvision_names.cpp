#include "export/torchvision_names.h"

#include <regex>

#include "xp/errors.h"

namespace xp::exporting {

TorchvisionMatch torchvision_equivalent(const Params& model) {
  TorchvisionMatch m;
  const std::string& plugin = model.plugin();
  auto no = [&](const std::string& why) {
    m.reason = why;
    return m;
  };
  if (plugin != "resnet" && plugin != "mobilenet_v2") return no("model '" + plugin + "' has no torchvision equivalent");
  if (model.get_int("in_channels") != 3) return no("in_channels " + std::to_string(model.get_int("in_channels")) + " (torchvision takes 3)");
  if (model.get_bool("small_input")) return no("small_input = true (torchvision has the ImageNet stem only)");
  if (plugin == "resnet") {
    if (model.get_float("width") != 1.0) return no("resnet width " + std::to_string(model.get_float("width")) + " (torchvision: 1)");
    m.architecture = "resnet" + std::to_string(model.get_int("depth"));
  } else {
    m.architecture = "mobilenet_v2";
  }
  return m;
}

namespace {

std::string resnet_name(const std::string& key) {
  static const std::regex stem(R"(^backbone\.stem\.([01])\.(.*)$)");
  static const std::regex layer(R"(^backbone\.(layer[1-4]\..*)$)");
  static const std::regex head(R"(^head\.(.*)$)");
  std::smatch m;
  if (std::regex_match(key, m, stem)) return (m[1] == "0" ? "conv1." : "bn1.") + m[2].str();
  if (std::regex_match(key, m, layer)) return m[1].str();
  if (std::regex_match(key, m, head)) return "fc." + m[1].str();
  return {};
}

// xp block k (1..17) has expand (when its expansion is not 1), depthwise, project, project_bn;
// torchvision's features[k].conv numbers the same modules 0.. in order. Block 1 (expansion 1)
// starts at depthwise.
std::string mobilenet_name(const std::string& key) {
  static const std::regex stem(R"(^backbone\.stem\.([01])\.(.*)$)");
  static const std::regex block(R"(^backbone\.block([0-9]+)\.conv\.(expand|depthwise|project|project_bn)\.(.*)$)");
  static const std::regex last(R"(^backbone\.last\.([01])\.(.*)$)");
  static const std::regex head(R"(^head\.(.*)$)");
  std::smatch m;
  if (std::regex_match(key, m, stem)) return "features.0." + m[1].str() + "." + m[2].str();
  if (std::regex_match(key, m, last)) return "features.18." + m[1].str() + "." + m[2].str();
  if (std::regex_match(key, m, head)) return "classifier.1." + m[1].str();
  if (std::regex_match(key, m, block)) {
    const int k = std::stoi(m[1].str());
    const bool has_expand = k != 1;
    const std::string part = m[2].str();
    int index = part == "expand" ? 0 : part == "depthwise" ? 1 : part == "project" ? 2 : 3;
    if (!has_expand) --index;
    // project is a bare conv in both; the others are conv-bn-relu6 stacks whose children are 0, 1.
    return "features." + std::to_string(k) + ".conv." + std::to_string(index) + "." + m[3].str();
  }
  return {};
}

}  // namespace

NamedTensors to_torchvision_names(const TorchvisionMatch& match, const NamedTensors& tensors) {
  if (match.architecture.empty()) return tensors;
  const bool resnet = match.architecture.rfind("resnet", 0) == 0;
  NamedTensors out;
  for (const auto& [key, t] : tensors) {
    std::string name = resnet ? resnet_name(key) : mobilenet_name(key);
    if (name.empty())
      throw ConfigError("export: no torchvision name for " + match.architecture + " parameter '" + key +
                        "' (the model's module names changed; update core/src/export/torchvision_names.cpp)");
    out.emplace_back(name, t);
  }
  return out;
}

}  // namespace xp::exporting
