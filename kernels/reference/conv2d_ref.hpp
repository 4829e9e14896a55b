#pragma once

#include "kernels/ops/conv2d.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// conv2d in float64 from the definition (conv2d.hpp): src [n, h, w, ic], weights [oc, ic/groups, kh,
// kw], bias [oc] or empty; all f32 views of any strides. Returns [n, oh, ow, oc]; magnitude is
// sum |w*x| + |bias| over the taps inside the image.
RefOutput conv2d(const Conv2dDesc& desc, const ConstTensorView& src, const ConstTensorView& weights,
                 const ConstTensorView& bias);

}  // namespace hwnas::reference
