/* FULLY_CONNECTED on the Cortex-M4 DSP extension: each row of the input is one vector through the weight
 * matrix stream, 4 outputs at a time with SMLAD (kws_dsp.h). */
#include "kws_kernels.h"

#if KWS_KERNELS_DSP
#include "kws_dsp.h"
#include "kws_kernels_dsp.h"

void kws_fc_s8_dsp(const kws_fc_params *p, const int8_t *in, int8_t *out) {
    int32_t b;
    for (b = 0; b < p->batches; ++b) {
        kws_dsp_vector(in + (size_t)b * p->accum, NULL, p->accum, 0, p->dsp_round, (const int32_t *)p->dsp_weights,
                       p->out_c, out + (size_t)b * p->out_c, p->act_min, p->act_max);
    }
}

#else
typedef int kws_fc_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
