/* Host stand-in: MicroMutableOpResolver<N> with the Add* methods a keyword model's audit can name; like
 * TFLM's, registering more than N ops fails. */
#ifndef KWS_STUB_MICRO_MUTABLE_OP_RESOLVER_H
#define KWS_STUB_MICRO_MUTABLE_OP_RESOLVER_H

#include "tensorflow/lite/micro/micro_interpreter.h"

namespace tflite {

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
public:
    unsigned registered() const override { return count_; }
#define KWS_STUB_OP(name) \
    TfLiteStatus name() { return add(); }
    KWS_STUB_OP(AddAdd)
    KWS_STUB_OP(AddAveragePool2D)
    KWS_STUB_OP(AddConcatenation)
    KWS_STUB_OP(AddConv2D)
    KWS_STUB_OP(AddDepthwiseConv2D)
    KWS_STUB_OP(AddDequantize)
    KWS_STUB_OP(AddExpandDims)
    KWS_STUB_OP(AddFullyConnected)
    KWS_STUB_OP(AddLogistic)
    KWS_STUB_OP(AddMaxPool2D)
    KWS_STUB_OP(AddMean)
    KWS_STUB_OP(AddMul)
    KWS_STUB_OP(AddPad)
    KWS_STUB_OP(AddQuantize)
    KWS_STUB_OP(AddRelu)
    KWS_STUB_OP(AddRelu6)
    KWS_STUB_OP(AddReshape)
    KWS_STUB_OP(AddSoftmax)
    KWS_STUB_OP(AddSqueeze)
    KWS_STUB_OP(AddStridedSlice)
    KWS_STUB_OP(AddTanh)
    KWS_STUB_OP(AddTranspose)
#undef KWS_STUB_OP

private:
    TfLiteStatus add()
    {
        if (count_ >= tOpCount) {
            return kTfLiteError;
        }
        ++count_;
        return kTfLiteOk;
    }
    unsigned count_ = 0;
};

}  // namespace tflite

#endif
