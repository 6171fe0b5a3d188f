/* The mps2-an386 HAL (see kws_hal_m4.h). */
#include "kws_hal_m4.h"

#include "kws_m4_model.h"
#include "m4_board.h"

#define M4_FPGAIO_LED0 (*(volatile uint32_t *)0x40028000u)

static uint32_t hal_time_us(void *ctx)
{
    (void)ctx;
    return m4_time_us();
}

static void hal_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    m4_uart_write(data, len);
}

static size_t hal_serial_read(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    return m4_uart_read(buf, cap);
}

static void hal_led(void *ctx, int on)
{
    (void)ctx;
    M4_FPGAIO_LED0 = on ? 1u : 0u;
}

#if KWS_M4_MIC
/* The microphone: sample n of a synthetic signal (a 250 Hz triangle in quiet noise, a function of n
 * alone) is "captured" when the SysTick clock passes n / 16 kHz, into a ring of KWS_M4_MIC_RING
 * samples like a PDM driver's DMA ring: samples the core has not read by the time the ring wraps over
 * them are lost (the oldest first) and counted. 16,000 samples per 25,000,000 ticks = 2 per 3,125. */
static uint64_t mic_read_n;   /* samples handed to the core (or lost) so far */
static uint32_t mic_lost;     /* samples the ring lost, free-running */

static int16_t mic_sample(uint64_t n)
{
    const uint32_t phase = (uint32_t)(n % 64u);                 /* 16 kHz / 64 = 250 Hz */
    const int32_t triangle = (int32_t)(phase < 32u ? phase : 64u - phase) * 200 - 3200;
    const uint32_t h = (uint32_t)n * 2654435761u;
    return (int16_t)(triangle + (int32_t)((h >> 24) & 0x7Fu) - 64);
}

static size_t hal_audio_read(void *ctx, int16_t *buf, size_t cap)
{
    const uint64_t due = m4_ticks() * 2u / 3125u;
    uint64_t available;
    size_t i;
    (void)ctx;
    if (due - mic_read_n > KWS_M4_MIC_RING) {
        mic_lost += (uint32_t)(due - mic_read_n - KWS_M4_MIC_RING);
        mic_read_n = due - KWS_M4_MIC_RING;
    }
    available = due - mic_read_n;
    if (cap > available) {
        cap = (size_t)available;
    }
    for (i = 0; i < cap; ++i) {
        buf[i] = mic_sample(mic_read_n + i);
    }
    mic_read_n += cap;
    return cap;
}

uint32_t kws_hal_m4_audio_dropped(void)
{
    return mic_lost;
}
#else
uint32_t kws_hal_m4_audio_dropped(void)
{
    return 0u;
}
#endif

void kws_hal_m4_fill(kws_hal *hal)
{
    hal->ctx = 0;
    hal->time_us = hal_time_us;
    hal->serial_write = hal_serial_write;
    hal->serial_read = hal_serial_read;
#if KWS_M4_MIC
    mic_read_n = m4_ticks() * 2u / 3125u; /* the microphone starts now, its ring empty */
    mic_lost = 0u;
    hal->audio_read = hal_audio_read;
#else
    hal->audio_read = 0;
#endif
    hal->led = hal_led;
    hal->model_invoke = kws_m4_model_invoke;
}
