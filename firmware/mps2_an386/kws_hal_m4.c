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

void kws_hal_m4_fill(kws_hal *hal)
{
    hal->ctx = 0;
    hal->time_us = hal_time_us;
    hal->serial_write = hal_serial_write;
    hal->serial_read = hal_serial_read;
    hal->audio_read = 0;
    hal->led = hal_led;
    hal->model_invoke = kws_m4_model_invoke;
}
