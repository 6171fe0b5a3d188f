/* The DSP flavour's dot-product routines: groups of 4 outputs from one input vector (kws_dsp.h kws_dsp_vec)
 * and a weight stream (per group: 4 folded biases, the weights, 4 requantization records; kws_dsp.h).
 *
 * The compiler names a layer's routines in its parameters (kws/compile/dsp_layout.py dsp_routines), each is
 * a function of its own section, so a program links only those its model uses: what does not run costs no
 * flash. Names: s8 / s16 = the vector as int8 bytes / as int16 pairs (kws_dsp_expand); w16 / w8 = int16
 * weights in SMLAD order / int8 weights, 4 per word in input order; _r = every channel shifts right.
 *
 * Lane order: SXTB16 makes (x0, x2) of 4 input bytes and SXTB16-ROR-8 (x1, x3); int16 weights are stored
 * as (w0, w2), (w1, w3) to match, and int8 weight words w0 w1 w2 w3 give (w0, w2) and (w1, w3) the same
 * way. SMLAD adds both products to the accumulator: the sum of exact integer products, in whatever order,
 * is TFLM's sum (dsp_layout.py bounds it below 2^31).
 *
 * The loops are inline assembly: GCC 12 (arm-none-eabi) makes 23 instructions per 16 MACs of the
 * ACLE-intrinsic version (one LDR per weight word, ROR apart from SXTB16, spills around the loop) where LDM
 * and SXTB16-with-rotate make 13, and it spills the 4 accumulators between the dot product and the
 * requantization. Per chunk of 4 inputs x 4 outputs: s8_w16 13 instructions, s16_w16 11, s8_w8 21 (the
 * int8 weights' 8 SXTB16), plus loop control (KWS_DSP_LOOP*; the compiler's cost model, dsp_layout.py
 * CHUNK_INSTRUCTIONS, counts it). ACLE intrinsics remain in the `any` routines (C). -O0 keeps a frame pointer and
 * the loops' 14 registers do not fit: there the fast routines run the `any` ones. The s16 routines
 * sign-extend the vector into the scratch v->x16 before their groups (kws_dsp_expand), the others read it as
 * it is. */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"

/* One group in C: any count (1..4) of outputs, any clamp range, reading no further than x8 + k. */
static const int32_t *kws_dsp_group_any(const kws_dsp_vec *v, int32_t count, const int32_t *w, int w8) {
    int32_t acc[4], j, o;
    acc[0] = w[0];
    acc[1] = w[1];
    acc[2] = w[2];
    acc[3] = w[3];
    w += 4;
    for (j = 0; j < v->k; j += 4, w += w8 ? 4 : 8) {
        const int32_t xw = kws_dsp_read_partial(v->x8 + j, v->k - j);
        const int32_t xa = __sxtb16(xw), xb = kws_dsp_sxtb16_ror8(xw);
        for (o = 0; o < 4; ++o) {
            const int32_t wa = w8 ? __sxtb16(w[o]) : w[2 * o];
            const int32_t wb = w8 ? kws_dsp_sxtb16_ror8(w[o]) : w[2 * o + 1];
            acc[o] = __smlad(xb, wb, __smlad(xa, wa, acc[o]));
        }
    }
    for (o = 0; o < count; ++o) {
        const int32_t a = w8 ? (int32_t)((uint32_t)acc[o] << 1) : acc[o];
        v->out[o] = kws_dsp_clamp8(kws_dsp_requant(a, w + KWS_RQ_WORDS * o), v->act_min, v->act_max);
    }
    return w + 4 * KWS_RQ_WORDS;
}

static const int32_t *kws_dsp_dot_any(kws_dsp_vec *v, const int32_t *w, int w8) {
    while (v->out != v->out_end) {
        const int32_t left = (int32_t)(v->out_end - v->out);
        const int32_t count = left < 4 ? left : 4;
        w = kws_dsp_group_any(v, count, w, w8);
        v->out += count;
    }
    return w;
}

const int32_t *kws_dsp_dot_any_w16(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 0);
}

const int32_t *kws_dsp_dot_any_w8(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 1);
}

#if defined(__OPTIMIZE__)

/* One chunk of 4 int8 inputs into 4 accumulators: LDR, two SXTB16, two LDM of 4 weight words, 8 SMLAD. */
#define KWS_DSP_CHUNK_S8_W16                           \
    "ldr    %[xb], [%[x]], #4\n\t"                     \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "sxtb16 %[xa], %[xb]\n\t"                          \
    "sxtb16 %[xb], %[xb], ror #8\n\t"                  \
    KWS_DSP_MACS_W16

/* The same with the inputs already sign-extended to int16 pairs (kws_dsp_expand): LDRD instead. */
#define KWS_DSP_CHUNK_S16_W16                          \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"              \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    KWS_DSP_MACS_W16

