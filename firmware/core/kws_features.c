/* Feature ring (see kws_features.h). */
#include "kws_features.h"

#include <string.h>

void kws_features_reset(kws_features *ring)
{
    memset(ring->frames, 0, sizeof ring->frames);
    ring->head = 0;
    ring->count = 0;
    ring->total = 0;
}

void kws_features_push(kws_features *ring, const int8_t *frame)
{
    memcpy(ring->frames[ring->head], frame, KWS_FE_NUM_FEATURES);
    ring->head = (uint16_t)((ring->head + 1u) % KWS_FE_NUM_FRAMES);
    if (ring->count < KWS_FE_NUM_FRAMES) {
        ++ring->count;
    }
    ++ring->total;
}

int kws_features_full(const kws_features *ring)
{
    return ring->count == KWS_FE_NUM_FRAMES;
}

size_t kws_features_copy(const kws_features *ring, int8_t *out)
{
    const size_t missing = (size_t)(KWS_FE_NUM_FRAMES - ring->count);
    /* The oldest held frame sits `count` slots behind head. */
    size_t slot = (size_t)((ring->head + KWS_FE_NUM_FRAMES - ring->count) % KWS_FE_NUM_FRAMES);
    size_t i;
    memset(out, -128, missing * KWS_FE_NUM_FEATURES);
    out += missing * KWS_FE_NUM_FEATURES;
    for (i = 0; i < ring->count; ++i) {
        memcpy(out, ring->frames[slot], KWS_FE_NUM_FEATURES);
        out += KWS_FE_NUM_FEATURES;
        slot = (slot + 1u) % KWS_FE_NUM_FRAMES;
    }
    return ring->count;
}
