/* Internal to the Cortex-M4 DSP flavour (compiled only when KWS_KERNELS_DSP): what the conv, depthwise and
 * fully connected DSP kernels share.
 *
 * Constants come as one int32 stream per layer (kws/compile/dsp_layout.py, which also proves the
 * arithmetic): per group of 4 output channels, 4 folded biases, the weights (int16 pairs in SMLAD order, or
 * int8, 4 per word), then 4 requantization records {m, half + out_offset * 2^e, smask, e}. With int16
 * weights the accumulator holds A = 2^(1+L) * acc (weights and biases are pre-scaled); with int8 weights
 * (L = 0 throughout) it holds acc and is doubled before the requantization. Then
 *     r = SMMULR(A, m); out = (r + half' + ((r >> 31) & smask)) >> e
 * which equals TFLM's double-rounding MultiplyByQuantizedMultiplier plus the output offset, bit for bit.
 *
 * The dot products are inline assembly (kws_dsp_dot.c says why) in routines the compiler picks per layer.
 */
#ifndef KWS_DSP_H
#define KWS_DSP_H

#include "kws_kernels.h"

#if KWS_KERNELS_DSP

#include <arm_acle.h>
#include <string.h>

#define KWS_RQ_WORDS 4

static inline int32_t kws_dsp_smmulr(int32_t a, int32_t b) {
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t kws_dsp_sxtb16_ror8(int32_t x) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline int32_t kws_dsp_read4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4); /* one (unaligned) LDR on the M4 */
    return v;
}

/* Up to 4 bytes, never reading past p[count - 1]; missing bytes are 0. */
static inline int32_t kws_dsp_read_partial(const int8_t *p, int32_t count) {
    int32_t v = 0;
    if (count >= 4) {
        return kws_dsp_read4(p);
    }
    memcpy(&v, p, (size_t)count);
    return v;
}

/* Byte fills and copies for im2col, as small assembly loops: GCC turns C byte loops into calls to newlib's
 * memset/memcpy (~40 instructions of overhead for the few bytes moved at a time). */
static inline void kws_dsp_fill(int8_t *dst, int8_t value, int32_t n) {
    const uint32_t pattern = 0x01010101u * (uint8_t)value;
    if (n >= 4) {
        int32_t words = n >> 2;
        __asm__ volatile("1:\n\t"
                         "str    %[v], [%[d]], #4\n\t"
                         "subs   %[w], %[w], #1\n\t"
                         "bne    1b\n\t"
                         : [d] "+r"(dst), [w] "+r"(words)
                         : [v] "r"(pattern)
                         : "cc", "memory");
        n &= 3;
    }
    if (n > 0) {
        __asm__ volatile("1:\n\t"
                         "strb   %[v], [%[d]], #1\n\t"
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b\n\t"
                         : [d] "+r"(dst), [n] "+r"(n)
                         : [v] "r"(pattern)
                         : "cc", "memory");
    }
}

static inline void kws_dsp_copy(int8_t *dst, const int8_t *src, int32_t n) {
    int32_t t;
    if (n >= 4) {
        int32_t words = n >> 2;
        __asm__ volatile("1:\n\t"
                         "ldr    %[t], [%[s]], #4\n\t"
                         "str    %[t], [%[d]], #4\n\t"
                         "subs   %[w], %[w], #1\n\t"
                         "bne    1b\n\t"
                         : [d] "+r"(dst), [s] "+r"(src), [w] "+r"(words), [t] "=&r"(t)
                         :
                         : "cc", "memory");
        n &= 3;
    }
    if (n > 0) {
        __asm__ volatile("1:\n\t"
                         "ldrb   %[t], [%[s]], #1\n\t"
                         "strb   %[t], [%[d]], #1\n\t"
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b\n\t"
                         : [d] "+r"(dst), [s] "+r"(src), [n] "+r"(n), [t] "=&r"(t)
                         :
                         : "cc", "memory");
    }
}

