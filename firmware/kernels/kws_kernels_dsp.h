/* Internal: the Cortex-M4 DSP-extension kernels (compiled only when KWS_KERNELS_DSP). The dispatchers in
 * kws_conv.c, kws_depthwise.c and kws_fc.c call them when the layer's parameters carry a DSP stream
 * (the compiler leaves it NULL for layers only the portable kernels take). */
#ifndef KWS_KERNELS_DSP_H
#define KWS_KERNELS_DSP_H

#include "kws_kernels.h"

#if KWS_KERNELS_DSP
void kws_conv_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_depthwise_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_fc_s8_dsp(const kws_fc_params *p, const int8_t *in, int8_t *out);
#endif

#endif /* KWS_KERNELS_DSP_H */
