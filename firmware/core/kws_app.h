/* The application: frontend -> feature ring -> model -> recognizer, driven by live audio or by the
 * host over the serial protocol. The only file a board calls into.
 *
 *     static kws_app app;                  // ~20 KB; static, never on the stack
 *     static const kws_hal hal = {...};    // the board's hooks (kws_hal.h)
 *     static const kws_build_info info = KWS_BUILD_INFO_FROM_SETTINGS("0.1.0", "tflm");
 *     kws_app_init(&app, &hal, &info);     // prints the "KWS ready ..." line
 *     for (;;) {
 *         kws_app_poll(&app);              // serial in, live audio in (bounded), LED timeout
 *         kws_app_audio_overrun(&app, n);  // n: samples the microphone's ring has lost since boot
 *     }
 *
 * Text mode (after init): detections are printed as
 *     DETECT <label> score=<0..255> t_ms=<stream time in ms>
 * and the typed lines "info", "help" and "reset" are answered in text. A HELLO frame switches to
 * binary mode (kws_protocol.h); BYE switches back.
 *
 * Pipeline rules:
 * - Audio (live, or AUDIO frames) goes through the streaming frontend; each new feature frame (or
 *   each frame of a FEATURES message) is pushed into the ring.
 * - The model runs the first time the ring holds KWS_FE_NUM_FRAMES frames, then every infer_every
 *   new frames. So a one-second clip fed after RESET gives exactly one inference, on exactly the
 *   features kws.frontend.reference_features_int8 computes for it.
 * - Stream time (the recognizer's clock, SCORES/DETECTION time_us, DETECT t_ms) is audio time:
 *   start time (RESET) + samples up to the end of the newest frame, (frames-1)*stride + n_fft, plus
 *   live samples the audio driver lost (kws_app_audio_overrun).
 * - Binary mode ignores the microphone unless KWS_FLAG_LIVE_AUDIO is set; then AUDIO frames are
 *   refused (two sources would interleave).
 * Single-threaded: call every kws_app_* function from one context (not from an ISR).
 */
#ifndef KWS_APP_H
#define KWS_APP_H

#include <stddef.h>
#include <stdint.h>

#include "kws_features.h"
#include "kws_frontend.h"
#include "kws_hal.h"
#include "kws_model.h"
#include "kws_protocol.h"
#include "kws_recognizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_APP_MODE_TEXT 0
#define KWS_APP_MODE_BINARY 1

/* Samples decoded / read per step: small enough for the stack of any board. */
#define KWS_APP_AUDIO_CHUNK 160
/* Live audio one kws_app_poll feeds the pipeline: at most this many samples (40 ms) and at most one
 * inference, so a model slower than real time never holds the loop (serial input, the LED, overrun
 * reports keep their turn). What is left waits in the board's audio driver, whose ring then loses the
 * oldest samples when the pipeline cannot keep up: report them with kws_app_audio_overrun. */
#define KWS_APP_POLL_SAMPLES 640
/* Audio one poll reads and discards while the board is not listening (binary mode without LIVE_AUDIO),
 * so switching back never plays stale audio. */
#define KWS_APP_DRAIN_SAMPLES 16384
/* Overrun reports: the first at once, then one per this many further samples lost (one second). */
#define KWS_APP_OVERRUN_REPORT_SAMPLES 16000u
/* Longest typed command line in text mode. */
#define KWS_APP_LINE_MAX 32
/* A partial frame is abandoned (and rescanned) after this long without a byte: 100 ms is far longer
 * than any gap inside a frame on USB CDC, a UART or a pty, and short next to a host's resend time.
 * Only silence the board saw counts: it is checked whenever a poll finds no byte waiting, and before
 * new bytes are parsed when the board last found the line empty at most half of it earlier (so their
 * arrival time is known). Bytes found after a longer busy spell may have waited in a buffer since
 * right after the last byte, so they continue the frame. */
#define KWS_APP_RX_TIMEOUT_US 100000u
/* NAKs that answer failed candidates (BAD_CRC, TOO_LARGE) cost the board two credits per byte sent;
 * every byte received earns one, up to this many. So a flood of false headers draws at most half its
 * size back (plus this allowance), and a corrupted frame of a real host still gets its NAK. */
#define KWS_APP_NAK_CREDIT_MAX 64u

