/* TFLM's micro frontend, streaming, integer (see kws_micro_frontend.h; the definition is kws/frontend_micro.py). */
#include "kws_micro_frontend.h"

#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO

#include <string.h>

#define HALF KWS_FE_MICRO_FFT_HALF

/* ------------------------------------------------------------------ integer helpers, defined in C99 */

/* The low 16 bits as int16, what a store of an int into int16_t does on TFLM's targets. */
static int16_t wrap16(int32_t v)
{
    const int32_t u = (int32_t)((uint32_t)v & 0xFFFFu);
    return (int16_t)(u >= 0x8000 ? u - 0x10000 : u);
}

/* The low 32 bits as int32 (TFLM's int32 overflows wrap on its targets). */
static int32_t wrap32(int64_t v)
{
    const uint32_t u = (uint32_t)((uint64_t)v & 0xFFFFFFFFu);
    return u >= 0x80000000u ? (int32_t)((int64_t)u - 0x100000000LL) : (int32_t)u;
}

/* v >> s rounding toward minus infinity (an arithmetic shift) for negative v too. */
static int32_t asr32(int32_t v, unsigned s)
{
    return v >= 0 ? (int32_t)((uint32_t)v >> s) : -1 - (int32_t)((uint32_t)(-1 - v) >> s);
}

/* Bits needed for x: 0 for 0 (TFLM's MostSignificantBit32 for x > 0). */
static unsigned bit_length(uint32_t x)
{
#if defined(__GNUC__)
    return x ? 32u - (unsigned)__builtin_clz(x) : 0u;
#else
    unsigned n = 0;
    while (x) {
        ++n;
        x >>= 1;
    }
    return n;
#endif
}

/* ------------------------------------------------------------------ window, auto scale */

/* SignalWindow then SignalFftAutoScale on fe->frame; returns the scale shift. */
static unsigned window_and_scale(kws_micro_frontend *fe, const int16_t *window)
{
    int16_t peak = 0;
    unsigned shift = 0;
    int n;
    for (n = 0; n < KWS_FE_WINDOW_SAMPLES; ++n) {
        const int32_t raw = asr32((int32_t)window[n] * kws_fe_micro_window[n], KWS_FE_MICRO_WINDOW_BITS);
        const int16_t v = (int16_t)(raw < -32768 ? -32768 : raw > 32767 ? 32767 : raw);
        fe->frame[n] = v;
        /* MaxAbs16 as TFLM writes it: negating -32768 and storing it back wraps to -32768. */
        if (v > peak) {
            peak = v;
        } else if (-(int32_t)v > peak) {
            peak = wrap16(-(int32_t)v);
        }
    }
    for (n = KWS_FE_WINDOW_SAMPLES; n < KWS_FE_FFT_SIZE; ++n) {
        fe->frame[n] = 0;
    }
    if (peak > 0) {
        shift = 15u - bit_length((uint32_t)peak);
    }
    for (n = 0; n < KWS_FE_WINDOW_SAMPLES; ++n) {
        fe->frame[n] = wrap16((int32_t)fe->frame[n] * (int32_t)(1u << shift));
    }
    return shift;
}

/* ------------------------------------------------------------------ kissfft, FIXED_POINT 16 */

static int16_t sround(int32_t x)
{
    return wrap16(asr32(x + (1 << 14), 15));
}

/* C_FIXDIV: x * (32767 / div), rounded back to int16 (never out of range for div >= 2). */
static int16_t fixdiv(int16_t x, int32_t div)
{
    return sround((int32_t)x * (32767 / div));
}

/* C_MUL of z[0..1] by twiddle tw[0..1] into out[0..1]. In int32: |a*c - b*d| + 2^14 < 2^31 because
 * the twiddles are at most 32767 in magnitude. */
static void cmul(const int16_t *z, const int16_t *tw, int16_t *out)
{
    const int16_t re = sround((int32_t)z[0] * tw[0] - (int32_t)z[1] * tw[1]);
    out[1] = sround((int32_t)z[0] * tw[1] + (int32_t)z[1] * tw[0]);
    out[0] = re;
}

