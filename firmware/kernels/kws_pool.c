/* AVERAGE_POOL_2D and MAX_POOL_2D int8 (TFLM reference_integer_ops::AveragePool / MaxPool): the window
 * is clipped to the image, the average divides by the number of taps inside it, rounding half away from
 * zero with C's truncating division. Rows in order, or reversed (kws_kernels.h: the planner relies on it). */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"

static int32_t kws_sxtab16_ror8(int32_t acc, int32_t x) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

/* Bytewise signed maximum of two words (SSUB8 sets the GE flags SEL reads: one asm block keeps them). */
static int32_t kws_max8x4(int32_t a, int32_t b) {
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static int32_t kws_round_div(int32_t acc, int32_t count) {
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

/* 4 channels per word: SXTAB16 sums bytes 0/2 and 1/3 into 16-bit halves, emptied into 32-bit sums after
 * each window row (256 int8 values cannot overflow a half), SSUB8 + SEL takes bytewise maxima. Channels
 * must be a multiple of 4. */
static void kws_pool_dsp(const kws_pool_params *p, const int8_t *in, int8_t *out, int average) {
    const int32_t c = p->channels;
    int32_t b, i, oy, ox, off, fy;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t iy0 = (oy = p->reverse ? p->out_h - 1 - i : i) * p->stride_h - p->pad_h;
            const int32_t fy0 = iy0 < 0 ? -iy0 : 0, fy1 = p->in_h - iy0 < p->k_h ? p->in_h - iy0 : p->k_h;
            int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * c;
            for (ox = 0; ox < p->out_w; ++ox, o += c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ix0 < 0 ? -ix0 : 0, fx1 = p->in_w - ix0 < p->k_w ? p->in_w - ix0 : p->k_w;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                for (off = 0; off < c; off += 4) {
                    int32_t best = (int32_t)0x80808080u, v[4] = {0, 0, 0, 0}, k;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = image + ((size_t)(iy0 + fy) * p->in_w + ix0 + fx0) * c + off;
                        const int8_t *const end = x + (size_t)(fx1 - fx0) * c;
                        if (average) { /* two loops, so neither tests `average` per tap */
                            int32_t a02 = 0, a13 = 0; /* one window row (<= 256 taps) fits the 16-bit lanes */
                            for (; x != end; x += c) {
                                const int32_t xw = kws_dsp_read4(x);
                                a02 = __sxtab16(a02, xw);
                                a13 = kws_sxtab16_ror8(a13, xw);
                            }
                            v[0] += (int16_t)a02;
                            v[1] += (int16_t)a13;
                            v[2] += a02 >> 16;
                            v[3] += a13 >> 16;
                        } else {
                            for (; x != end; x += c) {
                                best = kws_max8x4(kws_dsp_read4(x), best);
                            }
                        }
                    }
                    if (!average) {
                        v[0] = (int8_t)best;
                        v[1] = (int8_t)(best >> 8);
                        v[2] = (int8_t)(best >> 16);
                        v[3] = best >> 24;
                    }
                    for (k = 0; k < 4; ++k) {
                        const int32_t r = average && count > 0 ? kws_round_div(v[k], count) : v[k];
                        o[off + k] = (int8_t)kws_clamp(r, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

static int kws_pool_dsp_fits(const kws_pool_params *p) {
    return p->channels % 4 == 0 && p->k_w <= 256;
}
#endif

static int32_t kws_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t kws_min32(int32_t a, int32_t b) { return a < b ? a : b; }

void kws_avgpool_s8(const kws_pool_params *p, const int8_t *in, int8_t *out) {
    int32_t b, i, oy, ox, c, fy, fx;
#if KWS_KERNELS_DSP
    if (kws_pool_dsp_fits(p)) {
        kws_pool_dsp(p, in, out, 1);
        return;
    }
#endif
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->channels;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t iy0 = (oy = p->reverse ? p->out_h - 1 - i : i) * p->stride_h - p->pad_h;
            int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * p->channels;
            const int32_t fy0 = kws_max32(0, -iy0), fy1 = kws_min32(p->k_h, p->in_h - iy0);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = kws_max32(0, -ix0), fx1 = kws_min32(p->k_w, p->in_w - ix0);
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = 0;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *row = image + ((size_t)(iy0 + fy) * p->in_w + ix0) * p->channels + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            acc += row[(size_t)fx * p->channels];
                        }
                    }
                    if (count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *o++ = (int8_t)kws_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void kws_maxpool_s8(const kws_pool_params *p, const int8_t *in, int8_t *out) {
    int32_t b, i, oy, ox, c, fy, fx;
#if KWS_KERNELS_DSP
    if (kws_pool_dsp_fits(p)) {
        kws_pool_dsp(p, in, out, 0);
        return;
    }
#endif
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->channels;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t iy0 = (oy = p->reverse ? p->out_h - 1 - i : i) * p->stride_h - p->pad_h;
            int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * p->channels;
            const int32_t fy0 = kws_max32(0, -iy0), fy1 = kws_min32(p->k_h, p->in_h - iy0);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = kws_max32(0, -ix0), fx1 = kws_min32(p->k_w, p->in_w - ix0);
                for (c = 0; c < p->channels; ++c) {
                    int32_t best = -128;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *row = image + ((size_t)(iy0 + fy) * p->in_w + ix0) * p->channels + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            best = kws_max32(best, row[(size_t)fx * p->channels]);
                        }
                    }
                    *o++ = (int8_t)kws_clamp(best, p->act_min, p->act_max);
                }
            }
        }
    }
}
