/* Internal to the Cortex-M4 DSP flavour (compiled only when KWS_KERNELS_DSP): what the conv, depthwise and
 * fully connected DSP kernels share.
 *
 * Constants come as one int32 stream per layer (kws/compile/dsp_layout.py, which also proves the
 * arithmetic): per group of 4 output channels, 4 folded biases, the weights as int16 pairs in SMLAD order,
 * then 4 requantization records {m, half + out_offset * 2^e, smask, e}. The accumulator holds
 * A = 2^(1+L) * acc (weights and biases are pre-scaled), so the requantization is
 *     r = SMMULR(A, m); out = (r + half' + ((r >> 31) & smask)) >> e
 * which equals TFLM's double-rounding MultiplyByQuantizedMultiplier plus the output offset, bit for bit.
 *
 * The inner loops are inline assembly: GCC 12 (arm-none-eabi) makes 23 instructions per 16 MACs of the
 * ACLE-intrinsic version (one LDR per weight word, ROR apart from SXTB16, spills around the loop) where
 * LDM and SXTB16-with-rotate make 13, and it spills the 4 accumulators between the dot product and the
 * requantization. ACLE intrinsics remain in the general (C) paths.
 */
#ifndef KWS_DSP_H
#define KWS_DSP_H

#include "kws_kernels.h"

#if KWS_KERNELS_DSP

#include <arm_acle.h>
#include <string.h>

#define KWS_RQ_WORDS 4

/* Whether a conv-like vector of k inputs is sign-extended to int16 once for n_out output channels
 * (kws/compile/dsp_layout.py expands() must agree: it sizes the scratch). */
#define KWS_DSP_EXPANDS(k, n_out) ((k) <= 1024 && (n_out) > 8)

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

/* One chunk of 4 int8 inputs into 4 accumulators: LDR, two SXTB16, two LDM of 4 weight words, 8 SMLAD. */
#define KWS_DSP_CHUNK8                                 \
    "ldr    %[xb], [%[x]], #4\n\t"                     \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "sxtb16 %[xa], %[xb]\n\t"                          \
    "sxtb16 %[xb], %[xb], ror #8\n\t"                  \
    KWS_DSP_CHUNK_MACS

/* The same with the inputs already sign-extended to int16 pairs (kws_dsp_expand): LDRD instead. */
#define KWS_DSP_CHUNK16                                \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"              \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    KWS_DSP_CHUNK_MACS

#define KWS_DSP_CHUNK_MACS                             \
    "smlad  %[s0], %[xa], r8, %[s0]\n\t"               \
    "smlad  %[s0], %[xb], r9, %[s0]\n\t"               \
    "smlad  %[s1], %[xa], r10, %[s1]\n\t"              \
    "smlad  %[s1], %[xb], r11, %[s1]\n\t"              \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "smlad  %[s2], %[xa], r8, %[s2]\n\t"               \
    "smlad  %[s2], %[xb], r9, %[s2]\n\t"               \
    "smlad  %[s3], %[xa], r10, %[s3]\n\t"              \
    "smlad  %[s3], %[xb], r11, %[s3]\n\t"

/* One output of the requantization with a full int8 range (SSAT), stored at [out], out advanced:
 * record {m, half', smask, e} in r8..r11, temporary %[x], output pointer %[xa]. */
#define KWS_DSP_RQ(s)                                  \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "smmulr " s ", " s ", r8\n\t"                      \
    "and    %[x], r10, " s ", asr #31\n\t"             \
    "add    " s ", " s ", r9\n\t"                      \
    "add    " s ", " s ", %[x]\n\t"                    \
    "asr    " s ", " s ", r11\n\t"                     \
    "ssat   " s ", #8, " s "\n\t"                      \
    "strb   " s ", [%[xa]], #1\n\t"

/* The same when every channel shifts right (smask = -1 throughout): the sign goes in as `asr #31`. */
#define KWS_DSP_RQ_SHIFTED(s)                          \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "smmulr " s ", " s ", r8\n\t"                      \
    "add    %[x], r9, " s ", asr #31\n\t"              \
    "add    " s ", " s ", %[x]\n\t"                    \
    "asr    " s ", " s ", r11\n\t"                     \
    "ssat   " s ", #8, " s "\n\t"                      \
    "strb   " s ", [%[xa]], #1\n\t"

/* Groups of 4 output channels over one input vector, full int8 output range, all in registers:
 * ctx = {x, x_end, out, out_end}; per group: biases, the SMLAD loop (unrolled by four), 4 SSAT requants.
 * CHUNK is KWS_DSP_CHUNK8 (odd test on 4-byte chunks) or KWS_DSP_CHUNK16 (8-byte chunks). */
