/* Internal: the Cortex-M4 DSP-extension kernels (compiled only when KWS_KERNELS_DSP). Their entry points are
 * declared in kws_kernels.h (the generated code calls them directly); the dispatchers in kws_conv.c,
 * kws_depthwise.c and kws_fc.c call them too when the layer's parameters carry a DSP stream (the compiler
 * leaves it NULL for layers only the portable kernels take). */
#ifndef KWS_KERNELS_DSP_H
#define KWS_KERNELS_DSP_H

#include "kws_kernels.h"

#endif /* KWS_KERNELS_DSP_H */
