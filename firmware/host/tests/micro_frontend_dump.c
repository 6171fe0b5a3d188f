/* Host driver: raw int16 PCM file in, int8 and int16 features out, through kws_micro_frontend directly.
 *
 *   micro_frontend_dump IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [OUT.i16]
 *
 * IN.raw is little-endian int16 mono. CLIP_SAMPLES > 0 cuts it into clips of that many samples and
 * resets the frontend before each (each clip gives its own frames); 0 streams the whole file.
 * CHUNKS says how the audio is handed to kws_frontend_push: a comma list of sizes used in turn
 * ("1,7,160"), or "rand:SEED:MAX" for seeded random sizes 1..MAX. OUT.i8 gets every frame's
 * KWS_FE_NUM_FEATURES int8 values; OUT.i16 (optional) the frontend's int16 output behind them.
 * Built for feature_type 'tflm_micro' only; frontend_dump covers the same frontend through kws_frontend_push.
 * Built and run by tests/test_frontend_micro.py via kws/device/cbuild.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws_micro_frontend.h"

#if KWS_FE_FEATURE_TYPE != KWS_FE_FEATURE_TYPE_TFLM_MICRO
#error "micro_frontend_dump needs a tflm_micro kws_frontend_tables.h"
#endif

static kws_micro_frontend fe;

static unsigned long long rng_state;

static size_t next_random(size_t max)
{
    /* 64-bit LCG (Knuth's MMIX constants): deterministic across platforms, which rand() is not. */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((rng_state >> 33) % max) + 1u;
}

int main(int argc, char **argv)
{
    FILE *in, *out, *out_f = NULL;
    int16_t features[KWS_FE_NUM_FEATURES];
    long file_bytes;
    size_t total, clip, start, sizes[64], n_sizes = 0, turn = 0, max_random = 0;
    int16_t *audio;
    int8_t frame[KWS_FE_NUM_FEATURES];
    unsigned char *raw;

    if (argc < 5) {
        fprintf(stderr, "usage: %s IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [OUT.i16]\n", argv[0]);
        return 2;
    }
    if (strncmp(argv[4], "rand:", 5) == 0) {
        char *end;
        rng_state = strtoull(argv[4] + 5, &end, 10);
        max_random = (size_t)strtoul(end + 1, NULL, 10);
        if (*end != ':' || max_random == 0) {
            fprintf(stderr, "bad CHUNKS %s\n", argv[4]);
            return 2;
        }
    } else {
        char *p = argv[4];
        while (*p && n_sizes < 64) {
            sizes[n_sizes] = (size_t)strtoul(p, &p, 10);
            if (sizes[n_sizes] == 0) {
                fprintf(stderr, "chunk sizes must be >= 1\n");
                return 2;
            }
            ++n_sizes;
            if (*p == ',') {
                ++p;
            }
        }
        if (n_sizes == 0) {
            return 2;
        }
    }
    in = fopen(argv[1], "rb");
    if (in == NULL || fseek(in, 0, SEEK_END) != 0 || (file_bytes = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    total = (size_t)file_bytes / 2;
    raw = malloc((size_t)file_bytes + 1);
    audio = malloc(total * sizeof *audio + 1);
    if (raw == NULL || audio == NULL || fread(raw, 1, (size_t)file_bytes, in) != (size_t)file_bytes) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(in);
    for (start = 0; start < total; ++start) { /* little-endian on disk whatever the host */
        unsigned v = (unsigned)raw[2 * start] | ((unsigned)raw[2 * start + 1] << 8);
        audio[start] = (int16_t)(v >= 0x8000u ? (int)v - 0x10000 : (int)v);
    }
    free(raw);
    clip = (size_t)strtoul(argv[3], NULL, 10);
    if (clip == 0) {
        clip = total;
    }
    out = fopen(argv[2], "wb");
    if (argc > 5) {
        out_f = fopen(argv[5], "wb");
    }
    if (out == NULL || (argc > 5 && out_f == NULL)) {
        fprintf(stderr, "cannot write output\n");
        return 1;
    }
    kws_micro_frontend_init(&fe);
    for (start = 0; start < total; start += clip) {
        size_t pos = start, end = start + clip > total ? total : start + clip;
        kws_micro_frontend_reset(&fe);
        while (pos < end) {
            size_t chunk = max_random ? next_random(max_random) : sizes[turn++ % n_sizes];
            const int16_t *p = audio + pos;
            if (chunk > end - pos) {
                chunk = end - pos;
            }
            pos += chunk;
            while (chunk > 0) {
                int ready;
                size_t used = kws_micro_frontend_push(&fe, p, chunk, frame, features, &ready);
                p += used;
                chunk -= used;
                if (ready) {
                    fwrite(frame, 1, sizeof frame, out);
                    if (out_f != NULL) {
                        fwrite(features, sizeof features[0], KWS_FE_NUM_FEATURES, out_f);
                    }
                }
            }
        }
    }
    free(audio);
    fclose(out);
    if (out_f != NULL) {
        fclose(out_f);
    }
    return 0;
}
