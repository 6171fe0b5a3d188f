/* The serial protocol between the host (kws/device/protocol.py) and the board: THE SPEC.
 *
 * kws/device/protocol.py mirrors every constant below; tests/test_protocol.py parses this header and
 * fails if the two disagree. firmware/core/README.md explains the flow with byte dumps.
 *
 * Two modes on one serial line:
 * - Text mode (the default after boot): the board writes human-readable lines ending in "\r\n",
 *   e.g. "DETECT yes score=231 t_ms=12345", for anyone with a serial monitor. It understands the
 *   typed lines "info", "help" and "reset", and one binary frame: HELLO.
 * - Binary mode, entered by a valid HELLO frame (the handshake; the board answers INFO) and left by
 *   BYE: every byte the board writes is part of a frame.
 *
 * Frame (all multi-byte fields little-endian):
 *   offset 0  sync0    0xA5
 *   offset 1  sync1    0x5A     (neither byte is ASCII, so text never looks like a frame start)
 *   offset 2  type     u8       message type (table below)
 *   offset 3  seq      u16      sequence number (see "Sequence numbers")
 *   offset 5  len      u16      payload length, 0..KWS_PROTO_MAX_PAYLOAD
 *   offset 7  hcrc     u8       low byte of CRC-32 of bytes 2..6 (type, seq, len)
 *   offset 8  payload  len bytes
 *   then      crc      u32      CRC-32 of bytes 2 .. 8+len-1 (type through payload, hcrc included)
 * CRC-32 is the IEEE 802.3 / zlib one: reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF,
 * final XOR 0xFFFFFFFF (Python: zlib.crc32). CRC-32("123456789") = 0xCBF43926.
 * The header check byte rejects a false sync (a 0xA5 0x5A inside garbage or audio) after 8 bytes
 * instead of after waiting for a bogus length's worth of payload.
 *
 * Receiving (both ends): hunt for 0xA5 0x5A; read the header; a bad hcrc or a len above
 * KWS_PROTO_MAX_PAYLOAD is not a frame; read payload and crc; a bad crc is not a frame. Whenever a
 * candidate fails, scanning resumes at the byte after its 0xA5 (not after the whole candidate), so
 * a real frame that began inside the garbage is still found: resynchronisation needs no timeout.
 * One exception keeps that linear: rescans nest at most KWS_PROTO_RESCAN_DEPTH deep. A candidate
 * starting in new input has depth 1; one starting in the rescanned tail of a failed candidate of depth
 * d has depth d + 1 (at most the limit); a candidate at the limit that fails its crc is skipped whole
 * (all its bytes are text, none is scanned again). Otherwise a flood of valid headers 8 bytes apart,
 * each announcing 2 KB, would cost a 2 KB rescan per 8 bytes received; now each byte is scanned again
 * at most once per level (plus at most 7 times after failed headers). A real frame is missed only
 * inside KWS_PROTO_RESCAN_DEPTH damaged candidates nested in one another; the host then resends it.
 * Bytes outside frames are text (or garbage) and are passed on as such. A receiver may also give up
 * on a partial candidate when the line has been quiet for a while (the board: KWS_APP_RX_TIMEOUT_US)
 * and rescan it the same way, so a false sync cannot hold the next frames hostage.
 *
 * Sequence numbers: each side numbers its own frames 0, 1, 2, ... (u16, wrapping). ACK and NAK carry
 * the seq and type of the frame they answer in their payload, so the host matches answers to
 * requests and sees any lost board frame as a gap. A data frame (AUDIO, FEATURES) whose seq is that
 * of one of the last KWS_PROTO_DUP_WINDOW accepted data frames is a resend after a lost or late ACK:
 * it is acknowledged again (status DUPLICATE, with the current count) and not processed twice. A
 * NAKed frame was not accepted: its resend is processed. HELLO and RESET forget those seqs, so a new
 * session may number its frames from anywhere.
 *
 * Flow: host HELLO -> board INFO (binary mode from here). Host AUDIO/FEATURES frames, each answered
 * by ACK (with the running sample/frame count) or NAK; the SCORES, TIMING and DETECTION frames
 * that a chunk caused come before its ACK. Data frames are STOP-AND-WAIT: the host sends the next
 * AUDIO/FEATURES only once the previous one is ACKed, and resends a chunk with the same seq after a
 * NAK(BAD_CRC) or a timeout. The board processes frames strictly in arrival order and keeps no
 * reordering window: a host that sent chunks 1, 2, 3 without waiting and resent a NAKed 2 would have
 * it processed after 3 (out of order); a resent 1 is caught by the duplicate check. Frames sent
 * back-to-back are processed in order as long as none is resent (a lossless pipe, a test).
 * RESET and SET_PARAMS are answered by ACK/NAK; BYE by ACK, then text mode. Any frame but HELLO in
 * text mode is answered NAK(BAD_STATE): the host learns the board rebooted and says HELLO again.
 *
 * Messages host -> board (payload layouts, "str" = u8 length + that many bytes, no NUL):
 *   HELLO      0x01  u16 protocol version the host speaks (KWS_PROTO_VERSION)
 *   RESET      0x02  empty, or u32 stream time (us) to start the clock at. Clears frontend, feature
 *                    ring, recognizer, counters and the duplicate check.
 *   SET_PARAMS 0x03  the 13-byte PARAMS block (below); resets the recognizer's history
 *   AUDIO      0x04  int16 PCM samples at KWS_FE_SAMPLE_RATE, even length
 *   FEATURES   0x05  whole int8 feature frames, length a multiple of KWS_FE_NUM_FEATURES
 *   BYE        0x06  empty; back to text mode
 * Messages board -> host:
 *   INFO       0x81  u8 protocol version, u16 max payload, u32 arena bytes, u32 sample rate,
 *                    u16 stride samples, u16 frames, u16 features, f32 input scale, i8 input zero
 *                    point, f32 output scale, i8 output zero point, PARAMS block,
 *                    str firmware version, str board, str backend, str model SHA-256 (hex),
 *                    str frontend spec hash (hex), str feature type, u8 label count, str per label
 *   ACK        0x82  u16 acked seq, u8 acked type, u8 status (KWS_ACK_*), u32 count: samples
 *                    (AUDIO) or frames (FEATURES) accepted since RESET, 0 for other types
 *   NAK        0x83  u16 seq, u8 type (of the refused frame), u8 error code (KWS_ERR_*)
 *   SCORES     0x84  u32 inference index, u32 stream time (us), f32 scale, i8 zero point, u8 n,
 *                    n x i8 raw scores (the model's output tensor)
 *   TIMING     0x85  u32 inference index, u32 frontend us (all frames since the previous
 *                    inference), u32 invoke us (model only), u16 frames those frontend us covered
 *   DETECTION  0x86  u32 inference index, u32 stream time (us), u8 label index, u8 score 0..255,
 *                    str label
 *   LOG        0x87  u8 level (KWS_LOG_*), text (the rest of the payload, UTF-8)
 *   ERROR      0x88  u8 error code (KWS_ERR_*), text (the rest of the payload)
 * PARAMS block (13 bytes): u32 average_window_ms, u32 suppression_ms, u16 minimum_count,
 *   u8 detection_threshold, u8 infer_every (run the model every N new frames, >= 1), u8 flags
 *   (KWS_FLAG_*).
 *
 * Timing rules: "stream time" is audio time, not wall time: start (RESET) + samples consumed up to
 * the end of the newest frame, in us, wrapping at 2^32. Feeding audio faster or slower than real
 * time changes nothing in SCORES/DETECTION. Device-timed latencies (TIMING) come from the board's
 * own microsecond counter (kws_hal.time_us).
 */
