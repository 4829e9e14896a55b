#include "kernels/cpu/neighborhood_attention_core.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/neighborhood_attention_core_impl.hpp"

namespace hwnas::cpu {
namespace {

constexpr int kLanes = detail::kNaLanes;
// Tasks per thread of the attention loop, so a static schedule stays balanced.
constexpr std::int64_t kTasksPerThread = 8;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

// One axis of the map: where the clamped window of position i starts within its dilation group.
struct AxisWindow {
  std::int64_t group, index, start;  // key at offset t: group + dilation * (start + t)
};

AxisWindow axis_window(std::int64_t i, std::int64_t size, std::int64_t kernel,
                       std::int64_t dilation) {
  const std::int64_t group = i % dilation;
  const std::int64_t index = i / dilation;
  const std::int64_t length = ceil_div(size - group, dilation);
  return {group, index, std::clamp(index - kernel / 2, std::int64_t{0}, length - kernel)};
}

// Portable path: the same blocking with plain loops; the unclamped (contiguous) blocks are written
// so the compiler can vectorise them for the baseline ISA.
void block_portable(const detail::NaBlockArgs& a, std::int64_t kernel, bool contiguous,
                    std::int64_t valid) noexcept {
  float lane_max[kLanes];
  std::fill_n(lane_max, kLanes, -INFINITY);
  for (std::int64_t ky = 0; ky < kernel; ++ky) {
    const float* krow = a.k + a.key_row[ky] * a.row;
    for (std::int64_t kx = 0; kx < kernel; ++kx) {
      float* acc = a.logits + (ky * kernel + kx) * kLanes;
      for (int l = 0; l < kLanes; ++l) {
        acc[l] =
            a.bias != nullptr ? a.bias[(a.bias_row[ky] * kernel + kx) * a.bias_stride + l] : 0.f;
      }
      const std::int32_t* index = a.index + kx * kLanes;
      for (std::int64_t ch = 0; ch < a.head_dim; ++ch) {
        const float* q = a.q + ch * a.plane;
        const float* key = krow + ch * a.plane + a.base[kx];
        if (contiguous) {
          for (int l = 0; l < kLanes; ++l) acc[l] += q[l] * key[l];
        } else {
          for (std::int64_t l = 0; l < valid; ++l) acc[l] += q[l] * key[index[l]];
        }
      }
      for (int l = 0; l < kLanes; ++l) lane_max[l] = std::max(lane_max[l], acc[l]);
    }
  }
  float lane_sum[kLanes] = {};
  for (std::int64_t j = 0; j < kernel * kernel; ++j) {
    float* p = a.logits + j * kLanes;
    for (int l = 0; l < kLanes; ++l) {
      p[l] = std::exp(p[l] - lane_max[l]);
      lane_sum[l] += p[l];
    }
  }
  for (std::int64_t ch = 0; ch < a.head_dim; ++ch) {
    float acc[kLanes] = {};
    for (std::int64_t ky = 0; ky < kernel; ++ky) {
      const float* vrow = a.v + a.key_row[ky] * a.row + ch * a.plane;
      for (std::int64_t kx = 0; kx < kernel; ++kx) {
        const float* p = a.logits + (ky * kernel + kx) * kLanes;
        const float* value = vrow + a.base[kx];
        const std::int32_t* index = a.index + kx * kLanes;
        if (contiguous) {
          for (int l = 0; l < kLanes; ++l) acc[l] += p[l] * value[l];
        } else {
          for (std::int64_t l = 0; l < valid; ++l) acc[l] += p[l] * value[index[l]];
        }
      }
    }
    for (int l = 0; l < kLanes; ++l) a.o[ch * kLanes + l] = acc[l] / lane_sum[l];
  }
}

// Contiguous: no lane's window clamped, the keys at kx are 16 consecutive stored columns.
// Window: clamped, all keys within 32 floats of base[0]. Clamped: the rest (kernel > 9).
enum class BlockKind : std::uint8_t { Contiguous, Window, Clamped };

}  // namespace

struct NeighborhoodAttentionCore::State {
  NaGeometry g;
  int threads = 1;
  bool vector = false;
  detail::NaVectorKernels kernels;
  std::int64_t blocks = 0;  // 16-column blocks of a stored row
  std::int64_t plane = 0;   // map_h * map_w
  std::int64_t rows_per_task = 1;
  // Per stored column p: its map column, and per map column its stored column (dilation groups
  // side by side: group 0's columns, then group 1's, ...).
  std::vector<std::int32_t> stored_of_column, column_of_stored;
  // Per block: whether no lane's window clamped ([blocks]); base [blocks][kernel]; index
  // [blocks][kernel][16]; the output column of each lane, -1 for none ([blocks][16]).
  std::vector<BlockKind> kind;
  std::vector<std::int32_t> base, index, window_index, out_column;
  // Per query row y < out_h: key row and rpb row of each kernel row ([out_h][kernel]).
  std::vector<std::int32_t> key_row, bias_row;
  // rpb spread per query column: [heads][2k-1][kernel][blocks * 16]; empty without rpb.
  Tensor bias;
  // q (scaled), k, v as planes [n][3c][map_h * map_w] + slack that vector loads past a row's end
  // may touch (zeros, never used by a valid lane).
  Tensor planes;
  Tensor scratch;  // per thread: logits [kernel^2][16], outputs [head_dim][16]
  std::int64_t scratch_stride = 0;
};

NeighborhoodAttentionCore::NeighborhoodAttentionCore(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
NeighborhoodAttentionCore::NeighborhoodAttentionCore(NeighborhoodAttentionCore&&) noexcept =
    default;
NeighborhoodAttentionCore& NeighborhoodAttentionCore::operator=(
    NeighborhoodAttentionCore&&) noexcept = default;
NeighborhoodAttentionCore::~NeighborhoodAttentionCore() = default;

std::string NeighborhoodAttentionCore::why_not(const NaGeometry& g, NaCoreIsa isa) {
  if (isa != NaCoreIsa::Avx512) return {};
  if (!__builtin_cpu_supports("avx512f")) return "cpu lacks avx512f";
  if (g.kernel > kMaxVectorKernel) {
    return "kernel=" + std::to_string(g.kernel) + " > " + std::to_string(kMaxVectorKernel);
  }
  return {};
}

NeighborhoodAttentionCore NeighborhoodAttentionCore::create(const Engine& engine,
                                                            const NaGeometry& g,
                                                            ConstTensorView rpb, NaCoreIsa isa) {
  HWNAS_ASSERT(why_not(g, isa).empty());
  HWNAS_ASSERT(g.kernel % 2 == 1 && g.kernel * g.dilation <= std::min(g.map_h, g.map_w));
  HWNAS_ASSERT(g.out_h <= g.map_h && g.out_w <= g.map_w);
  auto s = std::make_unique<State>();
  s->g = g;
  s->threads = engine.threads();
  s->vector =
      isa == NaCoreIsa::Avx512 || (isa == NaCoreIsa::Best && why_not(g, NaCoreIsa::Avx512).empty());
  if (s->vector) s->kernels = detail::na_vector_kernels(g.kernel);
  const std::int64_t k = g.kernel, d = g.dilation, w = g.map_w;
  s->blocks = ceil_div(w, kLanes);
  s->plane = g.map_h * w;

  std::vector<std::int64_t> group_start(static_cast<std::size_t>(d) + 1, 0);
  for (std::int64_t group = 0; group < d; ++group) {
    group_start[static_cast<std::size_t>(group) + 1] =
        group_start[static_cast<std::size_t>(group)] + ceil_div(w - group, d);
  }
  const auto stored = [&](std::int64_t x) {
    return group_start[static_cast<std::size_t>(x % d)] + x / d;
  };
  s->stored_of_column.resize(static_cast<std::size_t>(w));
  s->column_of_stored.resize(static_cast<std::size_t>(w));
  std::vector<std::int64_t> column_of(static_cast<std::size_t>(w));
  for (std::int64_t x = 0; x < w; ++x) {
    s->stored_of_column[static_cast<std::size_t>(x)] = static_cast<std::int32_t>(stored(x));
    s->column_of_stored[static_cast<std::size_t>(stored(x))] = static_cast<std::int32_t>(x);
    column_of[static_cast<std::size_t>(stored(x))] = x;
  }

  const std::int64_t bias_stride = s->blocks * kLanes;
  const bool has_bias = !rpb.empty();
  const std::int64_t table = 2 * k - 1;
  if (has_bias) s->bias = Tensor::zeros({g.heads, table, k, bias_stride});
  std::vector<std::uint8_t> clamped(static_cast<std::size_t>(s->blocks), 0);
  std::vector<std::int64_t> span(static_cast<std::size_t>(s->blocks), 0);
  s->base.assign(static_cast<std::size_t>(s->blocks * k), 0);
  s->index.assign(static_cast<std::size_t>(s->blocks * k * kLanes), 0);
  s->window_index.assign(static_cast<std::size_t>(s->blocks * k * kLanes), 0);
  s->out_column.assign(static_cast<std::size_t>(s->blocks * kLanes), -1);
  for (std::int64_t block = 0; block < s->blocks; ++block) {
    const std::int64_t p0 = block * kLanes;
    const std::int64_t valid = std::min<std::int64_t>(kLanes, w - p0);
    for (std::int64_t kx = 0; kx < k; ++kx) {
      std::int64_t lowest = w;
      for (std::int64_t lane = 0; lane < valid; ++lane) {
        const std::int64_t x = column_of[static_cast<std::size_t>(p0 + lane)];
        const AxisWindow win = axis_window(x, w, k, d);
        lowest =
            std::min(lowest, group_start[static_cast<std::size_t>(win.group)] + win.start + kx);
      }
      s->base[static_cast<std::size_t>(block * k + kx)] = static_cast<std::int32_t>(lowest);
      for (std::int64_t lane = 0; lane < valid; ++lane) {
        const std::int64_t x = column_of[static_cast<std::size_t>(p0 + lane)];
        const AxisWindow win = axis_window(x, w, k, d);
        const std::int64_t key = group_start[static_cast<std::size_t>(win.group)] + win.start + kx;
        s->index[static_cast<std::size_t>((block * k + kx) * kLanes + lane)] =
            static_cast<std::int32_t>(key - lowest);
        if (win.start != win.index - k / 2) clamped[static_cast<std::size_t>(block)] = 1;
        const std::int64_t from_first = key - s->base[static_cast<std::size_t>(block * k)];
        s->window_index[static_cast<std::size_t>((block * k + kx) * kLanes + lane)] =
            static_cast<std::int32_t>(from_first);
        span[static_cast<std::size_t>(block)] =
            std::max(span[static_cast<std::size_t>(block)], from_first + 1);
        if (has_bias) {
          const std::int64_t bias_column = win.start + kx - win.index + k - 1;
          for (std::int64_t head = 0; head < g.heads; ++head) {
            for (std::int64_t bias_row = 0; bias_row < table; ++bias_row) {
              const std::int64_t src = head * rpb.strides()[0] + bias_row * rpb.strides()[1] +
                                       bias_column * rpb.strides()[2];
              s->bias.f32()[((head * table + bias_row) * k + kx) * bias_stride + p0 + lane] =
                  rpb.f32()[src];
            }
          }
        }
      }
    }
    for (std::int64_t lane = 0; lane < valid; ++lane) {
      const std::int64_t x = column_of[static_cast<std::size_t>(p0 + lane)];
      if (x < g.out_w) {
        s->out_column[static_cast<std::size_t>(p0 + lane)] = static_cast<std::int32_t>(x);
      }
    }
  }
  s->kind.resize(static_cast<std::size_t>(s->blocks));
  for (std::size_t block = 0; block < s->kind.size(); ++block) {
    s->kind[block] = clamped[block] == 0         ? BlockKind::Contiguous
                     : span[block] <= 2 * kLanes ? BlockKind::Window
                                                 : BlockKind::Clamped;
  }
  s->key_row.resize(static_cast<std::size_t>(g.out_h * k));
  s->bias_row.resize(static_cast<std::size_t>(g.out_h * k));
  for (std::int64_t y = 0; y < g.out_h; ++y) {
    const AxisWindow win = axis_window(y, g.map_h, k, d);
    for (std::int64_t ky = 0; ky < k; ++ky) {
      const auto at = static_cast<std::size_t>(y * k + ky);
      s->key_row[at] = static_cast<std::int32_t>(win.group + d * (win.start + ky));
      s->bias_row[at] = static_cast<std::int32_t>(win.start + ky - win.index + k - 1);
    }
  }

  const std::int64_t c = g.heads * g.head_dim;
  // Loads of a block may run up to 16 + kernel floats past the last stored column.
  const std::int64_t slack = 2 * kLanes + k;
  s->planes = Tensor::zeros({g.n * 3 * c * s->plane + slack});
  // The outputs are padded to whole 16-channel groups: the transpose reads them.
  s->scratch_stride = k * k * kLanes + round_up(g.head_dim, kLanes) * kLanes;
  s->scratch = Tensor::zeros({s->threads, s->scratch_stride});
  const std::int64_t row_tasks = g.n * g.heads * g.out_h;
  s->rows_per_task = std::max<std::int64_t>(
      1, row_tasks / (kTasksPerThread * static_cast<std::int64_t>(s->threads)));
  return NeighborhoodAttentionCore(std::move(s));
}

void NeighborhoodAttentionCore::run(const float* qkv, float* out) const noexcept {
  State& s = *state_;  // the planes and scratch are this object's working memory
  const NaGeometry& g = s.g;
  const std::int64_t c = g.heads * g.head_dim, k = g.kernel;
  const std::int64_t w = g.map_w;
  float* planes = s.planes.f32();
  const std::int64_t image = 3 * c * s.plane;
  const std::int64_t chunks = ceil_div(g.out_h, s.rows_per_task);
  const std::int64_t tasks = g.n * g.heads * chunks;
  const std::int64_t bias_stride = s.blocks * kLanes;
  const std::int64_t table = 2 * k - 1;

#pragma omp parallel num_threads(s.threads)
  {
#pragma omp for schedule(static)
    for (std::int64_t task = 0; task < g.n * g.map_h; ++task) {
      const std::int64_t b = task / g.map_h, y = task % g.map_h;
      const float* src = qkv + task * w * 3 * c;
      float* dst = planes + b * image + y * w;
      if (s.vector) {
        detail::na_planes_row_avx512(src, dst, s.column_of_stored.data(), w, c, s.plane, g.scale);
        continue;
      }
      for (std::int64_t x = 0; x < w; ++x) {
        const float* token = src + x * 3 * c;
        float* at = dst + s.stored_of_column[static_cast<std::size_t>(x)];
        for (std::int64_t j = 0; j < c; ++j) at[j * s.plane] = token[j] * g.scale;
        for (std::int64_t j = c; j < 3 * c; ++j) at[j * s.plane] = token[j];
      }
    }

    float* scratch = s.scratch.f32() + omp_get_thread_num() * s.scratch_stride;
    detail::NaBlockArgs a{};
    a.plane = s.plane;
    a.row = w;
    a.head_dim = g.head_dim;
    a.bias_stride = bias_stride;
    a.logits = scratch;
    a.o = scratch + k * k * kLanes;
#pragma omp for schedule(static)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t chunk = task % chunks;
      const std::int64_t head = (task / chunks) % g.heads;
      const std::int64_t b = task / (chunks * g.heads);
      const float* q0 = planes + b * image + head * g.head_dim * s.plane;
      a.k = q0 + c * s.plane;
      a.v = q0 + 2 * c * s.plane;
      const std::int64_t y_end = std::min(g.out_h, (chunk + 1) * s.rows_per_task);
      for (std::int64_t y = chunk * s.rows_per_task; y < y_end; ++y) {
        a.key_row = s.key_row.data() + y * k;
        a.bias_row = s.bias_row.data() + y * k;
        float* out_row = out + ((b * g.out_h + y) * g.out_w) * c + head * g.head_dim;
        for (std::int64_t block = 0; block < s.blocks; ++block) {
          const std::int64_t p0 = block * kLanes;
          a.q = q0 + y * w + p0;
          a.bias = s.bias.f32() != nullptr ? s.bias.f32() + head * table * k * bias_stride + p0
                                           : nullptr;
          a.base = s.base.data() + block * k;
          a.index = s.index.data() + block * k * kLanes;
          a.window_index = s.window_index.data() + block * k * kLanes;
          const BlockKind kind = s.kind[static_cast<std::size_t>(block)];
          const bool contiguous = kind == BlockKind::Contiguous;
          if (s.vector) {
            (contiguous                  ? s.kernels.contiguous
             : kind == BlockKind::Window ? s.kernels.window
                                         : s.kernels.clamped)(a);
          } else {
            block_portable(a, k, contiguous, std::min<std::int64_t>(kLanes, w - p0));
          }
          const std::int32_t* columns = s.out_column.data() + p0;
          if (s.vector) {
            detail::na_scatter_avx512(a.o, g.head_dim, columns, out_row, c);
            continue;
          }
          for (int lane = 0; lane < kLanes; ++lane) {
            if (columns[lane] < 0) continue;
            float* o = out_row + columns[lane] * c;
            for (std::int64_t ch = 0; ch < g.head_dim; ++ch) o[ch] = a.o[ch * kLanes + lane];
          }
        }
      }
    }
  }
}

std::string_view NeighborhoodAttentionCore::impl_name() const {
  return state_->vector ? "hand:neighborhood_attention_avx512"
                        : "hand:neighborhood_attention_portable";
}

}  // namespace hwnas::cpu