/* Largest payload the board sends (its transmit buffer): a board may define it lower than the protocol's
 * KWS_PROTO_MAX_PAYLOAD (what it receives, and announces in INFO), down to what its own INFO needs; the
 * other messages are smaller (ERROR texts are at most 64 bytes, LOG texts are cut to fit) and INFO is checked
 * at init. The Cortex-M4 board sets it from its labels (kws.device.m4). */
#ifndef KWS_APP_TX_PAYLOAD
#define KWS_APP_TX_PAYLOAD KWS_PROTO_MAX_PAYLOAD
#endif
#if KWS_APP_TX_PAYLOAD < 128 || KWS_APP_TX_PAYLOAD > KWS_PROTO_MAX_PAYLOAD
#error "KWS_APP_TX_PAYLOAD must be in 128..KWS_PROTO_MAX_PAYLOAD"
#endif

/* How long the LED stays on after a detection. */
#define KWS_APP_LED_US 500000u

/* Who the firmware is. The strings and labels must outlive the app (string literals, generated
 * consts). Until the export stage generates kws_settings.h a host build fills this by hand. */
typedef struct kws_build_info {
    const char *firmware_version;        /* e.g. "0.1.0" */
    const char *board;                   /* e.g. "nano33ble", "host" */
    kws_model_info model;
    kws_recognizer_config recognizer;    /* defaults; SET_PARAMS changes them at run time */
    uint8_t infer_every;                 /* run the model every N new frames; 0 means 1 */
} kws_build_info;

/* A kws_build_info initialiser from the generated kws_settings.h (export stage); include
 * kws_settings.h before using it. */
#define KWS_BUILD_INFO_FROM_SETTINGS(firmware_version, backend)                                          \
    {(firmware_version), KWS_BOARD_NAME,                                                                 \
     {(backend), KWS_SETTINGS_MODEL_SHA256, kws_labels, KWS_NUM_LABELS, KWS_TENSOR_ARENA_SIZE,           \
      KWS_MODEL_OUTPUT_SCALE, KWS_MODEL_OUTPUT_ZERO_POINT},                                              \
     {KWS_AVERAGE_WINDOW_MS, KWS_SUPPRESSION_MS, KWS_MINIMUM_COUNT, KWS_DETECTION_THRESHOLD}, 1}

typedef struct kws_app_stats {
    uint32_t inferences;      /* model invocations since RESET */
    uint32_t detections;      /* since RESET */
    uint32_t model_errors;    /* failed invocations since RESET */
    uint32_t samples;         /* audio samples accepted since RESET (wraps) */
    uint32_t frames;          /* feature frames since RESET */
    uint32_t audio_dropped;   /* live samples the audio driver lost while the board listened, since RESET */
    uint32_t naks_withheld;   /* NAK(BAD_CRC/TOO_LARGE) not sent for want of credit, since init */
    kws_proto_stats link;     /* receiver statistics since init */
} kws_app_stats;

/* Everything the app owns, in one struct, so a board decides where it lives. Treat as opaque. */
typedef struct kws_app {
    kws_hal hal;
    kws_build_info info;
    int ready;
    uint8_t mode;
    uint16_t tx_seq;
    kws_msg_params params;
    kws_proto_parser parser;
    kws_frontend frontend;
    kws_features ring;
    kws_recognizer recognizer;
    uint8_t is_keyword[KWS_MAX_LABELS];
    int8_t model_input[KWS_FE_FEATURE_SIZE];
    int8_t scores[KWS_MAX_LABELS];
    int8_t frame[KWS_FE_NUM_FEATURES];
    int16_t pcm[KWS_APP_AUDIO_CHUNK];
    uint8_t tx[KWS_PROTO_HEADER_SIZE + KWS_APP_TX_PAYLOAD + KWS_PROTO_CRC_SIZE];
    uint64_t start_us;            /* stream time of sample 0 (RESET) */
    uint64_t dropped_samples;     /* live samples lost since RESET: they count in stream time */
    uint32_t overrun_seen;        /* the driver's lost-sample count at the last kws_app_audio_overrun */
    uint32_t overrun_reported;    /* stats.audio_dropped at the last report */
    uint32_t frames_since_infer;
    uint32_t frontend_us;         /* frontend time since the previous inference */
    uint16_t frontend_frames;     /* frames that time covered */
    uint32_t model_fail_run;      /* consecutive failed invocations (error reports are thinned) */
    uint16_t data_seqs[KWS_PROTO_DUP_WINDOW]; /* seqs of the last accepted data frames (a ring) */
    uint8_t data_seq_count;       /* how many of them are valid (HELLO and RESET forget them) */
    uint8_t data_seq_next;        /* where the next accepted seq goes */
    uint8_t led_on;
    uint32_t led_since_us;
    uint32_t last_rx_us;          /* when serial bytes last arrived (inter-byte timeout) */
    uint32_t last_look_us;        /* when the board last found no serial byte waiting */
    uint16_t nak_credit;          /* see KWS_APP_NAK_CREDIT_MAX */
    uint8_t looked_since_rx;      /* last_look_us is after last_rx_us */
    char line[KWS_APP_LINE_MAX];
    uint8_t line_len;
    uint8_t line_overflow;
    char text[96];                /* outgoing text line, flushed when full */
    uint8_t text_len;
    kws_app_stats stats;
    int16_t last_label;           /* label of the newest detection since RESET, -1 for none */
    uint8_t last_score;           /* its score 0..255 */
} kws_app;

