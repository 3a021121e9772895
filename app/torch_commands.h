#pragma once
// The commands that train, validate or load models need LibTorch, whose start alone costs about a
// second (its static initialisers and the dynamic loader: docs/performance.md). They are built into
// a module, libxp_torch_commands.so, that `xp` loads only when one of them runs; the registry
// commands (runs, show, diff, report, registry) live in the binary itself and never load LibTorch.

#include <string>
#include <vector>

namespace xp::cli {

// The names the module registers, known without loading it (dispatch, did-you-mean). main checks
// this list against what the module registers whenever it loads it.
const std::vector<std::string>& torch_command_names();

// Loads the module once; its commands register themselves into commands(). Throws
// std::runtime_error naming the file tried and the loader's reason when it cannot be loaded.
void load_torch_commands();

}  // namespace xp::cli
