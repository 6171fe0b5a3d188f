/* A deterministic fake board for the host drivers: a counting clock, stdout/stdin or memory
 * serial, and an "echo" model whose scores are the first values of the newest feature frame, so a
 * test steers the scores exactly by feeding FEATURES. Header-only (static functions) because each
 * driver is one translation unit plus the core. */
#ifndef KWS_FAKE_HAL_H
#define KWS_FAKE_HAL_H

#include <stdio.h>
#include <string.h>

#include "kws_app.h"

typedef struct fake_board {
    uint32_t clock_us;     /* advances by clock_step on every read: device timings are non-zero */
    uint32_t clock_step;
    const uint8_t *rx;     /* serial input served by serial_read */
    size_t rx_len, rx_pos, rx_chunk;
    const int16_t *mic;    /* live audio served by audio_read */
    size_t mic_len, mic_pos, mic_chunk;
    FILE *tx;              /* serial output (NULL: counted only) */
    unsigned long tx_bytes;
    FILE *dump_input;      /* every model input, appended (NULL: none) */
    unsigned long invokes;
    unsigned long fail_every; /* model_invoke fails on every Nth call (0: never) */
    int led;
    void (*tx_hook)(void *user, const uint8_t *data, size_t len);
    void *tx_user;
} fake_board;

static uint32_t fake_time_us(void *ctx)
{
    fake_board *b = (fake_board *)ctx;
    b->clock_us += b->clock_step; /* wraps like a real counter */
    return b->clock_us;
}

static void fake_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    fake_board *b = (fake_board *)ctx;
    b->tx_bytes += (unsigned long)len;
    if (b->tx != NULL) {
        fwrite(data, 1, len, b->tx);
    }
    if (b->tx_hook != NULL) {
        b->tx_hook(b->tx_user, data, len);
    }
}

static size_t fake_serial_read(void *ctx, uint8_t *buf, size_t cap)
{
    fake_board *b = (fake_board *)ctx;
    size_t n = b->rx_len - b->rx_pos;
    if (n > cap) {
        n = cap;
    }
    if (b->rx_chunk > 0 && n > b->rx_chunk) {
        n = b->rx_chunk;
    }
    if (n > 0) {
        memcpy(buf, b->rx + b->rx_pos, n);
    }
    b->rx_pos += n;
    return n;
}

static size_t fake_audio_read(void *ctx, int16_t *buf, size_t cap)
{
    fake_board *b = (fake_board *)ctx;
    size_t n = b->mic_len - b->mic_pos;
    if (n > cap) {
        n = cap;
    }
    if (b->mic_chunk > 0 && n > b->mic_chunk) {
        n = b->mic_chunk;
    }
    if (n > 0) {
        memcpy(buf, b->mic + b->mic_pos, n * sizeof *buf);
    }
    b->mic_pos += n;
    return n;
}

static void fake_led(void *ctx, int on)
{
    ((fake_board *)ctx)->led = on;
}

static int fake_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    fake_board *b = (fake_board *)ctx;
    const int8_t *newest = input + input_len - KWS_FE_NUM_FEATURES;
    size_t i;
    ++b->invokes;
    if (b->dump_input != NULL) {
        fwrite(input, 1, input_len, b->dump_input);
    }
    if (b->fail_every > 0 && b->invokes % b->fail_every == 0) {
        return 3;
    }
    for (i = 0; i < output_len; ++i) {
        output[i] = i < KWS_FE_NUM_FEATURES ? newest[i] : (int8_t)-128;
    }
    return 0;
}

static void fake_hal(kws_hal *hal, fake_board *b)
{
    hal->ctx = b;
    hal->time_us = fake_time_us;
    hal->serial_write = fake_serial_write;
    hal->serial_read = fake_serial_read;
    hal->audio_read = fake_audio_read;
    hal->led = fake_led;
    hal->model_invoke = fake_model_invoke;
}

#endif /* KWS_FAKE_HAL_H */
