/* TFLM's micro frontend, streaming, in the integer arithmetic TFLM uses: int16 PCM in, int8 frames out.
 *
 * Built when the generated kws_frontend_tables.h says KWS_FE_FEATURE_TYPE_TFLM_MICRO (feature_type
 * 'tflm_micro'); kws_frontend.c then hands its push/reset here, so the app needs nothing else. The
 * definition is kws/frontend_micro.py, bit for bit with micro_speech's audio_preprocessor_int8.tflite:
 * per window of KWS_FE_WINDOW_SAMPLES samples (one every KWS_FE_STRIDE_SAMPLES), Q12 Hann window,
 * auto scale, kissfft's 16-bit real FFT, energies, the Q12 filterbank and its rounded square root,
 * noise reduction (the state: one noise estimate per channel, zero after a reset), PCAN gain control,
 * Log32, and micro_speech's int8 formula q = (f * 256 + 333) / 666 - 128, clamped.
 *
 * All arithmetic is integer and its behaviour is defined in C99: where TFLM's C++ relies on int16
 * stores wrapping, on >> of negative values being arithmetic, or on int32 overflow wrapping, this
 * code does the same thing explicitly (wrap16/asr32/wrap32 below), so every compiler gives TFLM's
 * numbers. No heap; the state below is the only memory (about 3.2 KB at 30 ms / 40 channels).
 *
 *     kws_micro_frontend fe;  int8_t frame[KWS_FE_NUM_FEATURES];  int ready;
 *     kws_micro_frontend_init(&fe);
 *     used = kws_micro_frontend_push(&fe, pcm, n, frame, NULL, &ready);   (see kws_frontend.h)
 */
#ifndef KWS_MICRO_FRONTEND_H
#define KWS_MICRO_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "kws_frontend_tables.h"

#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO

#ifdef __cplusplus
extern "C" {
#endif

#if KWS_FE_STRIDE_SAMPLES > KWS_FE_WINDOW_SAMPLES
#error "a stride longer than the window would skip audio; the streaming frontend does not support it"
#endif

typedef struct kws_micro_frontend {
    int16_t samples[KWS_FE_WINDOW_SAMPLES];         /* the current window's samples, oldest first */
    uint16_t count;                                 /* how many of them have arrived */
    uint32_t noise[KWS_FE_NUM_MELS];                /* noise estimate per channel (the frontend's state) */
    int16_t frame[KWS_FE_FFT_SIZE];                 /* windowed, scaled, zero-padded samples */
    int16_t spectrum[2 * (KWS_FE_MICRO_FFT_HALF + 1)]; /* (re, im) pairs: the complex FFT, then the real one */
} kws_micro_frontend;

/* Empties the window and zeroes the noise estimate (TFLM's state after Prepare or a reset). */
void kws_micro_frontend_init(kws_micro_frontend *fe);
void kws_micro_frontend_reset(kws_micro_frontend *fe);

/* Consumes samples from pcm[0..n) until a window is complete or the input runs out; returns how many it
 * consumed. *ready is 1 when a new frame was made: `out` (KWS_FE_NUM_FEATURES int8, may be NULL) holds
 * it, and `features` (KWS_FE_NUM_FEATURES int16, may be NULL) the frontend's int16 output behind it. */
size_t kws_micro_frontend_push(kws_micro_frontend *fe, const int16_t *pcm, size_t n, int8_t *out,
                               int16_t *features, int *ready);

/* One frame from KWS_FE_WINDOW_SAMPLES samples, updating the noise estimate; outputs as in push. */
void kws_micro_frontend_compute(kws_micro_frontend *fe, const int16_t *window, int8_t *out, int16_t *features);

#ifdef __cplusplus
}
#endif

#endif /* KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO */

#endif /* KWS_MICRO_FRONTEND_H */
