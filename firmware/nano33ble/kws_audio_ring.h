/* A fixed ring of 16 kHz int16 samples between the PDM interrupt (producer) and the main loop (consumer).
 *
 * Counted in SAMPLES everywhere. The PDM library counts BYTES (PDM.available(), PDM.read(buf, bytes)
 * return bytes); the HAL converts once, at the PDM boundary, with sizeof(int16_t). The original TFLM
 * audio provider mixed the two and computed ring positions from timestamps, so it could hand out
 * samples "from the future" (not yet written). Here the consumer only ever reads samples the producer
 * has published: `written` and `read` are free-running uint32 sample counters (wrap-safe unsigned
 * differences), the producer stores the samples first and the counter after them, and the consumer
 * reads the counter first and the samples after it.
 *
 * Overrun (the main loop fell behind by more than the ring minus a guard): the oldest samples are
 * dropped, `dropped` counts them, and reading resumes half a ring behind the producer, so even a
 * producer that writes during the copy cannot overtake the reader. Single producer, single consumer,
 * no locks, no heap; header-only and plain C so the same code is tested on the host
 * (tests/test_nano33ble.py drives it with a simulated PDM interrupt).
 */
#ifndef KWS_AUDIO_RING_H
#define KWS_AUDIO_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 16384 samples = 1.024 s at 16 kHz (32 KB, the budget's "audio ring"); a power of two so the index
 * is a mask and the uint32 counters wrap consistently with it. */
#ifndef KWS_AUDIO_RING_SAMPLES
#define KWS_AUDIO_RING_SAMPLES 16384u
#endif
/* More than one PDM block (256 samples) may arrive while the consumer copies; keep this much free. */
#define KWS_AUDIO_RING_GUARD 1024u
#define KWS_AUDIO_RING_MASK (KWS_AUDIO_RING_SAMPLES - 1u)

#if (KWS_AUDIO_RING_SAMPLES & KWS_AUDIO_RING_MASK) != 0 || KWS_AUDIO_RING_SAMPLES <= 2u * KWS_AUDIO_RING_GUARD
#error "KWS_AUDIO_RING_SAMPLES must be a power of two larger than twice KWS_AUDIO_RING_GUARD"
#endif

/* Keeps the compiler from moving sample stores past the counter store (and loads before the counter
 * load). A Cortex-M4 is single-core and in-order for this purpose, so no hardware barrier is needed. */
#if defined(__GNUC__) || defined(__clang__)
#define KWS_AUDIO_RING_BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define KWS_AUDIO_RING_BARRIER() ((void)0)
#endif

typedef struct kws_audio_ring {
    int16_t samples[KWS_AUDIO_RING_SAMPLES];
    volatile uint32_t written; /* samples ever written (producer only), wraps */
    uint32_t read;             /* samples ever consumed (consumer only), wraps */
    uint32_t dropped;          /* samples lost to overruns (consumer only), wraps */
} kws_audio_ring;

static inline void kws_audio_ring_reset(kws_audio_ring *r)
{
    r->written = 0u;
    r->read = 0u;
    r->dropped = 0u;
}

/* Producer (the PDM interrupt): append n samples. Never blocks, never fails: if the consumer is far
 * behind, it loses the oldest samples (see kws_audio_ring_read). */
static inline void kws_audio_ring_write(kws_audio_ring *r, const int16_t *pcm, size_t n)
{
    const uint32_t w = r->written;
    size_t i;
    for (i = 0; i < n; ++i) {
        r->samples[(w + (uint32_t)i) & KWS_AUDIO_RING_MASK] = pcm[i];
    }
    KWS_AUDIO_RING_BARRIER();
    r->written = w + (uint32_t)n;
}

/* Samples published and not yet read (before any overrun correction). */
static inline uint32_t kws_audio_ring_available(const kws_audio_ring *r)
{
    return (uint32_t)(r->written - r->read);
}

/* Consumer (the main loop): up to cap of the oldest unread samples, in order; returns how many. */
static inline size_t kws_audio_ring_read(kws_audio_ring *r, int16_t *out, size_t cap)
{
    const uint32_t w = r->written;
    uint32_t avail, i, n;
    KWS_AUDIO_RING_BARRIER();
    avail = (uint32_t)(w - r->read);
    if (avail > KWS_AUDIO_RING_SAMPLES - KWS_AUDIO_RING_GUARD) {
        const uint32_t keep = KWS_AUDIO_RING_SAMPLES / 2u;
        r->dropped += avail - keep;
        r->read = w - keep;
        avail = keep;
    }
    n = avail < (uint32_t)cap ? avail : (uint32_t)cap;
    for (i = 0; i < n; ++i) {
        out[i] = r->samples[(r->read + i) & KWS_AUDIO_RING_MASK];
    }
    r->read += n;
    return (size_t)n;
}

#ifdef __cplusplus
}
#endif

#endif /* KWS_AUDIO_RING_H */
