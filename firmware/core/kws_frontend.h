/* The streaming audio frontend: int16 PCM in, one int8 feature frame per stride out.
 *
 * It computes exactly the features of kws/frontend.py (the definition) with the generated tables
 * of kws_frontend_tables.h, in float32:
 *   frame t = samples [t * KWS_FE_STRIDE_SAMPLES, t * KWS_FE_STRIDE_SAMPLES + KWS_FE_FFT_SIZE) of
 *   the stream since the last reset (no centre padding, librosa center=False), windowed by the
 *   periodic Hann window placed at KWS_FE_WINDOW_OFFSET, |rfft|^2, sparse mel, logf(mel + floor),
 *   DCT-II for MFCC, q = roundf(v / scale) + zero_point clamped to int8 (roundf: halves away from
 *   zero, like TFLite and the reference).
 * The first frame appears once KWS_FE_FFT_SIZE samples have arrived, then one per
 * KWS_FE_STRIDE_SAMPLES; how the audio is cut into chunks never changes the result.
 *
 * Parity with the float64 reference is not bit-exact (float32 FFT and log): on real speech
 * >= 99.9 % of int8 values are equal and none differs by more than 1 (tests/test_firmware_core.py).
 *
 *     kws_frontend fe;  int8_t frame[KWS_FE_NUM_FEATURES];  int ready;
 *     kws_frontend_init(&fe);
 *     while (n > 0) {
 *         size_t used = kws_frontend_push(&fe, pcm, n, frame, &ready);
 *         pcm += used; n -= used;
 *         if (ready) { ... one new frame in `frame` ... }
 *     }
 */
#ifndef KWS_FRONTEND_H
#define KWS_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "kws_frontend_tables.h"
#include "kws_micro_frontend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which features: the generated header's KWS_FE_FEATURE_TYPE. 'tflm_micro' runs kws_micro_frontend.h
 * behind the same init/reset/push; 'mlperf_mfcc' has no device frontend (KWS_FE_HAS_AUDIO_FRONTEND 0:
 * push consumes audio and makes no frames, the host sends FEATURES); the rest of this file is
 * 'logmel' and 'mfcc'. */
#define KWS_FE_FLOAT_FRONTEND \
    (KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_LOGMEL || KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_MFCC)

#if KWS_FE_FLOAT_FRONTEND && KWS_FE_STRIDE_SAMPLES > KWS_FE_FFT_SIZE
#error "a stride longer than the FFT frame would skip audio; the streaming frontend does not support it"
#endif

typedef struct kws_frontend {
#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO
    kws_micro_frontend micro;
#elif KWS_FE_FLOAT_FRONTEND
    int16_t samples[KWS_FE_FFT_SIZE]; /* the current frame's samples, oldest first */
    uint16_t count;                   /* how many of them have arrived */
    float work[KWS_FE_FFT_SIZE];      /* FFT buffer, kept here so no large array lives on the stack */
#else
    uint8_t unused;                   /* no device frontend for this feature_type */
#endif
} kws_frontend;

/* Prepares the FFT tables and empties the frame buffer. */
void kws_frontend_init(kws_frontend *fe);

/* Forgets buffered audio: the next sample is sample 0 of a new stream. */
void kws_frontend_reset(kws_frontend *fe);

/* Consumes samples from pcm[0..n) until a frame is complete or the input runs out; returns how many
 * it consumed. *ready is 1 when `out` (KWS_FE_NUM_FEATURES int8) holds a new frame, else 0. Call it
 * again with the rest of the chunk: a chunk may complete several frames. */
size_t kws_frontend_push(kws_frontend *fe, const int16_t *pcm, size_t n, int8_t *out, int *ready);

#if KWS_FE_FLOAT_FRONTEND

/* One frame from KWS_FE_FFT_SIZE samples: the float features (before quantisation; may be NULL)
 * and the int8 ones (may be NULL). `work` is KWS_FE_FFT_SIZE floats of scratch. */
void kws_frontend_compute(const int16_t *frame, float *work, float *features, int8_t *out);

/* The spec's quantiser: roundf(value / KWS_FE_QUANT_SCALE) + KWS_FE_QUANT_ZERO_POINT, clamped. */
int8_t kws_frontend_quantize(float value);
#endif

#ifdef __cplusplus
}
#endif

#endif /* KWS_FRONTEND_H */