static void butterfly2(int16_t *z, unsigned a, unsigned m, unsigned tw)
{
    int16_t *f0 = z + 2 * a, *f1 = z + 2 * (a + m), t[2];
    f0[0] = fixdiv(f0[0], 2);
    f0[1] = fixdiv(f0[1], 2);
    f1[0] = fixdiv(f1[0], 2);
    f1[1] = fixdiv(f1[1], 2);
    cmul(f1, kws_fe_micro_twiddles[tw], t);
    f1[0] = wrap16((int32_t)f0[0] - t[0]);
    f1[1] = wrap16((int32_t)f0[1] - t[1]);
    f0[0] = wrap16((int32_t)f0[0] + t[0]);
    f0[1] = wrap16((int32_t)f0[1] + t[1]);
}

static void butterfly4(int16_t *z, unsigned a, unsigned m, unsigned tw)
{
    int16_t *f[4], s0[2], s1[2], s2[2], s3[2], s4[2], s5[2];
    int j;
    for (j = 0; j < 4; ++j) {
        f[j] = z + 2 * (a + (unsigned)j * m);
        f[j][0] = fixdiv(f[j][0], 4);
        f[j][1] = fixdiv(f[j][1], 4);
    }
    cmul(f[1], kws_fe_micro_twiddles[tw], s0);
    cmul(f[2], kws_fe_micro_twiddles[2 * tw], s1);
    cmul(f[3], kws_fe_micro_twiddles[3 * tw], s2);
    for (j = 0; j < 2; ++j) {
        s5[j] = wrap16((int32_t)f[0][j] - s1[j]);
        f[0][j] = wrap16((int32_t)f[0][j] + s1[j]);
        s3[j] = wrap16((int32_t)s0[j] + s2[j]);
        s4[j] = wrap16((int32_t)s0[j] - s2[j]);
        f[2][j] = wrap16((int32_t)f[0][j] - s3[j]);
        f[0][j] = wrap16((int32_t)f[0][j] + s3[j]);
    }
    f[1][0] = wrap16((int32_t)s5[0] + s4[1]);
    f[1][1] = wrap16((int32_t)s5[1] - s4[0]);
    f[3][0] = wrap16((int32_t)s5[0] - s4[1]);
    f[3][1] = wrap16((int32_t)s5[1] + s4[0]);
}

/* kiss_fftr of fe->frame into fe->spectrum: HALF + 1 (re, im) pairs. kf_work's recursion is unrolled:
 * the inputs in its decimated order, then every stage's butterflies, innermost stage first. */
