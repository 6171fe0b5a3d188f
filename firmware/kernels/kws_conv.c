/* CONV_2D int8 (TFLM reference_integer_ops::ConvPerChannel semantics): the portable kernel and the
 * dispatcher that picks the Cortex-M4 DSP path (kws_conv_dsp.c) when it is compiled in. */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"
#include "kws_kernels_dsp.h"

void kws_conv_s8_portable(const kws_conv_params *p, const int8_t *in, int8_t *out) {
    const int32_t groups = p->in_c / p->filter_c;
    const int32_t oc_per_group = p->out_c / groups;
    const int32_t filter_size = p->k_h * p->k_w * p->filter_c;
    int32_t b, i, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (i = 0; i < p->out_h; ++i) {
            const int32_t iy0 = (oy = p->reverse ? p->out_h - 1 - i : i) * p->stride_h - p->pad_h;
            int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * p->out_c;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t group = oc / oc_per_group;
                    const int8_t *w = p->weights + (size_t)oc * filter_size;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue; /* TFLM skips taps in the padding */
                        }
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            const int8_t *x;
                            const int8_t *wk;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            x = image + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)group * p->filter_c;
                            wk = w + ((size_t)ky * p->k_w + kx) * p->filter_c;
                            for (ic = 0; ic < p->filter_c; ++ic) {
                                acc += wk[ic] * (x[ic] + p->in_offset);
                            }
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

void kws_conv_s8(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
#if KWS_KERNELS_DSP
    if (p->dsp_weights != NULL) {
        kws_conv_s8_dsp(p, in, out, scratch);
        return;
    }
#else
    (void)scratch;
#endif
    kws_conv_s8_portable(p, in, out);
}
