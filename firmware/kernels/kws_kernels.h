/* int8 kernels for the ahead-of-time compiled model (kws compile): TFLite Micro's reference semantics,
 * bit for bit, in plain C99 with no heap.
 *
 * Two flavours, chosen at compile time: portable C (any compiler) and Cortex-M4 DSP-extension kernels
 * (SMLAD/SXTB16 through <arm_acle.h>), used when the compiler defines __ARM_FEATURE_DSP, unless
 * KWS_KERNELS_PORTABLE is defined (for A/B measurements on the same board). Each public function
 * dispatches to the DSP path when it exists for the case at hand and falls back to the portable one.
 * The generated model (<name>_aot.c) reads KWS_KERNELS_DSP too, because the DSP flavour wants its
 * weights in another order and its biases pre-folded (see kws/compile/codegen.py).
 *
 * Every parameter is computed by the compiler from the flatbuffer exactly as TFLM's Prepare does
 * (kws/compile/quant.py): per-output-channel multipliers and shifts (a per-tensor scale is broadcast),
 * the activation clamp range, input/output offsets (offset = -zero_point for inputs, +zero_point for
 * outputs). Shapes are NHWC.
 *
 * Windowed kernels (conv, depthwise, pooling) finish every read an output row needs before they write the
 * next row, in row order, or in reverse row order when `reverse` is set: that lets the memory planner
 * overlap an output with the input it consumes (output before the input going forward, after it going
 * backward), kws/compile/planner.py overlap_distance().
 */
#ifndef KWS_KERNELS_H
#define KWS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(KWS_KERNELS_PORTABLE)
#define KWS_KERNELS_DSP 1
#else
#define KWS_KERNELS_DSP 0
#endif

/* The DSP flavour's dot-product routines (kws_dsp_dot.c): from one input vector (kws_dsp.h kws_dsp_vec) and a
 * weight stream to outputs, 4 at a time; each returns the stream after the outputs it wrote. */
struct kws_dsp_vec;
typedef const int32_t *(*kws_dsp_dot_fn)(struct kws_dsp_vec *v, const int32_t *w);

/* CONV_2D (groups allowed: in_c = groups * filter_c) and DEPTHWISE_CONV_2D (out_c = in_c * depth_mult). */
typedef struct kws_conv_params {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, filter_c;     /* filter_c: input channels per group (conv); 1 for depthwise */
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t depth_mult;             /* depthwise only */
    int32_t in_offset, out_offset, act_min, act_max;
    int32_t reverse;                /* 1: output rows last to first (see below) */
    const int8_t *weights;          /* conv: [out_c][k_h][k_w][filter_c]; depthwise: [k_h][k_w][out_c] */
    const int32_t *bias;            /* [out_c] or NULL */
    const int32_t *mult;            /* [out_c] */
    const int8_t *shift;            /* [out_c], > 0 = left shift */
    /* DSP flavour only (NULL when the portable kernel runs the layer): one stream with, per group of 4
     * output channels, the biases with in_offset * sum(w) folded in, the weights (int16 pairs in SMLAD
     * order, both scaled by 2^(1 + left shift); or int8, unscaled, 4 per word) and the SMMULR
     * requantization records (kws_dsp.h, kws/compile/dsp_layout.py). dsp_round: every channel's
     * requantization shifts right. dsp_x16: the input vector is sign-extended to int16 once per pixel.
     * dsp_tile: output columns per padded block of input rows (conv with a window). dsp_dot: the routine
     * for the full groups of 4 outputs (NULL: none), dsp_rest: the one for the others (NULL: none); the
     * compiler names them, so a program links only the routines its layers use. */
    const void *dsp_weights;
    int32_t dsp_round, dsp_x16, dsp_tile;
    kws_dsp_dot_fn dsp_dot, dsp_rest;
} kws_conv_params;

/* FULLY_CONNECTED: out[b][o] from in[b][accum]; weights [out_c][accum]. */
typedef struct kws_fc_params {
    int32_t batches, accum, out_c;
    int32_t in_offset, weights_offset, out_offset, act_min, act_max;
    const int8_t *weights;
    const int32_t *bias;            /* or NULL */
    const int32_t *mult;            /* [out_c] */
    const int8_t *shift;            /* [out_c] */
    const void *dsp_weights;        /* DSP flavour: see kws_conv_params */
    int32_t dsp_round;
    kws_dsp_dot_fn dsp_dot, dsp_rest;
} kws_fc_params;

