/* The Nano sketch's model backend, chosen when the sketch is staged (`kws flash --backend`): exactly one
 * of these files goes into the sketch folder, and both define the symbols below.
 *
 *   kws_model_aot_glue.cpp  "aot-c" (default): the model compiled to C99 by `kws compile`
 *                           (kws_model_aot.c/.h) on firmware/kernels; no library, no interpreter
 *   kws_model_tflm.cpp      "tflm": TensorFlow Lite Micro (the Arduino_TensorFlowLite library) on the
 *                           export's flatbuffer (model_data.cpp/.h)
 *
 * The HAL (kws_hal_nano33ble.cpp) knows only this header. Arduino compiles every .c/.cpp of the sketch
 * folder, so choosing by which file is staged needs no #if in the HAL.
 */
#ifndef KWS_NANO_MODEL_H
#define KWS_NANO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The backend's name, as INFO reports it ("aot-c", "tflm"). */
extern const char kws_nano_backend_name[];

/* The activation memory the backend reserves (bytes), as INFO reports it. */
uint32_t kws_nano_backend_arena_bytes(void);

/* One-time set-up before the first invocation (later calls return the first result): 0 or a backend code. */
int kws_nano_model_init(void);

/* kws_hal.model_invoke: input_len int8 features (frames x features, oldest first) in, output_len int8
 * scores out; 0 or a backend code (the core reports it as "model invoke failed, code N"). */
int kws_nano_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len);

/* Bytes of that memory actually in use after a successful init (0 before). */
size_t kws_nano_model_arena_used(void);

#ifdef __cplusplus
}
#endif

#endif /* KWS_NANO_MODEL_H */
