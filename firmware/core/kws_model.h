/* The model-backend interface: what the core knows about the network it feeds.
 *
 * The core never links an inference engine. It hands the model input (KWS_FE_NUM_FRAMES x
 * KWS_FE_NUM_FEATURES int8 features, oldest frame first) to kws_hal.model_invoke and gets one raw
 * int8 score per label back. Everything else it needs to describe the model (for INFO and for
 * de-quantising scores on the host) comes in a kws_model_info, filled by the board from the
 * generated kws_settings.h / model_data.h (see KWS_MODEL_INFO_FROM_SETTINGS in kws_app.h) or, on
 * the host, from the exported model's metadata.
 *
 * Backends: "tflm" (TensorFlow Lite Micro on the board), "tflite-micro-py" (the emulated board,
 * the tflite-micro Python interpreter behind a ctypes callback), "fake" (test drivers).
 */
#ifndef KWS_MODEL_H
#define KWS_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most labels a model may have. Speech Commands v0.02 is 35 words + _silence_ + _unknown_ = 37.
 * Raising it costs KWS_REC_MAX_RESULTS bytes of RAM per label in the recognizer. */
#ifndef KWS_MAX_LABELS
#define KWS_MAX_LABELS 40
#endif

typedef struct kws_model_info {
    const char *backend;         /* "tflm", "tflite-micro-py", "fake", ... */
    const char *sha256;          /* SHA-256 of the model flatbuffer, 64 lowercase hex digits */
    const char *const *labels;   /* num_labels names in output order; names starting with '_' are not keywords */
    uint8_t num_labels;          /* 1..KWS_MAX_LABELS */
    uint32_t arena_bytes;        /* tensor arena the backend uses (0 if it has none) */
    float output_scale;          /* int8 output quantization: score = (q - zero_point) * scale */
    int32_t output_zero_point;
} kws_model_info;

#ifdef __cplusplus
}
#endif

#endif /* KWS_MODEL_H */
