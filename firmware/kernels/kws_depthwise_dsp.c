/* DEPTHWISE_CONV_2D on the Cortex-M4 DSP extension.
 * - Multiplier 1: 4 channels at a time; each tap's 4 input bytes are split by SXTB16 into (c0, c2) and
 *   (c1, c3) and multiplied with the int16 weight pairs by SMLABB/SMLATT (each channel has its own
 *   weight, so SMLAD's pairwise sum does not apply). Taps in the padding read a row of zero points
 *   (scratch), which the folded bias expects. Per pixel, the tap table is built once for all channels.
 * - Multiplier M > 1 (CMSIS-NN has no DSP path for it; TFLite makes tiny_conv's 1-channel, 8-filter first
 *   layer one): each input channel is a small convolution with M outputs, so its window is gathered (the
 *   im2col of one channel) and multiplied by the M x taps matrix 4 outputs at a time with SMLAD, the
 *   convolution's inner loop. */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

#define KWS_DW_MAX_TAPS 49 /* kws/compile/dsp_layout.py DW_MAX_TAPS */

/* One tap of 4 channels: its pointer from the table, 4 input bytes at the block offset, 2 weight words,
 * 4 MACs: 9 instructions. */
#define KWS_DW_TAP                                  \
    "ldr    %[xw], [%[tp]], #4\n\t"                 \
    "ldr    %[xw], [%[xw], %[boff]]\n\t"            \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"           \
    "sxtb16 %[xa], %[xw]\n\t"                       \
    "sxtb16 %[xw], %[xw], ror #8\n\t"               \
    "smlabb %[s0], %[xa], %[wa], %[s0]\n\t"         \
    "smlatt %[s2], %[xa], %[wa], %[s2]\n\t"         \
    "smlabb %[s1], %[xw], %[wb], %[s1]\n\t"         \
    "smlatt %[s3], %[xw], %[wb], %[s3]\n\t"

/* Requantize one accumulator from its record (two LDRD), SSAT, store at [out], out advanced. */
#define KWS_DW_RQ_SHIFTED(s)                        \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"           \
    "ldrd   %[xa], %[xw], [%[w]], #8\n\t"           \
    "smmulr " s ", " s ", %[wa]\n\t"                \
    "add    %[tp], %[wb], " s ", asr #31\n\t"       \
    "add    " s ", " s ", %[tp]\n\t"                \
    "asr    " s ", " s ", %[xw]\n\t"                \
    "ssat   " s ", #8, " s "\n\t"                   \
    "strb   " s ", [%[tend]], #1\n\t"

#define KWS_DW_RQ(s)                                \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"           \
    "ldrd   %[xa], %[xw], [%[w]], #8\n\t"           \
    "smmulr " s ", " s ", %[wa]\n\t"                \
    "and    %[tp], %[xa], " s ", asr #31\n\t"       \
    "add    " s ", " s ", %[wb]\n\t"                \
    "add    " s ", " s ", %[tp]\n\t"                \
    "asr    " s ", " s ", %[xw]\n\t"                \
    "ssat   " s ", #8, " s "\n\t"                   \
    "strb   " s ", [%[tend]], #1\n\t"

/* The block loop around the taps: biases, the taps (TAPS), requantization, next block. ctx = {tap table,
 * tap table end, out, 4 * blocks}. */
#define KWS_DW_BLOCKS(TAPS, RQ)                                                                                  \
    __asm__ volatile("0:\n\t"                                                                                \
                     "ldrd   %[s0], %[s1], [%[w]], #8\n\t"                                                   \
                     "ldrd   %[s2], %[s3], [%[w]], #8\n\t"                                                   \
                     "ldrd   %[tp], %[tend], [%[ctx]]\n\t" TAPS "ldr    %[tend], [%[ctx], #8]\n\t"           \
                     RQ("%[s0]") RQ("%[s1]") RQ("%[s2]") RQ("%[s3]")                                         \
                     "str    %[tend], [%[ctx], #8]\n\t"                                                      \
                     "add    %[boff], %[boff], #4\n\t"                                                       \
                     "ldr    %[tp], [%[ctx], #12]\n\t"                                                       \
                     "cmp    %[boff], %[tp]\n\t"                                                             \
                     "bne    0b\n\t"                                                                         \
                     : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [tp] "=&r"(tp),        \
                       [tend] "=&r"(tend), [w] "+r"(w), [boff] "+r"(boff), [xw] "=&r"(xw), [xa] "=&r"(xa),    \
                       [wa] "=&r"(wa), [wb] "=&r"(wb)                                                        \
                     : [ctx] "r"(ctx)                                                                        \
                     : "cc", "memory")

