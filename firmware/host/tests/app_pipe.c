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
 * fake_hal.h: scores = the first values of the newest feature frame. Used by tests/test_protocol.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hal.h"

static kws_app app;
static fake_board board;
static char label_text[1024];
static const char *labels[KWS_MAX_LABELS];

static unsigned char *read_all(FILE *f, size_t *len)
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

int main(int argc, char **argv)
{
    kws_hal hal;
    kws_build_info info;
    unsigned char *rx, *mic_raw = NULL;
    int16_t *mic = NULL;
    size_t rx_len, mic_len = 0, i;
    uint8_t num_labels = 0;
    int a, idle = 0;

    memset(&board, 0, sizeof board);
    board.clock_step = 13;
    board.rx_chunk = 61;
    board.tx = stdout;
    memset(&info, 0, sizeof info);
    info.firmware_version = "0.1.0-host";
    info.board = "host-test";
    info.model.backend = "fake";
    info.model.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    info.model.arena_bytes = 10240;
    info.model.output_scale = 0.00390625f;
    info.model.output_zero_point = -128;
    info.recognizer = kws_recognizer_default_config();
    info.infer_every = 1;
    strcpy(label_text, "_silence_,_unknown_,yes,no");

    for (a = 1; a < argc; ++a) {
        const char *opt = argv[a];
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;
        if (val == NULL) {
            fprintf(stderr, "%s needs a value\n", opt);
            return 2;
        }
        ++a;
        if (strcmp(opt, "--labels") == 0) {
            strncpy(label_text, val, sizeof label_text - 1);
        } else if (strcmp(opt, "--mic") == 0) {
            FILE *f = fopen(val, "rb");
            if (f == NULL || (mic_raw = read_all(f, &mic_len)) == NULL) {
                fprintf(stderr, "cannot read %s\n", val);
                return 1;
            }
            fclose(f);
            mic_len /= 2;
            mic = malloc(mic_len * sizeof *mic + 1);
            for (i = 0; i < mic_len; ++i) {
                unsigned v = (unsigned)mic_raw[2 * i] | ((unsigned)mic_raw[2 * i + 1] << 8);
                mic[i] = (int16_t)(v >= 0x8000u ? (int)v - 0x10000 : (int)v);
            }
        } else if (strcmp(opt, "--dump-input") == 0) {
            board.dump_input = fopen(val, "wb");
        } else if (strcmp(opt, "--fail-every") == 0) {
            board.fail_every = strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--clock-start") == 0) {
            board.clock_us = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--clock-step") == 0) {
            board.clock_step = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--rx-chunk") == 0) {
            board.rx_chunk = strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--window") == 0) {
            info.recognizer.average_window_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--suppression") == 0) {
            info.recognizer.suppression_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--min-count") == 0) {
            info.recognizer.minimum_count = (uint16_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--threshold") == 0) {
            info.recognizer.detection_threshold = (uint8_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--infer-every") == 0) {
            info.infer_every = (uint8_t)strtoul(val, NULL, 10);
        } else {
            fprintf(stderr, "unknown option %s\n", opt);
            return 2;
        }
    }
    {
        char *p = label_text;
        while (*p && num_labels < KWS_MAX_LABELS) {
            labels[num_labels++] = p;
            while (*p && *p != ',') {
                ++p;
            }
            if (*p == ',') {
                *p++ = '\0';
            }
        }
    }
    info.model.labels = labels;
    info.model.num_labels = num_labels;

    rx = read_all(stdin, &rx_len);
    if (rx == NULL) {
        return 1;
    }
    board.rx = rx;
    board.rx_len = rx_len;
    board.mic = mic;
    board.mic_len = mic_len;
    board.mic_chunk = 97; /* odd on purpose: frames straddle audio reads */
    fake_hal(&hal, &board);
    if (kws_app_init(&app, &hal, &info) != 0) {
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
    free(mic_raw);
    free(mic);
    return 0;
}