static void rfft(kws_micro_frontend *fe)
{
    int16_t *z = fe->spectrum;
    unsigned span[KWS_FE_MICRO_FFT_STAGES], s, k;
    int stage;
    for (k = 0; k < HALF; ++k) {
        const unsigned from = 2u * kws_fe_micro_fft_order[k];
        z[2 * k] = fe->frame[from];
        z[2 * k + 1] = fe->frame[from + 1];
    }
    span[0] = HALF;
    for (s = 1; s < KWS_FE_MICRO_FFT_STAGES; ++s) {
        span[s] = span[s - 1] / kws_fe_micro_fft_radix[s - 1];
    }
    for (stage = KWS_FE_MICRO_FFT_STAGES - 1; stage >= 0; --stage) {
        const unsigned p = kws_fe_micro_fft_radix[stage], m = span[stage] / p, fstride = HALF / span[stage];
        unsigned block;
        for (block = 0; block < HALF; block += span[stage]) {
            for (k = 0; k < m; ++k) {
                if (p == 4) {
                    butterfly4(z, block + k, m, k * fstride);
                } else {
                    butterfly2(z, block + k, m, k * fstride);
                }
            }
        }
    }
    {
        const int16_t dc_r = fixdiv(z[0], 2), dc_i = fixdiv(z[1], 2);
        z[0] = wrap16((int32_t)dc_r + dc_i);
        z[1] = 0;
        z[2 * HALF] = wrap16((int32_t)dc_r - dc_i);
        z[2 * HALF + 1] = 0;
    }
    /* Bins k and HALF - k come from Z[k] and Z[HALF - k] together: in place, pair by pair. */
    for (k = 1; k <= HALF / 2; ++k) {
        int16_t *a = z + 2 * k, *b = z + 2 * (HALF - k);
        int16_t fpk[2], fpnk[2], f1[2], f2[2], tw[2];
        fpk[0] = fixdiv(a[0], 2);
        fpk[1] = fixdiv(a[1], 2);
        fpnk[0] = fixdiv(b[0], 2);
        fpnk[1] = fixdiv(wrap16(-(int32_t)b[1]), 2);
        f1[0] = wrap16((int32_t)fpk[0] + fpnk[0]);
        f1[1] = wrap16((int32_t)fpk[1] + fpnk[1]);
        f2[0] = wrap16((int32_t)fpk[0] - fpnk[0]);
        f2[1] = wrap16((int32_t)fpk[1] - fpnk[1]);
        cmul(f2, kws_fe_micro_super_twiddles[k - 1], tw);
        a[0] = wrap16(asr32((int32_t)f1[0] + tw[0], 1));
        a[1] = wrap16(asr32((int32_t)f1[1] + tw[1], 1));
        b[0] = wrap16(asr32((int32_t)f1[0] - tw[0], 1)); /* for k = HALF / 2, b is a: this write wins */
        b[1] = wrap16(asr32((int32_t)tw[1] - f1[1], 1));
    }
}

/* ------------------------------------------------------------------ filterbank, square root */

static uint32_t energy(const int16_t *spectrum, unsigned k)
{
    int32_t re, im;
    if (k < KWS_FE_MICRO_START_INDEX || k >= KWS_FE_MICRO_END_INDEX) {
        return 0;
    }
    re = spectrum[2 * k];
    im = spectrum[2 * k + 1];
    return (uint32_t)(re * re) + (uint32_t)(im * im); /* each square <= 2^30; the sum wraps as TFLM's */
}

/* TFLM's Sqrt32/Sqrt64: floor(sqrt(x)), plus one when the remainder exceeds the root, except at the
 * type's maximum (0xFFFF when x < 2^32: the 32-bit path returns uint16). */
static uint32_t sqrt_rounded(uint64_t x)
{
    uint64_t rem = x, root = 0, bit = (uint64_t)1 << 62;
    const uint64_t cap = (x >> 32) == 0 ? 0xFFFFu : 0xFFFFFFFFu;
    while (bit > x) {
        bit >>= 2;
    }
    while (bit) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    if (rem > root && root != cap) {
        ++root;
    }
    return (uint32_t)root;
}

/* SignalFilterBank then SignalFilterBankSquareRoot: channels[c] from accumulation channel c + 1's
 * weights and channel c's unweights (channel 0 is scratch), in 64 bits. */
static void filterbank(const int16_t *spectrum, unsigned shift, uint32_t *channels)
{
    uint64_t weighted = 0, unweighted = 0;
    int i, j;
    for (i = 0; i <= KWS_FE_NUM_MELS; ++i) {
        const int first = kws_fe_micro_channel_starts[i], at = kws_fe_micro_weight_starts[i];
        for (j = 0; j < kws_fe_micro_channel_widths[i]; ++j) {
            const uint64_t e = energy(spectrum, (unsigned)(first + j));
            weighted += (uint64_t)(int64_t)kws_fe_micro_weights[at + j] * e;
            unweighted += (uint64_t)(int64_t)kws_fe_micro_unweights[at + j] * e;
        }
        if (i > 0) {
            channels[i - 1] = sqrt_rounded(weighted) >> shift;
        }
        weighted = unweighted;
        unweighted = 0;
    }
}

