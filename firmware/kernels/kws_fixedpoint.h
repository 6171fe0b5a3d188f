/* Fixed-point helpers with TFLite Micro's exact rounding (gemmlowp semantics), shared by the kernels.
 *
 * TFLM is built without TFLITE_SINGLE_ROUNDING, so MultiplyByQuantizedMultiplier rounds twice:
 * SaturatingRoundingDoublingHighMul (round half up of a*b / 2^31), then RoundingDivideByPOT (round half
 * away from zero). Right shifts of negative values are arithmetic on every compiler we build with
 * (GCC, Clang, arm-none-eabi-gcc), as they are in TFLM itself.
 */
#ifndef KWS_FIXEDPOINT_H
#define KWS_FIXEDPOINT_H

#include <stdint.h>

/* Keeps a helper out of line where code size matters more than a call (GCC, Clang). */
#if defined(__GNUC__)
#define KWS_NOINLINE __attribute__((noinline))
#else
#define KWS_NOINLINE
#endif

static inline int32_t kws_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    /* gemmlowp's nudge-and-truncate equals floor((a*b + 2^30) / 2^31) for every sign. */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t kws_rdbpot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^left with int32 wrap-around, as TFLM's `x * (1 << left_shift)` behaves in practice, without UB. */
static inline int32_t kws_shl_wrap(int32_t x, int32_t left) {
    return (int32_t)((uint32_t)x << left);
}

static inline int32_t kws_mbqm(int32_t x, int32_t mult, int32_t shift) {
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return kws_rdbpot(kws_srdhm(kws_shl_wrap(x, left), mult), right);
}

static inline int32_t kws_clamp(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* KWS_FIXEDPOINT_H */
