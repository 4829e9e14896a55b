// The driver of DwconvNhwcAvx512 (contract in dwconv_nhwc_avx512.hpp): create() reorders the
// weights, chooses the buffer path or the direct path and sizes the tasks and buffers; run() hands
// out the OpenMP tasks, fills the row buffers and calls the kernels create() picked. The kernels
// themselves live in dwconv_nhwc_rows.cpp and dwconv_nhwc_direct.cpp, reached only through
// pointers, so this file holds the decisions and the data movement around them.
#include "kernels/cpu/dwconv_nhwc_avx512.hpp"

#include <fmt/format.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/assert.hpp"
#include "kernels/cpu/dwconv_nhwc_impl.hpp"

namespace hwnas::cpu {
namespace {

using dwconv_detail::ceil_div;
using dwconv_detail::DirectArgs;
using dwconv_detail::DirectKernels;
using dwconv_detail::kLanes;
using dwconv_detail::RowArgs;
using dwconv_detail::RowKernel;

// A task's input-row buffer is capped so it stays in L2; only kh rows of it are hot at any time.
constexpr std::int64_t kMaxBufferBytes = std::int64_t{512} << 10;
// At least this many tasks per thread, so a static schedule stays balanced.
constexpr std::int64_t kMinTasksPerThread = 4;

// Everything create() prepares and run() reads: the reordered weights, the tiling, the buffers.
struct Prepared {
  Conv2dDesc desc;
  int threads = 1;
  std::int64_t src_pixel = 0, dst_pixel = 0;  // floats between neighbouring pixels
  std::int64_t oh = 0, ow = 0;
  std::int64_t cp = 0;       // channels padded to a multiple of 16
  std::int64_t blocks = 0;   // cp / 16
  Tensor weights;            // [kh][kw][cp], zero in the padded channels
  Tensor bias;               // [cp], zero when the desc has no bias
  int tile = 0;              // T
  std::int64_t tiles = 0;    // ceil(ow / T)
  RowKernel kernel = nullptr;
  std::int64_t rows_per_task = 0, row_blocks = 0;
  std::int64_t phases = 1;      // phases_of(desc)
  std::int64_t phase_cols = 0;  // buffer columns per phase; buffer_cols = phases * phase_cols
  std::int64_t buffer_rows = 0, buffer_cols = 0;  // per thread: [rows][cols][16] floats
  Tensor buffers;            // [threads][rows][cols][16]; columns outside the image stay zero
};

// Copies input row `iy` of one channel block into the buffer row `dst`: padded column p = pad_w + x
// goes to phase p % phases, position p / phases (with one phase: column p). The masked load
// zero-fills the lanes past c, which then multiply zero weights.
[[gnu::target("avx512f")]] void copy_row(const float* src, std::int64_t w, std::int64_t pad_w,
                                         std::int64_t pixel_stride, __mmask16 mask,
                                         std::int64_t phases, std::int64_t phase_cols,
                                         float* dst) noexcept {
  if (phases == 1) {
    dst += pad_w * kLanes;
    for (std::int64_t x = 0; x < w; ++x) {
      _mm512_store_ps(dst + x * kLanes, _mm512_maskz_loadu_ps(mask, src + x * pixel_stride));
    }
    return;
  }
  for (std::int64_t x = 0; x < w; ++x) {
    const std::int64_t p = pad_w + x;
    _mm512_store_ps(dst + ((p % phases) * phase_cols + p / phases) * kLanes,
                    _mm512_maskz_loadu_ps(mask, src + x * pixel_stride));
  }
}

// Whether some output row in [oy0, oy1) reads input row iy through some tap.
bool row_needed(const Conv2dDesc& d, std::int64_t iy, std::int64_t oy0, std::int64_t oy1) {
  for (std::int64_t ky = 0; ky < d.kh; ++ky) {
    const std::int64_t offset = iy + d.pad_h - ky * d.dilation_h;  // = oy * stride_h
    if (offset >= 0 && offset % d.stride_h == 0 && offset / d.stride_h >= oy0 && offset / d.stride_h < oy1) {
      return true;
    }
  }
  return false;
}

// One task: image b, output rows [oy0, oy1), channels [16*block, 16*block + 16).
void run_task(const Prepared& s, const float* src, float* dst, float* buffer,
              std::int64_t task) noexcept {
  const Conv2dDesc& d = s.desc;
  const std::int64_t block = task % s.blocks;
  const std::int64_t row_block = (task / s.blocks) % s.row_blocks;
  const std::int64_t b = task / (s.blocks * s.row_blocks);
  const std::int64_t oy0 = row_block * s.rows_per_task;
  const std::int64_t oy1 = std::min(s.oh, oy0 + s.rows_per_task);
  const std::int64_t c = d.ic;
  const std::int64_t remaining = c - block * kLanes;
  const auto mask = static_cast<__mmask16>(remaining >= kLanes ? 0xFFFFu : (1u << remaining) - 1u);
  const std::int64_t row_floats = s.buffer_cols * kLanes;

  // Buffer row r holds input row iy_first + r. Rows are copied just before the first output row that
  // reads them, so the kh rows in use are the ones most recently written: L1-hot for kh*w*64 bytes up
  // to ~48 KiB (kh=7 at w=56: 25 KiB), where copying the whole block first would go through L2.
  const std::int64_t iy_first = oy0 * d.stride_h - d.pad_h;
  const std::int64_t iy_end = std::min(d.h, (oy1 - 1) * d.stride_h - d.pad_h + (d.kh - 1) * d.dilation_h + 1);
  std::int64_t iy_next = std::max<std::int64_t>(0, iy_first);

  RowArgs a{.in = buffer,
            .in_ky_step = d.dilation_h * row_floats,
            .weights = nullptr,
            .w_ky_step = d.kw * s.cp,
            .w_kx_step = s.cp,
            .ky_count = 0,
            .bias = s.bias.f32() + block * kLanes,
            .out = nullptr,
            .out_step = s.phases * s.dst_pixel,
            .ow = s.ow,
            .tiles = s.tiles,
            .channel_mask = mask,
            .relu = d.act == Activation::Relu,
            .kw = d.kw,
            .stride_w = d.stride_w,
            .dilation_w = s.phases > 1 ? 1 : d.dilation_w};
  for (std::int64_t oy = oy0; oy < oy1; ++oy) {
    // Taps ky with 0 <= top + ky*dilation_h < h; the others read vertical padding.
    const std::int64_t top = oy * d.stride_h - d.pad_h;
    const std::int64_t ky_lo = top >= 0 ? 0 : ceil_div(-top, d.dilation_h);
    const std::int64_t ky_hi = d.h - 1 - top < 0 ? 0 : std::min(d.kh, (d.h - 1 - top) / d.dilation_h + 1);
    a.ky_count = std::max<std::int64_t>(0, ky_hi - ky_lo);
    const std::int64_t rows_end = a.ky_count > 0 ? std::min(iy_end, top + (ky_hi - 1) * d.dilation_h + 1) : 0;
    for (; iy_next < rows_end; ++iy_next) {
      if (!row_needed(d, iy_next, oy0, oy1)) continue;
      copy_row(src + ((b * d.h + iy_next) * d.w) * s.src_pixel + block * kLanes, d.w, d.pad_w,
               s.src_pixel, mask, s.phases, s.phase_cols,
               buffer + (iy_next - iy_first) * row_floats);
    }
    const float* in_row =
        a.ky_count > 0 ? buffer + (top + ky_lo * d.dilation_h - iy_first) * row_floats : buffer;
    a.weights = s.weights.f32() + (a.ky_count > 0 ? ky_lo : 0) * d.kw * s.cp + block * kLanes;
    float* out_row = dst + ((b * s.oh + oy) * s.ow) * s.dst_pixel + block * kLanes;
    // Phase r computes output columns r, r + phases, ...: ceil((ow - r) / phases) of them.
    for (std::int64_t r = 0; r < s.phases && r < s.ow; ++r) {
      a.in = in_row + r * s.phase_cols * kLanes;
      a.out = out_row + r * s.dst_pixel;
      a.ow = ceil_div(s.ow - r, s.phases);
      a.tiles = ceil_div(a.ow, s.tile);
      s.kernel(a);
    }
  }
}

// A direct task: image b, output rows [oy0, oy1), channels [16*block, 16*block + 16), as run_task.
// Rows whose taps all lie inside the image go in pairs (kernel2); the others, at the top and bottom
// borders and the last of an odd count, one at a time (kernel1).
void run_task_direct(const Prepared& s, const DirectKernels& k, const float* src, float* dst,
                     std::int64_t task) noexcept {
  const Conv2dDesc& d = s.desc;
  const std::int64_t block = task % s.blocks;
  const std::int64_t row_block = (task / s.blocks) % s.row_blocks;
  const std::int64_t b = task / (s.blocks * s.row_blocks);
  const std::int64_t oy0 = row_block * s.rows_per_task;
  const std::int64_t oy1 = std::min(s.oh, oy0 + s.rows_per_task);
  const std::int64_t remaining = d.ic - block * kLanes;
  const float* image = src + b * d.h * d.w * s.src_pixel + block * kLanes;
  const float* weights = s.weights.f32() + block * kLanes;
  DirectArgs a{
      .in = nullptr,
      .in_row = d.w * s.src_pixel,
      .in_px = s.src_pixel,
      .in_x0 = -d.pad_w,
      .in_w = d.w,
      .mask = static_cast<__mmask16>(remaining >= kLanes ? 0xFFFFu : (1u << remaining) - 1u),
      .weights = nullptr,
      .w_row = d.kw * s.cp,
      .w_px = s.cp,
      .ky_count = 0,
      .bias = s.bias.f32() + block * kLanes,
      .out = nullptr,
      .out_row = s.ow * s.dst_pixel,
      .out_px = s.dst_pixel,
      .ow = s.ow,
      .tiles = s.tiles,
      .relu = d.act == Activation::Relu};
  for (std::int64_t oy = oy0; oy < oy1;) {
    const std::int64_t top = oy - d.pad_h;  // the src row of tap ky = 0 (stride 1, no dilation)
    a.out = dst + ((b * s.oh + oy) * s.ow) * s.dst_pixel + block * kLanes;
    if (oy + 1 < oy1 && top >= 0 && top + d.kh < d.h) {
      a.in = image + top * a.in_row;
      a.weights = weights;
      k.kernel2(a);
      oy += 2;
      continue;
    }
    const std::int64_t ky_lo = std::max<std::int64_t>(0, -top);
    a.ky_count = std::max<std::int64_t>(0, std::min(d.kh, d.h - top) - ky_lo);
    a.in = image + (a.ky_count > 0 ? top + ky_lo : 0) * a.in_row;
    a.weights = weights + (a.ky_count > 0 ? ky_lo : 0) * a.w_row;
    k.kernel1(a);
    ++oy;
  }
}

}  // namespace

struct DwconvNhwcAvx512::State : Prepared {};
struct DwconvNhwcAvx512::Direct : DirectKernels {};

std::string DwconvNhwcAvx512::why_not(const Conv2dDesc& d) {
  if (!(d.groups == d.ic && d.oc == d.ic)) {
    return fmt::format("groups={} must equal ic={} and oc={} (depthwise without channel multiplier only)",
                       d.groups, d.ic, d.oc);
  }
  if (d.act != Activation::None && d.act != Activation::Relu) {
    return fmt::format("act={} is not fused (none or relu only)", to_string(d.act));
  }
  if (!__builtin_cpu_supports("avx512f")) return "this CPU lacks avx512f";
  return {};
}

DwconvNhwcAvx512::DwconvNhwcAvx512(std::unique_ptr<State> state, std::unique_ptr<Direct> direct)
    : state_(std::move(state)), direct_(std::move(direct)) {}
DwconvNhwcAvx512::DwconvNhwcAvx512(DwconvNhwcAvx512&&) noexcept = default;
DwconvNhwcAvx512& DwconvNhwcAvx512::operator=(DwconvNhwcAvx512&&) noexcept = default;
DwconvNhwcAvx512::~DwconvNhwcAvx512() = default;

int DwconvNhwcAvx512::tile_width() const { return state_->tile; }
int DwconvNhwcAvx512::rows_per_task() const { return static_cast<int>(state_->rows_per_task); }

DwconvNhwcAvx512 DwconvNhwcAvx512::create_direct(std::unique_ptr<State> s) {
  const Conv2dDesc& d = s->desc;
  s->tile = dwconv_detail::pick_direct_tile_width(s->ow);
  s->tiles = ceil_div(s->ow, s->tile);
  auto k = std::make_unique<Direct>(Direct{
      dwconv_detail::pick_direct_kernels(d, s->tile, {.src = s->src_pixel, .dst = s->dst_pixel})});
  // As the buffer path's tasks, without the buffer's cap.
  std::int64_t rows = s->oh;
  while (rows > 1 && d.n * ceil_div(s->oh, rows) * s->blocks < kMinTasksPerThread * s->threads) {
    rows = ceil_div(rows, 2);
  }
  s->rows_per_task = rows;
  s->row_blocks = ceil_div(s->oh, rows);
  return DwconvNhwcAvx512(std::move(s), std::move(k));
}

DwconvNhwcAvx512 DwconvNhwcAvx512::create(const Engine& engine, const Conv2dDesc& d,
                                          ConstTensorView weights, ConstTensorView bias,
                                          DwconvPixelStrides strides) {
  HWNAS_ASSERT(why_not(d).empty());
  auto s = std::make_unique<State>();
  s->desc = d;
  s->src_pixel = strides.src > 0 ? strides.src : d.ic;
  s->dst_pixel = strides.dst > 0 ? strides.dst : d.oc;
  HWNAS_ASSERT(s->src_pixel >= d.ic && s->dst_pixel >= d.oc);
  s->threads = engine.threads();
  s->oh = conv2d_out_h(d);
  s->ow = conv2d_out_w(d);
  s->blocks = ceil_div(d.ic, kLanes);
  s->cp = s->blocks * kLanes;

  // [c, 1, kh, kw] with any strides -> [kh][kw][cp].
  s->weights = Tensor::zeros({d.kh, d.kw, s->cp});
  const Strides& ws = weights.strides();
  for (std::int64_t ch = 0; ch < d.ic; ++ch) {
    for (std::int64_t ky = 0; ky < d.kh; ++ky) {
      for (std::int64_t kx = 0; kx < d.kw; ++kx) {
        s->weights.f32()[(ky * d.kw + kx) * s->cp + ch] = weights.f32()[ch * ws[0] + ky * ws[2] + kx * ws[3]];
      }
    }
  }
  s->bias = Tensor::zeros({s->cp});
  if (d.bias == Bias::Add) {
    for (std::int64_t ch = 0; ch < d.ic; ++ch) s->bias.f32()[ch] = bias.f32()[ch * bias.strides()[0]];
  }

  // The direct path reads src in place and computes two output rows per pass (kernel2). It runs
  // where it measured faster than the buffer path (2 threads, bench/compare.py against the buffer
  // path, 4 runs): 56x56x96 k3 0.76-0.82x the time, k5 0.85-1.01x (median 0.89), 7x7x768 k3 0.66x.
  // Where src pixels are further apart than 96 floats and the image is wider than 7, the buffer
  // path stays, unchanged: there direct reads took from 0.6x to 1.9x the buffer path's time at
  // 28x28x192 and 14x14x384 k3, varying from one process to the next (earlier runs: 1.16x
  // and 1.58x); plausibly set conflicts of the physical pages, one 64-byte line in every 768 or
  // 1536 bytes, where the buffer is contiguous. k >= 7 keeps the buffer path too: one row per pass
  // there, and direct reads measured no faster at 56x56x96 k7 and k13.
  if (d.stride_h == 1 && d.stride_w == 1 && d.dilation_h == 1 && d.dilation_w == 1 &&
      d.kh == d.kw && (d.kw == 3 || d.kw == 5) && (s->src_pixel <= 96 || d.w <= 7)) {
    return create_direct(std::move(s));
  }
  // With phases, each phase is an undilated conv over ceil(ow / phases) output columns.
  s->phases = dwconv_detail::phases_of(d);
  Conv2dDesc row_desc = d;
  if (s->phases > 1) row_desc.dilation_w = 1;
  const std::int64_t phase_ow = ceil_div(s->ow, s->phases);
  s->tile = dwconv_detail::pick_tile_width(row_desc, phase_ow);
  s->tiles = ceil_div(phase_ow, s->tile);
  s->kernel = dwconv_detail::pick_kernel(row_desc, s->tile);
  // Columns per phase: the phase's share of the padded row, and whatever the last (partly invalid)
  // tile reads past it.
  s->phase_cols =
      std::max(ceil_div(d.w + 2 * d.pad_w, s->phases),
               (s->tiles * s->tile - 1) * d.stride_w + (d.kw - 1) * row_desc.dilation_w + 1);
  s->buffer_cols = s->phases * s->phase_cols;
  const auto buffer_rows_for = [&](std::int64_t rows) { return (rows - 1) * d.stride_h + (d.kh - 1) * d.dilation_h + 1; };
  const auto tasks_for = [&](std::int64_t rows) { return d.n * ceil_div(s->oh, rows) * s->blocks; };
  std::int64_t rows = s->oh;
  while (rows > 1 && (tasks_for(rows) < kMinTasksPerThread * s->threads ||
                      buffer_rows_for(rows) * s->buffer_cols * kLanes * 4 > kMaxBufferBytes)) {
    rows = ceil_div(rows, 2);
  }
  s->rows_per_task = rows;
  s->row_blocks = ceil_div(s->oh, rows);
  s->buffer_rows = buffer_rows_for(rows);
  s->buffers = Tensor::zeros({s->threads, s->buffer_rows, s->buffer_cols, kLanes});
  return DwconvNhwcAvx512(std::move(s), nullptr);
}

void DwconvNhwcAvx512::run(const float* src, float* dst) const noexcept {
  State& s = *state_;
  const std::int64_t tasks = s.desc.n * s.row_blocks * s.blocks;
  if (direct_ != nullptr) {
    const Direct& k = *direct_;
#pragma omp parallel for num_threads(s.threads) schedule(static)
    for (std::int64_t task = 0; task < tasks; ++task) run_task_direct(s, k, src, dst, task);
    return;
  }
  const std::int64_t buffer_floats = s.buffer_rows * s.buffer_cols * kLanes;
  float* buffers = s.buffers.f32();
#pragma omp parallel num_threads(s.threads)
  {
    float* buffer = buffers + omp_get_thread_num() * buffer_floats;
#pragma omp for schedule(static)
    for (std::int64_t task = 0; task < tasks; ++task) run_task(s, src, dst, buffer, task);
  }
}

}  // namespace hwnas::cpu