/* AVERAGE_POOL_2D / MAX_POOL_2D (input and output share scale and zero point). */
typedef struct kws_pool_params {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
    int32_t reverse;                             /* 1: output rows last to first */
} kws_pool_params;

/* SOFTMAX int8 -> int8 (output zero point -128, scale 1/256), over the last dimension. */
typedef struct kws_softmax_params {
    int32_t outer, depth;
    int32_t input_mult, input_left_shift, diff_min;
} kws_softmax_params;

#define KWS_MAX_DIMS 6

/* ADD with numpy-style broadcasting: strides are in elements, 0 along a broadcast dimension. */
typedef struct kws_add_params {
    int32_t size;                                /* output elements */
    int32_t ndims;                               /* 0 = no broadcast (both inputs have `size` elements) */
    int32_t dims[KWS_MAX_DIMS];                  /* output shape */
    int32_t stride1[KWS_MAX_DIMS], stride2[KWS_MAX_DIMS];
    int32_t in1_offset, in2_offset, left_shift;
    int32_t mult1, shift1, mult2, shift2, out_mult, out_shift;
    int32_t out_offset, act_min, act_max;
} kws_add_params;

/* MEAN over any set of axes: the input viewed as `ndims` dims; `reduce[d]` = 1 for a reduced axis. */
typedef struct kws_mean_params {
    int32_t ndims;
    int32_t dims[KWS_MAX_DIMS];
    int32_t reduce[KWS_MAX_DIMS];
    int32_t num_elements;                        /* elements summed per output */
    int32_t in_zero_point, out_zero_point;
    int32_t mult, shift;                         /* 1/num_elements already folded in */
} kws_mean_params;

void kws_conv_s8(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_depthwise_s8(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_fc_s8(const kws_fc_params *p, const int8_t *in, int8_t *out);
void kws_avgpool_s8(const kws_pool_params *p, const int8_t *in, int8_t *out);
void kws_maxpool_s8(const kws_pool_params *p, const int8_t *in, int8_t *out);
void kws_softmax_s8(const kws_softmax_params *p, const int8_t *in, int8_t *out);
void kws_add_s8(const kws_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void kws_mean_s8(const kws_mean_params *p, const int8_t *in, int8_t *out);

/* The portable paths, public so the DSP dispatchers and the tests can call them directly. */
void kws_conv_s8_portable(const kws_conv_params *p, const int8_t *in, int8_t *out);
void kws_depthwise_s8_portable(const kws_conv_params *p, const int8_t *in, int8_t *out);
void kws_fc_s8_portable(const kws_fc_params *p, const int8_t *in, int8_t *out);

#if KWS_KERNELS_DSP
/* The DSP entry points, called by the generated code for layers with a DSP stream (so that a DSP build does
 * not link the portable kernels it never runs), and the dot-product routines the compiler names. Routine
 * names: s8 / s16 = the input vector as bytes / sign-extended to int16 pairs; w16 / w8 = int16 / int8
 * weights; _r = every output channel shifts right. The fast ones take full groups of 4 outputs with the
 * whole int8 output range and may read the vector up to its next multiple of 4 bytes; the `any` ones take
 * any count, clamp range and vector length. */
void kws_conv_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_depthwise_s8_dsp(const kws_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);
void kws_fc_s8_dsp(const kws_fc_params *p, const int8_t *in, int8_t *out);
const int32_t *kws_dsp_dot_s8_w16(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_s8_w16_r(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_s16_w16(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_s16_w16_r(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_s8_w8(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_s8_w8_r(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_any_w16(struct kws_dsp_vec *v, const int32_t *w);
const int32_t *kws_dsp_dot_any_w8(struct kws_dsp_vec *v, const int32_t *w);
#endif

/* Exact TFLM MultiplyByQuantizedMultiplier (double rounding), exported for tests. */
int32_t kws_requantize(int32_t acc, int32_t mult, int32_t shift);

#ifdef __cplusplus
}
#endif

#endif /* KWS_KERNELS_H */
