/* Host stand-in for the TFLM API the Nano backend uses (signatures of Arduino_TensorFlowLite 2.4.0-ALPHA). */
#ifndef KWS_STUB_MICRO_INTERPRETER_H
#define KWS_STUB_MICRO_INTERPRETER_H

#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/schema/schema_generated.h"

#define TFLITE_SCHEMA_VERSION (3)

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt8 = 9 } TfLiteType;
typedef struct TfLiteQuantizationParams {
    float scale;
    int32_t zero_point;
} TfLiteQuantizationParams;
typedef union TfLitePtrUnion {
    int8_t *int8;
    uint8_t *uint8;
    void *data;
} TfLitePtrUnion;
typedef struct TfLiteTensor {
    TfLitePtrUnion data;
    TfLiteType type;
    size_t bytes;
    TfLiteQuantizationParams params;
} TfLiteTensor;

namespace tflite {

class MicroOpResolver {
public:
    virtual ~MicroOpResolver() {}
    virtual unsigned registered() const = 0;
};

class MicroResourceVariables;
class MicroProfilerInterface;

class MicroInterpreter {
public:
    MicroInterpreter(const Model *model, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                     size_t tensor_arena_size, MicroResourceVariables *resource_variables = nullptr,
                     MicroProfilerInterface *profiler = nullptr);
    TfLiteStatus AllocateTensors();
    TfLiteStatus Invoke();
    TfLiteTensor *input(size_t index);
    TfLiteTensor *output(size_t index);
    size_t arena_used_bytes() const;

private:
    const MicroOpResolver &resolver_;
    uint8_t *arena_;
    size_t arena_size_;
    size_t used_;
    TfLiteTensor input_;
    TfLiteTensor output_;
};

}  // namespace tflite

#endif
