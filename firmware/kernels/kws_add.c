/* ADD int8 (TFLM reference_integer_ops::AddFunc): both inputs offset, shifted left by 20, rescaled to a
 * common scale, summed, rescaled to the output (three SmallerThanOneExp multipliers), clamped.
 * Broadcasting walks the output with per-input strides (0 along broadcast dimensions). Element i is
 * read before it is written, so the output may alias an input of the same shape (the planner does). */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"

static int8_t kws_add_one(const kws_add_params *p, int32_t x, int32_t y) {
    const int32_t a = kws_shl_wrap(p->in1_offset + x, p->left_shift);
    const int32_t b = kws_shl_wrap(p->in2_offset + y, p->left_shift);
    const int32_t sa = kws_rdbpot(kws_srdhm(a, p->mult1), -p->shift1);
    const int32_t sb = kws_rdbpot(kws_srdhm(b, p->mult2), -p->shift2);
    const int32_t raw = kws_rdbpot(kws_srdhm(sa + sb, p->out_mult), -p->out_shift) + p->out_offset;
    return (int8_t)kws_clamp(raw, p->act_min, p->act_max);
}

void kws_add_s8(const kws_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    int32_t i;
    if (p->ndims == 0) {
        for (i = 0; i < p->size; ++i) {
            out[i] = kws_add_one(p, in1[i], in2[i]);
        }
        return;
    }
    {
        int32_t index[KWS_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
        int32_t off1 = 0, off2 = 0, d;
        for (i = 0; i < p->size; ++i) {
            out[i] = kws_add_one(p, in1[off1], in2[off2]);
            /* odometer over the output index, innermost dimension last */
            for (d = p->ndims - 1; d >= 0; --d) {
                ++index[d];
                off1 += p->stride1[d];
                off2 += p->stride2[d];
                if (index[d] < p->dims[d]) {
                    break;
                }
                off1 -= p->stride1[d] * p->dims[d];
                off2 -= p->stride2[d] * p->dims[d];
                index[d] = 0;
            }
        }
    }
}
