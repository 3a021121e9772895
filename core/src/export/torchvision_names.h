#pragma once
// State-dict key names of torchvision for xp models of the same architecture, so that
// torchvision.models.resnet18().load_state_dict(safetensors.torch.load_file(...)) takes an export.
//   resnet (depth 18/34/50/101/152, width 1, small_input false) -> torchvision.models.resnetNN
//   mobilenet_v2 (small_input false)                             -> torchvision.models.mobilenet_v2
// (3 input channels: torchvision's stems take RGB.)

#include <string>
#include <vector>

#include "export/safetensors.h"
#include "xp/params.h"

namespace xp::exporting {

struct TorchvisionMatch {
  std::string architecture;  // "resnet18", "mobilenet_v2", ...; empty: no torchvision equivalent
  std::string reason;        // why not, when empty ("width 0.5 is not a torchvision resnet")
};

TorchvisionMatch torchvision_equivalent(const Params& model);

// The same tensors under torchvision's names. Throws xp::ConfigError naming a key it cannot map
// (an xp model changed its module names: the mapping must follow).
NamedTensors to_torchvision_names(const TorchvisionMatch& match, const NamedTensors& tensors);

}  // namespace xp::exporting
