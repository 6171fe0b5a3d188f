/* Real FFT, float32: one N/2-point complex radix-2 FFT plus the split step (see kws_fft.h). */
#include "kws_fft.h"

#include <stdint.h>

#define KWS_FFT_HALF (KWS_FFT_SIZE / 2)

/* W_N^k = cos(2 pi k / N) - i sin(2 pi k / N) for k < N/2, generated into kws_frontend_tables.h
 * (kws/frontend_tables.py: double rounded once to float, as the reference rounds them). The complex
 * N/2-point FFT uses every second entry (W_{N/2}^j = W_N^{2j}), the split step uses them all. */
#define tw_cos kws_fe_fft_cos
#define tw_sin kws_fe_fft_sin
static uint16_t bitrev[KWS_FFT_HALF];
static int tables_ready;

void kws_fft_init(void)
{
    unsigned k, bits = 0;
    if (tables_ready) {
        return;
    }
    while ((1u << bits) < (unsigned)KWS_FFT_HALF) {
        ++bits;
    }
    for (k = 0; k < (unsigned)KWS_FFT_HALF; ++k) {
        unsigned r = 0, b;
        for (b = 0; b < bits; ++b) {
            r |= ((k >> b) & 1u) << (bits - 1u - b);
        }
        bitrev[k] = (uint16_t)r;
    }
    tables_ready = 1;
}

/* In-place complex FFT of KWS_FFT_HALF points stored as interleaved (re, im) floats. */
static void complex_fft(float *z)
{
    unsigned i, size;
    for (i = 0; i < (unsigned)KWS_FFT_HALF; ++i) {
        unsigned j = bitrev[i];
        if (j > i) {
            float re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
    for (size = 2; size <= (unsigned)KWS_FFT_HALF; size *= 2) {
        unsigned half = size / 2, stride = (unsigned)KWS_FFT_SIZE / size, start, j;
        for (start = 0; start < (unsigned)KWS_FFT_HALF; start += size) {
            for (j = 0; j < half; ++j) {
                const float wr = tw_cos[j * stride], wi = -tw_sin[j * stride];
                float *a = z + 2 * (start + j);
                float *b = a + 2 * half;
                const float tr = wr * b[0] - wi * b[1];
                const float ti = wr * b[1] + wi * b[0];
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
}

void kws_rfft(float *buf)
{
    unsigned k;
    float z0r, z0i;
    kws_fft_init();
    /* The real input read as N/2 complex samples z[n] = x[2n] + i x[2n+1]: no copy needed. */
    complex_fft(buf);

    z0r = buf[0];
    z0i = buf[1];
    buf[0] = z0r + z0i; /* X[0] */
    buf[1] = z0r - z0i; /* X[N/2], packed into the imaginary slot of bin 0 */

    /* Bins k and N/2 - k come from Z[k] and Z[N/2 - k] together, so each pair is done in place. */
    for (k = 1; k < (unsigned)KWS_FFT_HALF / 2; ++k) {
        const unsigned m = (unsigned)KWS_FFT_HALF - k;
        const float ar = buf[2 * k], ai = buf[2 * k + 1];
        const float br = buf[2 * m], bi = buf[2 * m + 1];
        const float er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);    /* (Z[k] + conj Z[m]) / 2 */
        const float orr = 0.5f * (ai + bi), oi = -0.5f * (ar - br);  /* (Z[k] - conj Z[m]) / 2i */
        const float c = tw_cos[k], s = tw_sin[k];
        const float tr = c * orr + s * oi, ti = c * oi - s * orr;    /* W_N^k * odd */
        buf[2 * k] = er + tr;
        buf[2 * k + 1] = ei + ti;
        buf[2 * m] = er - tr;
        buf[2 * m + 1] = ti - ei;
    }
    /* X[N/4] = conj(Z[N/4]) exactly; the general formula would multiply by cos(pi/2) rounded to float. */
    buf[KWS_FFT_HALF + 1] = -buf[KWS_FFT_HALF + 1];
}
