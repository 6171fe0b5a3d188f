/* Host driver: throws arbitrary bytes at the frame parser, the message codec and the whole app.
 *
 *   protocol_fuzz SEED < bytes.bin        (built with -fsanitize=address,undefined)
 *
 * Three consumers see the same input: (1) a bare parser fed in seeded random slices, which decodes
 * every frame it finds and re-encodes what decodes (the re-encoding must decode to the same size);
 * (2) the full app on a fake board, whose serial output is itself parsed by (3) a checking parser
 * that must find only whole, CRC-correct frames and text (the board never emits a broken frame).
 * Any memory error or undefined behaviour aborts under the sanitizers; logic failures exit 1.
 * Statistics go to stdout. Used by tests/test_protocol_app.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hal.h"

static kws_proto_parser bare, check;
static kws_app app;
static fake_board board;
static uint8_t reencoded[KWS_PROTO_MAX_PAYLOAD];
static unsigned long decoded_ok, decode_errors, checked_frames, failures;
static unsigned long long rng_state;

static size_t next_random(size_t max)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((rng_state >> 33) % max) + 1u;
}

static void on_bare_frame(void *ctx, int event, const kws_proto_frame *f)
{
    kws_msg m, again;
    int len;
    (void)ctx;
    if (event != KWS_PROTO_EV_FRAME) {
        return;
    }
    if (kws_msg_decode(f->type, f->payload, f->len, &m) != 0) {
        ++decode_errors;
        return;
    }
    ++decoded_ok;
    len = kws_msg_encode(&m, reencoded, sizeof reencoded);
    if (len != (int)f->len || kws_msg_decode(f->type, reencoded, (size_t)len, &again) != 0) {
        fprintf(stderr, "re-encode mismatch for type 0x%02x (len %u -> %d)\n", f->type, f->len, len);
        ++failures;
    }
}

static void on_check_frame(void *ctx, int event, const kws_proto_frame *f)
{
    kws_msg m;
    (void)ctx;
    if (event != KWS_PROTO_EV_FRAME || kws_msg_decode(f->type, f->payload, f->len, &m) != 0 || !(f->type & 0x80u)) {
        fprintf(stderr, "the board sent a broken frame (event %d, type 0x%02x)\n", event, f->type);
        ++failures;
        return;
    }
    ++checked_frames;
}

static void board_output(void *user, const uint8_t *data, size_t len)
{
    (void)user;
    kws_proto_parser_feed(&check, data, len);
}

int main(int argc, char **argv)
{
    static uint8_t buf[1 << 16];
    static const char *labels[] = {"_silence_", "_unknown_", "yes", "no"};
    kws_hal hal;
    kws_build_info info;
    size_t n;
    unsigned long total = 0;

    rng_state = argc > 1 ? strtoull(argv[1], NULL, 10) : 1u;
    memset(&board, 0, sizeof board);
    board.clock_step = 7;
    board.fail_every = 17; /* exercise the model-error path too */
    board.tx_hook = board_output;
    memset(&info, 0, sizeof info);
    info.firmware_version = "fuzz";
    info.board = "host-fuzz";
    info.model.backend = "fake";
    info.model.sha256 = "";
    info.model.labels = labels;
    info.model.num_labels = 4;
    info.model.output_scale = 0.00390625f;
    info.model.output_zero_point = -128;
    info.recognizer = kws_recognizer_default_config();
    info.recognizer.minimum_count = 1;
    info.recognizer.detection_threshold = 0; /* detect eagerly: exercise the DETECTION path */
    info.recognizer.suppression_ms = 0;
    info.infer_every = 1;
    fake_hal(&hal, &board);
    hal.serial_read = NULL; /* input is pushed with kws_app_receive */
    hal.audio_read = NULL;

    kws_proto_parser_init(&bare, on_bare_frame, NULL, NULL);
    kws_proto_parser_init(&check, on_check_frame, NULL, NULL);
    if (kws_app_init(&app, &hal, &info) != 0) {
        return 1;
    }
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        size_t pos = 0;
        total += (unsigned long)n;
        while (pos < n) {
            size_t slice = next_random(600);
            if (slice > n - pos) {
                slice = n - pos;
            }
            kws_proto_parser_feed(&bare, buf + pos, slice);
            kws_app_receive(&app, buf + pos, slice);
            pos += slice;
        }
    }
    {
        kws_app_stats s = kws_app_get_stats(&app);
        printf("bytes=%lu frames=%lu bad_crc=%lu bad_header=%lu too_large=%lu text_bytes=%lu decoded=%lu "
               "decode_errors=%lu app_frames=%lu app_inferences=%lu app_detections=%lu app_model_errors=%lu "
               "board_frames=%lu board_bytes=%lu failures=%lu\n",
               total, (unsigned long)bare.stats.frames, (unsigned long)bare.stats.bad_crc,
               (unsigned long)bare.stats.bad_header, (unsigned long)bare.stats.too_large,
               (unsigned long)bare.stats.text_bytes, decoded_ok, decode_errors, (unsigned long)s.link.frames,
               (unsigned long)s.inferences, (unsigned long)s.detections, (unsigned long)s.model_errors,
               checked_frames, board.tx_bytes, failures);
    }
    return failures == 0 ? 0 : 1;
}
