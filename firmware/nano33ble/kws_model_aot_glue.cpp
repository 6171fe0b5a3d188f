/* The "aot-c" model backend of the Nano sketch (kws_nano_model.h): the model `kws compile` wrote as
 * plain C99 (kws_model_aot.c/.h, default name kws_model) running on firmware/kernels. No interpreter,
 * no flatbuffer, no library: constants in flash, one static activation buffer, nothing to set up.
 *
 * The compiled model and the export's kws_settings.h are checked against each other at compile time
 * (model SHA-256, tensor sizes, quantization), so INFO can never name another model than the one that
 * runs and the frontend's int8 features are exactly the model's input. `kws flash` compiles the run's
 * model into runs/<run>/export/aot/ and stages it with this file; a mismatch here means the sketch
 * folder was mixed by hand.
 *
 * Kernel flavour: on a Cortex-M4 the kernels take their DSP-extension path (SMLAD) unless
 * KWS_KERNELS_PORTABLE is defined (firmware/kernels/kws_kernels.h), for every .c of the sketch alike.
 */
#include "kws_kernels.h"
#include "kws_model_aot.h"
#include "kws_nano_model.h"
#include "kws_settings.h"

/* The DSP kernels call the ACLE SIMD intrinsics of <arm_acle.h> (__smlad, __sxtb16, ...), which GCC
 * has only from version 10; the Arduino mbed core ships GCC 7 (arm-none-eabi-gcc 7-2017q4). `kws
 * flash` recognises this message and builds again with the portable kernels. */
#if KWS_KERNELS_DSP && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 10
#error "kws: the DSP kernels need GCC 10 or newer; build with -DKWS_KERNELS_PORTABLE for .c and .cpp files"
#endif

namespace {

constexpr bool same_text(const char *a, const char *b)
{
    return *a == *b && (*a == '\0' || same_text(a + 1, b + 1));
}

constexpr bool close_scale(float a, float b)
{
    // Both headers print the same float32; allow a few ulps for the two generators' decimal rounding.
    return (a > b ? a - b : b - a) <= (b > 0.0f ? b : -b) * 1e-6f;
}

}  // namespace

static_assert(same_text(KWS_MODEL_AOT_SHA256, KWS_SETTINGS_MODEL_SHA256),
              "kws_model_aot.h was compiled from another model than kws_settings.h describes: run kws flash again");
static_assert(KWS_MODEL_AOT_INPUT_BYTES == KWS_MODEL_INPUT_SIZE, "compiled model input size != KWS_MODEL_INPUT_SIZE");
static_assert(KWS_MODEL_AOT_OUTPUT_BYTES == KWS_NUM_LABELS, "compiled model output size != KWS_NUM_LABELS");
static_assert(KWS_MODEL_AOT_INPUT_ZERO_POINT == KWS_MODEL_INPUT_ZERO_POINT &&
                  close_scale(KWS_MODEL_AOT_INPUT_SCALE, KWS_MODEL_INPUT_SCALE),
              "compiled model input quantization != the frontend's (kws_settings.h)");
static_assert(KWS_MODEL_AOT_OUTPUT_ZERO_POINT == KWS_MODEL_OUTPUT_ZERO_POINT &&
                  close_scale(KWS_MODEL_AOT_OUTPUT_SCALE, KWS_MODEL_OUTPUT_SCALE),
              "compiled model output quantization != kws_settings.h");

extern "C" {

const char kws_nano_backend_name[] = KWS_MODEL_AOT_BACKEND;

uint32_t kws_nano_backend_arena_bytes(void)
{
#if KWS_KERNELS_DSP
    return (uint32_t)KWS_MODEL_AOT_ARENA_BYTES_DSP;
#else
    return (uint32_t)KWS_MODEL_AOT_ARENA_BYTES_PORTABLE;
#endif
}

int kws_nano_model_init(void)
{
    return 0;  // constants are in flash, the buffer is static: nothing can fail at run time
}

int kws_nano_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    return kws_model_hal_invoke(ctx, input, input_len, output, output_len);  // -1 on a size mismatch
}

size_t kws_nano_model_arena_used(void)
{
    return (size_t)kws_nano_backend_arena_bytes();  // planned at compile time: all of it, always
}

}  // extern "C"
