/* Shared by the host test drivers (see test_io.h). */
#include "test_io.h"

#include <stdlib.h>
#include <string.h>

unsigned char *test_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

int16_t *test_read_pcm16(const char *path, size_t *samples)
{
    FILE *f = fopen(path, "rb");
    unsigned char *raw = NULL;
    int16_t *audio = NULL;
    size_t bytes = 0, i;
    if (f != NULL) {
        raw = test_read_all(f, &bytes);
        fclose(f);
    }
    if (raw != NULL) {
        audio = malloc(bytes / 2 * sizeof *audio + 1); /* + 1: an empty file is not a failed malloc */
    }
    if (audio == NULL) {
        free(raw);
        fprintf(stderr, "cannot read %s\n", path);
        return NULL;
    }
    *samples = bytes / 2;
    for (i = 0; i < *samples; ++i) { /* little-endian on disk whatever the host */
        unsigned v = (unsigned)raw[2 * i] | ((unsigned)raw[2 * i + 1] << 8);
        audio[i] = (int16_t)(v >= 0x8000u ? (int)v - 0x10000 : (int)v);
    }
    free(raw);
    return audio;
}

/* How the audio is cut into pushes: fixed sizes in turn, or seeded random ones. */
typedef struct chunk_plan {
    size_t sizes[64], n_sizes, turn, max_random;
    unsigned long long rng_state;
} chunk_plan;

/* Reads CHUNKS; returns 0, or 2 (after a message, but for an empty list) when it is malformed. */
static int chunk_plan_parse(chunk_plan *c, const char *spec)
{
    memset(c, 0, sizeof *c);
    if (strncmp(spec, "rand:", 5) == 0) {
        char *end;
        c->rng_state = strtoull(spec + 5, &end, 10);
        c->max_random = (size_t)strtoul(end + 1, NULL, 10);
        if (*end != ':' || c->max_random == 0) {
            fprintf(stderr, "bad CHUNKS %s\n", spec);
            return 2;
        }
        return 0;
    }
    while (*spec && c->n_sizes < 64) {
        char *end;
        c->sizes[c->n_sizes] = (size_t)strtoul(spec, &end, 10);
        spec = end;
        if (c->sizes[c->n_sizes] == 0) {
            fprintf(stderr, "chunk sizes must be >= 1\n");
            return 2;
        }
        ++c->n_sizes;
        if (*spec == ',') {
            ++spec;
        }
    }
    return c->n_sizes == 0 ? 2 : 0;
}

static size_t chunk_plan_next(chunk_plan *c)
{
    if (c->max_random == 0) {
        return c->sizes[c->turn++ % c->n_sizes];
    }
    /* 64-bit LCG (Knuth's MMIX constants): deterministic across platforms, which rand() is not. */
    c->rng_state = c->rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((c->rng_state >> 33) % c->max_random) + 1u;
}

int test_dump_main(int argc, char **argv, const char *extra_name, const test_dump_frontend *fe)
{
    chunk_plan plan;
    FILE *out, *extra = NULL;
    int16_t *audio;
    size_t total, clip, start;
    int rc;

    if (argc < 5) {
        fprintf(stderr, "usage: %s IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [%s]\n", argv[0], extra_name);
        return 2;
    }
    rc = chunk_plan_parse(&plan, argv[4]);
    if (rc != 0) {
        return rc;
    }
    audio = test_read_pcm16(argv[1], &total);
    if (audio == NULL) {
        return 1;
    }
    clip = (size_t)strtoul(argv[3], NULL, 10);
    if (clip == 0) {
        clip = total;
    }
    out = fopen(argv[2], "wb");
    if (argc > 5) {
        extra = fopen(argv[5], "wb");
    }
    if (out == NULL || (argc > 5 && extra == NULL)) {
        fprintf(stderr, "cannot write output\n");
        if (out != NULL) {
            fclose(out);
        }
        free(audio);
        return 1;
    }
    for (start = 0; start < total; start += clip) {
        size_t pos = start, end = start + clip > total ? total : start + clip;
        fe->reset();
        while (pos < end) {
            size_t chunk = chunk_plan_next(&plan); /* drawn whole, then cut at the clip's end */
            if (chunk > end - pos) {
                chunk = end - pos;
            }
            fe->push(audio + pos, chunk, out, extra);
            pos += chunk;
        }
    }
    free(audio);
    fclose(out);
    if (extra != NULL) {
        fclose(extra);
    }
    return 0;
}