/* ------------------------------------------------------------------ PCAN, log */

/* TFLM's WideDynamicFunction: the piecewise-quadratic gain table at x. */
static int16_t pcan_gain(uint32_t x)
{
    const int16_t *lut;
    unsigned interval;
    int32_t frac, result;
    if (x <= 2) {
        return kws_fe_micro_pcan_lut[x];
    }
    interval = bit_length(x);
    lut = kws_fe_micro_pcan_lut + 4 * interval - 6;
    frac = (int32_t)((interval < 11 ? x << (11 - interval) : x >> (interval - 11)) & 0x3FFu);
    result = wrap32((int64_t)asr32((int32_t)lut[2] * frac, 5) + (int64_t)lut[1] * 32);
    result = wrap32((int64_t)result * frac);
    result = asr32(wrap32((int64_t)result + (1 << 14)), 15);
    return wrap16(result + lut[0]);
}

static uint32_t pcan(uint32_t signal, uint32_t noise)
{
    const uint32_t gain = (uint32_t)(int32_t)pcan_gain(noise); /* int16 -> uint32, modulo 2^32 as in C++ */
    const uint32_t snr = (uint32_t)(((uint64_t)signal * gain) >> KWS_FE_MICRO_SNR_SHIFT);
    if (snr < (2u << KWS_FE_MICRO_PCAN_SNR_BITS)) {
        return (snr * snr) >> (2 + 2 * KWS_FE_MICRO_PCAN_SNR_BITS - KWS_FE_MICRO_PCAN_OUTPUT_BITS);
    }
    return (snr >> (KWS_FE_MICRO_PCAN_SNR_BITS - KWS_FE_MICRO_PCAN_OUTPUT_BITS)) - (1u << KWS_FE_MICRO_PCAN_OUTPUT_BITS);
}

/* TFLM's Log32(x, 64) for x > 1: ln(x) in Q6 from a Q16 log2 corrected by the table. */
static uint32_t log32(uint32_t x)
{
    const unsigned integer = bit_length(x) - 1u;
    const int32_t unit = (1 << KWS_FE_MICRO_LOG_SCALE_BITS) >> KWS_FE_MICRO_LOG_SEGMENTS_BITS;
    const uint32_t half = 1u << (KWS_FE_MICRO_LOG_SCALE_BITS - 1);
    int32_t frac = (int32_t)(x - ((uint32_t)1 << integer)), segment, c0, c1;
    uint32_t log2, loge;
    if (integer < KWS_FE_MICRO_LOG_SCALE_BITS) {
        frac = (int32_t)((uint32_t)frac << (KWS_FE_MICRO_LOG_SCALE_BITS - integer));
    } else {
        frac >>= integer - KWS_FE_MICRO_LOG_SCALE_BITS;
    }
    segment = frac >> (KWS_FE_MICRO_LOG_SCALE_BITS - KWS_FE_MICRO_LOG_SEGMENTS_BITS);
    c0 = kws_fe_micro_log_lut[segment];
    c1 = kws_fe_micro_log_lut[segment + 1];
    log2 = ((uint32_t)integer << KWS_FE_MICRO_LOG_SCALE_BITS)
           + (uint32_t)(frac + c0 + asr32((c1 - c0) * (frac - unit * segment), KWS_FE_MICRO_LOG_SCALE_BITS));
    loge = (uint32_t)(((uint64_t)KWS_FE_MICRO_LOG_COEFF * log2 + half) >> KWS_FE_MICRO_LOG_SCALE_BITS);
    return (KWS_FE_MICRO_LOG_OUTPUT_SCALE * loge + half) >> KWS_FE_MICRO_LOG_SCALE_BITS;
}

/* ------------------------------------------------------------------ one frame, streaming */

