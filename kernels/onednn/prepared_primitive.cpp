#include "kernels/onednn/prepared_primitive.hpp"

#include "kernels/assert.hpp"
#include "kernels/onednn/engine_impl.hpp"

namespace hwnas::onednn {

PreparedPrimitive PreparedPrimitive::create(const Engine& engine,
                                            const dnnl::primitive_desc_base& pd,
                                            PreparedArgs args) {
  const dnnl::engine& eng = engine.impl().engine;
  PreparedPrimitive prepared(engine);
  prepared.args_ = std::move(args.constants);
  prepared.inputs_.reserve(args.inputs.size());
  for (const Arg& input : args.inputs) {
    prepared.inputs_.push_back(dnnl::memory(input.desc, eng, DNNL_MEMORY_NONE));
    prepared.args_.emplace(input.id, prepared.inputs_.back());
  }
  prepared.dst_ = dnnl::memory(args.dst.desc, eng, DNNL_MEMORY_NONE);
  prepared.args_.emplace(args.dst.id, prepared.dst_);
  prepared.args_.emplace(DNNL_ARG_SCRATCHPAD, make_scratchpad(eng, pd.scratchpad_desc()));
  // The generic primitive handle: every typed primitive (dnnl::matmul, dnnl::reorder, ...) is this
  // handle plus constructors, in oneDNN 2.6 and 3.x alike.
  prepared.primitive_ = dnnl::primitive(pd.get());
  prepared.impl_ = impl_name_of(pd);
  return prepared;
}

void PreparedPrimitive::run(std::initializer_list<const void*> inputs, void* dst) const {
  HWNAS_ASSERT(inputs.size() == inputs_.size());
  // oneDNN takes void*; inputs are only read.
  auto memory = inputs_.begin();
  for (const void* input : inputs) (memory++)->set_data_handle(const_cast<void*>(input));
  dst_.set_data_handle(dst);
  engine_.impl().execute(primitive_, args_);
}

}  // namespace hwnas::onednn