/* sizeof(kws_app), for hosts that allocate it from another language (ctypes). */
size_t kws_app_sizeof(void);

/* Copies hal and info, resets everything, starts in text mode and prints the ready line.
 * Returns 0, or -1 when hal or info cannot work (no serial_write/model_invoke/time_us, 0 or more than
 * KWS_MAX_LABELS labels, a bad recognizer config, an INFO that does not fit a frame); the reason
 * is printed if serial_write exists, and the app then ignores every call. */
int kws_app_init(kws_app *app, const kws_hal *hal, const kws_build_info *info);

/* One turn of the main loop: reads what serial_read has (up to a frame's worth) and up to
 * KWS_APP_POLL_SAMPLES of live audio (at most one inference), processes them, abandons a partial frame
 * after KWS_APP_RX_TIMEOUT_US of silence, turns the LED off when its time is up. Never blocks; its
 * work is bounded whatever the audio source and the model's speed. */
void kws_app_poll(kws_app *app);

/* The board's audio driver lost live samples (its ring overran: the pipeline fell behind, e.g. a
 * model slower than real time). Call it after kws_app_poll with the driver's free-running count of
 * lost samples since boot (uint32, wraps). While the board listens (text mode, or LIVE_AUDIO), the
 * increase is added to stats.audio_dropped, advances stream time (that audio went by), and is
 * reported as "audio overrun: dropped samples total <stats.audio_dropped>": a LOG frame (level
 * WARNING) in binary mode, a "LOG ..." line in text mode; the first at once, then once per further
 * KWS_APP_OVERRUN_REPORT_SAMPLES lost (one second), so the reports never flood the link. */
void kws_app_audio_overrun(kws_app *app, uint32_t dropped_total);

/* Bytes received from the host, for boards that push serial input instead of polling (such a board
 * pushes what it has before each kws_app_poll, which then counts as a look at a quiet line). The
 * inter-byte timeout counts silence the board saw: see KWS_APP_RX_TIMEOUT_US. */
void kws_app_receive(kws_app *app, const uint8_t *data, size_t len);

/* Live audio, for boards that push samples instead of polling audio_read. Ignored in binary mode
 * unless KWS_FLAG_LIVE_AUDIO is set. All n samples are processed at once: push at most
 * KWS_APP_POLL_SAMPLES per main-loop turn to keep the loop's work bounded. */
void kws_app_audio(kws_app *app, const int16_t *pcm, size_t n);

/* A log line: a LOG frame in binary mode, "LOG <text>" in text mode. */
void kws_app_log(kws_app *app, uint8_t level, const char *text);

/* Clears frontend, ring, recognizer history, counters and the duplicate check (like RESET). */
void kws_app_reset(kws_app *app, uint32_t start_us);

/* The label index of the newest detection since RESET (and its score 0..255 in *score if not NULL),
 * or -1 when there was none. For boards that show which keyword was heard (the Nano's RGB LED): the
 * led hook only says on/off, so the board reads this after kws_app_poll() returns (hooks must not
 * call into the core). */
int kws_app_last_detection(const kws_app *app, uint8_t *score);

/* KWS_APP_MODE_TEXT or KWS_APP_MODE_BINARY. */
int kws_app_mode(const kws_app *app);

/* Counters since RESET (link statistics since init). */
kws_app_stats kws_app_get_stats(const kws_app *app);

#ifdef __cplusplus
}
#endif

#endif /* KWS_APP_H */
