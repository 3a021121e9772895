#pragma once
// --set KEY=VALUE overrides: KEY is a dotted path into the experiment ("loss.gamma",
// "train.optimizer.lr", "augment.0.p" for the first [[augment]]); VALUE is read as a TOML value
// (5, 1.5, true, "text", [1, 2]) and, when it is not one, taken as a bare string
// (data.plugin=segmentation_folder).

#include <string>
#include <vector>

#include "xp/base/config_node.h"

namespace xp::config {

struct Override {
  std::vector<std::string> path;  // "loss.gamma" -> {"loss", "gamma"}
  Node value;                     // positioned at "--set loss.gamma=1.5"
  std::string text;               // "loss.gamma=1.5", for messages
};

// Throws xp::ConfigError for a malformed KEY=VALUE.
Override parse_override(const std::string& text);

// Applies overrides in order, except that those choosing a `plugin` go first: a table that gets
// another plugin is replaced by { plugin = ... } (the old plugin's parameters mean nothing to
// the new one), and the other overrides then set the new plugin's parameters whatever the order
// on the command line.
void apply_overrides(Node& root, const std::vector<Override>& overrides);

}  // namespace xp::config
