/* Shared by the host test drivers: reading a whole input, int16 PCM files, and the command line and
 * clip/chunk loop of the two frontend dump drivers (frontend_dump, micro_frontend_dump), which differ
 * only in the frontend they push audio through. Test code: heap and stdio are fine here, never in
 * firmware/core. */
#ifndef KWS_TEST_IO_H
#define KWS_TEST_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* All of f in a malloc'd buffer of *len bytes; NULL when memory runs out. */
unsigned char *test_read_all(FILE *f, size_t *len);

/* A file of little-endian int16 mono samples (whatever the host's byte order), malloc'd, *samples of
 * them (an odd last byte is ignored). NULL, after printing "cannot read PATH", when it cannot be read. */
int16_t *test_read_pcm16(const char *path, size_t *samples);

/* The frontend a dump driver tests: reset() before every clip; push() hands it n samples and writes
 * every frame they complete to out, and that frame's other form to extra unless extra is NULL. */
typedef struct test_dump_frontend {
    void (*reset)(void);
    void (*push)(const int16_t *samples, size_t n, FILE *out, FILE *extra);
} test_dump_frontend;

/* The whole main() of a dump driver, the frontend initialised:
 *
 *   DRIVER IN.raw OUT.i8 CLIP_SAMPLES CHUNKS [EXTRA]        (extra_name names EXTRA in the usage line)
 *
 * IN.raw is little-endian int16 mono. CLIP_SAMPLES > 0 cuts it into clips of that many samples and
 * resets the frontend before each (each clip gives its own frames); 0 streams the whole file. CHUNKS
 * says how the audio is handed to push: a comma list of sizes used in turn ("1,7,160"), or
 * "rand:SEED:MAX" for seeded random sizes 1..MAX. Returns the exit status: 0, 1 (an input cannot be
 * read or an output written) or 2 (bad arguments). */
int test_dump_main(int argc, char **argv, const char *extra_name, const test_dump_frontend *fe);

#endif /* KWS_TEST_IO_H */
