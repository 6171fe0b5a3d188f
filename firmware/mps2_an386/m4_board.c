/* mps2-an386 board support: CMSDK UART0, the SysTick clock, semihosting exit (see m4_board.h). */
#include "m4_board.h"

#include "m4_regs.h"

/* QEMU ignores writes to flash (it is RAM there) and to unmapped addresses, and reads them as 0: the
 * MPU brings back the faults a real board would give, so a bug crashes here as it would there.
 *   region 0: FLASH read-only (a write through a null or stray pointer faults);
 *   region 1: the 64 KB below the thread stack, no access (a stack overflow faults at once, even with a
 *             frame larger than the guard's usual 32 bytes, instead of running on in unmapped space).
 * Everything else keeps the default memory map (PRIVDEFENA). Faults escalate to HardFault. */
extern uint32_t __stack_limit[];

static void mpu_init(void)
{
    M4_MPU_CTRL = 0u;
    M4_MPU_RNR = 0u;
    M4_MPU_RBAR = 0x00000000u;
    M4_MPU_RASR = M4_MPU_RASR_ENABLE | M4_MPU_RASR_SIZE(20) | M4_MPU_RASR_AP_RO;
    M4_MPU_RNR = 1u;
    M4_MPU_RBAR = (uint32_t)(uintptr_t)__stack_limit - 0x10000u;
    M4_MPU_RASR = M4_MPU_RASR_ENABLE | M4_MPU_RASR_SIZE(16) | M4_MPU_RASR_AP_NONE | M4_MPU_RASR_XN;
    M4_MPU_CTRL = M4_MPU_CTRL_ENABLE | M4_MPU_CTRL_PRIVDEFENA;
    __asm volatile("dsb\n isb" ::: "memory");
}

void m4_board_init(void)
{
    mpu_init();
    m4_uart_init();
    m4_clock_init();
}

/* ------------------------------------------------------------------------------------------ UART0 */

void m4_uart_init(void)
{
    /* 16 is the smallest divider the CMSDK UART accepts; QEMU does not time the line anyway. */
    M4_UART_BAUDDIV = 16u;
    M4_UART_CTRL = M4_UART_CTRL_TXEN | M4_UART_CTRL_RXEN;
}

void m4_uart_putc(uint8_t c)
{
    while (M4_UART_STATE & M4_UART_STATE_TXFULL) {
    }
    M4_UART_DATA = c;
}

void m4_uart_write(const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    while (len-- > 0) {
        m4_uart_putc(*p++);
    }
}

void m4_uart_puts(const char *s)
{
    while (*s != '\0') {
        m4_uart_putc((uint8_t)*s++);
    }
}

void m4_uart_put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    int shift;
    m4_uart_puts("0x");
    for (shift = 28; shift >= 0; shift -= 4) {
        m4_uart_putc((uint8_t)digits[(v >> shift) & 0xFu]);
    }
}

void m4_uart_put_u32(uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        m4_uart_putc((uint8_t)digits[--n]);
    }
}

size_t m4_uart_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && (M4_UART_STATE & M4_UART_STATE_RXFULL)) {
        buf[n++] = (uint8_t)M4_UART_DATA;
    }
    return n;
}

uint8_t m4_uart_getc(void)
{
    while (!(M4_UART_STATE & M4_UART_STATE_RXFULL)) {
    }
    return (uint8_t)M4_UART_DATA;
}

/* ------------------------------------------------------------------------------------------ clock */

/* Test hook: tests/clock_test.c starts the count just before the 2^32 us wrap (8191 periods of 2^19
 * us), so the wrap is crossed in one virtual second instead of 71.6 minutes. */
#ifndef M4_CLOCK_START_PERIODS
#define M4_CLOCK_START_PERIODS 0u
#endif

static volatile uint32_t systick_periods;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    ++systick_periods;
}

void m4_clock_init(void)
{
    systick_periods = M4_CLOCK_START_PERIODS;
    M4_SYST_CSR = 0u;
    M4_SYST_RVR = M4_SYSTICK_PERIOD - 1u;
    M4_SYST_CVR = 0u; /* any write clears it */
    M4_SYST_CSR = M4_SYST_CSR_ENABLE | M4_SYST_CSR_TICKINT | M4_SYST_CSR_CLKSOURCE;
    /* The first tick loads the reload value without an interrupt: until then a reading of 0 would
     * mean "a whole period elapsed". Wait for it (one tick) so every reading follows one rule. */
    while (M4_SYST_CVR == 0u) {
    }
}

/* Periods and the down-counter read consistently: if the counter reloaded between the two reads, its
 * interrupt was taken before the second read of the period count (thread mode, interrupts on), and
 * the pair is read again. Called with interrupts masked it may be one period behind. */
static uint32_t read_clock(uint32_t *elapsed)
{
    uint32_t periods, value;
    do {
        periods = systick_periods;
        value = M4_SYST_CVR;
    } while (periods != systick_periods);
    *elapsed = (M4_SYSTICK_PERIOD - 1u) - value;
    return periods;
}

uint64_t m4_ticks(void)
{
    uint32_t elapsed;
    const uint32_t periods = read_clock(&elapsed);
    return (uint64_t)periods * M4_SYSTICK_PERIOD + elapsed;
}

uint32_t m4_time_us(void)
{
    uint32_t elapsed;
    const uint32_t periods = read_clock(&elapsed);
    /* A period is exactly 2^19 us: the shift wraps at 2^32 us like the counter should. */
    return (periods << 19) + elapsed / (M4_SYSTICK_HZ / 1000000u);
}

/* ------------------------------------------------------------------------------------ semihosting */

void m4_exit(int status)
{
    /* SYS_EXIT_EXTENDED (0x20): QEMU exits with the subcode (SYS_EXIT proper only says 0 or 1 on
     * 32-bit Arm). 0x20026 is ADP_Stopped_ApplicationExit. */
    static volatile uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = (uint32_t)status;
    __asm volatile(
        "mov r0, #0x20\n"
        "mov r1, %0\n"
        "bkpt 0xAB\n"
        :
        : "r"(block)
        : "r0", "r1", "memory");
    for (;;) { /* only without semihosting: nothing left to do */
    }
}