#ifndef KWS_PROTOCOL_H
#define KWS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_PROTO_VERSION 1
#define KWS_PROTO_SYNC0 0xA5
#define KWS_PROTO_SYNC1 0x5A
#define KWS_PROTO_HEADER_SIZE 8
#define KWS_PROTO_CRC_SIZE 4
#define KWS_PROTO_MAX_PAYLOAD 2048
#define KWS_PROTO_MAX_FRAME (KWS_PROTO_HEADER_SIZE + KWS_PROTO_MAX_PAYLOAD + KWS_PROTO_CRC_SIZE)
#define KWS_PROTO_PARAMS_SIZE 13
/* Labels an INFO may carry (the host accepts this many). A board may define it lower, to its own model's label
 * count: kws_msg, which every sender keeps on its stack, holds this many label slots (8 bytes each), and a board
 * only ever encodes its own INFO. */
#ifndef KWS_PROTO_MAX_LABELS
#define KWS_PROTO_MAX_LABELS 64
#endif
#define KWS_PROTO_DUP_WINDOW 8  /* accepted data seqs the board remembers for the duplicate check */
#define KWS_PROTO_RESCAN_DEPTH 4 /* rescans of failed candidates nest at most this deep (Receiving) */

/* Message types: host -> board below 0x80, board -> host from 0x80. */
#define KWS_MSG_HELLO 0x01
#define KWS_MSG_RESET 0x02
#define KWS_MSG_SET_PARAMS 0x03
#define KWS_MSG_AUDIO 0x04
#define KWS_MSG_FEATURES 0x05
#define KWS_MSG_BYE 0x06
#define KWS_MSG_INFO 0x81
#define KWS_MSG_ACK 0x82
#define KWS_MSG_NAK 0x83
#define KWS_MSG_SCORES 0x84
#define KWS_MSG_TIMING 0x85
#define KWS_MSG_DETECTION 0x86
#define KWS_MSG_LOG 0x87
#define KWS_MSG_ERROR 0x88

