/* MEAN int8 over any axes (TFLM reference_ops::QuantizedMeanOrSum): the raw int8 values are summed in
 * int32, the input zero point times the count is subtracted, and one MultiplyByQuantizedMultiplier with
 * 1/count folded into the multiplier (done by the compiler the way the kernel does it) rescales. */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"

void kws_mean_s8(const kws_mean_params *p, const int8_t *in, int8_t *out) {
    int32_t strides[KWS_MAX_DIMS];
    int32_t kept[KWS_MAX_DIMS], red[KWS_MAX_DIMS];
    int32_t nkept = 0, nred = 0, d, outputs = 1, stride = 1, o;
    for (d = p->ndims - 1; d >= 0; --d) {
        strides[d] = stride;
        stride *= p->dims[d];
    }
    for (d = 0; d < p->ndims; ++d) {
        if (p->reduce[d]) {
            red[nred++] = d;
        } else {
            kept[nkept++] = d;
            outputs *= p->dims[d];
        }
    }
    for (o = 0; o < outputs; ++o) {
        int32_t base = 0, rest = o, k, sum = 0, count, value;
        int32_t index[KWS_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
        for (k = nkept - 1; k >= 0; --k) {
            base += (rest % p->dims[kept[k]]) * strides[kept[k]];
            rest /= p->dims[kept[k]];
        }
        for (count = 0; count < p->num_elements; ++count) {
            int32_t off = base;
            for (k = 0; k < nred; ++k) {
                off += index[k] * strides[red[k]];
            }
            sum += in[off];
            for (k = nred - 1; k >= 0; --k) {
                if (++index[k] < p->dims[red[k]]) {
                    break;
                }
                index[k] = 0;
            }
        }
        value = kws_mbqm(sum - p->in_zero_point * p->num_elements, p->mult, p->shift) + p->out_zero_point;
        out[o] = (int8_t)kws_clamp(value, -128, 127);
    }
}
