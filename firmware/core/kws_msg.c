/* Serial protocol, the message layer: each message type's payload encoded and decoded field by
 * field (the spec is kws_protocol.h; framing and CRC are kws_frame.c). */
#include "kws_protocol.h"

#include <string.h>

#include "kws_le.h"

/* ------------------------------------------------------------------------------ messages */

typedef struct reader {
    const uint8_t *buf;
    size_t len, pos;
    int bad;
} reader;

static const uint8_t *take(reader *r, size_t n)
{
    const uint8_t *at;
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    if (r->buf == NULL) { /* only with len 0 and n 0: no pointer arithmetic on NULL */
        return NULL;
    }
    at = r->buf + r->pos;
    r->pos += n;
    return at;
}

static uint8_t rd_u8(reader *r)
{
    const uint8_t *b = take(r, 1);
    return b ? b[0] : 0;
}

static uint16_t rd_u16(reader *r)
{
    const uint8_t *b = take(r, 2);
    return b ? get_u16(b) : 0;
}

static uint32_t rd_u32(reader *r)
{
    const uint8_t *b = take(r, 4);
    return b ? get_u32(b) : 0;
}

static float rd_f32(reader *r)
{
    /* IEEE 754 binary32 on both ends; memcpy is the defined way to reinterpret the bits. */
    const uint32_t bits = rd_u32(r);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static kws_str rd_str(reader *r)
{
    kws_str s;
    s.len = rd_u8(r);
    s.ptr = (const char *)take(r, s.len);
    if (s.ptr == NULL) {
        s.len = 0;
    }
    return s;
}

static void rd_params(reader *r, kws_msg_params *p)
{
    p->average_window_ms = rd_u32(r);
    p->suppression_ms = rd_u32(r);
    p->minimum_count = rd_u16(r);
    p->detection_threshold = rd_u8(r);
    p->infer_every = rd_u8(r);
    p->flags = rd_u8(r);
}

typedef struct writer {
    uint8_t *buf;
    size_t cap, len;
    int bad;
} writer;

static uint8_t *room(writer *w, size_t n)
{
    uint8_t *at;
    if (w->bad || n > w->cap - w->len) {
        w->bad = 1;
        return NULL;
    }
    at = w->buf + w->len;
    w->len += n;
    return at;
}

static void wr_u8(writer *w, uint8_t v)
{
    uint8_t *b = room(w, 1);
    if (b) {
        b[0] = v;
    }
}

static void wr_u16(writer *w, uint16_t v)
{
    uint8_t *b = room(w, 2);
    if (b) {
        put_u16(b, v);
    }
}

static void wr_u32(writer *w, uint32_t v)
{
    uint8_t *b = room(w, 4);
    if (b) {
        put_u32(b, v);
    }
}

static void wr_f32(writer *w, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    wr_u32(w, bits);
}

/* n bytes from data; NULL data with n > 0 is a caller's error (the message says it has n values it
 * does not have): the encoding fails instead of reading through NULL. */
static void wr_bytes(writer *w, const void *data, size_t n)
{
    uint8_t *b;
    if (n == 0) {
        return;
    }
    if (data == NULL) {
        w->bad = 1;
        return;
    }
    b = room(w, n);
    if (b) {
        memcpy(b, data, n);
    }
}

static void wr_str(writer *w, kws_str s)
{
    wr_u8(w, s.len);
    wr_bytes(w, s.ptr, s.len);
}

static void wr_params(writer *w, const kws_msg_params *p)
{
    wr_u32(w, p->average_window_ms);
    wr_u32(w, p->suppression_ms);
    wr_u16(w, p->minimum_count);
    wr_u8(w, p->detection_threshold);
    wr_u8(w, p->infer_every);
    wr_u8(w, p->flags);
}

kws_str kws_str_from(const char *text)
{
    kws_str s;
    size_t n = 0;
    s.ptr = text;
    if (text != NULL) {
        while (n < 255 && text[n] != '\0') {
            ++n;
        }
    }
    s.len = (uint8_t)n;
    return s;
}

int kws_msg_decode(uint8_t type, const uint8_t *payload, size_t len, kws_msg *msg)
{
    reader r;
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    r.buf = payload;
    r.len = payload != NULL ? len : 0;
    r.pos = 0;
    r.bad = payload == NULL && len > 0;
    switch (type) {
    case KWS_MSG_HELLO:
        msg->u.hello.version = rd_u16(&r);
        break;
    case KWS_MSG_RESET:
        if (r.len == 4) {
            msg->u.reset.has_time = 1;
            msg->u.reset.stream_time_us = rd_u32(&r);
        }
        break;
    case KWS_MSG_SET_PARAMS:
        rd_params(&r, &msg->u.set_params);
        break;
    case KWS_MSG_AUDIO:
        if (r.len % 2 != 0 || r.len / 2 > 0xFFFFu) {
            return KWS_ERR_BAD_PAYLOAD;
        }
        msg->u.audio.num_samples = (uint16_t)(r.len / 2);
        msg->u.audio.pcm_le = take(&r, r.len);
        break;
    case KWS_MSG_FEATURES:
        if (r.len > 0xFFFFu) {
            return KWS_ERR_BAD_PAYLOAD;
        }
        msg->u.features.num_values = (uint16_t)r.len;
        msg->u.features.values = (const int8_t *)take(&r, r.len);
        break;
    case KWS_MSG_BYE:
        break;
    case KWS_MSG_INFO: {
        kws_msg_info *i = &msg->u.info;
        uint8_t k;
        i->protocol_version = rd_u8(&r);
        i->max_payload = rd_u16(&r);
        i->arena_bytes = rd_u32(&r);
        i->sample_rate = rd_u32(&r);
        i->stride_samples = rd_u16(&r);
        i->num_frames = rd_u16(&r);
        i->num_features = rd_u16(&r);
        i->input_scale = rd_f32(&r);
        i->input_zero_point = (int8_t)rd_u8(&r);
        i->output_scale = rd_f32(&r);
        i->output_zero_point = (int8_t)rd_u8(&r);
        rd_params(&r, &i->params);
        i->firmware_version = rd_str(&r);
        i->board = rd_str(&r);
        i->backend = rd_str(&r);
        i->model_sha256 = rd_str(&r);
        i->frontend_hash = rd_str(&r);
        i->feature_type = rd_str(&r);
        i->num_labels = rd_u8(&r);
        if (i->num_labels > KWS_PROTO_MAX_LABELS) {
            return KWS_ERR_BAD_PAYLOAD;
        }
        for (k = 0; k < i->num_labels; ++k) {
            i->labels[k] = rd_str(&r);
        }
        break;
    }
    case KWS_MSG_ACK:
        msg->u.ack.seq = rd_u16(&r);
        msg->u.ack.type = rd_u8(&r);
        msg->u.ack.status = rd_u8(&r);
        msg->u.ack.count = rd_u32(&r);
        break;
    case KWS_MSG_NAK:
        msg->u.nak.seq = rd_u16(&r);
        msg->u.nak.type = rd_u8(&r);
        msg->u.nak.code = rd_u8(&r);
        break;
    case KWS_MSG_SCORES:
        msg->u.scores.inference = rd_u32(&r);
        msg->u.scores.time_us = rd_u32(&r);
        msg->u.scores.scale = rd_f32(&r);
        msg->u.scores.zero_point = (int8_t)rd_u8(&r);
        msg->u.scores.num_scores = rd_u8(&r);
        msg->u.scores.scores = (const int8_t *)take(&r, msg->u.scores.num_scores);
        break;
    case KWS_MSG_TIMING:
        msg->u.timing.inference = rd_u32(&r);
        msg->u.timing.frontend_us = rd_u32(&r);
        msg->u.timing.invoke_us = rd_u32(&r);
        msg->u.timing.frames = rd_u16(&r);
        break;
    case KWS_MSG_DETECTION:
        msg->u.detection.inference = rd_u32(&r);
        msg->u.detection.time_us = rd_u32(&r);
        msg->u.detection.label = rd_u8(&r);
        msg->u.detection.score = rd_u8(&r);
        msg->u.detection.name = rd_str(&r);
        break;
    case KWS_MSG_LOG:
    case KWS_MSG_ERROR: {
        const uint8_t first = rd_u8(&r);
        const uint16_t n = (uint16_t)(r.bad ? 0 : r.len - r.pos);
        const char *text = (const char *)take(&r, n);
        if (type == KWS_MSG_LOG) {
            msg->u.log.level = first;
            msg->u.log.text = text;
            msg->u.log.text_len = n;
        } else {
            msg->u.error.code = first;
            msg->u.error.text = text;
            msg->u.error.text_len = n;
        }
        break;
    }
    default:
        return KWS_ERR_UNKNOWN_TYPE;
    }
    /* Every layout is exact: a short payload or trailing bytes mean the sender speaks another layout. */
    if (r.bad || r.pos != r.len) {
        return KWS_ERR_BAD_PAYLOAD;
    }
    return 0;
}

int kws_msg_encode(const kws_msg *msg, uint8_t *out, size_t cap)
{
    writer w;
    w.buf = out;
    w.cap = cap;
    w.len = 0;
    w.bad = 0;
    switch (msg->type) {
    case KWS_MSG_HELLO:
        wr_u16(&w, msg->u.hello.version);
        break;
    case KWS_MSG_RESET:
        if (msg->u.reset.has_time) {
            wr_u32(&w, msg->u.reset.stream_time_us);
        }
        break;
    case KWS_MSG_SET_PARAMS:
        wr_params(&w, &msg->u.set_params);
        break;
    case KWS_MSG_AUDIO:
        wr_bytes(&w, msg->u.audio.pcm_le, (size_t)msg->u.audio.num_samples * 2u);
        break;
    case KWS_MSG_FEATURES:
        wr_bytes(&w, msg->u.features.values, msg->u.features.num_values);
        break;
    case KWS_MSG_BYE:
        break;
    case KWS_MSG_INFO: {
        const kws_msg_info *i = &msg->u.info;
        uint8_t k;
        wr_u8(&w, i->protocol_version);
        wr_u16(&w, i->max_payload);
        wr_u32(&w, i->arena_bytes);
        wr_u32(&w, i->sample_rate);
        wr_u16(&w, i->stride_samples);
        wr_u16(&w, i->num_frames);
        wr_u16(&w, i->num_features);
        wr_f32(&w, i->input_scale);
        wr_u8(&w, (uint8_t)i->input_zero_point);
        wr_f32(&w, i->output_scale);
        wr_u8(&w, (uint8_t)i->output_zero_point);
        wr_params(&w, &i->params);
        wr_str(&w, i->firmware_version);
        wr_str(&w, i->board);
        wr_str(&w, i->backend);
        wr_str(&w, i->model_sha256);
        wr_str(&w, i->frontend_hash);
        wr_str(&w, i->feature_type);
        if (i->num_labels > KWS_PROTO_MAX_LABELS) {
            return -1;
        }
        wr_u8(&w, i->num_labels);
        for (k = 0; k < i->num_labels; ++k) {
            wr_str(&w, i->labels[k]);
        }
        break;
    }
    case KWS_MSG_ACK:
        wr_u16(&w, msg->u.ack.seq);
        wr_u8(&w, msg->u.ack.type);
        wr_u8(&w, msg->u.ack.status);
        wr_u32(&w, msg->u.ack.count);
        break;
    case KWS_MSG_NAK:
        wr_u16(&w, msg->u.nak.seq);
        wr_u8(&w, msg->u.nak.type);
        wr_u8(&w, msg->u.nak.code);
        break;
    case KWS_MSG_SCORES:
        wr_u32(&w, msg->u.scores.inference);
        wr_u32(&w, msg->u.scores.time_us);
        wr_f32(&w, msg->u.scores.scale);
        wr_u8(&w, (uint8_t)msg->u.scores.zero_point);
        wr_u8(&w, msg->u.scores.num_scores);
        wr_bytes(&w, msg->u.scores.scores, msg->u.scores.num_scores);
        break;
    case KWS_MSG_TIMING:
        wr_u32(&w, msg->u.timing.inference);
        wr_u32(&w, msg->u.timing.frontend_us);
        wr_u32(&w, msg->u.timing.invoke_us);
        wr_u16(&w, msg->u.timing.frames);
        break;
    case KWS_MSG_DETECTION:
        wr_u32(&w, msg->u.detection.inference);
        wr_u32(&w, msg->u.detection.time_us);
        wr_u8(&w, msg->u.detection.label);
        wr_u8(&w, msg->u.detection.score);
        wr_str(&w, msg->u.detection.name);
        break;
    case KWS_MSG_LOG:
        wr_u8(&w, msg->u.log.level);
        wr_bytes(&w, msg->u.log.text, msg->u.log.text_len);
        break;
    case KWS_MSG_ERROR:
        wr_u8(&w, msg->u.error.code);
        wr_bytes(&w, msg->u.error.text, msg->u.error.text_len);
        break;
    default:
        return -1;
    }
    if (w.bad || w.len > KWS_PROTO_MAX_PAYLOAD) {
        return -1;
    }
    return (int)w.len;
}

int16_t kws_msg_audio_sample(const kws_msg *msg, size_t i)
{
    const uint8_t *b = msg->u.audio.pcm_le + 2 * i;
    /* Two's complement assembly without implementation-defined unsigned->signed conversion. */
    const int v = (int)get_u16(b);
    return (int16_t)(v >= 0x8000 ? v - 0x10000 : v);
}
