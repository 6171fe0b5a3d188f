/* The "aot-c" model backend: the model compiled to plain C by `kws compile` (default --name kws_model,
 * so kws_model_aot.h / kws_model_aot.c) running on firmware/kernels. On this Cortex-M4 build the
 * kernels take their DSP (SMLAD) path unless KWS_KERNELS_PORTABLE is defined. The arena and the model
 * hash come from the generated header; kws.device.m4 checks that hash against kws_settings.h before
 * building, so INFO can never name another model than the one that runs.
 */
#include "kws_kernels.h"
#include "kws_m4_model.h"
#include "kws_model_aot.h"

const char kws_m4_backend_name[] = KWS_MODEL_AOT_BACKEND;

uint32_t kws_m4_backend_arena_bytes(void)
{
#if KWS_KERNELS_DSP
    return (uint32_t)KWS_MODEL_AOT_ARENA_BYTES_DSP;
#else
    return (uint32_t)KWS_MODEL_AOT_ARENA_BYTES_PORTABLE;
#endif
}

int kws_m4_model_init(void)
{
    return 0; /* constants are in flash, the arena is static: nothing to set up */
}

int kws_m4_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    return kws_model_hal_invoke(ctx, input, input_len, output, output_len);
}