/* Any number of taps: one first when odd, then pairs. */
#define KWS_DW_TAPS_ANY                              \
    "sub    %[xa], %[tend], %[tp]\n\t"               \
    "tst    %[xa], #4\n\t"                           \
    "beq    2f\n\t" KWS_DW_TAP "2:\n\t"              \
    "cmp    %[tp], %[tend]\n\t"                      \
    "beq    3f\n\t"                                  \
    "1:\n\t" KWS_DW_TAP KWS_DW_TAP                   \
    "cmp    %[tp], %[tend]\n\t"                      \
    "bne    1b\n\t"                                  \
    "3:\n\t"

/* 3x3 windows (DS-CNN's), straight-line. */
#define KWS_DW_TAPS_9 KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP KWS_DW_TAP

/* All channel blocks of one output pixel, full int8 output range, channels a multiple of 4. */
static inline void kws_dw_pixel_fast(const int32_t *w, const int8_t *const *taps, int32_t ntaps, int8_t *out,
                                     int32_t channels, int rounds) {
    const void *ctx[4];
    const int8_t *const *tp;
    const int8_t *const *tend;
    int32_t s0, s1, s2, s3, xw, xa, wa, wb, boff = 0;
    ctx[0] = taps;
    ctx[1] = taps + ntaps;
    ctx[2] = out;
    ctx[3] = (const void *)(size_t)channels;
    if (ntaps == 9 && rounds) {
        KWS_DW_BLOCKS(KWS_DW_TAPS_9, KWS_DW_RQ_SHIFTED);
    } else if (ntaps == 9) {
        KWS_DW_BLOCKS(KWS_DW_TAPS_9, KWS_DW_RQ);
    } else if (rounds) {
        KWS_DW_BLOCKS(KWS_DW_TAPS_ANY, KWS_DW_RQ_SHIFTED);
    } else {
        KWS_DW_BLOCKS(KWS_DW_TAPS_ANY, KWS_DW_RQ);
    }
}

/* The same in C for any channel count and clamp range (a last block of 1..3 channels reads only those). */
static void kws_dw_pixel_general(const kws_conv_params *p, const int32_t *w, const int8_t *const *taps,
                                 int32_t ntaps, int8_t *out) {
    int32_t off, t, o;
    for (off = 0; off < p->in_c; off += 4) {
        const int32_t count = p->in_c - off < 4 ? p->in_c - off : 4;
        int32_t acc[4];
        acc[0] = w[0];
        acc[1] = w[1];
        acc[2] = w[2];
        acc[3] = w[3];
        w += 4;
        for (t = 0; t < ntaps; ++t, w += 2) {
            const int32_t xw = kws_dsp_read_partial(taps[t] + off, count); /* never past the tensor */
            const int32_t xa = __sxtb16(xw), xb = kws_dsp_sxtb16_ror8(xw);
            acc[0] = __smlabb(xa, w[0], acc[0]);
            acc[2] = __smlatt(xa, w[0], acc[2]);
            acc[1] = __smlabb(xb, w[1], acc[1]);
            acc[3] = __smlatt(xb, w[1], acc[3]);
        }
        for (o = 0; o < count; ++o) {
            out[off + o] = kws_dsp_clamp8(kws_dsp_requant(acc[o], w + KWS_RQ_WORDS * o), p->act_min, p->act_max);
        }
        w += 4 * KWS_RQ_WORDS;
    }
}

