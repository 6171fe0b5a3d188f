/* FULLY_CONNECTED on the Cortex-M4 DSP extension: each row of the input is one vector through the weight
 * matrix stream, 4 outputs at a time, through the dot-product routines the compiler picked (kws_dsp_dot.c:
 * int16 or int8 weights, kws/compile/dsp_layout.py chooses). */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

void kws_fc_s8_dsp(const kws_fc_params *p, const int8_t *in, int8_t *out) {
    kws_dsp_vec v;
    int32_t b;
    v.act_min = p->act_min;
    v.act_max = p->act_max;
    for (b = 0; b < p->batches; ++b) {
        kws_dsp_vec_at(&v, in + (size_t)b * p->accum, p->accum, NULL);
        kws_dsp_outputs(p->dsp_dot, p->dsp_rest, &v, out + (size_t)b * p->out_c, p->out_c,
                        (const int32_t *)p->dsp_weights);
    }
}

#else
typedef int kws_fc_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
