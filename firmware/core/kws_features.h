/* The feature ring: the last KWS_FE_NUM_FRAMES int8 frames, copied out oldest first for the model.
 *
 * Frames are pushed as the frontend makes them; the model's input is always the most recent
 * KWS_FE_NUM_FRAMES of them in time order, a contiguous (frames x features) block. A ring plus one
 * copy per inference (1,960 bytes for 49 x 40) instead of shifting the whole block per frame.
 * Time lives in the frame count, never in a clock: the old Arduino feature provider computed
 * slices from milliseconds and read audio "from the future"; here a frame exists only once its
 * samples have arrived.
 */
#ifndef KWS_FEATURES_H
#define KWS_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "kws_frontend_tables.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kws_features {
    int8_t frames[KWS_FE_NUM_FRAMES][KWS_FE_NUM_FEATURES];
    uint16_t head;  /* slot the next frame goes to (the oldest frame once the ring is full) */
    uint16_t count; /* frames held, saturates at KWS_FE_NUM_FRAMES */
    uint32_t total; /* frames pushed since the last reset (wraps after 2^32, ~2.7 years at 20 ms) */
} kws_features;

void kws_features_reset(kws_features *ring);

/* Appends one frame of KWS_FE_NUM_FEATURES values, replacing the oldest once full. */
void kws_features_push(kws_features *ring, const int8_t *frame);

/* 1 when the ring holds a full model input. */
int kws_features_full(const kws_features *ring);

/* Writes the model input (KWS_FE_FEATURE_SIZE int8) to `out`, oldest frame first. Before the ring
 * is full the missing oldest frames are -128 (the log-mel of digital silence); returns the number
 * of real frames written. */
size_t kws_features_copy(const kws_features *ring, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* KWS_FEATURES_H */
