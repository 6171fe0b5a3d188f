/* The model backend of the mps2-an386 board, chosen at build time by which source is linked:
 *
 *   kws_model_fake.c     "fake": a fixed arithmetic function of the input (below), no weights
 *   (later)              the compiled model of `kws compile`, the same four symbols
 *
 * main.c only knows these symbols; kws.device.m4.build_board_elf picks the source.
 */
#ifndef KWS_M4_MODEL_H
#define KWS_M4_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The backend's name, as INFO reports it ("fake", ...). */
extern const char kws_m4_backend_name[];

/* Tensor arena bytes the backend uses (0 if none), as INFO reports it. */
uint32_t kws_m4_backend_arena_bytes(void);

/* One-time set-up before the first invocation; 0 on success. */
int kws_m4_model_init(void);

/* kws_hal.model_invoke: input_len int8 features (frames x features, oldest first) in, output_len int8
 * scores out; 0 on success. */
int kws_m4_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len);

#ifdef __cplusplus
}
#endif

#endif /* KWS_M4_MODEL_H */
