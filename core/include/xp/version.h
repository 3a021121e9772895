#pragma once
// Versions that a plugin and the host must agree on before the host trusts the plugin's code.

#define XP_VERSION_STRING "0.1.0"

// 3: Metric::reduce_state (distributed evaluation).
// 4: Schema::tasks (the tasks a plugin accepts or a dataset produces); source compatible.
// Bumped whenever a public SDK type changes layout or a virtual interface changes.
// A plugin built against another ABI version is refused at load time.
#ifndef XP_PLUGIN_ABI_VERSION
#define XP_PLUGIN_ABI_VERSION 4
#endif
