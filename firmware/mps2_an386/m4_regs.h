/* Memory-mapped registers of QEMU's mps2-an386 (Cortex-M4) that this board uses, and nothing else.
 *
 * Addresses: ARM AN386 / QEMU hw/arm/mps2.c (CMSDK APB UART0), ARMv7-M ARM (SysTick, SCB, CPACR).
 * One header so a reader sees every hardware address the board touches in one place.
 */
#ifndef M4_REGS_H
#define M4_REGS_H

#include <stdint.h>

#define M4_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART0: the serial line QEMU connects to -serial. */
#define M4_UART0_BASE 0x40004000u
#define M4_UART_DATA M4_REG(M4_UART0_BASE + 0x00u)
#define M4_UART_STATE M4_REG(M4_UART0_BASE + 0x04u)
#define M4_UART_CTRL M4_REG(M4_UART0_BASE + 0x08u)
#define M4_UART_BAUDDIV M4_REG(M4_UART0_BASE + 0x10u)
#define M4_UART_STATE_TXFULL 0x1u
#define M4_UART_STATE_RXFULL 0x2u
#define M4_UART_CTRL_TXEN 0x1u
#define M4_UART_CTRL_RXEN 0x2u

/* SysTick (ARMv7-M B3.3). CLKSOURCE=1 selects the processor clock: 25 MHz on mps2-an386. */
#define M4_SYST_CSR M4_REG(0xE000E010u)
#define M4_SYST_RVR M4_REG(0xE000E014u)
#define M4_SYST_CVR M4_REG(0xE000E018u)
#define M4_SYST_CSR_ENABLE 0x1u
#define M4_SYST_CSR_TICKINT 0x2u
#define M4_SYST_CSR_CLKSOURCE 0x4u

/* System control block: fault status for the HardFault report, CPACR for the FPU. */
#define M4_SCB_ICSR M4_REG(0xE000ED04u)
#define M4_SCB_VTOR M4_REG(0xE000ED08u)
#define M4_SCB_CFSR M4_REG(0xE000ED28u)
#define M4_SCB_HFSR M4_REG(0xE000ED2Cu)
#define M4_SCB_MMFAR M4_REG(0xE000ED34u)
#define M4_SCB_BFAR M4_REG(0xE000ED38u)
#define M4_SCB_CPACR M4_REG(0xE000ED88u)

/* MPU (ARMv7-M B3.5): 8 regions on QEMU's Cortex-M4. */
#define M4_MPU_CTRL M4_REG(0xE000ED94u)
#define M4_MPU_RNR M4_REG(0xE000ED98u)
#define M4_MPU_RBAR M4_REG(0xE000ED9Cu)
#define M4_MPU_RASR M4_REG(0xE000EDA0u)
#define M4_MPU_CTRL_ENABLE 0x1u
#define M4_MPU_CTRL_PRIVDEFENA 0x4u
#define M4_MPU_RASR_ENABLE 0x1u
#define M4_MPU_RASR_SIZE(log2_bytes) ((uint32_t)((log2_bytes) - 1) << 1)
#define M4_MPU_RASR_AP_NONE (0x0u << 24)
#define M4_MPU_RASR_AP_RO (0x6u << 24)
#define M4_MPU_RASR_XN (1u << 28)

#endif /* M4_REGS_H */
