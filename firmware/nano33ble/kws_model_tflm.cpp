/* The "tflm" model backend of the Nano sketch (kws_nano_model.h, `kws flash --backend tflm`): TensorFlow
 * Lite Micro (the Arduino_TensorFlowLite library) running the generated model. Everything it needs comes from the export's generated files: the flatbuffer
 * (model_data.h: g_kws_model_data, 16-byte aligned), the arena size and the op list (kws_settings.h:
 * KWS_TENSOR_ARENA_SIZE, KWS_OP_COUNT, KWS_FOR_EACH_OP), the expected tensor shapes and quantization.
 * The arena is a static array: no heap. Invoke time is measured by the core around model_invoke
 * (hal.time_us) and reported in TIMING frames.
 */
#include <string.h>

#include <TensorFlowLite.h> /* tells the Arduino build to compile the Arduino_TensorFlowLite library */

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "kws_model_tflm.h"
#include "kws_nano_model.h"
#include "kws_settings.h"
#include "model_data.h"

namespace {

// 16-byte alignment: TFLM (and CMSIS-NN's kernels) expect aligned tensor buffers.
alignas(16) uint8_t g_arena[KWS_TENSOR_ARENA_SIZE];
tflite::MicroInterpreter *g_interpreter = nullptr;
TfLiteTensor *g_input = nullptr;
TfLiteTensor *g_output = nullptr;
int g_status = KWS_TFLM_ERR_NOT_READY;
bool g_initialised = false;

bool quantization_matches(const TfLiteTensor *t, float scale, int32_t zero_point)
{
    // The input scale is stored as float32 in both places; allow a few float32 ulps (export/tf_convert.py
    // accepts 1e-6 relative for the same reason).
    const float diff = t->params.scale > scale ? t->params.scale - scale : scale - t->params.scale;
    return t->params.zero_point == zero_point && diff <= scale * 1e-6f;
}

int setup_interpreter()
{
    const tflite::Model *model = tflite::GetModel(g_kws_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        return KWS_TFLM_ERR_SCHEMA;
    }
    // Only the ops the audit found (export/audit.py), not AllOpsResolver: less flash.
    static tflite::MicroMutableOpResolver<KWS_OP_COUNT> resolver;
#define KWS_ADD_OP(method)                   \
    if (resolver.method() != kTfLiteOk) {    \
        return KWS_TFLM_ERR_OPS;             \
    }
    KWS_FOR_EACH_OP(KWS_ADD_OP)
#undef KWS_ADD_OP
    static tflite::MicroInterpreter interpreter(model, resolver, g_arena, sizeof g_arena);
    if (interpreter.AllocateTensors() != kTfLiteOk) {
        return KWS_TFLM_ERR_ARENA;
    }
    TfLiteTensor *input = interpreter.input(0);
    TfLiteTensor *output = interpreter.output(0);
    if (input == nullptr || input->type != kTfLiteInt8 || input->bytes != (size_t)KWS_MODEL_INPUT_SIZE ||
        !quantization_matches(input, KWS_MODEL_INPUT_SCALE, KWS_MODEL_INPUT_ZERO_POINT)) {
        return KWS_TFLM_ERR_INPUT;
    }
    if (output == nullptr || output->type != kTfLiteInt8 || output->bytes != (size_t)KWS_NUM_LABELS) {
        return KWS_TFLM_ERR_OUTPUT;
    }
    g_interpreter = &interpreter;
    g_input = input;
    g_output = output;
    return KWS_TFLM_OK;
}

}  // namespace

extern "C" const char kws_nano_backend_name[] = "tflm";

extern "C" uint32_t kws_nano_backend_arena_bytes(void)
{
    return (uint32_t)KWS_TENSOR_ARENA_SIZE;
}

extern "C" int kws_nano_model_init(void)
{
    if (!g_initialised) {
        g_initialised = true;
        g_status = setup_interpreter();
    }
    return g_status;
}

extern "C" int kws_nano_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    (void)ctx;
    if (g_status != KWS_TFLM_OK) {
        return g_status; /* KWS_TFLM_ERR_NOT_READY until kws_nano_model_init() succeeded */
    }
    if (input_len != g_input->bytes || output_len != g_output->bytes) {
        return KWS_TFLM_ERR_SIZE;
    }
    memcpy(g_input->data.int8, input, input_len);
    if (g_interpreter->Invoke() != kTfLiteOk) {
        return KWS_TFLM_ERR_INVOKE;
    }
    memcpy(output, g_output->data.int8, output_len);
    return KWS_TFLM_OK;
}

extern "C" size_t kws_nano_model_arena_used(void)
{
    return g_interpreter != nullptr ? g_interpreter->arena_used_bytes() : 0u;
}
