/* CONV_2D on the Cortex-M4 DSP extension: each output pixel is a vector of K inputs (the pixel itself for
 * an unpadded 1x1 convolution, else its im2col window in the scratch buffer, taps in the padding set to
 * the input zero point) times the weight matrix, 4 output channels at a time with SMLAD, then the SMMULR
 * requantization (kws_dsp.h). A vector reused by more than 4 outputs is sign-extended to int16 once.
 * Scratch: [im2col: K rounded up to 4][int16 copy: 2 x that], as kws/compile/dsp_layout.py sizes it. */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

/* The general im2col: any dilation, windows reaching into the left or right padding. */
static __attribute__((noinline)) void kws_im2col_general(const kws_conv_params *p,
                                                                            const int8_t *image, int32_t iy0,
                                                                            int32_t ix0, int8_t *col) {
    const int32_t c = p->in_c, row_bytes = p->k_w * c, zp = -p->in_offset, in_w = p->in_w, in_h = p->in_h;
    const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
    const int32_t kx1 = in_w - ix0 < p->k_w ? in_w - ix0 : p->k_w;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ++ky, col += row_bytes) {
        const int32_t iy = iy0 + ky * p->dil_h;
        const int8_t *row = image + (iy >= 0 && iy < in_h ? (ptrdiff_t)iy * in_w * c : 0);
        if (iy < 0 || iy >= in_h) {
            kws_dsp_fill(col, (int8_t)zp, row_bytes);
        } else if (p->dil_w == 1) {
            const int32_t right = kx1 > kx0 ? kx1 : kx0; /* a window wholly in the padding: kx1 < kx0 */
            kws_dsp_fill(col, (int8_t)zp, kx0 * c);
            if (kx1 > kx0) {
                kws_dsp_copy(col + kx0 * c, row + (ptrdiff_t)(ix0 + kx0) * c, (kx1 - kx0) * c);
            }
            kws_dsp_fill(col + right * c, (int8_t)zp, (p->k_w - right) * c);
        } else {
            for (kx = 0; kx < p->k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dil_w;
                if (ix < 0 || ix >= in_w) {
                    kws_dsp_fill(col + kx * c, (int8_t)zp, c);
                } else {
                    kws_dsp_copy(col + kx * c, row + (ptrdiff_t)ix * c, c);
                }
            }
        }
    }
}

/* The k_h x k_w x in_c window of output pixel (oy, ox), taps in the padding set to the zero point. The
 * common case (dilation 1 across, window inside horizontally, whole words per row) is padding rows, rows
 * copied word by word, padding rows; anything else goes the general way. */
static inline void kws_im2col(const kws_conv_params *p, const int8_t *image, int32_t oy, int32_t ox, int8_t *col) {
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int32_t c = p->in_c, row_bytes = p->k_w * c, k_h = p->k_h, dil_h = p->dil_h, in_h = p->in_h;
    int32_t lo = 0, hi = k_h;
    if (p->dil_w != 1 || ix0 < 0 || ix0 + p->k_w > p->in_w || row_bytes % 4 != 0) {
        kws_im2col_general(p, image, iy0, ix0, col);
        return;
    }
    while (lo < k_h && iy0 + lo * dil_h < 0) {
        ++lo;
    }
    while (hi > lo && iy0 + (hi - 1) * dil_h >= in_h) {
        --hi;
    }
    if (lo > 0) {
        kws_dsp_fill(col, (int8_t)(-p->in_offset), lo * row_bytes);
    }
    if (hi > lo) {
        kws_dsp_copy_rows(col + lo * row_bytes, image + ((ptrdiff_t)(iy0 + lo * dil_h) * p->in_w + ix0) * c,
                          row_bytes / 4, hi - lo, (ptrdiff_t)dil_h * p->in_w * c);
    }
    if (hi < k_h) {
        kws_dsp_fill(col + hi * row_bytes, (int8_t)(-p->in_offset), (k_h - hi) * row_bytes);
    }
}

void kws_conv_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    /* Everything the pixel loop needs in locals: the asm blocks clobber memory, so struct fields would be
     * reloaded for every pixel. */
    const int32_t k = p->k_h * p->k_w * p->in_c, k4 = (k + 3) / 4 * 4;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c, in_c = p->in_c;
    const int32_t act_min = p->act_min, act_max = p->act_max, rounds = p->dsp_round, reverse = p->reverse;
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    const ptrdiff_t pixel_step = (ptrdiff_t)p->stride_w * in_c, row_step = (ptrdiff_t)p->stride_h * p->in_w * in_c;
    const int32_t *const stream = (const int32_t *)p->dsp_weights;
    int8_t *col = scratch;
    int32_t *x16 = KWS_DSP_EXPANDS(k, out_c) ? (int32_t *)(void *)(scratch + (direct ? 0 : k4)) : NULL;
    int32_t b, i, ox;
    if (!direct) {
        kws_dsp_fill(col + k, 0, k4 - k);
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * in_c;
        int8_t *image_out = out + (size_t)b * out_h * out_w * out_c;
        for (i = 0; i < out_h; ++i) {
            const int32_t oy = reverse ? out_h - 1 - i : i; /* see kws_conv_params.reverse */
            int8_t *o = image_out + (size_t)oy * out_w * out_c;
            const int8_t *pixel = image + oy * row_step; /* direct (1x1, unpadded) only */
            for (ox = 0; ox < out_w; ++ox, o += out_c, pixel += pixel_step) {
                const int8_t *x = col;
                if (direct) {
                    x = pixel;
                } else {
                    kws_im2col(p, image, oy, ox, col);
                }
                if (x16 != NULL) {
                    kws_dsp_expand(x, k, x16);
                }
                kws_dsp_vector(x, x16, k, !direct, rounds, stream, out_c, o, act_min, act_max);
            }
        }
    }
}

#else
typedef int kws_conv_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
