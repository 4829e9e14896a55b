// Pointwise activations, used standalone (EltwisePlan) and fused into linear/conv2d plans.
#pragma once

#include <string_view>

namespace hwnas {

enum class Activation {
  None,
  Relu,
  GeluErf,    // x * Phi(x), exact (PyTorch nn.GELU())
  GeluTanh,   // tanh approximation (PyTorch nn.GELU(approximate="tanh"))
  Silu,       // x * sigmoid(x) (Swish with beta = 1)
  StarRelu,   // scale * relu(x)^2 + bias (MetaFormer); scale, bias are op parameters
  Hardswish,  // x * relu6(x + 3) / 6
  Sigmoid,    // 1 / (1 + exp(-x)) (the gate of squeeze-and-excitation)
};

std::string_view to_string(Activation act);              // "none", "relu", "gelu_erf", ...
Activation parse_activation(std::string_view name);      // throws InvalidArgument listing the names
inline constexpr std::string_view kActivationNames[] = {
    "none", "relu", "gelu_erf", "gelu_tanh", "silu", "star_relu", "hardswish", "sigmoid"};

// StarReLU's defaults from MetaFormer (Yu et al. 2022): scale = 0.8944, bias = -0.4472.
inline constexpr float kStarReluScale = 0.8944271909999159f;
inline constexpr float kStarReluBias = -0.4472135954999579f;

}  // namespace hwnas
