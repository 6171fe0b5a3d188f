/* Crashes on purpose (tests/test_m4_run.py): -DFAULT_UDF executes an undefined instruction (a
 * UsageFault), -DFAULT_FLASH_WRITE writes to flash (read-only by the MPU; QEMU's flash is RAM),
 * -DFAULT_STACK recurses until the thread stack runs into the MPU guard below RAM. Each must end in
 * the HardFault report and exit 240. */
#include "m4_board.h"

#if defined(FAULT_STACK)
static uint32_t deeper(volatile uint32_t *above, uint32_t depth)
{
    volatile uint32_t frame[64];
    frame[0] = depth + (above != 0 ? above[0] : 0u);
    if (depth == 0xFFFFFFFFu) { /* never: keeps the compiler from calling the recursion infinite */
        return frame[0];
    }
    return deeper(frame, depth + 1u) + frame[63];
}
#endif

int main(void)
{
    m4_uart_puts("about to fault\r\n");
#if defined(FAULT_UDF)
    __asm volatile("udf #0");
#elif defined(FAULT_FLASH_WRITE)
    volatile uintptr_t where = 0x100u; /* inside the code; volatile: GCC warns about constant low addresses */
    *(volatile uint32_t *)where = 0xDEADBEEFu;
#elif defined(FAULT_STACK)
    return (int)deeper(0, 0u);
#endif
    return 0;
}