/* Error codes (NAK, ERROR, and the text-mode "ERROR <code>" line). */
#define KWS_ERR_NONE 0
#define KWS_ERR_BAD_CRC 1       /* frame failed its CRC (seq/type as far as the header said) */
#define KWS_ERR_TOO_LARGE 2     /* header announced more than KWS_PROTO_MAX_PAYLOAD bytes */
#define KWS_ERR_UNKNOWN_TYPE 3  /* no such message type (or a board -> host type sent to the board) */
#define KWS_ERR_BAD_PAYLOAD 4   /* payload length or layout wrong for its type */
#define KWS_ERR_BAD_STATE 5     /* not in binary mode: say HELLO first */
#define KWS_ERR_BAD_PARAM 6     /* SET_PARAMS value out of range */
#define KWS_ERR_MODEL 7         /* model_invoke failed (ERROR frame; the chunk is still accepted) */
#define KWS_ERR_VERSION 8       /* HELLO with a protocol version the board does not speak */

/* ACK status. */
#define KWS_ACK_OK 0
#define KWS_ACK_DUPLICATE 1     /* seq of a recently accepted data frame: not processed again */

/* PARAMS flags. */
#define KWS_FLAG_SCORES 0x01     /* send SCORES after every inference */
#define KWS_FLAG_TIMING 0x02     /* send TIMING after every inference */
#define KWS_FLAG_LIVE_AUDIO 0x04 /* binary mode listens to the board's microphone instead of AUDIO */
#define KWS_FLAG_DEFAULT (KWS_FLAG_SCORES | KWS_FLAG_TIMING)

/* LOG levels. */
#define KWS_LOG_DEBUG 0
#define KWS_LOG_INFO 1
#define KWS_LOG_WARNING 2

/* ------------------------------------------------------------------------------------ CRC */

/* CRC-32 (zlib) of data, continuing from `crc` (start with 0). */
uint32_t kws_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------------ framing */

typedef struct kws_proto_frame {
    uint8_t type;
    uint16_t seq;
    uint16_t len;
    const uint8_t *payload; /* valid only during the handler call */
} kws_proto_frame;

/* Parser events handed to the handler. For BAD_CRC and TOO_LARGE the frame's type/seq/len are the
 * header's (trustworthy: the header check passed) and payload is NULL. */
#define KWS_PROTO_EV_FRAME 0
#define KWS_PROTO_EV_BAD_CRC 1
#define KWS_PROTO_EV_TOO_LARGE 2

typedef void (*kws_proto_frame_fn)(void *ctx, int event, const kws_proto_frame *frame);
typedef void (*kws_proto_text_fn)(void *ctx, uint8_t byte);

typedef struct kws_proto_stats {
    uint32_t frames;        /* good frames */
    uint32_t bad_crc;       /* candidates with a valid header and a bad CRC */
    uint32_t bad_header;    /* false syncs: header check failed */
    uint32_t too_large;     /* valid header announcing too long a payload */
    uint32_t text_bytes;    /* bytes outside frames */
    uint32_t rescan_bytes;  /* bytes run through the parser again after failed candidates (resync work) */
} kws_proto_stats;

/* A byte-at-a-time receiver. No heap: the candidate frame and the bytes to rescan after a failed
 * candidate live in the struct (2 x KWS_PROTO_MAX_FRAME bytes). The handlers must not feed the
 * same parser again. */
typedef struct kws_proto_parser {
    uint8_t frame[KWS_PROTO_MAX_FRAME];   /* the candidate frame, from its sync0 on */
    uint16_t have;                        /* bytes of the candidate held */
    uint16_t need;                        /* its full size, once the header is known (else 0) */
    uint8_t rescan[KWS_PROTO_MAX_FRAME];  /* bytes to run through the parser again */
    uint16_t rescan_len, rescan_pos;
    uint16_t region_lo[KWS_PROTO_RESCAN_DEPTH + 1]; /* rescan regions (kws_frame.c), newest last */
    uint8_t region_depth[KWS_PROTO_RESCAN_DEPTH + 1];
    uint8_t regions;
    uint8_t byte_depth;                   /* rescan depth of the byte being stepped (0: new input) */
    uint8_t depth;                        /* the candidate's: 1 + the depth of its first byte */
    kws_proto_frame_fn on_frame;
    kws_proto_text_fn on_text;            /* may be NULL */
    void *ctx;
    kws_proto_stats stats;
} kws_proto_parser;

