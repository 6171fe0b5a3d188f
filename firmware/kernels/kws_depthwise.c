/* DEPTHWISE_CONV_2D int8, any depth multiplier (TFLM reference_integer_ops::DepthwiseConvPerChannel):
 * the portable kernel and the dispatcher to the Cortex-M4 DSP path (kws_depthwise_dsp.c). */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"
#include "kws_kernels_dsp.h"

void kws_depthwise_s8_portable(const kws_conv_params *p, const int8_t *in, int8_t *out) {
    int32_t b, i, oy, ox, ic, m, ky, kx;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t iy0 = (oy = p->reverse ? p->out_h - 1 - i : i) * p->stride_h - p->pad_h;
            int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * p->out_c;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < p->depth_mult; ++m) {
                        const int32_t oc = ic * p->depth_mult + m;
                        int32_t acc = 0;
                        for (ky = 0; ky < p->k_h; ++ky) {
                            const int32_t iy = iy0 + ky * p->dil_h;
                            if (iy < 0 || iy >= p->in_h) {
                                continue;
                            }
                            for (kx = 0; kx < p->k_w; ++kx) {
                                const int32_t ix = ix0 + kx * p->dil_w;
                                if (ix < 0 || ix >= p->in_w) {
                                    continue;
                                }
                                acc += p->weights[((size_t)ky * p->k_w + kx) * p->out_c + oc] *
                                       (image[((size_t)iy * p->in_w + ix) * p->in_c + ic] + p->in_offset);
                            }
                        }
                        if (p->bias != NULL) {
                            acc += p->bias[oc];
                        }
                        acc = kws_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
                        *o++ = (int8_t)kws_clamp(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void kws_depthwise_s8(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
#if KWS_KERNELS_DSP
    if (p->dsp_weights != NULL) {
        kws_depthwise_s8_dsp(p, in, out, scratch);
        return;
    }
#else
    (void)scratch;
#endif
    kws_depthwise_s8_portable(p, in, out);
}