#define KWS_DSP_MACS_W16                               \
    "smlad  %[s0], %[xa], r8, %[s0]\n\t"               \
    "smlad  %[s0], %[xb], r9, %[s0]\n\t"               \
    "smlad  %[s1], %[xa], r10, %[s1]\n\t"              \
    "smlad  %[s1], %[xb], r11, %[s1]\n\t"              \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "smlad  %[s2], %[xa], r8, %[s2]\n\t"               \
    "smlad  %[s2], %[xb], r9, %[s2]\n\t"               \
    "smlad  %[s3], %[xa], r10, %[s3]\n\t"              \
    "smlad  %[s3], %[xb], r11, %[s3]\n\t"

/* Int8 weights, one word (4 weights) per output: two outputs per LDRD, each word unpacked by SXTB16 and
 * SXTB16-ROR-8 into the lanes of (x0, x2) and (x1, x3). */
#define KWS_DSP_MACS_W8_PAIR(sa, sb)                   \
    "ldrd   r8, r9, [%[w]], #8\n\t"                    \
    "sxtb16 r10, r8\n\t"                               \
    "sxtb16 r8, r8, ror #8\n\t"                        \
    "sxtb16 r11, r9\n\t"                               \
    "sxtb16 r9, r9, ror #8\n\t"                        \
    "smlad  " sa ", %[xa], r10, " sa "\n\t"            \
    "smlad  " sa ", %[xb], r8, " sa "\n\t"             \
    "smlad  " sb ", %[xa], r11, " sb "\n\t"            \
    "smlad  " sb ", %[xb], r9, " sb "\n\t"

#define KWS_DSP_CHUNK_S8_W8                            \
    "ldr    %[xb], [%[x]], #4\n\t"                     \
    "sxtb16 %[xa], %[xb]\n\t"                          \
    "sxtb16 %[xb], %[xb], ror #8\n\t"                  \
    KWS_DSP_MACS_W8_PAIR("%[s0]", "%[s1]")             \
    KWS_DSP_MACS_W8_PAIR("%[s2]", "%[s3]")

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
#define KWS_DSP_RQ_R(s)                                \
    "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"             \
    "smmulr " s ", " s ", r8\n\t"                      \
    "add    %[x], r9, " s ", asr #31\n\t"              \
    "add    " s ", " s ", %[x]\n\t"                    \
    "asr    " s ", " s ", r11\n\t"                     \
    "ssat   " s ", #8, " s "\n\t"                      \
    "strb   " s ", [%[xa]], #1\n\t"

/* Int8 weights are unscaled: the accumulator is doubled first (dsp_layout.py). */
#define KWS_DSP_RQ_W8(s) "lsl    " s ", " s ", #1\n\t" KWS_DSP_RQ(s)
#define KWS_DSP_RQ_W8_R(s) "lsl    " s ", " s ", #1\n\t" KWS_DSP_RQ_R(s)

/* Chunk loops from x to end. Unrolled by 4 (one chunk first when their count is odd, two when it is 2 mod 4)
 * where the speed pays (s16_w16: DS-CNN's pointwise layers), by 2 for s8_w16 (tiny_conv's convolution) and
 * not at all for s8_w8 (fully connected layers, a small share of the MACs): fewer copies of the chunk in
 * flash for 0.5 or 1 instruction more per chunk. %[xa] is free here. */
#define KWS_DSP_LOOP4(CHUNK, CHUNK_BYTES, TWO_CHUNK_BYTES)                                                    \
    "sub    %[xa], %[end], %[x]\n\t"                                                                          \
    "tst    %[xa], #" CHUNK_BYTES "\n\t"                                                                      \
    "beq    2f\n\t" CHUNK                                                                                     \
    "sub    %[xa], %[end], %[x]\n\t"                                                                          \
    "2:\n\t"                                                                                                  \
    "tst    %[xa], #" TWO_CHUNK_BYTES "\n\t"                                                                  \
    "beq    4f\n\t" CHUNK CHUNK                                                                               \
    "4:\n\t"                                                                                                  \
    "cmp    %[x], %[end]\n\t"                                                                                 \
    "beq    3f\n\t"                                                                                           \
    "1:\n\t" CHUNK CHUNK CHUNK CHUNK "cmp    %[x], %[end]\n\t"                                                \
    "bne    1b\n\t"                                                                                           \
    "3:\n\t"

#define KWS_DSP_LOOP2(CHUNK, CHUNK_BYTES)                                                                     \
    "sub    %[xa], %[end], %[x]\n\t"                                                                          \
    "tst    %[xa], #" CHUNK_BYTES "\n\t"                                                                      \
    "beq    4f\n\t" CHUNK                                                                                     \
    "4:\n\t"                                                                                                  \
    "cmp    %[x], %[end]\n\t"                                                                                 \
    "beq    3f\n\t"                                                                                           \
    "1:\n\t" CHUNK CHUNK "cmp    %[x], %[end]\n\t"                                                            \
    "bne    1b\n\t"                                                                                           \
    "3:\n\t"

