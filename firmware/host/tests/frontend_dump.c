/* Host driver: raw int16 PCM file in, int8 features out, through the streaming C frontend.
 *
 *   frontend_dump IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [OUT.f32]
 *
 * The arguments are test_io.h's test_dump_main: IN.raw is cut into clips of CLIP_SAMPLES (0: one
 * stream), each handed to kws_frontend_push in CHUNKS ("1,7,160" or "rand:SEED:MAX"). OUT.i8 gets every
 * frame's KWS_FE_NUM_FEATURES int8 values; OUT.f32 (optional) the float features before quantisation
 * (log-mel and MFCC only; any feature_type with a device frontend runs through kws_frontend_push).
 * Built and run by tests/test_firmware_core.py via kws/device/cbuild.py.
 */
#include "kws_frontend.h"
#include "test_io.h"

static kws_frontend fe;
static int8_t frame[KWS_FE_NUM_FEATURES];

static void reset(void)
{
    kws_frontend_reset(&fe);
}

static void push(const int16_t *p, size_t n, FILE *out, FILE *out_f)
{
    (void)out_f; /* written only by a float frontend */
    while (n > 0) {
        int ready;
        size_t used = kws_frontend_push(&fe, p, n, frame, &ready);
        p += used;
        n -= used;
        if (ready) {
            fwrite(frame, 1, sizeof frame, out);
#if KWS_FE_FLOAT_FRONTEND
            if (out_f != NULL) {
                /* The frame just made is the last n_fft samples before the push position;
                 * recompute it in float for diagnostics (same code path). */
                float work[KWS_FE_FFT_SIZE], feats[KWS_FE_NUM_FEATURES];
                kws_frontend_compute(p - KWS_FE_FFT_SIZE, work, feats, NULL);
                fwrite(feats, sizeof feats[0], KWS_FE_NUM_FEATURES, out_f);
            }
#endif
        }
    }
}

int main(int argc, char **argv)
{
    static const test_dump_frontend ops = {reset, push};
    kws_frontend_init(&fe);
    return test_dump_main(argc, argv, "OUT.f32", &ops);
}
