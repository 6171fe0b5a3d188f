/* Vector table, reset, faults for mps2-an386 (Cortex-M4F).
 *
 * Reset: FPU on (code built with -mfloat-abi=hard may use it anywhere), thread mode switched to the
 * process stack at the bottom of RAM (the main stack, MSP, is a small handler stack of its own, so a
 * thread-stack overflow still leaves the HardFault handler a stack to report from), .data copied from
 * flash, .bss zeroed, both stacks painted (m4_stack_high_water(); the host reads the paint through QEMU,
 * kws.device.m4.M4Board.stack_use), UART and SysTick started,
 * then main(); its return value is the QEMU exit status (semihosting).
 * A HardFault (or any exception nobody handles) prints one line over UART0 and exits QEMU with
 * M4_EXIT_HARDFAULT / M4_EXIT_UNEXPECTED_IRQ, so a test sees a crash as a crash, never as a hang.
 */
#include <stdint.h>
#include <string.h>

#include "m4_board.h"
#include "m4_regs.h"

#define M4_NUM_IRQS 32          /* external interrupts of QEMU's mps2-an386 NVIC (4 x M4_IRQS8 below) */
#define M4_STACK_PAINT 0xA5A5A5A5u

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[], __handler_stack_limit[], __handler_stack_top[];

int main(void);
void Reset_Handler(void);
void m4_reset_c(void) __attribute__((noreturn, used));
void m4_fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));
void HardFault_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

typedef void (*m4_vector)(void);

#define M4_IRQS8 Default_Handler, Default_Handler, Default_Handler, Default_Handler, \
    Default_Handler, Default_Handler, Default_Handler, Default_Handler

/* Cortex-M4 faults other than HardFault are disabled at reset and escalate to it. */
__attribute__((section(".isr_vector"), used)) static const m4_vector vectors[16 + M4_NUM_IRQS] = {
    (m4_vector)(uintptr_t)__handler_stack_top, /* initial MSP */
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler,
    Default_Handler,   /* MemManage */
    Default_Handler,   /* BusFault */
    Default_Handler,   /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,   /* SVCall */
    Default_Handler,   /* DebugMonitor */
    0,
    Default_Handler,   /* PendSV */
    SysTick_Handler,
    M4_IRQS8, M4_IRQS8, M4_IRQS8, M4_IRQS8,
};

/* Naked: no C frame may exist while the stack pointer is switched. */
__attribute__((naked)) void Reset_Handler(void)
{
    __asm volatile(
        "ldr r0, =0xE000ED88\n"     /* CPACR: CP10 and CP11 full access (the FPU) */
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xF << 20)\n"
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n"
        "ldr r0, =__stack_top\n"
        "msr psp, r0\n"
        "movs r0, #2\n"              /* CONTROL.SPSEL = 1: thread mode uses PSP */
        "msr control, r0\n"
        "isb\n"
        "b m4_reset_c\n");
}

void m4_reset_c(void)
{
    uint32_t *p;
    uint32_t *sp;
    for (p = __data_start; p < __data_end; ++p) {
        *p = __data_load[p - __data_start];
    }
    for (p = __bss_start; p < __bss_end; ++p) {
        *p = 0u;
    }
    /* Paint what is below this frame (with a margin for it) so the deepest use can be found later. */
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (p = __stack_limit; p < sp - 16; ++p) {
        *p = M4_STACK_PAINT;
    }
    /* The handler stack (MSP) is all free here: this code runs on the thread stack (PSP). */
    for (p = __handler_stack_limit; p < __handler_stack_top; ++p) {
        *p = M4_STACK_PAINT;
    }
    m4_board_init();
    {
        const int status = main();
        m4_exit(status == 0 ? 0 : (status & 0xFF) != 0 ? (status & 0xFF) : M4_EXIT_MAIN_RETURNED_NONZERO);
    }
}

/* Scans up from the stack's lowest word: with the guard below __stack_limit nothing lower is read. */
size_t m4_stack_high_water(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == M4_STACK_PAINT) {
        ++p;
    }
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

size_t m4_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

/* The stacked frame is on PSP or MSP, as EXC_RETURN bit 2 says. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b m4_fault_report\n");
}

static int frame_readable(const uint32_t *frame)
{
    const uintptr_t a = (uintptr_t)frame;
    return a >= 0x20000000u && a + 8u * sizeof(uint32_t) <= 0x20000000u + 256u * 1024u && (a & 3u) == 0u;
}

void m4_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    const uint32_t cfsr = M4_SCB_CFSR, hfsr = M4_SCB_HFSR;
    /* STKERR (BusFault) / MSTKERR (MemManage): the exception frame could not be pushed, which on this
     * board means the thread stack ran off the bottom of RAM. */
    const int stacking_failed = (cfsr & ((1u << 12) | (1u << 4))) != 0u;
    m4_uart_init();
    m4_uart_puts("\r\nHARDFAULT");
    if (stacking_failed) {
        m4_uart_puts(" stack overflow (exception frame could not be stacked)");
    } else if (frame_readable(frame)) {
        m4_uart_puts(" pc=");
        m4_uart_put_hex32(frame[6]);
        m4_uart_puts(" lr=");
        m4_uart_put_hex32(frame[5]);
        m4_uart_puts(" psr=");
        m4_uart_put_hex32(frame[7]);
    }
    m4_uart_puts(" cfsr=");
    m4_uart_put_hex32(cfsr);
    m4_uart_puts(" hfsr=");
    m4_uart_put_hex32(hfsr);
    if (cfsr & (1u << 15)) { /* BFARVALID */
        m4_uart_puts(" bfar=");
        m4_uart_put_hex32(M4_SCB_BFAR);
    }
    if (cfsr & (1u << 7)) { /* MMARVALID */
        m4_uart_puts(" mmfar=");
        m4_uart_put_hex32(M4_SCB_MMFAR);
    }
    m4_uart_puts(" exc_return=");
    m4_uart_put_hex32(exc_return);
    m4_uart_puts("\r\n");
    m4_exit(M4_EXIT_HARDFAULT);
}

void Default_Handler(void)
{
    m4_uart_init();
    m4_uart_puts("\r\nUNEXPECTED EXCEPTION ");
    m4_uart_put_u32(M4_SCB_ICSR & 0x1FFu);
    m4_uart_puts("\r\n");
    m4_exit(M4_EXIT_UNEXPECTED_IRQ);
}
