/* The kws_hal of the mps2-an386 board (firmware/core/kws_hal.h):
 *   serial  UART0, raw bytes both ways (QEMU: -serial pty, or stdio for tests)
 *   time    m4_time_us(): SysTick, wraps at 2^32 us; under -icount shift=S it counts instructions
 *           (1 us = 1000 / 2^S instructions), not a real M4's cycles
 *   audio   none by default (audio comes from the host over the protocol); built with KWS_M4_MIC=1,
 *           a synthetic microphone paced by SysTick (16 kHz of virtual time) in a ring of
 *           KWS_M4_MIC_RING samples (default 4096) that loses its oldest samples when the core falls
 *           behind; main.c hands kws_hal_m4_audio_dropped() to kws_app_audio_overrun
 *   led     FPGAIO LED0 (bit 0 of 0x40028000; QEMU only traces it)
 *   model   the backend linked in (kws_m4_model.h)
 */
#ifndef KWS_HAL_M4_H
#define KWS_HAL_M4_H

#include "kws_hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KWS_M4_MIC
#define KWS_M4_MIC 0
#endif
#ifndef KWS_M4_MIC_RING
#define KWS_M4_MIC_RING 4096u
#endif

void kws_hal_m4_fill(kws_hal *hal);

/* Samples the microphone's ring has lost since boot (free-running; 0 without KWS_M4_MIC). */
uint32_t kws_hal_m4_audio_dropped(void);

#ifdef __cplusplus
}
#endif

#endif /* KWS_HAL_M4_H */
