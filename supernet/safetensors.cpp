#include "supernet/safetensors.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <span>
#include <vector>

#include "kernels/error.hpp"

namespace hwnas {

// The data is copied byte for byte: f32 in memory must already be the file's little-endian f32.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

using nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, before allocating one.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// dtypes of the format that are not F32: named in the refusal rather than called unknown.
constexpr std::array kOtherDtypes = {
    "F64", "F16",  "BF16",    "I64",     "I32",     "I16",     "I8",      "U64", "U32", "U16",
    "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64"};

struct Entry {
  std::string name;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

std::uint64_t as_offset(const json& v, const std::string& where) {
  if (!v.is_number_unsigned()) {
    throw InvalidArgument(
        fmt::format("{}: data_offsets entries must be non-negative integers, "
                    "got {}",
                    where, v.dump()));
  }
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  const std::string where = fmt::format("{}: tensor '{}'", path, name);
  if (!v.is_object()) {
    throw InvalidArgument(
        fmt::format("{}: must be an object with dtype, shape and data_offsets, "
                    "got {}",
                    where, v.dump()));
  }
  for (const auto& [key, unused] : v.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      throw InvalidArgument(fmt::format(
          "{}: unknown field '{}' (a tensor has dtype, shape and data_offsets)", where, key));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(key)) throw InvalidArgument(fmt::format("{}: has no '{}'", where, key));
  }
  const json& dtype = v["dtype"];
  if (!dtype.is_string()) {
    throw InvalidArgument(fmt::format("{}: dtype must be a string, got {}", where, dtype.dump()));
  }
  const std::string dt = dtype.get<std::string>();
  if (dt != "F32") {
    const bool known =
        std::find(kOtherDtypes.begin(), kOtherDtypes.end(), dt) != kOtherDtypes.end();
    throw InvalidArgument(fmt::format("{}: dtype {} is {}; only F32 is supported", where, dt,
                                      known ? "not supported" : "unknown"));
  }
  const json& shape = v["shape"];
  if (!shape.is_array() || shape.size() > static_cast<std::size_t>(Shape::kMaxRank)) {
    throw InvalidArgument(fmt::format("{}: shape must be an array of at most {} extents, got {}",
                                      where, Shape::kMaxRank, shape.dump()));
  }
  std::vector<std::int64_t> dims;
  for (const json& d : shape) {
    // An extent above 2^40 cannot be backed by a file here; the bound keeps numel from overflowing.
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t{1} << 40)) {
      throw InvalidArgument(
          fmt::format("{}: shape {} must list non-negative integer extents", where, shape.dump()));
    }
    dims.push_back(d.get<std::int64_t>());
  }
  Entry e{.name = name, .shape = Shape(std::span<const std::int64_t>(dims))};
  const json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw InvalidArgument(
        fmt::format("{}: data_offsets must be [begin, end], got {}", where, offsets.dump()));
  }
  e.begin = as_offset(offsets[0], where);
  e.end = as_offset(offsets[1], where);
  if (e.end < e.begin) {
    throw InvalidArgument(
        fmt::format("{}: data_offsets [{}, {}] end before begin", where, e.begin, e.end));
  }
  std::uint64_t numel = 1;
  for (const std::int64_t d : dims) {
    if (d != 0 && numel > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(d)) {
      throw InvalidArgument(fmt::format("{}: shape {} is too large", where, shape.dump()));
    }
    numel *= static_cast<std::uint64_t>(d);
  }
  if (e.end - e.begin != numel * sizeof(float)) {
    throw InvalidArgument(fmt::format(
        "{}: shape {} holds {} F32 values = {} bytes, but data_offsets [{}, {}] span {} bytes",
        where, e.shape.to_string(), numel, numel * sizeof(float), e.begin, e.end, e.end - e.begin));
  }
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& v) {
  if (!v.is_object()) {
    throw InvalidArgument(
        fmt::format("{}: __metadata__ must be an object of strings, got {}", path, v.dump()));
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) {
      throw InvalidArgument(
          fmt::format("{}: __metadata__ '{}' must be a string, got {}", path, key, value.dump()));
    }
    out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open for reading", path));
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(fmt::format("{}: cannot read its size: {}", path, ec.message()));
  if (file_size < 8) {
    throw InvalidArgument(fmt::format(
        "{}: truncated: {} bytes, a safetensors file starts with an 8-byte header length", path,
        file_size));
  }
  std::array<unsigned char, 8> len_bytes{};
  in.read(reinterpret_cast<char*>(len_bytes.data()), 8);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | len_bytes[static_cast<std::size_t>(i)];
  if (header_len > kMaxHeaderBytes) {
    throw InvalidArgument(fmt::format("{}: header length {} exceeds the format's limit of {} bytes",
                                      path, header_len, kMaxHeaderBytes));
  }
  if (header_len > file_size - 8) {
    throw InvalidArgument(
        fmt::format("{}: truncated: the header length is {} bytes but only {} follow", path,
                    header_len, file_size - 8));
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) throw IoError(fmt::format("{}: read of the {}-byte header failed", path, header_len));

  // nlohmann keeps the last of two equal keys; a file naming a tensor twice is refused instead.
  std::set<std::string> seen;
  std::string duplicate;
  int depth = 0;
  const json::parser_callback_t track = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) ++depth;
    if (event == json::parse_event_t::object_end) --depth;
    if (event == json::parse_event_t::key && depth == 1 &&
        !seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json root;
  try {
    root = json::parse(header, track);
  } catch (const json::parse_error& e) {
    throw InvalidArgument(fmt::format("{}: header is not valid JSON: {}", path, e.what()));
  }
  if (!root.is_object()) {
    throw InvalidArgument(
        fmt::format("{}: header must be a JSON object, got {}", path, root.type_name()));
  }
  if (!duplicate.empty()) {
    throw InvalidArgument(
        fmt::format("{}: tensor '{}' appears twice in the header", path, duplicate));
  }
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      out.metadata = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, name, value));
    }
  }

  // The reference implementation's rule: sorted by offset, the tensors tile the data exactly.
  const std::uint64_t data_size = file_size - 8 - header_len;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < expected) {
      throw InvalidArgument(fmt::format(
          "{}: tensor '{}' data_offsets [{}, {}] overlap tensor '{}' "
          "[{}, {}]",
          path, e.name, e.begin, e.end, previous->name, previous->begin, previous->end));
    }
    if (e.begin > expected) {
      throw InvalidArgument(
          fmt::format("{}: tensor '{}' data_offsets [{}, {}] leave a gap: its data should begin "
                      "at {}",
                      path, e.name, e.begin, e.end, expected));
    }
    if (e.end > data_size) {
      throw InvalidArgument(fmt::format(
          "{}: tensor '{}' data_offsets [{}, {}] run past the end of the data ({} bytes): the "
          "file is truncated",
          path, e.name, e.begin, e.end, data_size));
    }
    expected = e.end;
    previous = &e;
  }
  if (expected != data_size) {
    throw InvalidArgument(fmt::format(
        "{}: {} trailing bytes after the last tensor (the tensors cover {} of {} data bytes)", path,
        data_size - expected, expected, data_size));
  }

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    if (e.end > e.begin) {
      in.seekg(static_cast<std::streamoff>(8 + header_len + e.begin));
      in.read(reinterpret_cast<char*>(t.f32()), static_cast<std::streamsize>(e.end - e.begin));
      if (!in) throw IoError(fmt::format("{}: tensor '{}': read failed", path, e.name));
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::map<std::string, ConstTensorView, std::less<>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Insertion-ordered, metadata first and each tensor's fields as dtype, shape, data_offsets: the
  // reference implementation's order, so for the same tensors the two write identical bytes.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, view] : tensors) {
    if (name == "__metadata__") {
      throw InvalidArgument(
          fmt::format("{}: '__metadata__' is reserved and cannot name a tensor", path));
    }
    if (view.dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' is {}; only f32 is written", path, name,
                                        to_string(view.dtype())));
    }
    if (view.numel() > 0 && view.empty()) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has no data", path, name));
    }
    const std::uint64_t bytes = static_cast<std::uint64_t>(view.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"},
                    {"shape", std::vector<std::int64_t>(view.shape().dims().begin(),
                                                        view.shape().dims().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // The reference implementation pads the header with spaces to a multiple of 8, so the data
  // starts 8-byte aligned (for memory-mapping readers).
  text.append((8 - text.size() % 8) % 8, ' ');

  // Same directory, so the rename is atomic; the random suffix keeps two writers apart.
  std::random_device entropy;
  const std::string tmp = fmt::format("{}.tmp{}.{:08x}", path, ::getpid(), entropy());
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(fmt::format("{}: cannot open {} for writing", path, tmp));
    std::array<char, 8> len{};
    const std::uint64_t n = text.size();
    for (std::size_t i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len.data(), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, view] : tensors) {
      const std::streamsize bytes =
          static_cast<std::streamsize>(static_cast<std::size_t>(view.numel()) * sizeof(float));
      if (view.is_contiguous()) {
        out.write(reinterpret_cast<const char*>(view.f32()), bytes);
      } else {
        const Tensor copy = Tensor::copy_of(view);
        out.write(reinterpret_cast<const char*>(copy.f32()), bytes);
      }
    }
    out.close();
    if (!out) throw IoError(fmt::format("{}: writing {} failed (disk full?)", path, tmp));
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      throw IoError(fmt::format("{}: cannot rename {} over it: {}", path, tmp, ec.message()));
    }
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace hwnas
