/* CONV_2D on the Cortex-M4 DSP extension: each output pixel is a vector of K inputs times the weight matrix,
 * 4 output channels at a time, through the dot-product routines the compiler picked (kws_dsp_dot.c). The
 * vector is the pixel itself for an unpadded 1x1 convolution; otherwise its window, gathered from a block
 * of input rows: per output row and tile of `dsp_tile` output columns, the k_h input rows the tile reads,
 * each padded left and right with the input zero point (rows in the padding all zero points), which the
 * folded bias expects of every tap TFLM skips. Each window is then a copy of k_h rows from the block (or the
 * block itself when it is the window). Padding is handled once per block row instead of per pixel.
 * Scratch: [block: k_h x span x in_c, rounded up to 4][window: K rounded up to 4][int16 copy: 2 x that, when
 * dsp_x16], as kws/compile/dsp_layout.py sizes it. */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

/* The byte fills and copies out of line: called per block row, and one copy each keeps the kernel small. */
static __attribute__((noinline)) void kws_conv_fill(int8_t *dst, int32_t value, int32_t n) {
    kws_dsp_fill(dst, (int8_t)value, n);
}

static __attribute__((noinline)) void kws_conv_copy(int8_t *dst, const int8_t *src, int32_t n) {
    kws_dsp_copy(dst, src, n);
}

/* What the pixel loop needs, in one place (the kernels' asm clobbers memory, so struct fields would be
 * reloaded per pixel anyway). */
typedef struct kws_conv_dsp_ctx {
    const kws_conv_params *p;
    int32_t k, c, span, row_bytes;
    int8_t *block, *col;
    int32_t *x16;
} kws_conv_dsp_ctx;

/* The block for output row oy, output columns from ox0: k_h rows of `span` input columns. */
static __attribute__((noinline)) void kws_conv_block(const kws_conv_dsp_ctx *cx, const int8_t *image, int32_t oy,
                                                     int32_t ox0) {
    const kws_conv_params *p = cx->p;
    const int32_t c = cx->c, span = cx->span, ix0 = ox0 * p->stride_w - p->pad_w, zp = -p->in_offset;
    const int32_t lo = ix0 < 0 ? (-ix0 < span ? -ix0 : span) : 0;
    const int32_t hi_raw = p->in_w - ix0, hi = hi_raw < lo ? lo : (hi_raw > span ? span : hi_raw);
    int8_t *dst = cx->block;
    int32_t ky;
    for (ky = 0; ky < p->k_h; ++ky, dst += span * c) {
        const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            kws_conv_fill(dst, zp, span * c);
            continue;
        }
        kws_conv_fill(dst, zp, lo * c);
        kws_conv_copy(dst + lo * c, image + ((ptrdiff_t)iy * p->in_w + ix0 + lo) * c, (hi - lo) * c);
        kws_conv_fill(dst + hi * c, zp, (span - hi) * c);
    }
}

/* The window of the pixel whose first tap is at `src` in the block, in the window buffer (or the block
 * itself when it is the window: one-column tiles). */
static __attribute__((noinline)) const int8_t *kws_conv_window(const kws_conv_dsp_ctx *cx, const int8_t *src) {
    const kws_conv_params *p = cx->p;
    const int32_t c = cx->c, row = cx->span * c;
    int8_t *dst = cx->col;
    int32_t ky, kx;
    if (row == cx->row_bytes && p->dil_w == 1) {
        return src;
    }
    if (p->dil_w == 1 && cx->row_bytes % 4 == 0) {
        kws_dsp_copy_rows(dst, src, cx->row_bytes / 4, p->k_h, row);
        return dst;
    }
    for (ky = 0; ky < p->k_h; ++ky, src += row) {
        for (kx = 0; kx < p->k_w; ++kx, dst += c) {
            kws_conv_copy(dst, src + (ptrdiff_t)kx * p->dil_w * c, c);
        }
    }
    return cx->col;
}

/* One pixel: its vector x through the layer's routines into o. */
static inline void kws_conv_pixel(const kws_conv_dsp_ctx *cx, const int8_t *x, int8_t *o) {
    const kws_conv_params *p = cx->p;
    kws_dsp_vec v;
    kws_dsp_vec_at(&v, x, cx->k, cx->x16);
    v.act_min = p->act_min;
    v.act_max = p->act_max;
    kws_dsp_outputs(p->dsp_dot, p->dsp_rest, &v, o, p->out_c, (const int32_t *)p->dsp_weights);
}

void kws_conv_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c, c = p->in_c;
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    const int32_t tile = direct ? out_w : p->dsp_tile, k = p->k_h * p->k_w * c, k4 = (k + 3) / 4 * 4;
    const int32_t span = (tile - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1;
    const int32_t block = direct ? 0 : p->k_h * span * c, block4 = (block + 3) / 4 * 4;
    kws_conv_dsp_ctx cx;
    int32_t b, i, ox, ox0;
    cx.p = p;
    cx.c = c;
    cx.k = k;
    cx.span = span;
    cx.row_bytes = p->k_w * c;
    cx.block = scratch;
    cx.col = scratch + block4;
    cx.x16 = p->dsp_x16 ? (int32_t *)(void *)(scratch + block4 + (direct ? 0 : k4)) : NULL;
    if (!direct) { /* zero tails: the routines read vectors 4 bytes at a time */
        kws_conv_fill(cx.col + k, 0, k4 - k);
        kws_conv_fill(cx.block + block, 0, block4 - block);
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (i = 0; i < out_h; ++i) {
            const int32_t oy = p->reverse ? out_h - 1 - i : i; /* see kws_conv_params.reverse */
            const int8_t *row = image + (ptrdiff_t)oy * p->stride_h * p->in_w * c; /* direct only */
            int8_t *o = out + ((size_t)b * out_h + oy) * out_w * out_c;
            for (ox0 = 0; ox0 < out_w; ox0 += tile) {
                const int32_t n = out_w - ox0 < tile ? out_w - ox0 : tile;
                if (!direct) {
                    kws_conv_block(&cx, image, oy, ox0);
                }
                for (ox = 0; ox < n; ++ox, o += out_c) {
                    const int8_t *src = direct ? row + (ptrdiff_t)(ox0 + ox) * p->stride_w * c
                                               : kws_conv_window(&cx, cx.block + (ptrdiff_t)ox * p->stride_w * c);
                    kws_conv_pixel(&cx, src, o);
                }
            }
        }
    }
}

#else
typedef int kws_conv_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
