/* Host driver: the whole app on a fake board, serial in from stdin, serial out to stdout.
 *
 *   app_pipe [options] < from_host.bin > from_board.bin
 *     --labels a,b,c       model labels (default _silence_,_unknown_,yes,no)
 *     --mic FILE.raw       live microphone audio (int16 little-endian)
 *     --dump-input FILE    append every model input (frames x features int8) to FILE
 *     --fail-every N       the fake model fails on every Nth invocation
 *     --clock-start US     first value of the board's microsecond clock (default 0)
 *     --clock-step US      clock advance per reading (default 13)
 *     --rx-chunk N         most serial bytes per serial_read (default 61: frames straddle reads)
 *     --window MS --suppression MS --min-count N --threshold T --infer-every N   build defaults
 *
 * All of stdin is the host's side of the conversation, sent at once (the board processes frames in
 * arrival order; nothing is lost on this pipe, so nothing is resent and stop-and-wait is not needed).
 * The model is the fake "echo" model of
 * fake_hal.h: scores = the first values of the newest feature frame. Used by tests/test_protocol_app.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hal.h"
#include "test_app.h"
#include "test_io.h"

static kws_app app;
static fake_board board;
static test_app_setup setup;

int main(int argc, char **argv)
{
    kws_hal hal;
    unsigned char *rx;
    int16_t *mic = NULL;
    size_t rx_len, mic_len = 0;
    int a, idle = 0;

    memset(&board, 0, sizeof board);
    board.tx = stdout;
    test_app_setup_init(&setup, "host-test");

    for (a = 1; a < argc; ++a) {
        const char *opt = argv[a];
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;
        if (val == NULL) {
            fprintf(stderr, "%s needs a value\n", opt);
            return 2;
        }
        ++a;
        if (test_app_option(&setup, opt, val)) {
            continue;
        }
        if (strcmp(opt, "--mic") == 0) {
            free(mic);
            if ((mic = test_read_pcm16(val, &mic_len)) == NULL) {
                return 1;
            }
        } else if (strcmp(opt, "--dump-input") == 0) {
            board.dump_input = fopen(val, "wb");
        } else if (strcmp(opt, "--fail-every") == 0) {
            board.fail_every = strtoul(val, NULL, 10);
        } else {
            fprintf(stderr, "unknown option %s\n", opt);
            return 2;
        }
    }
    test_app_setup_labels(&setup);
    board.clock_us = setup.clock_start;
    board.clock_step = setup.clock_step;
    board.rx_chunk = setup.rx_chunk;

    rx = test_read_all(stdin, &rx_len);
    if (rx == NULL) {
        return 1;
    }
    board.rx = rx;
    board.rx_len = rx_len;
    board.mic = mic;
    board.mic_len = mic_len;
    board.mic_chunk = 97; /* odd on purpose: frames straddle audio reads */
    fake_hal(&hal, &board);
    if (kws_app_init(&app, &hal, &setup.info) != 0) {
        fflush(stdout);
        return 3;
    }
    /* Poll until both inputs are drained, and a few turns more for the LED timeout path. */
    while (idle < 3) {
        const size_t before = board.rx_pos + board.mic_pos;
        kws_app_poll(&app);
        idle = board.rx_pos + board.mic_pos == before ? idle + 1 : 0;
    }
    fflush(stdout);
    {
        kws_app_stats s = kws_app_get_stats(&app);
        fprintf(stderr, "mode=%d inferences=%lu detections=%lu model_errors=%lu samples=%lu frames=%lu "
                "link_frames=%lu bad_crc=%lu bad_header=%lu too_large=%lu text_bytes=%lu rescan_bytes=%lu "
                "naks_withheld=%lu invokes=%lu led=%d\n",
                kws_app_mode(&app), (unsigned long)s.inferences, (unsigned long)s.detections,
                (unsigned long)s.model_errors, (unsigned long)s.samples, (unsigned long)s.frames,
                (unsigned long)s.link.frames, (unsigned long)s.link.bad_crc, (unsigned long)s.link.bad_header,
                (unsigned long)s.link.too_large, (unsigned long)s.link.text_bytes, (unsigned long)s.link.rescan_bytes,
                (unsigned long)s.naks_withheld, board.invokes, board.led);
    }
    if (board.dump_input != NULL) {
        fclose(board.dump_input);
    }
    free(rx);
    free(mic);
    return 0;
}