void kws_micro_frontend_compute(kws_micro_frontend *fe, const int16_t *window, int8_t *out, int16_t *features)
{
    uint32_t channels[KWS_FE_NUM_MELS];
    const unsigned shift = window_and_scale(fe, window);
    int i;
    rfft(fe);
    filterbank(fe->spectrum, shift, channels);
    for (i = 0; i < KWS_FE_NUM_MELS; ++i) {
        const uint32_t smoothing = (i & 1) ? KWS_FE_MICRO_SMOOTHING_ODD : KWS_FE_MICRO_SMOOTHING_EVEN;
        const uint32_t keep = (i & 1) ? KWS_FE_MICRO_ONE_MINUS_SMOOTHING_ODD : KWS_FE_MICRO_ONE_MINUS_SMOOTHING_EVEN;
        const uint32_t signal = channels[i], scaled = signal << KWS_FE_MICRO_SMOOTHING_BITS;
        uint32_t estimate, floor, reduced, scaled_log;
        int32_t value, q;
        /* Noise reduction: the estimate follows the signal, frame after frame (the state). */
        fe->noise[i] = (uint32_t)(((uint64_t)scaled * smoothing + (uint64_t)fe->noise[i] * keep)
                                  >> KWS_FE_MICRO_SUBTRACTION_BITS);
        estimate = fe->noise[i] > scaled ? scaled : fe->noise[i];
        floor = (uint32_t)(((uint64_t)signal * KWS_FE_MICRO_MIN_SIGNAL_REMAINING) >> KWS_FE_MICRO_SUBTRACTION_BITS);
        reduced = (scaled - estimate) >> KWS_FE_MICRO_SMOOTHING_BITS;
        if (reduced < floor) {
            reduced = floor;
        }
        scaled_log = pcan(reduced, fe->noise[i]) << KWS_FE_MICRO_CORRECTION_BITS;
        value = 0;
        if (scaled_log > 1) {
            const uint32_t log_value = log32(scaled_log);
            value = log_value < 32767u ? (int32_t)log_value : 32767;
        }
        if (features != NULL) {
            features[i] = (int16_t)value;
        }
        q = (value * KWS_FE_MICRO_OUTPUT_SCALE + KWS_FE_MICRO_OUTPUT_DIV / 2) / KWS_FE_MICRO_OUTPUT_DIV
            + KWS_FE_MICRO_OUTPUT_OFFSET;
        if (out != NULL) {
            out[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
        }
    }
}

void kws_micro_frontend_reset(kws_micro_frontend *fe)
{
    memset(fe->samples, 0, sizeof fe->samples);
    memset(fe->noise, 0, sizeof fe->noise);
    fe->count = 0;
}

void kws_micro_frontend_init(kws_micro_frontend *fe)
{
    kws_micro_frontend_reset(fe);
}

size_t kws_micro_frontend_push(kws_micro_frontend *fe, const int16_t *pcm, size_t n, int8_t *out,
                               int16_t *features, int *ready)
{
    size_t take = (size_t)(KWS_FE_WINDOW_SAMPLES - fe->count);
    *ready = 0;
    if (take > n) {
        take = n;
    }
    if (take > 0) { /* memcpy from a NULL pointer is undefined even for 0 bytes */
        memcpy(&fe->samples[fe->count], pcm, take * sizeof pcm[0]);
    }
    fe->count = (uint16_t)(fe->count + take);
    if (fe->count == KWS_FE_WINDOW_SAMPLES) {
        kws_micro_frontend_compute(fe, fe->samples, out, features);
        memmove(fe->samples, &fe->samples[KWS_FE_STRIDE_SAMPLES],
                (KWS_FE_WINDOW_SAMPLES - KWS_FE_STRIDE_SAMPLES) * sizeof fe->samples[0]);
        fe->count = (uint16_t)(KWS_FE_WINDOW_SAMPLES - KWS_FE_STRIDE_SAMPLES);
        *ready = 1;
    }
    return take;
}

#else

/* Another feature_type: nothing to build here (ISO C forbids an empty translation unit). */
typedef int kws_micro_frontend_unused;

#endif /* KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_TFLM_MICRO */
