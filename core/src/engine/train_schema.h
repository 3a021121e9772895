#pragma once
#include "xp/schema.h"

namespace xp::engine {

// The schema of an experiment's [train] table, validated like a plugin's parameters and printed by
// `xp plugins show train`-style docs. Extend it here when the engine learns a new option.
Schema train_schema();

}  // namespace xp::engine
