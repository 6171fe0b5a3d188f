/* The SysTick clock against a known number of instructions (run by tests/test_m4_clock.py).
 *
 * spin(n) executes exactly 2000 * n + 1 instructions (n loop bodies of 1998 NOPs, SUBS, BNE, then BX):
 * under -icount shift=S that is (2000 n + 1) * 2^S ns of virtual time, 25 SysTick ticks per us.
 * Prints key=value lines; with -DCLOCK_TEST_WRAP it instead starts the clock 524 ms before the 2^32 us
 * wrap (M4_CLOCK_START_PERIODS) and checks that wrap-safe differences stay monotonic across it.
 */
#include "m4_board.h"

static void put_kv(const char *key, uint32_t value)
{
    m4_uart_puts(key);
    m4_uart_putc('=');
    m4_uart_put_u32(value);
    m4_uart_puts("\r\n");
}

#ifndef CLOCK_TEST_WRAP

__attribute__((naked, noinline)) static void spin(uint32_t n)
{
    (void)n;
    __asm volatile(
        ".syntax unified\n"
        "1:\n"
        ".rept 1998\n"
        "nop\n"
        ".endr\n"
        "subs r0, r0, #1\n"
        "bne 1b\n"
        "bx lr\n");
}

static uint32_t ticks_of(uint32_t n)
{
    const uint64_t t0 = m4_ticks();
    spin(n);
    return (uint32_t)(m4_ticks() - t0);
}

int main(void)
{
    uint32_t us0, us1;
    uint64_t t0 = m4_ticks();
    put_kv("empty_ticks", (uint32_t)(m4_ticks() - t0)); /* two back-to-back readings */
    put_kv("ticks_1000", ticks_of(1000u));                /* 2,000,001 instructions */
    put_kv("ticks_2000", ticks_of(2000u));                /* 4,000,001 instructions */
    us0 = m4_time_us();
    spin(1000u);
    us1 = m4_time_us();
    put_kv("us_1000", us1 - us0);
    return 0;
}

#else

int main(void)
{
    const uint32_t start = m4_time_us();
    uint32_t prev = start, now, wraps = 0, backwards = 0, reads = 0;
    /* One virtual second across the wrap; every reading is compared with the one before it. */
    do {
        now = m4_time_us();
        ++reads;
        if (now < prev) {
            ++wraps;
        }
        if ((uint32_t)(now - prev) >= 0x80000000u) {
            ++backwards;
        }
        prev = now;
    } while ((uint32_t)(now - start) < 1000000u);
    put_kv("start_us", start);
    put_kv("end_us", now);
    put_kv("elapsed_us", now - start);
    put_kv("wraps", wraps);
    put_kv("backwards", backwards);
    put_kv("reads", reads);
    put_kv("ticks_hi", (uint32_t)(m4_ticks() >> 32));
    return 0;
}

#endif
