// Internal to kernels/: a oneDNN primitive made ready to run, the part every oneDNN plan shares.
//
// Each plan builds its primitive descriptor (the part that differs per op), reorders its constant
// arguments, then hands both here. PreparedPrimitive creates the primitive, allocates its
// user-managed scratchpad, wraps every runtime argument in a memory with no data (DNNL_MEMORY_NONE)
// and builds the argument map once; run() re-points those memories at the caller's buffers and
// executes. So run() allocates nothing and never touches the map: the map holds shared handles to
// the same memories.
#pragma once

#include <dnnl.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/onednn/dnnl_util.hpp"

namespace hwnas::onednn {

// One argument of a primitive: its DNNL_ARG_* id and memory descriptor.
struct Arg {
  int id = 0;
  dnnl::memory::desc desc;
};

struct PreparedArgs {
  // Read by the primitive and re-pointed by every run(), in the order run() takes them.
  std::vector<Arg> inputs;
  // Written by the primitive, re-pointed by every run().
  Arg dst;
  // Owned for the plan's lifetime: weights, bias, statistics already reordered in create().
  std::unordered_map<int, dnnl::memory> constants;
};

class PreparedPrimitive {
 public:
  // pd's attributes must ask for a user scratchpad (make_attr does). Throws dnnl::error, which the
  // caller converts with rethrow_unsupported (see prepare below).
  static PreparedPrimitive create(const Engine& engine, const dnnl::primitive_desc_base& pd,
                                  PreparedArgs args);

  // inputs: one pointer per PreparedArgs::inputs, in that order; only read (oneDNN takes void*).
  // Not thread-safe: it re-points memories the plan owns.
  void run(std::initializer_list<const void*> inputs, void* dst) const;

  // "onednn:<impl_info_str>".
  std::string_view impl_name() const { return impl_; }

 private:
  explicit PreparedPrimitive(const Engine& engine) : engine_(engine) {}

  Engine engine_;
  dnnl::primitive primitive_;
  std::vector<dnnl::memory> inputs_;
  dnnl::memory dst_;
  std::unordered_map<int, dnnl::memory> args_;
  std::string impl_;
};

// Calls make() (which builds a primitive descriptor and returns create()'s result), converting a
// dnnl::error into Unsupported naming `key` (dnnl's own message names no values).
template <typename Make>
PreparedPrimitive prepare(std::string_view key, Make&& make) {
  try {
    return std::forward<Make>(make)();
  } catch (const dnnl::error& e) {
    rethrow_unsupported(e, key);
  }
}

}  // namespace hwnas::onednn
