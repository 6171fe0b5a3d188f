/* Host driver: the core's real FFT on float32 frames.
 *
 *   fft_dump < frames.f32 > spectra.f32
 *
 * Reads frames of KWS_FFT_SIZE float32 values, writes kws_rfft's packed output for each
 * (Re X0, Re X[N/2], Re X1, Im X1, ...). Used by tests/test_firmware_core.py against numpy.fft.rfft.
 */
#include <stdio.h>

#include "kws_fft.h"

int main(void)
{
    static float buf[KWS_FFT_SIZE];
    while (fread(buf, sizeof buf[0], KWS_FFT_SIZE, stdin) == KWS_FFT_SIZE) {
        kws_rfft(buf);
        fwrite(buf, sizeof buf[0], KWS_FFT_SIZE, stdout);
    }
    return 0;
}
