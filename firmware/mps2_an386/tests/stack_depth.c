/* A known stack depth for the host's reading of the painted stack (tests/test_m4_stack.py): uses DEPTH bytes
 * of a local array, waits for one byte from the host (QEMU's pty drops what is written before the host opens it),
 * prints m4_stack_high_water() and m4_stack_size() as "high_water=N size=M", then idles so the host can read
 * the same paint through QEMU (kws.device.m4.M4Board.stack_use). */
#include "m4_board.h"

#ifndef DEPTH
#define DEPTH 1000
#endif

static uint32_t touch(volatile uint8_t *p, uint32_t n)
{
    uint32_t sum = 0, i;
    for (i = 0; i < n; ++i) {
        p[i] = (uint8_t)i;
    }
    for (i = 0; i < n; ++i) {
        sum += p[i];
    }
    return sum;
}

__attribute__((noinline)) static uint32_t deep(void)
{
    volatile uint8_t buf[DEPTH];
    return touch(buf, DEPTH);
}

int main(void)
{
    const uint32_t sum = deep();
    (void)m4_uart_getc();
    m4_uart_puts("high_water=");
    m4_uart_put_u32((uint32_t)m4_stack_high_water());
    m4_uart_puts(" size=");
    m4_uart_put_u32((uint32_t)m4_stack_size());
    m4_uart_puts(sum == 0u ? " !\r\n" : "\r\n");
    for (;;) {
    }
}
