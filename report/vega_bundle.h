#pragma once
// The vendored chart renderer (third_party/vega, pinned npm builds), compiled into xp so that every
// HTML page carries it inline and opens with no network. The definitions are generated at build
// time by report/embed_vega.cmake.
#include <string_view>

namespace xp::report {

std::string_view vega_js();        // vega.min.js
std::string_view vega_lite_js();   // vega-lite.min.js (needs vega)
std::string_view vega_embed_js();  // vega-embed.min.js (needs both)
// "vega 6.4.0, vega-lite 6.5.0, vega-embed 7.3.0", from third_party/vega/package.json.
const char* vega_versions();

}  // namespace xp::report
