// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
// "__metadata__": {...}}, then the raw little-endian data. The format the Python ecosystem
// (torch, timm, transformers) writes, so checkpoints move between hwnas and PyTorch.
//
// Only F32 is read and written (F16/BF16/F64 in a file are refused by name). Every malformed part
// is an InvalidArgument naming the file and, where there is one, the tensor: a truncated header,
// JSON that does not parse, offsets out of order, overlapping or past the end, a shape whose
// element count disagrees with its byte range, trailing bytes, a tensor named twice. A file that
// cannot be opened, read, written or renamed is an IoError naming it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "kernels/tensor.hpp"

namespace hwnas {

struct SafetensorsFile {
  std::map<std::string, Tensor, std::less<>> tensors;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::string& path);
// Writes atomically (a temporary file renamed over `path`), tensors in name order.
void write_safetensors(const std::string& path,
                       const std::map<std::string, ConstTensorView, std::less<>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace hwnas
