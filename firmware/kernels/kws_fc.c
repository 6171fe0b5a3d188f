/* FULLY_CONNECTED int8 (TFLM reference_integer_ops::FullyConnected / FullyConnectedPerChannel: the
 * per-tensor form also applies the weights' zero point): portable kernel + DSP dispatcher. */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"
#include "kws_kernels_dsp.h"

void kws_fc_s8_portable(const kws_fc_params *p, const int8_t *in, int8_t *out) {
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * p->accum;
        for (o = 0; o < p->out_c; ++o) {
            const int8_t *w = p->weights + (size_t)o * p->accum;
            int32_t acc = 0;
            for (d = 0; d < p->accum; ++d) {
                acc += (w[d] + p->weights_offset) * (x[d] + p->in_offset);
            }
            if (p->bias != NULL) {
                acc += p->bias[o];
            }
            acc = kws_mbqm(acc, p->mult[o], p->shift[o]) + p->out_offset;
            out[(size_t)b * p->out_c + o] = (int8_t)kws_clamp(acc, p->act_min, p->act_max);
        }
    }
}

void kws_fc_s8(const kws_fc_params *p, const int8_t *in, int8_t *out) {
#if KWS_KERNELS_DSP
    if (p->dsp_weights != NULL) {
        kws_fc_s8_dsp(p, in, out);
        return;
    }
#endif
    kws_fc_s8_portable(p, in, out);
}

int32_t kws_requantize(int32_t acc, int32_t mult, int32_t shift) {
    return kws_mbqm(acc, mult, shift);
}