#define KWS_DSP_GROUPS(CHUNK, CHUNK_BYTES, TWO_CHUNK_BYTES, RQ)                                                \
    __asm__ volatile("0:\n\t"                                                                              \
                     "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"                                                \
                     "mov    %[s0], r8\n\t"                                                                \
                     "mov    %[s1], r9\n\t"                                                                \
                     "mov    %[s2], r10\n\t"                                                               \
                     "mov    %[s3], r11\n\t"                                                               \
                     "ldrd   %[x], %[end], [%[ctx]]\n\t"                                                   \
                     "sub    %[xa], %[end], %[x]\n\t"                                                      \
                     "tst    %[xa], #" CHUNK_BYTES "\n\t" /* chunks % 4: 1, then 2, then loops of 4 */     \
                     "beq    2f\n\t" CHUNK                                                                 \
                     "sub    %[xa], %[end], %[x]\n\t"                                                      \
                     "2:\n\t"                                                                              \
                     "tst    %[xa], #" TWO_CHUNK_BYTES "\n\t"                                              \
                     "beq    4f\n\t" CHUNK CHUNK                                                           \
                     "4:\n\t"                                                                              \
                     "cmp    %[x], %[end]\n\t"                                                             \
                     "beq    3f\n\t"                                                                       \
                     "1:\n\t" CHUNK CHUNK CHUNK CHUNK "cmp    %[x], %[end]\n\t"                            \
                     "bne    1b\n\t"                                                                       \
                     "3:\n\t"                                                                              \
                     "ldr    %[xa], [%[ctx], #8]\n\t" RQ("%[s0]") RQ("%[s1]") RQ("%[s2]") RQ("%[s3]")       \
                     "str    %[xa], [%[ctx], #8]\n\t"                                                      \
                     "ldr    %[x], [%[ctx], #12]\n\t"                                                      \
                     "cmp    %[xa], %[x]\n\t"                                                              \
                     "bne    0b\n\t"                                                                       \
                     : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [x] "=&r"(xp),       \
                       [end] "=&r"(end), [xa] "=&r"(xa), [xb] "=&r"(xb), [w] "+r"(w)                       \
                     : [ctx] "r"(ctx)                                                                      \
                     : "r8", "r9", "r10", "r11", "cc", "memory")

#if defined(__OPTIMIZE__)
/* `groups` (>= 1) groups of 4 outputs into out[0..4*groups) from x (int8, or int16 pairs when expanded)
 * of `chunks` (>= 1) chunks; returns the stream after them. */
static inline const int32_t *kws_dsp_groups_fast(const void *x, int32_t chunks, int expanded, int rounds,
                                                 const int32_t *w, int32_t groups, int8_t *out) {
    const int8_t *ctx[4];
    const int8_t *xp, *end;
    int32_t s0, s1, s2, s3, xa, xb;
    ctx[0] = (const int8_t *)x;
    ctx[1] = (const int8_t *)x + (expanded ? 8 : 4) * chunks;
    ctx[2] = out;
    ctx[3] = out + 4 * groups;
    if (expanded && rounds) {
        KWS_DSP_GROUPS(KWS_DSP_CHUNK16, "8", "16", KWS_DSP_RQ_SHIFTED);
    } else if (expanded) {
        KWS_DSP_GROUPS(KWS_DSP_CHUNK16, "8", "16", KWS_DSP_RQ);
    } else if (rounds) {
        KWS_DSP_GROUPS(KWS_DSP_CHUNK8, "4", "8", KWS_DSP_RQ_SHIFTED);
    } else {
        KWS_DSP_GROUPS(KWS_DSP_CHUNK8, "4", "8", KWS_DSP_RQ);
    }
    (void)s0, (void)s1, (void)s2, (void)s3, (void)xp, (void)end, (void)xa, (void)xb;
    return w;
}
#endif

/* One group in C: any count (1..4) of outputs, any clamp range, an exact tail when x may not be over-read. */
static inline const int32_t *kws_dsp_group_general(const int8_t *x, const int32_t *x16, int32_t k, int32_t count,
                                                   const int32_t *w, int8_t *out, int32_t act_min,
                                                   int32_t act_max) {
    int32_t acc[4], j, o;
    acc[0] = w[0];
    acc[1] = w[1];
    acc[2] = w[2];
    acc[3] = w[3];
    w += 4;
    for (j = 0; j < k; j += 4, w += 8) {
        int32_t xa, xb;
        if (x16 != NULL) {
            xa = x16[j / 2];
            xb = x16[j / 2 + 1];
        } else {
            const int32_t xw = kws_dsp_read_partial(x + j, k - j);
            xa = __sxtb16(xw);
            xb = kws_dsp_sxtb16_ror8(xw);
        }
        for (o = 0; o < 4; ++o) {
            acc[o] = __smlad(xb, w[2 * o + 1], __smlad(xa, w[2 * o], acc[o]));
        }
    }
    for (o = 0; o < count; ++o) {
        out[o] = kws_dsp_clamp8(kws_dsp_requant(acc[o], w + KWS_RQ_WORDS * o), act_min, act_max);
    }
    return w + 4 * KWS_RQ_WORDS;
}

/* out[0..n_out) from the input vector x[0..k) (x16: the same sign-extended, or NULL) through a matrix
 * stream; returns the stream after it. x_padded: x may be read up to the next multiple of 4. */
static inline const int32_t *kws_dsp_vector(const int8_t *x, const int32_t *x16, int32_t k, int x_padded,
                                            int rounds, const int32_t *w, int32_t n_out, int8_t *out,
                                            int32_t act_min, int32_t act_max) {
    const int32_t full = n_out / 4, chunks = (k + 3) / 4;
    int32_t done = 0;
#if defined(__OPTIMIZE__) /* -O0 keeps a frame pointer: the group loop's 14 registers do not fit */
    if (full > 0 && act_min == -128 && act_max == 127 && (x16 != NULL || x_padded || k % 4 == 0)) {
        w = kws_dsp_groups_fast(x16 != NULL ? (const void *)x16 : (const void *)x, chunks, x16 != NULL, rounds, w,
                                full, out);
        done = 4 * full;
    }
#else
    (void)full, (void)chunks, (void)rounds, (void)x_padded;
#endif
    for (; done < n_out; done += 4) {
        const int32_t count = n_out - done < 4 ? n_out - done : 4;
        w = kws_dsp_group_general(x, x16, k, count, w, out + done, act_min, act_max);
    }
    return w;
}

#endif /* KWS_KERNELS_DSP */

#endif /* KWS_DSP_H */
