/* A real FFT of KWS_FFT_SIZE points in float32, no heap, twiddles computed once into static tables.
 *
 * The frontend's own FFT (no CMSIS-DSP, no kissfft): the core must build anywhere with just a C99
 * compiler and libm, and the host and the board must run the very same arithmetic.
 *
 * Method: the N-point real transform is one N/2-point complex radix-2 FFT over the even/odd
 * samples packed as (re, im) pairs, followed by the standard split step. Twiddles come from double
 * precision cos/sin rounded once to float, so they are as exact as float allows.
 *
 * Output packing of kws_rfft (in place, N floats):
 *   buf[0] = Re X[0], buf[1] = Re X[N/2] (both bins are purely real),
 *   buf[2k] = Re X[k], buf[2k+1] = Im X[k] for 1 <= k < N/2;
 * X[k] = sum_n x[n] exp(-2 pi i k n / N), unscaled (numpy.fft.rfft's convention).
 */
#ifndef KWS_FFT_H
#define KWS_FFT_H

#include "kws_frontend_tables.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The size is the frontend's: the core is built against one generated frontend header. */
#define KWS_FFT_SIZE KWS_FE_FFT_SIZE

#if (KWS_FFT_SIZE < 4) || (KWS_FFT_SIZE & (KWS_FFT_SIZE - 1))
#error "KWS_FFT_SIZE must be a power of two >= 4"
#endif

/* Fills the twiddle and bit-reversal tables; idempotent, cheap after the first call. */
void kws_fft_init(void);

/* In-place real FFT of buf[0..KWS_FFT_SIZE); calls kws_fft_init() itself if needed. */
void kws_rfft(float *buf);

#ifdef __cplusplus
}
#endif

#endif /* KWS_FFT_H */
