#pragma once
// Extends the first convolution of a backbone pretrained on RGB (or any `pretrained` bands) to
// take extra input bands: the pretrained filters stay as they are for the first bands, and each new
// band's filter is the mean of the pretrained ones over their input channels (the usual
// initialisation: a new band starts out looking like the average of the bands the network knows,
// and an input whose new bands are zero gives exactly the pretrained output).

#include <string>

#include <torch/csrc/jit/api/module.h>

namespace xp::torchscript {

// The dotted name of the first 4-d parameter [O, pretrained, kh, kw] in registration order (the
// stem of torchvision, timm and smp models), or "" when there is none.
std::string find_first_conv(const torch::jit::Module& module, int64_t pretrained);

// Replaces parameter `name` ([O, pretrained, kh, kw]) of `module` with [O, bands, kh, kw] as
// described above. Throws std::invalid_argument naming the problem (no such parameter, wrong shape).
void extend_first_conv(torch::jit::Module& module, const std::string& name, int64_t pretrained, int64_t bands);

}  // namespace xp::torchscript
