/* The simulated Nano behind the stubs (see README.md): what a host driver controls and observes. */
#ifndef KWS_STUB_SIM_H
#define KWS_STUB_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void sim_set_micros(uint32_t us);
void sim_advance_us(uint32_t us);
/* One PDM interrupt: n samples (at most DEFAULT_PDM_BUFFER_SIZE / 2) become the readable block, then
 * the sketch's onReceive callback runs. Ignored while the microphone is off or stopped. */
void sim_pdm_interrupt(const int16_t *pcm, size_t n);
int sim_pdm_stopped(void);           /* 1 once a block was still unread when the next came (overflow) */
void sim_serial_input(const uint8_t *data, size_t len); /* bytes the host sends */
void sim_serial_output(FILE *out);   /* where the board's serial bytes go (NULL: discarded) */
void sim_trace(FILE *out);           /* LED changes as "LED r g b" lines (1 = lit) */
void sim_model_dump(FILE *out);      /* every input tensor, appended */
unsigned long sim_invokes(void);

#endif
