/* Shared by the two app drivers (app_pipe: all serial input at once through fake_hal.h; app_script:
 * serial input, clock jumps and polls on a script): the build info of a fake board running the "echo"
 * model, its labels, and the options both take. Their boards differ, so each applies clock_start,
 * clock_step and rx_chunk to its own. */
#ifndef KWS_TEST_APP_H
#define KWS_TEST_APP_H

#include <stddef.h>
#include <stdint.h>

#include "kws_app.h"

typedef struct test_app_setup {
    kws_build_info info;      /* its labels point into this struct: keep the struct static */
    uint32_t clock_start;     /* --clock-start US: first value of the board's microsecond clock (0) */
    uint32_t clock_step;      /* --clock-step US: clock advance per reading (13) */
    size_t rx_chunk;          /* --rx-chunk N: most serial bytes per serial_read (61: frames straddle reads) */
    char label_text[1024];    /* --labels a,b,c (_silence_,_unknown_,yes,no) */
    const char *labels[KWS_MAX_LABELS];
} test_app_setup;

/* The defaults: a fake model (arena 10240 B, softmax output quantization), the recognizer's default
 * config, inference every frame, firmware "0.1.0-host" on `board`. */
void test_app_setup_init(test_app_setup *s, const char *board);

/* Applies one of the shared options (--labels, --clock-start, --clock-step, --rx-chunk, and the build
 * defaults --window MS --suppression MS --min-count N --threshold T --infer-every N); returns 1 if
 * opt was one of them, 0 if it is the driver's own (or unknown). */
int test_app_option(test_app_setup *s, const char *opt, const char *val);

/* Splits the label list into info.model.labels; call once, after the options. */
void test_app_setup_labels(test_app_setup *s);

#endif /* KWS_TEST_APP_H */