void kws_proto_parser_init(kws_proto_parser *p, kws_proto_frame_fn on_frame, kws_proto_text_fn on_text, void *ctx);

/* Drops any partial frame (and pending rescan bytes); keeps the statistics. */
void kws_proto_parser_reset(kws_proto_parser *p);

/* Feeds received bytes; calls the handlers for every frame, error and text byte they complete. */
void kws_proto_parser_feed(kws_proto_parser *p, const uint8_t *data, size_t len);

/* Gives up on a partial candidate (the line went quiet in the middle of it): it is treated as
 * failed, so its bytes after the first are rescanned. Call it after an inter-byte timeout; without
 * it a false sync announcing a long payload would swallow the next real frames until enough bytes
 * arrived to fail its CRC. Returns 1 if there was a partial candidate. */
int kws_proto_parser_expire(kws_proto_parser *p);

/* 1 while the parser holds a partial candidate. */
int kws_proto_parser_busy(const kws_proto_parser *p);

/* Writes a whole frame into out[0..cap); returns its size, or 0 if len > KWS_PROTO_MAX_PAYLOAD or
 * it does not fit. payload may be NULL when len is 0. */
size_t kws_proto_encode(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len);

/* ------------------------------------------------------------------------------ messages */

typedef struct kws_str {
    const char *ptr; /* not NUL-terminated when decoded (it points into the payload) */
    uint8_t len;
} kws_str;

typedef struct kws_msg_params {
    uint32_t average_window_ms;
    uint32_t suppression_ms;
    uint16_t minimum_count;
    uint8_t detection_threshold;
    uint8_t infer_every;
    uint8_t flags;
} kws_msg_params;

typedef struct kws_msg_info {
    uint8_t protocol_version;
    uint16_t max_payload;
    uint32_t arena_bytes;
    uint32_t sample_rate;
    uint16_t stride_samples;
    uint16_t num_frames;
    uint16_t num_features;
    float input_scale;
    int8_t input_zero_point;
    float output_scale;
    int8_t output_zero_point;
    kws_msg_params params;
    kws_str firmware_version, board, backend, model_sha256, frontend_hash, feature_type;
    uint8_t num_labels;
    kws_str labels[KWS_PROTO_MAX_LABELS];
} kws_msg_info;

/* One decoded message of any type. Byte arrays point into the payload they were decoded from. */
typedef struct kws_msg {
    uint8_t type;
    union {
        struct { uint16_t version; } hello;
        struct { uint8_t has_time; uint32_t stream_time_us; } reset;
        kws_msg_params set_params;
        struct { const uint8_t *pcm_le; uint16_t num_samples; } audio;     /* read with kws_msg_audio_sample */
        struct { const int8_t *values; uint16_t num_values; } features;
        kws_msg_info info;
        struct { uint16_t seq; uint8_t type; uint8_t status; uint32_t count; } ack;
        struct { uint16_t seq; uint8_t type; uint8_t code; } nak;
        struct { uint32_t inference; uint32_t time_us; float scale; int8_t zero_point; uint8_t num_scores;
                 const int8_t *scores; } scores;
        struct { uint32_t inference; uint32_t frontend_us; uint32_t invoke_us; uint16_t frames; } timing;
        struct { uint32_t inference; uint32_t time_us; uint8_t label; uint8_t score; kws_str name; } detection;
        struct { uint8_t level; const char *text; uint16_t text_len; } log;
        struct { uint8_t code; const char *text; uint16_t text_len; } error;
    } u;
} kws_msg;

/* Decodes a payload of the given type; returns 0, or KWS_ERR_UNKNOWN_TYPE / KWS_ERR_BAD_PAYLOAD.
 * Never reads outside payload[0..len). */
int kws_msg_decode(uint8_t type, const uint8_t *payload, size_t len, kws_msg *msg);

/* Encodes msg's payload into out[0..cap); returns its length, or -1 if it does not fit in cap or in
 * KWS_PROTO_MAX_PAYLOAD, INFO has more than KWS_PROTO_MAX_LABELS labels, or an array (AUDIO pcm_le,
 * FEATURES values, SCORES scores, LOG/ERROR text, a str) is NULL with a non-zero count (NULL with
 * count 0 is an empty array). AUDIO is copied from its pcm_le bytes (num_samples * 2 of them) as
 * they are. */
int kws_msg_encode(const kws_msg *msg, uint8_t *out, size_t cap);

/* Sample i of a decoded AUDIO message (little-endian on the wire whatever the CPU). */
int16_t kws_msg_audio_sample(const kws_msg *msg, size_t i);

/* A NUL-terminated string as a kws_str (truncated to 255 bytes). */
kws_str kws_str_from(const char *text);

#ifdef __cplusplus
}
#endif

#endif /* KWS_PROTOCOL_H */
