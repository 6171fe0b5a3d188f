/* Host driver: the whole app on a fake board whose clock, serial input and polls follow a script.
 *
 *   app_script [options] < script.bin > from_board.bin      (events and statistics on stderr)
 *
 * The script is a sequence of records, an op byte and a u32 little-endian argument:
 *   'S' n   the next n bytes of the script are serial input, served by serial_read from the next poll
 *   'T' us  the clock jumps ahead by us (the line is quiet; no poll)
 *   'P' n   n calls of kws_app_poll
 * so a test decides exactly when bytes arrive, how much time passes and when the board looks.
 *
 * Options:
 *   --labels a,b,c        model labels (default _silence_,_unknown_,yes,no)
 *   --clock-start US      first value of the microsecond clock (default 0; start near 2^32 to cross the wrap)
 *   --clock-step US       the clock advances this much at every reading (default 13)
 *   --no-time             no time_us hook (kws_hal.h allows NULL hooks)
 *   --model-us US         every model invocation takes US of board time (a model slower than real time)
 *   --poll-us US          every main-loop turn takes US of board time besides (default 0)
 *   --mic paced:N         live microphone: 16 kHz synthetic audio paced by the clock, buffered in a ring of N
 *                         samples like a DMA ring: samples not read in time are dropped and counted
 *   --mic endless         live microphone that always has data (every read fills the buffer)
 *   --poll-guard N        exit 4 if one kws_app_poll call reads more than N microphone samples
 *                         (a poll that never returns would read forever)
 *   --rx-chunk N          most serial bytes per serial_read (default 61: frames straddle reads)
 *   --window MS --suppression MS --min-count N --threshold T --infer-every N   build defaults
 *
 * The model is fake_hal.h's "echo" model: scores = the first values of the newest feature frame.
 * After every poll the driver passes its ring's lost-sample count to kws_app_audio_overrun.
 * stderr gets "led <0|1> t=<clock>" at every LED change, then one line of key=value statistics.
 * Used by tests/test_core_robustness.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws_app.h"
#include "test_app.h"
#include "test_io.h"

typedef struct script_board {
    uint32_t clock_us;
    uint64_t elapsed_us;   /* since boot, for the microphone's pace */
    uint32_t clock_step;
    uint32_t model_us;
    uint32_t poll_us;
    uint8_t *rx;
    size_t rx_len, rx_pos, rx_cap, rx_chunk;
    int mic;               /* 0 none, 1 paced, 2 endless */
    uint64_t mic_read;     /* samples handed out */
    uint64_t mic_dropped;  /* samples the ring lost */
    uint64_t mic_ring;
    unsigned long mic_this_poll, mic_max_poll, guard;
    unsigned long invokes, invokes_this_poll, invokes_max_poll;
    unsigned long tx_bytes;
    int led;
} script_board;

static kws_app app;
static script_board board;
static test_app_setup setup;

static void advance(uint32_t us)
{
    board.clock_us += us; /* wraps like a real counter */
    board.elapsed_us += us;
}

static uint32_t hal_time_us(void *ctx)
{
    (void)ctx;
    advance(board.clock_step);
    return board.clock_us;
}

static void hal_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    board.tx_bytes += (unsigned long)len;
    fwrite(data, 1, len, stdout);
}

static size_t hal_serial_read(void *ctx, uint8_t *buf, size_t cap)
{
    size_t n = board.rx_len - board.rx_pos;
    (void)ctx;
    if (n > cap) {
        n = cap;
    }
    if (board.rx_chunk > 0 && n > board.rx_chunk) {
        n = board.rx_chunk;
    }
    if (n > 0) {
        memcpy(buf, board.rx + board.rx_pos, n);
    }
    board.rx_pos += n;
    return n;
}

/* Deterministic audio: quiet noise (a hash of the sample index). */
static int16_t mic_sample(uint64_t n)
{
    const uint32_t h = (uint32_t)(n * 2654435761u) ^ (uint32_t)(n >> 7);
    return (int16_t)((int)((h >> 13) & 0x7FFu) - 1024);
}

static size_t hal_audio_read(void *ctx, int16_t *buf, size_t cap)
{
    size_t n = cap, i;
    (void)ctx;
    if (board.mic == 1) {
        const uint64_t due = board.elapsed_us * 2u / 125u; /* 16 samples per ms */
        uint64_t available = due - board.mic_read;
        if (available > board.mic_ring) {
            board.mic_dropped += available - board.mic_ring;
            board.mic_read = due - board.mic_ring;
            available = board.mic_ring;
        }
        if (n > available) {
            n = (size_t)available;
        }
    }
    for (i = 0; i < n; ++i) {
        buf[i] = mic_sample(board.mic_read + i);
    }
    board.mic_read += n;
    board.mic_this_poll += (unsigned long)n;
    if (board.guard > 0 && board.mic_this_poll > board.guard) {
        fflush(stdout);
        fprintf(stderr, "GUARD one kws_app_poll call read more than %lu microphone samples\n", board.guard);
        exit(4);
    }
    return n;
}

static void hal_led(void *ctx, int on)
{
    (void)ctx;
    board.led = on;
    fprintf(stderr, "led %d t=%lu\n", on, (unsigned long)board.clock_us);
}

static int hal_model_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len)
{
    const int8_t *newest = input + input_len - KWS_FE_NUM_FEATURES;
    size_t i;
    (void)ctx;
    ++board.invokes;
    ++board.invokes_this_poll;
    advance(board.model_us);
    for (i = 0; i < output_len; ++i) {
        output[i] = i < KWS_FE_NUM_FEATURES ? newest[i] : (int8_t)-128;
    }
    return 0;
}

