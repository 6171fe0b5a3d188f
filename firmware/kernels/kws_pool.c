/* AVERAGE_POOL_2D and MAX_POOL_2D int8 (TFLM reference_integer_ops::AveragePool / MaxPool): the window
 * is clipped to the image, the average divides by the number of taps inside it, rounding half away from
 * zero with C's truncating division. Rows in order, or reversed (kws_kernels.h: the planner relies on it). */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"

static int32_t kws_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t kws_min32(int32_t a, int32_t b) { return a < b ? a : b; }

void kws_avgpool_s8(const kws_pool_params *p, const int8_t *in, int8_t *out) {
    int32_t b, i, oy, ox, c, fy, fx;
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
