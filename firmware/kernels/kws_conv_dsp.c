/* CONV_2D on the Cortex-M4 DSP extension: each output pixel is a vector of K inputs (the pixel itself for
 * an unpadded 1x1 convolution, else its im2col window in the scratch buffer, taps in the padding set to
 * the input zero point) times the weight matrix, 4 output channels at a time with SMLAD, then the SMMULR
 * requantization (kws_dsp.h). A vector reused by more than 4 outputs is sign-extended to int16 once.
 * Scratch: [im2col: K rounded up to 4][int16 copy: 2 x that], as kws/compile/dsp_layout.py sizes it. */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

/* The k_h x k_w x in_c window of output pixel (oy, ox), taps in the padding set to the zero point. With
 * dilation 1 along the width each kernel row is zero points, one contiguous copy, zero points. */
static KWS_DSP_NO_LIBCALLS void kws_im2col(const kws_conv_params *p, const int8_t *image, int32_t oy, int32_t ox,
                                           int8_t *col) {
    const int32_t c = p->in_c, row_bytes = p->k_w * c, zp = -p->in_offset, in_w = p->in_w, in_h = p->in_h;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
    const int32_t kx1 = in_w - ix0 < p->k_w ? in_w - ix0 : p->k_w;
    int32_t ky, kx;
    if (p->dil_w == 1 && kx0 == 0 && kx1 == p->k_w) { /* the window is inside horizontally: rows or padding */
        const int32_t k_h = p->k_h, dil_h = p->dil_h;
        for (ky = 0; ky < k_h; ++ky, col += row_bytes) {
            const int32_t iy = iy0 + ky * dil_h;
            if ((uint32_t)iy < (uint32_t)in_h) {
                kws_dsp_copy(col, image + ((ptrdiff_t)iy * in_w + ix0) * c, row_bytes);
            } else {
                kws_dsp_fill(col, (int8_t)zp, row_bytes);
            }
        }
        return;
    }
    for (ky = 0; ky < p->k_h; ++ky, col += row_bytes) {
        const int32_t iy = iy0 + ky * p->dil_h;
        const int8_t *row = image + (iy >= 0 && iy < p->in_h ? (ptrdiff_t)iy * p->in_w * c : 0);
        if (iy < 0 || iy >= p->in_h) {
            kws_dsp_fill(col, (int8_t)zp, row_bytes);
        } else if (p->dil_w == 1) {
            if (kx0 == 0 && kx1 == p->k_w) {
                kws_dsp_copy(col, row + (ptrdiff_t)ix0 * c, row_bytes);
            } else {
                kws_dsp_fill(col, (int8_t)zp, kx0 * c);
                if (kx1 > kx0) {
                    kws_dsp_copy(col + kx0 * c, row + (ptrdiff_t)(ix0 + kx0) * c, (kx1 - kx0) * c);
                }
                {
                    const int32_t right = kx1 > kx0 ? kx1 : kx0; /* a window wholly in the padding: kx1 < kx0 */
                    kws_dsp_fill(col + right * c, (int8_t)zp, (p->k_w - right) * c);
                }
            }
        } else {
            for (kx = 0; kx < p->k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dil_w;
                if (ix < 0 || ix >= p->in_w) {
                    kws_dsp_fill(col + kx * c, (int8_t)zp, c);
                } else {
                    kws_dsp_copy(col + kx * c, row + (ptrdiff_t)ix * c, c);
                }
            }
        }
    }
}

void kws_conv_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t k = p->k_h * p->k_w * p->in_c, k4 = (k + 3) / 4 * 4;
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    int8_t *col = scratch;
    int32_t *x16 = KWS_DSP_EXPANDS(k, p->out_c) ? (int32_t *)(void *)(scratch + (direct ? 0 : k4)) : NULL;
    int32_t b, i, ox;
    if (!direct) {
        kws_dsp_fill(col + k, 0, k4 - k);
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *image_out = out + (size_t)b * p->out_h * p->out_w * p->out_c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t oy = p->reverse ? p->out_h - 1 - i : i; /* see kws_conv_params.reverse */
            int8_t *o = image_out + (size_t)oy * p->out_w * p->out_c;
            for (ox = 0; ox < p->out_w; ++ox, o += p->out_c) {
                const int8_t *x = col;
                if (direct) {
                    x = image + ((size_t)oy * p->stride_h * p->in_w + (size_t)ox * p->stride_w) * p->in_c;
                } else {
                    kws_im2col(p, image, oy, ox, col);
                }
                if (x16 != NULL) {
                    kws_dsp_expand(x, k, x16);
                }
                kws_dsp_vector(x, x16, k, !direct, p->dsp_round, (const int32_t *)p->dsp_weights, p->out_c, o,
                               p->act_min, p->act_max);
            }
        }
    }
}

#else
typedef int kws_conv_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
