/* Host driver: raw int16 PCM file in, int8 and int16 features out, through kws_micro_frontend directly.
 *
 *   micro_frontend_dump IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [OUT.i16]
 *
 * The arguments are test_io.h's test_dump_main: IN.raw is cut into clips of CLIP_SAMPLES (0: one
 * stream), each handed to kws_micro_frontend_push in CHUNKS ("1,7,160" or "rand:SEED:MAX"). OUT.i8 gets
 * every frame's KWS_FE_NUM_FEATURES int8 values; OUT.i16 (optional) the frontend's int16 output behind them.
 * Built for feature_type 'tflm_micro' only; frontend_dump covers the same frontend through kws_frontend_push.
 * Built and run by tests/test_frontend_micro.py via kws/device/cbuild.py.
 */
#include "kws_micro_frontend.h"
#include "test_io.h"

#if KWS_FE_FEATURE_TYPE != KWS_FE_FEATURE_TYPE_TFLM_MICRO
#error "micro_frontend_dump needs a tflm_micro kws_frontend_tables.h"
#endif

static kws_micro_frontend fe;
static int8_t frame[KWS_FE_NUM_FEATURES];
static int16_t features[KWS_FE_NUM_FEATURES];

static void reset(void)
{
    kws_micro_frontend_reset(&fe);
}

static void push(const int16_t *p, size_t n, FILE *out, FILE *out_i16)
{
    while (n > 0) {
        int ready;
        size_t used = kws_micro_frontend_push(&fe, p, n, frame, features, &ready);
        p += used;
        n -= used;
        if (ready) {
            fwrite(frame, 1, sizeof frame, out);
            if (out_i16 != NULL) {
                fwrite(features, sizeof features[0], KWS_FE_NUM_FEATURES, out_i16);
            }
        }
    }
}

int main(int argc, char **argv)
{
    static const test_dump_frontend ops = {reset, push};
    kws_micro_frontend_init(&fe);
    return test_dump_main(argc, argv, "OUT.i16", &ops);
}