#define KWS_DSP_LOOP1(CHUNK)                                                                                  \
    "cmp    %[x], %[end]\n\t"                                                                                 \
    "beq    3f\n\t"                                                                                           \
    "1:\n\t" CHUNK "cmp    %[x], %[end]\n\t"                                                                  \
    "bne    1b\n\t"                                                                                           \
    "3:\n\t"

/* Groups of 4 output channels over one vector, full int8 output range, all in registers: ctx = the
 * kws_dsp_vec {x, x_end, out, out_end}; per group: biases, the chunk loop, 4 SSAT requantizations. */
#define KWS_DSP_DOT(name, PREPARE, LOOP, RQ)                                                                  \
    const int32_t *name(kws_dsp_vec *v, const int32_t *w) {                                                  \
        const int8_t *xp, *end;                                                                               \
        int32_t s0, s1, s2, s3, xa, xb;                                                                       \
        PREPARE                                                                                               \
        __asm__ volatile("0:\n\t"                                                                             \
                         "ldmia  %[w]!, {r8, r9, r10, r11}\n\t"                                               \
                         "mov    %[s0], r8\n\t"                                                               \
                         "mov    %[s1], r9\n\t"                                                               \
                         "mov    %[s2], r10\n\t"                                                              \
                         "mov    %[s3], r11\n\t"                                                              \
                         "ldrd   %[x], %[end], [%[ctx]]\n\t" LOOP                                             \
                         "ldr    %[xa], [%[ctx], #8]\n\t" RQ("%[s0]") RQ("%[s1]") RQ("%[s2]") RQ("%[s3]")     \
                         "str    %[xa], [%[ctx], #8]\n\t"                                                     \
                         "ldr    %[x], [%[ctx], #12]\n\t"                                                     \
                         "cmp    %[xa], %[x]\n\t"                                                             \
                         "bne    0b\n\t"                                                                      \
                         : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [x] "=&r"(xp),      \
                           [end] "=&r"(end), [xa] "=&r"(xa), [xb] "=&r"(xb), [w] "+r"(w)                      \
                         : [ctx] "r"(v)                                                                       \
                         : "r8", "r9", "r10", "r11", "cc", "memory");                                         \
        (void)s0, (void)s1, (void)s2, (void)s3, (void)xp, (void)end, (void)xa, (void)xb;                      \
        return w;                                                                                             \
    }

/* The s16 routines sign-extend the vector into its scratch first (once per vector: every group reads it). */
#define KWS_DSP_AS_INT8
#define KWS_DSP_TO_INT16                                                                                      \
    kws_dsp_expand(v->x8, v->k, v->x16);                                                                      \
    v->x = v->x16;                                                                                            \
    v->x_end = v->x16 + 2 * ((v->k + 3) / 4);

KWS_DSP_DOT(kws_dsp_dot_s8_w16, KWS_DSP_AS_INT8, KWS_DSP_LOOP2(KWS_DSP_CHUNK_S8_W16, "4"), KWS_DSP_RQ)
KWS_DSP_DOT(kws_dsp_dot_s8_w16_r, KWS_DSP_AS_INT8, KWS_DSP_LOOP2(KWS_DSP_CHUNK_S8_W16, "4"), KWS_DSP_RQ_R)
KWS_DSP_DOT(kws_dsp_dot_s16_w16, KWS_DSP_TO_INT16, KWS_DSP_LOOP4(KWS_DSP_CHUNK_S16_W16, "8", "16"), KWS_DSP_RQ)
KWS_DSP_DOT(kws_dsp_dot_s16_w16_r, KWS_DSP_TO_INT16, KWS_DSP_LOOP4(KWS_DSP_CHUNK_S16_W16, "8", "16"),
            KWS_DSP_RQ_R)
KWS_DSP_DOT(kws_dsp_dot_s8_w8, KWS_DSP_AS_INT8, KWS_DSP_LOOP1(KWS_DSP_CHUNK_S8_W8), KWS_DSP_RQ_W8)
KWS_DSP_DOT(kws_dsp_dot_s8_w8_r, KWS_DSP_AS_INT8, KWS_DSP_LOOP1(KWS_DSP_CHUNK_S8_W8), KWS_DSP_RQ_W8_R)

#else /* -O0: the `any` routines */

const int32_t *kws_dsp_dot_s8_w16(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 0);
}

const int32_t *kws_dsp_dot_s8_w16_r(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 0);
}

const int32_t *kws_dsp_dot_s16_w16(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 0);
}

const int32_t *kws_dsp_dot_s16_w16_r(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 0);
}

const int32_t *kws_dsp_dot_s8_w8(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 1);
}

const int32_t *kws_dsp_dot_s8_w8_r(kws_dsp_vec *v, const int32_t *w) {
    return kws_dsp_dot_any(v, w, 1);
}

#endif /* __OPTIMIZE__ */

#else
typedef int kws_dsp_dot_unused; /* ISO C forbids an empty translation unit */
#endif
