/* The mps2-an386 board support: UART0, a SysTick clock, semihosting exit, stack high-water mark.
 *
 *     m4_board_init();                 // UART0 on, SysTick running (the startup code calls it before main)
 *     m4_uart_write(buf, n);           // blocking, binary-safe
 *     uint32_t t0 = m4_time_us();      // wrap-safe: (uint32_t)(m4_time_us() - t0)
 *     uint64_t ticks = m4_ticks();     // raw 25 MHz SysTick ticks since boot (profiling)
 *     m4_exit(0);                      // QEMU exits with this status (semihosting)
 *
 * Time under QEMU with -icount shift=S: one instruction advances virtual time by 2^S ns, so one tick
 * (40 ns) is 40 / 2^S instructions and m4_instructions() = ticks * 40 / 2^S. It counts instructions,
 * not Cortex-M4 cycles (a real M4 needs at least one cycle per instruction). Without -icount the
 * clock follows the host's wall clock and means nothing for profiling.
 */
#ifndef M4_BOARD_H
#define M4_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SysTick period in ticks: 25 * 2^19, so a period is exactly 2^19 us and the microsecond clock is
 * (periods << 19) + elapsed / 25, which wraps at exactly 2^32 us with no drift or division of a
 * 64-bit number. It fits the 24-bit reload register (< 16,777,216). */
#define M4_SYSTICK_HZ 25000000u
#define M4_SYSTICK_PERIOD (25u * 524288u)

/* Exit statuses the board support itself uses; test programs use small ones of their own. */
#define M4_EXIT_HARDFAULT 240
#define M4_EXIT_UNEXPECTED_IRQ 241
#define M4_EXIT_MAIN_RETURNED_NONZERO 1

void m4_board_init(void);

/* UART0 (CMSDK APB UART): polled, no interrupts. Under QEMU the line has flow control for free (a
 * byte waits in the host side until the 1-byte receive register is read); a real UART at a fixed
 * baud rate would need an RX interrupt and a ring buffer instead. */
void m4_uart_init(void);
void m4_uart_putc(uint8_t c);
void m4_uart_write(const void *data, size_t len);
void m4_uart_puts(const char *s);
void m4_uart_put_hex32(uint32_t v);
void m4_uart_put_u32(uint32_t v);
/* Non-blocking: up to cap bytes that have arrived (0 if none). */
size_t m4_uart_read(uint8_t *buf, size_t cap);
/* Blocking read of one byte. */
uint8_t m4_uart_getc(void);

/* SysTick clock. */
void m4_clock_init(void);
uint64_t m4_ticks(void);
uint32_t m4_time_us(void);

/* Semihosting (QEMU -semihosting-config enable=on): exit QEMU with `status` (0..255). */
void m4_exit(int status) __attribute__((noreturn));

/* Deepest stack use since boot in bytes: the startup code paints the stack, this finds the paint's
 * lowest overwritten word. */
size_t m4_stack_high_water(void);
/* Bytes reserved for the stack by the linker script (__stack_size). */
size_t m4_stack_size(void);

#ifdef __cplusplus
}
#endif

#endif /* M4_BOARD_H */