static void kws_dw_mult1(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *zp_row) {
    const int32_t c = p->in_c, ntaps = p->k_h * p->k_w, c4 = (c + 3) / 4 * 4;
    const int32_t in_h = p->in_h, in_w = p->in_w, k_h = p->k_h, k_w = p->k_w;
    const int fast = c % 4 == 0 && p->act_min == -128 && p->act_max == 127;
    const int8_t *taps[KWS_DW_MAX_TAPS];
    ptrdiff_t offsets[KWS_DW_MAX_TAPS]; /* of each tap from the window's first pixel, for inner pixels */
    int32_t b, i, ox, t = 0, ky, kx;
    kws_dsp_fill(zp_row, (int8_t)(-p->in_offset), c4);
    for (ky = 0; ky < k_h; ++ky) {
        for (kx = 0; kx < k_w; ++kx) {
            offsets[t++] = ((ptrdiff_t)ky * p->dil_h * in_w + (ptrdiff_t)kx * p->dil_w) * c;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * in_h * in_w * c;
        int8_t *image_out = out + (size_t)b * p->out_h * p->out_w * c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t oy = p->reverse ? p->out_h - 1 - i : i; /* see kws_conv_params.reverse */
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int inside_y = iy0 >= 0 && iy0 + (k_h - 1) * p->dil_h < in_h;
            int8_t *o = image_out + (size_t)oy * p->out_w * c;
            for (ox = 0; ox < p->out_w; ++ox, o += c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                if (inside_y && ix0 >= 0 && ix0 + (k_w - 1) * p->dil_w < in_w) {
                    const int8_t *const origin = image + ((ptrdiff_t)iy0 * in_w + ix0) * c;
                    for (t = 0; t < ntaps; ++t) {
                        taps[t] = origin + offsets[t];
                    }
                } else {
                    for (t = 0, ky = 0; ky < k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        for (kx = 0; kx < k_w; ++kx, ++t) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            taps[t] = (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w)
                                          ? image + ((ptrdiff_t)iy * in_w + ix) * c
                                          : zp_row;
                        }
                    }
                }
                if (fast) {
                    kws_dw_pixel_fast((const int32_t *)p->dsp_weights, taps, ntaps, o, c, p->dsp_round);
                } else {
                    kws_dw_pixel_general(p, (const int32_t *)p->dsp_weights, taps, ntaps, o);
                }
            }
        }
    }
}

static void kws_dw_multiplier(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t c = p->in_c, m = p->depth_mult, ntaps = p->k_h * p->k_w, zp = -p->in_offset;
    const int32_t k4 = (ntaps + 3) / 4 * 4;
    int8_t *col = scratch;
    int32_t *x16 = p->dsp_x16 ? (int32_t *)(void *)(scratch + k4) : NULL;
    int32_t b, i, ox, ch;
    kws_dsp_vec v;
    v.act_min = p->act_min;
    v.act_max = p->act_max;
    kws_dsp_fill(col + ntaps, 0, k4 - ntaps);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        int8_t *image_out = out + (size_t)b * p->out_h * p->out_w * p->out_c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t oy = p->reverse ? p->out_h - 1 - i : i;
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int8_t *o = image_out + (size_t)oy * p->out_w * p->out_c;
            for (ox = 0; ox < p->out_w; ++ox, o += p->out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t *w = (const int32_t *)p->dsp_weights;
                for (ch = 0; ch < c; ++ch) {
                    int32_t ky, kx, t = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        const int row_ok = iy >= 0 && iy < p->in_h;
                        const int8_t *row = image + (row_ok ? (ptrdiff_t)iy * p->in_w * c + ch : 0);
                        for (kx = 0; kx < p->k_w; ++kx, ++t) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            col[t] = (row_ok && ix >= 0 && ix < p->in_w) ? row[(ptrdiff_t)ix * c] : (int8_t)zp;
                        }
                    }
                    kws_dsp_vec_at(&v, col, ntaps, x16);
                    w = kws_dsp_outputs(p->dsp_dot, p->dsp_rest, &v, o + (size_t)ch * m, m, w);
                }
            }
        }
    }
}

void kws_depthwise_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    if (p->in_c == 1 && p->depth_mult > 1) {
        /* One input channel: exactly a convolution with depth_mult filters, and the stream is laid out as
         * one (kws/compile/dsp_layout.py), so the conv kernel's blocks of input rows apply. */
        kws_conv_s8_dsp(p, in, out, scratch);
    } else if (p->depth_mult == 1) {
        kws_dw_mult1(p, in, out, scratch);
    } else {
        kws_dw_multiplier(p, in, out, scratch);
    }
}

#else
typedef int kws_depthwise_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
