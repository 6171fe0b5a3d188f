/* Streaming frontend: framing, window, power spectrum, sparse mel, log, DCT, int8 (see kws_frontend.h). */
#include "kws_frontend.h"

#include <math.h>
#include <string.h>

#include "kws_fft.h"

#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO

void kws_frontend_init(kws_frontend *fe)
{
    kws_micro_frontend_init(&fe->micro);
}

void kws_frontend_reset(kws_frontend *fe)
{
    kws_micro_frontend_reset(&fe->micro);
}

size_t kws_frontend_push(kws_frontend *fe, const int16_t *pcm, size_t n, int8_t *out, int *ready)
{
    return kws_micro_frontend_push(&fe->micro, pcm, n, out, NULL, ready);
}

#elif !KWS_FE_FLOAT_FRONTEND

void kws_frontend_init(kws_frontend *fe)
{
    fe->unused = 0;
}

void kws_frontend_reset(kws_frontend *fe)
{
    fe->unused = 0;
}

size_t kws_frontend_push(kws_frontend *fe, const int16_t *pcm, size_t n, int8_t *out, int *ready)
{
    (void)fe;
    (void)pcm;
    (void)out;
    *ready = 0;
    return n;
}

#else

#if KWS_FE_WINDOW_OFFSET + KWS_FE_WINDOW_SAMPLES > KWS_FE_FFT_SIZE
#error "the generated window does not fit in the FFT frame: regenerate kws_frontend_tables.h"
#endif

void kws_frontend_init(kws_frontend *fe)
{
    kws_fft_init();
    kws_frontend_reset(fe);
}

void kws_frontend_reset(kws_frontend *fe)
{
    memset(fe->samples, 0, sizeof fe->samples);
    fe->count = 0;
}

int8_t kws_frontend_quantize(float value)
{
    /* Division, not multiplication by 1/scale: TFLite's Quantize divides, and x * (1/0.1f) differs
     * from x / 0.1f in the last bit often enough to move values that sit on a rounding boundary. */
    float q = roundf(value / KWS_FE_QUANT_SCALE) + (float)KWS_FE_QUANT_ZERO_POINT;
    /* Clamp in float before converting: a float outside int's range converted to int is undefined. */
    if (!(q > -128.0f)) { /* also catches NaN, which cannot occur for finite audio */
        return (int8_t)-128;
    }
    if (q > 127.0f) {
        return (int8_t)127;
    }
    return (int8_t)(int)q;
}

void kws_frontend_compute(const int16_t *frame, float *work, float *features, int8_t *out)
{
    float logmel[KWS_FE_NUM_MELS];
    int n, m, c;

    /* int16 / 32768 is exact in float (a power of two), so this is the reference's x[n] * w[n]
     * with a single float rounding. Samples outside the window are multiplied by zero in the
     * spec, so they are simply zero here. */
    for (n = 0; n < KWS_FE_WINDOW_OFFSET; ++n) {
        work[n] = 0.0f;
    }
    for (n = 0; n < KWS_FE_WINDOW_SAMPLES; ++n) {
        const int i = n + KWS_FE_WINDOW_OFFSET;
        work[i] = ((float)frame[i] * (1.0f / 32768.0f)) * kws_fe_window[n];
    }
    for (n = KWS_FE_WINDOW_OFFSET + KWS_FE_WINDOW_SAMPLES; n < KWS_FE_FFT_SIZE; ++n) {
        work[n] = 0.0f;
    }
    kws_rfft(work);

    for (m = 0; m < KWS_FE_NUM_MELS; ++m) {
        const float *w = &kws_fe_mel_weights[kws_fe_mel_offset[m]];
        const int first = kws_fe_mel_first_bin[m], count = kws_fe_mel_num_bins[m];
        float mel = 0.0f;
        int j;
        for (j = 0; j < count; ++j) {
            const int k = first + j;
            float power;
            if (k == 0) {
                power = work[0] * work[0];
            } else if (k == KWS_FE_FFT_SIZE / 2) {
                power = work[1] * work[1]; /* Nyquist bin, packed into slot 1 */
            } else {
                power = work[2 * k] * work[2 * k] + work[2 * k + 1] * work[2 * k + 1];
            }
            mel += w[j] * power;
        }
        logmel[m] = logf(mel + KWS_FE_LOG_FLOOR);
    }

    for (c = 0; c < KWS_FE_NUM_FEATURES; ++c) {
        float value;
#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_MFCC
        value = 0.0f;
        for (m = 0; m < KWS_FE_NUM_MELS; ++m) {
            value += kws_fe_dct[c][m] * logmel[m];
        }
#else
        value = logmel[c];
#endif
        if (features != NULL) {
            features[c] = value;
        }
        if (out != NULL) {
            out[c] = kws_frontend_quantize(value);
        }
    }
}

size_t kws_frontend_push(kws_frontend *fe, const int16_t *pcm, size_t n, int8_t *out, int *ready)
{
    size_t take = (size_t)(KWS_FE_FFT_SIZE - fe->count);
    *ready = 0;
    if (take > n) {
        take = n;
    }
    if (take > 0) { /* memcpy from a NULL pointer is undefined even for 0 bytes */
        memcpy(&fe->samples[fe->count], pcm, take * sizeof pcm[0]);
    }
    fe->count = (uint16_t)(fe->count + take);
    if (fe->count == KWS_FE_FFT_SIZE) {
        kws_frontend_compute(fe->samples, fe->work, NULL, out);
        /* Keep the overlap: the next frame starts one stride later. A memmove of n_fft - stride
         * samples per frame is cheaper to get right than a circular buffer, and cheap enough. */
        memmove(fe->samples, &fe->samples[KWS_FE_STRIDE_SAMPLES],
                (KWS_FE_FFT_SIZE - KWS_FE_STRIDE_SAMPLES) * sizeof fe->samples[0]);
        fe->count = (uint16_t)(KWS_FE_FFT_SIZE - KWS_FE_STRIDE_SAMPLES);
        *ready = 1;
    }
    return take;
}

#endif /* KWS_FE_FEATURE_TYPE */
