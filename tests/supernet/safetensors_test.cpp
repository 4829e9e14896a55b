// safetensors: the bytes of the reference implementation read and written identically, files built
// by hand from the format's description read back, round trips of odd and strided tensors, and
// every kind of damage refused with the file and the tensor named.
#include "supernet/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

// Written by the reference implementation (Python safetensors 0.4.5, /usr/bin/python3 + numpy):
//   save({"b.bias": np.array([42.0], f32),
//         "a.weight": np.array([[1.5, -2.25, 3.0], [0.125, 7.0, -0.5]], f32)},
//        metadata={"format": "pt"}).hex()
// 196 bytes: length 0xa0, the header padded with 5 spaces to 160, then 28 data bytes.
constexpr std::string_view kReferenceHex =
    "a0000000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c22612e776569"
    "676874223a7b226474797065223a22463332222c227368617065223a5b322c335d2c22646174615f6f666673657473"
    "223a5b302c32345d7d2c22622e62696173223a7b226474797065223a22463332222c227368617065223a5b315d2c22"
    "646174615f6f666673657473223a5b32342c32385d7d7d20202020200000c03f000010c0000040400000003e0000e0"
    "40000000bf00002842";

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string le64(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(float));
  return out;
}

// A file assembled from the format's description alone, independently of write_safetensors.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::path(::testing::TempDir()) /
        ("hwnas_safetensors_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name = "w.safetensors") const {
    return (dir_ / name).string();
  }
  std::string put(const std::string& bytes, const std::string& name = "w.safetensors") const {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
  std::string slurp(const std::string& p) const {
    std::string bytes(fs::file_size(p), '\0');
    std::ifstream(p, std::ios::binary)
        .read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
  }
  // read_safetensors of `bytes` must throw InvalidArgument naming the file and `needle`.
  void expect_refused(const std::string& bytes, const std::string& needle) {
    const std::string p = put(bytes);
    try {
      read_safetensors(p);
      FAIL() << "no throw, expected: " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
};

TEST_F(Safetensors, ReadsTheReferenceImplementationsBytes) {
  const SafetensorsFile f = read_safetensors(put(from_hex(kReferenceHex)));
  ASSERT_EQ(f.tensors.size(), 2u);
  const Tensor& a = f.tensors.at("a.weight");
  ASSERT_EQ(a.shape(), Shape({2, 3}));
  const float want[] = {1.5f, -2.25f, 3.f, 0.125f, 7.f, -0.5f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.f32()[i], want[i]) << i;
  ASSERT_EQ(f.tensors.at("b.bias").shape(), Shape({1}));
  EXPECT_EQ(f.tensors.at("b.bias").f32()[0], 42.f);
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST_F(Safetensors, WritesTheReferenceImplementationsBytes) {
  const float a[] = {1.5f, -2.25f, 3.f, 0.125f, 7.f, -0.5f};
  const float b[] = {42.f};
  write_safetensors(
      path(),
      {{"b.bias", ConstTensorView(b, Shape{1})}, {"a.weight", ConstTensorView(a, Shape{2, 3})}},
      {{"format", "pt"}});
  EXPECT_EQ(slurp(path()), from_hex(kReferenceHex));
}

TEST_F(Safetensors, ReadsHandBuiltFilesInAnyOrderUnpaddedAndWithEmptyTensors) {
  // Fields in another order, tensors listed out of data order, no padding, no metadata, a
  // zero-size tensor, a rank-0 scalar and a rank-4 tensor.
  const std::string header = R"({"z":{"data_offsets":[0,8],"shape":[2],"dtype":"F32"},)"
                             R"("empty":{"shape":[3,0],"dtype":"F32","data_offsets":[8,8]},)"
                             R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[8,12]},)"
                             R"("conv":{"dtype":"F32","shape":[1,1,1,2],"data_offsets":[12,20]}})";
  const SafetensorsFile f =
      read_safetensors(put(file_bytes(header, floats({0.5f, -1.f, 3.25f, 9.f, -7.5f}))));
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_TRUE(f.metadata.empty());
  EXPECT_EQ(f.tensors.at("z").f32()[1], -1.f);
  EXPECT_EQ(f.tensors.at("empty").shape(), Shape({3, 0}));
  EXPECT_EQ(f.tensors.at("scalar").shape().rank(), 0);
  EXPECT_EQ(f.tensors.at("scalar").f32()[0], 3.25f);
  EXPECT_EQ(f.tensors.at("conv").shape(), Shape({1, 1, 1, 2}));
  EXPECT_EQ(f.tensors.at("conv").f32()[1], -7.5f);
}

TEST_F(Safetensors, RoundTripsOddShapesAndStridedViews) {
  std::mt19937_64 rng(testing::fresh_seed("safetensors round trip"));
  const Tensor a = testing::random_tensor({7, 3, 5}, rng);
  const Tensor big = testing::random_tensor({9, 11}, rng);
  const ConstTensorView strided = big.view().slice(0, 2, 7).slice(1, 3, 10);  // [5, 7], strided
  const Tensor c = testing::random_tensor({13}, rng);
  write_safetensors(path(), {{"a", a.view()}, {"s", strided}, {"c", c.view()}},
                    {{"format", "pt"}, {"note", "odd shapes"}});
  const std::string bytes = slurp(path());
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u) << "the header is padded to a multiple of 8";
  EXPECT_EQ(bytes.size(), 8 + n + 4 * (7 * 3 * 5 + 5 * 7 + 13));

  const SafetensorsFile f = read_safetensors(path());
  EXPECT_EQ(f.metadata.at("note"), "odd shapes");
  ASSERT_EQ(f.tensors.at("s").shape(), Shape({5, 7}));
  for (std::int64_t i = 0; i < 5; ++i) {
    for (std::int64_t j = 0; j < 7; ++j) {
      EXPECT_EQ(f.tensors.at("s").f32()[i * 7 + j], big.f32()[(i + 2) * 11 + j + 3]) << i << j;
    }
  }
  for (std::int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(f.tensors.at("a").f32()[i], a.f32()[i]);
  for (std::int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(f.tensors.at("c").f32()[i], c.f32()[i]);
}

TEST_F(Safetensors, WritesAtomicallyOverAnExistingFile) {
  put("old contents");
  const float v[] = {1.f, 2.f, 3.f};
  write_safetensors(path(), {{"v", ConstTensorView(v, Shape{3})}});
  EXPECT_EQ(read_safetensors(path()).tensors.at("v").f32()[2], 3.f);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u) << "no temporary file is left behind";
}

TEST_F(Safetensors, WriteRefusesWhatTheFormatCannotHold) {
  const Tensor bf16 = Tensor::zeros({2}, DType::BF16);
  const float v[] = {1.f};
  const auto expect = [&](const auto& write, const std::string& needle) {
    try {
      write();
      FAIL() << "no throw, expected: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect(
      [&] {
        write_safetensors(path(), {{"half", bf16.view()}});
      },
      "tensor 'half' is bf16; only f32 is written");
  expect(
      [&] {
        write_safetensors(path(), {{"__metadata__", ConstTensorView(v, Shape{1})}});
      },
      "'__metadata__' is reserved");
  expect([&] { write_safetensors((dir_ / "no/such/dir/w.st").string(), {}); }, "cannot open");
  EXPECT_FALSE(fs::exists(path()));
}

TEST_F(Safetensors, RefusesDamagedFilesNamingTheTensor) {
  const std::string good = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data = floats({1.f, 2.f});
  expect_refused(std::string("\x05\x00\x00", 3), "truncated: 3 bytes");
  expect_refused(le64(64) + "{}", "header length is 64 bytes but only 2 follow");
  expect_refused(le64(std::uint64_t{1} << 40) + "{}", "exceeds the format's limit");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32",)", data), "header is not valid JSON");
  expect_refused(file_bytes("[1,2]", ""), "header must be a JSON object, got array");
  expect_refused(
      file_bytes(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", floats({1.f})),
      "tensor 'a': dtype F16 is not supported; only F32 is supported");
  expect_refused(file_bytes(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", data),
                 "tensor 'a': dtype F31 is unknown");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data),
                 "tensor 'a': shape [3] holds 3 F32 values = 12 bytes, but data_offsets [0, 8] "
                 "span 8 bytes");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data),
                 "tensor 'a': shape [-2] must list non-negative integer extents");
  expect_refused(
      file_bytes(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,2],"data_offsets":[0,8]}})", data),
      "tensor 'a': shape must be an array of at most 6 extents");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data),
                 "tensor 'a': data_offsets [8, 0] end before begin");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data),
                 "tensor 'a': data_offsets must be [begin, end]");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", data),
                 "tensor 'a': has no 'data_offsets'");
  expect_refused(
      file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"crc":1}})", data),
      "tensor 'a': unknown field 'crc'");
  expect_refused(file_bytes(R"({"a":[0,8]})", data), "tensor 'a': must be an object");
  // Offsets: overlapping, leaving a gap, past the end (truncated data), trailing bytes.
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            data),
                 "tensor 'b' data_offsets [4, 8] overlap tensor 'a' [0, 8]");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                 "tensor 'a' data_offsets [4, 8] leave a gap: its data should begin at 0");
  expect_refused(file_bytes(good, floats({1.f})),
                 "tensor 'a' data_offsets [0, 8] run past the end of the data (4 bytes)");
  expect_refused(file_bytes(good, data + "xyz"), "3 trailing bytes after the last tensor");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            data),
                 "tensor 'a' appears twice");
  expect_refused(file_bytes(R"({"__metadata__":{"epoch":3},)" + good.substr(1), data),
                 "__metadata__ 'epoch' must be a string, got 3");
  // The good file itself reads.
  EXPECT_EQ(read_safetensors(put(file_bytes(good, data))).tensors.at("a").f32()[1], 2.f);
}

TEST_F(Safetensors, MissingFileIsAnIoErrorNamingIt) {
  try {
    read_safetensors(path("absent.safetensors"));
    FAIL() << "no throw";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors: cannot open"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