/* `rows` rows of `words` 4-byte words from src (rows `stride` bytes apart) packed into dst. */
static inline void kws_dsp_copy_rows(int8_t *dst, const int8_t *src, int32_t words, int32_t rows, ptrdiff_t stride) {
    const int8_t *s;
    int32_t n, t;
    if (rows <= 0 || words <= 0) {
        return;
    }
    if (words == 2) { /* 8-byte rows (tiny_conv's 8 taps): two loads, one STRD (the scratch is word aligned) */
        __asm__ volatile("1:\n\t"
                         "ldr    %[t], [%[src]]\n\t"
                         "ldr    %[n], [%[src], #4]\n\t"
                         "strd   %[t], %[n], [%[d]], #8\n\t"
                         "add    %[src], %[src], %[stride]\n\t"
                         "subs   %[rows], %[rows], #1\n\t"
                         "bne    1b\n\t"
                         : [d] "+r"(dst), [src] "+r"(src), [rows] "+r"(rows), [n] "=&r"(n), [t] "=&r"(t)
                         : [stride] "r"(stride)
                         : "cc", "memory");
        return;
    }
    __asm__ volatile("1:\n\t"
                     "mov    %[s], %[src]\n\t"
                     "mov    %[n], %[words]\n\t"
                     "2:\n\t"
                     "ldr    %[t], [%[s]], #4\n\t"
                     "str    %[t], [%[d]], #4\n\t"
                     "subs   %[n], %[n], #1\n\t"
                     "bne    2b\n\t"
                     "add    %[src], %[src], %[stride]\n\t"
                     "subs   %[rows], %[rows], #1\n\t"
                     "bne    1b\n\t"
                     : [d] "+r"(dst), [src] "+r"(src), [rows] "+r"(rows), [s] "=&r"(s), [n] "=&r"(n), [t] "=&r"(t)
                     : [words] "r"(words), [stride] "r"(stride)
                     : "cc", "memory");
}

/* One channel's requantization from its record; the output offset is already in it. */
static inline int32_t kws_dsp_requant(int32_t acc, const int32_t *rq) {
    const int32_t r = kws_dsp_smmulr(acc, rq[0]);
    return (r + rq[1] + ((r >> 31) & rq[2])) >> rq[3];
}

static inline int8_t kws_dsp_clamp8(int32_t v, int32_t lo, int32_t hi) {
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* x[0..k) -> int16 words (x0, x2), (x1, x3) per 4 inputs, zero-padded to a multiple of 4 inputs. */
static inline void kws_dsp_expand(const int8_t *x, int32_t k, int32_t *dst) {
    const int8_t *const end = x + (k & ~3);
    int32_t xw, a;
    if (x != end) {
        __asm__ volatile("1:\n\t"
                         "ldr    %[xw], [%[x]], #4\n\t"
                         "sxtb16 %[a], %[xw]\n\t"
                         "sxtb16 %[xw], %[xw], ror #8\n\t"
                         "strd   %[a], %[xw], [%[d]], #8\n\t"
                         "cmp    %[x], %[end]\n\t"
                         "bne    1b\n\t"
                         : [x] "+r"(x), [d] "+r"(dst), [xw] "=&r"(xw), [a] "=&r"(a)
                         : [end] "r"(end)
                         : "cc", "memory");
    }
    if (k & 3) {
        xw = kws_dsp_read_partial(x, k & 3);
        dst[0] = __sxtb16(xw);
        dst[1] = kws_dsp_sxtb16_ror8(xw);
    }
}

/* One input vector and where its outputs go, for the dot-product routines (kws_dsp_dot.c). The first four
 * fields are the assembly loops' context (offsets 0, 4, 8, 12): they read the vector from x to x_end and
 * write outputs from out (advanced as they go) to out_end. */
typedef struct kws_dsp_vec {
    const void *x;         /* what the loops read: x8, or its int16 pairs once an s16 routine made them */
    const void *x_end;     /* x + 4 (int8) or 8 (int16 pairs) bytes per chunk of 4 inputs */
    int8_t *out;
    int8_t *out_end;
    const int8_t *x8;      /* the k int8 inputs; x8 + k rounded up to 4 is readable unless the `any` routines run */
    int32_t k;
    int32_t *x16;          /* scratch for the int16 pairs: 2 x k rounded up to 4 bytes (s16 routines only) */
    int32_t act_min, act_max;
} kws_dsp_vec;

/* A vector of k int8 inputs at x (x16: scratch for the s16 routines, or NULL). */
static inline void kws_dsp_vec_at(kws_dsp_vec *v, const int8_t *x, int32_t k, int32_t *x16) {
    v->x = x;
    v->x8 = x;
    v->x_end = x + 4 * ((k + 3) / 4);
    v->k = k;
    v->x16 = x16;
}

/* n_out outputs of one vector into out: the full groups through `dot` (when set), the others through `rest`
 * (when set). Returns the stream after them. */
static inline const int32_t *kws_dsp_outputs(kws_dsp_dot_fn dot, kws_dsp_dot_fn rest, kws_dsp_vec *v, int8_t *out,
                                             int32_t n_out, const int32_t *w) {
    v->out = out;
    if (dot != NULL && n_out >= 4) {
        v->out_end = out + (n_out & ~3);
        w = dot(v, w);
    }
    if (rest != NULL && v->out != out + n_out) {
        v->out_end = out + n_out;
        w = rest(v, w);
    }
    return w;
}

#endif /* KWS_KERNELS_DSP */

#endif /* KWS_DSP_H */
