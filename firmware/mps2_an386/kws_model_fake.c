/* The "fake" model backend: a deterministic function of the input, so the whole board (UART, frontend,
 * feature ring, protocol) can be tested before a real model exists, and its scores predicted exactly
 * on the host (kws.device.m4.fake_model_scores mirrors it):
 *
 *     acc[i]   = sum_j input[j] * (((j + 3 * i) % 5) - 2)          (int32; weights -2..2)
 *     score[i] = clamp(acc[i] / 256, -128, 127)                     (C division: truncates toward 0)
 *
 * It costs about as many multiply-adds per label as the input has values (1,960), nothing like a
 * real network: its timings say nothing about a model's. Built with KWS_M4_FAKE_MODEL_US=N, every
 * invocation then waits until N us of board time have passed since it began: a model as slow as
 * TFLM's reference kernels on a 64 MHz M4 (tests/test_m4_realtime.py makes it slower than real time).
 */
#include "kws_m4_model.h"

#ifdef KWS_M4_FAKE_MODEL_US
#include "m4_board.h"
#endif

const char kws_m4_backend_name[] = "fake";

uint32_t kws_m4_backend_arena_bytes(void)
{
    return 0u;
}

int kws_m4_model_init(void)
{
    return 0;
}

int kws_m4_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    size_t i, j;
#ifdef KWS_M4_FAKE_MODEL_US
    const uint32_t t0 = m4_time_us();
#endif
    (void)ctx;
    for (i = 0; i < output_len; ++i) {
        int32_t acc = 0, q;
        for (j = 0; j < input_len; ++j) {
            acc += (int32_t)input[j] * ((int32_t)((j + 3u * i) % 5u) - 2);
        }
        q = acc / 256;
        output[i] = (int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
    }
#ifdef KWS_M4_FAKE_MODEL_US
    while ((uint32_t)(m4_time_us() - t0) < (uint32_t)(KWS_M4_FAKE_MODEL_US)) {
    }
#endif
    return 0;
}