static uint32_t u32_le(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static void poll_once(void)
{
    board.mic_this_poll = 0;
    board.invokes_this_poll = 0;
    advance(board.poll_us);
    kws_app_poll(&app);
    kws_app_audio_overrun(&app, (uint32_t)board.mic_dropped);
    if (board.mic_this_poll > board.mic_max_poll) {
        board.mic_max_poll = board.mic_this_poll;
    }
    if (board.invokes_this_poll > board.invokes_max_poll) {
        board.invokes_max_poll = board.invokes_this_poll;
    }
}

/* Runs the script; returns 0, or 2 for a malformed one. */
static int run_script(const unsigned char *script, size_t len, unsigned long *polls)
{
    size_t pos = 0;
    while (pos + 5 <= len) {
        const unsigned char op = script[pos];
        const uint32_t arg = u32_le(script + pos + 1);
        uint32_t k;
        pos += 5;
        if (op == 'S') {
            if (arg > len - pos) {
                fprintf(stderr, "script: S %lu runs past the end\n", (unsigned long)arg);
                return 2;
            }
            /* Unread input stays queued in front of the new bytes. */
            memmove(board.rx, board.rx + board.rx_pos, board.rx_len - board.rx_pos);
            board.rx_len -= board.rx_pos;
            board.rx_pos = 0;
            memcpy(board.rx + board.rx_len, script + pos, arg);
            board.rx_len += arg;
            pos += arg;
        } else if (op == 'T') {
            advance(arg);
        } else if (op == 'P') {
            for (k = 0; k < arg; ++k) {
                poll_once();
                ++*polls;
            }
        } else {
            fprintf(stderr, "script: unknown op 0x%02x\n", op);
            return 2;
        }
    }
    return pos == len ? 0 : 2;
}

int main(int argc, char **argv)
{
    kws_hal hal;
    unsigned char *script;
    size_t script_len;
    unsigned long polls = 0;
    int a, no_time = 0, rc;

    memset(&board, 0, sizeof board);
    test_app_setup_init(&setup, "host-script");

    for (a = 1; a < argc; ++a) {
        const char *opt = argv[a];
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(opt, "--no-time") == 0) {
            no_time = 1;
            continue;
        }
        if (val == NULL) {
            fprintf(stderr, "%s needs a value\n", opt);
            return 2;
        }
        ++a;
        if (test_app_option(&setup, opt, val)) {
            continue;
        }
        if (strcmp(opt, "--model-us") == 0) {
            board.model_us = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--poll-us") == 0) {
            board.poll_us = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--mic") == 0) {
            if (strncmp(val, "paced:", 6) == 0) {
                board.mic = 1;
                board.mic_ring = strtoull(val + 6, NULL, 10);
            } else if (strcmp(val, "endless") == 0) {
                board.mic = 2;
            } else {
                fprintf(stderr, "--mic paced:N or endless\n");
                return 2;
            }
        } else if (strcmp(opt, "--poll-guard") == 0) {
            board.guard = strtoul(val, NULL, 10);
        } else {
            fprintf(stderr, "unknown option %s\n", opt);
            return 2;
        }
    }
    test_app_setup_labels(&setup);
    board.clock_us = setup.clock_start;
    board.clock_step = setup.clock_step;
    board.rx_chunk = setup.rx_chunk;

    script = test_read_all(stdin, &script_len);
    if (script == NULL) {
        return 1;
    }
    board.rx = malloc(script_len + 1);
    if (board.rx == NULL) {
        return 1;
    }
    hal.ctx = &board;
    hal.time_us = no_time ? NULL : hal_time_us;
    hal.serial_write = hal_serial_write;
    hal.serial_read = hal_serial_read;
    hal.audio_read = board.mic != 0 ? hal_audio_read : NULL;
    hal.led = hal_led;
    hal.model_invoke = hal_model_invoke;
    if (kws_app_init(&app, &hal, &setup.info) != 0) {
        fflush(stdout);
        free(script);
        free(board.rx);
        return 3;
    }
    rc = run_script(script, script_len, &polls);
    fflush(stdout);
    {
        const kws_app_stats s = kws_app_get_stats(&app);
        fprintf(stderr, "mode=%d inferences=%lu detections=%lu model_errors=%lu samples=%lu frames=%lu "
                "audio_dropped=%lu link_frames=%lu bad_crc=%lu bad_header=%lu too_large=%lu text_bytes=%lu invokes=%lu "
                "polls=%lu max_invokes_per_poll=%lu max_mic_per_poll=%lu mic_read=%lu mic_dropped=%lu "
                "rx_left=%lu tx_bytes=%lu led=%d clock=%lu\n",
                kws_app_mode(&app), (unsigned long)s.inferences, (unsigned long)s.detections,
                (unsigned long)s.model_errors, (unsigned long)s.samples, (unsigned long)s.frames,
                (unsigned long)s.audio_dropped, (unsigned long)s.link.frames, (unsigned long)s.link.bad_crc,
                (unsigned long)s.link.bad_header, (unsigned long)s.link.too_large, (unsigned long)s.link.text_bytes,
                board.invokes, polls,
                board.invokes_max_poll, board.mic_max_poll, (unsigned long)board.mic_read,
                (unsigned long)board.mic_dropped, (unsigned long)(board.rx_len - board.rx_pos), board.tx_bytes,
                board.led, (unsigned long)board.clock_us);
    }
    free(script);
    free(board.rx);
    return rc;
}
