/* The kws_hal of the mps2-an386 board (firmware/core/kws_hal.h):
 *   serial  UART0, raw bytes both ways (QEMU: -serial pty, or stdio for tests)
 *   time    m4_time_us(): SysTick, wraps at 2^32 us; under -icount shift=S it counts instructions
 *           (1 us = 1000 / 2^S instructions), not a real M4's cycles
 *   audio   none yet (audio comes from the host over the protocol)
 *   led     FPGAIO LED0 (bit 0 of 0x40028000; QEMU only traces it)
 *   model   the backend linked in (kws_m4_model.h)
 */
#ifndef KWS_HAL_M4_H
#define KWS_HAL_M4_H

#include "kws_hal.h"

#ifdef __cplusplus
extern "C" {
#endif

void kws_hal_m4_fill(kws_hal *hal);

#ifdef __cplusplus
}
#endif

#endif /* KWS_HAL_M4_H */
