/* Binary mode: every frame the parser delivers, decoded and answered with ACK, NAK or INFO
 * (see kws_app_binary.h and the flow in kws_protocol.h). */
#include "kws_app_binary.h"

#include <string.h>

#include "kws_app_io.h"
#include "kws_app_pipeline.h"

static void send_ack(kws_app *app, const kws_proto_frame *f, uint8_t status, uint32_t count)
{
    kws_msg m;
    m.type = KWS_MSG_ACK;
    m.u.ack.seq = f->seq;
    m.u.ack.type = f->type;
    m.u.ack.status = status;
    m.u.ack.count = count;
    kws_app_send(app, &m);
}

static void send_nak(kws_app *app, const kws_proto_frame *f, uint8_t code)
{
    kws_msg m;
    m.type = KWS_MSG_NAK;
    m.u.nak.seq = f->seq;
    m.u.nak.type = f->type;
    m.u.nak.code = code;
    kws_app_send(app, &m);
}

void kws_binary_fill_info(const kws_app *app, kws_msg *m)
{
    kws_msg_info *i = &m->u.info;
    uint8_t k;
    memset(m, 0, sizeof *m);
    m->type = KWS_MSG_INFO;
    i->protocol_version = KWS_PROTO_VERSION;
    i->max_payload = KWS_PROTO_MAX_PAYLOAD;
    i->arena_bytes = app->info.model.arena_bytes;
    i->sample_rate = KWS_FE_SAMPLE_RATE;
    i->stride_samples = KWS_FE_STRIDE_SAMPLES;
    i->num_frames = KWS_FE_NUM_FRAMES;
    i->num_features = KWS_FE_NUM_FEATURES;
    i->input_scale = KWS_FE_QUANT_SCALE;
    i->input_zero_point = (int8_t)KWS_FE_QUANT_ZERO_POINT;
    i->output_scale = app->info.model.output_scale;
    i->output_zero_point = (int8_t)app->info.model.output_zero_point;
    i->params = app->params;
    i->firmware_version = kws_str_from(app->info.firmware_version);
    i->board = kws_str_from(app->info.board);
    i->backend = kws_str_from(app->info.model.backend);
    i->model_sha256 = kws_str_from(app->info.model.sha256);
    i->frontend_hash = kws_str_from(KWS_FE_SPEC_HASH);
    i->feature_type = kws_str_from(KWS_FE_FEATURE_TYPE_NAME);
    i->num_labels = app->info.model.num_labels;
    for (k = 0; k < i->num_labels; ++k) {
        i->labels[k] = kws_str_from(app->info.model.labels[k]);
    }
}

static uint8_t apply_params(kws_app *app, const kws_msg_params *p)
{
    kws_recognizer_config c;
    c.average_window_ms = p->average_window_ms;
    c.suppression_ms = p->suppression_ms;
    c.minimum_count = p->minimum_count;
    c.detection_threshold = p->detection_threshold;
    if (kws_recognizer_check_config(&c) != 0 || p->infer_every == 0 ||
        (p->flags & ~(KWS_FLAG_SCORES | KWS_FLAG_TIMING | KWS_FLAG_LIVE_AUDIO)) != 0) {
        return KWS_ERR_BAD_PARAM;
    }
    app->params = *p;
    kws_recognizer_init(&app->recognizer, &c, app->info.model.num_labels, app->is_keyword);
    return KWS_ERR_NONE;
}

/* 1 when seq is one of the last KWS_PROTO_DUP_WINDOW accepted data frames: a resend (its ACK was lost or
 * late), acknowledged again but not processed twice. A NAKed frame was never accepted, so its resend is
 * processed. */
static int already_accepted(const kws_app *app, uint16_t seq)
{
    uint8_t k;
    for (k = 0; k < app->data_seq_count; ++k) {
        if (app->data_seqs[k] == seq) {
            return 1;
        }
    }
    return 0;
}

static void accepted(kws_app *app, uint16_t seq)
{
    app->data_seqs[app->data_seq_next] = seq;
    app->data_seq_next = (uint8_t)((app->data_seq_next + 1u) % KWS_PROTO_DUP_WINDOW);
    if (app->data_seq_count < KWS_PROTO_DUP_WINDOW) {
        ++app->data_seq_count;
    }
}

static void handle_audio(kws_app *app, const kws_proto_frame *f, const kws_msg *m)
{
    size_t done = 0;
    if (app->params.flags & KWS_FLAG_LIVE_AUDIO) {
        send_nak(app, f, KWS_ERR_BAD_STATE);
        return;
    }
    if (already_accepted(app, f->seq)) {
        send_ack(app, f, KWS_ACK_DUPLICATE, app->stats.samples);
        return;
    }
    while (done < m->u.audio.num_samples) {
        size_t i, n = m->u.audio.num_samples - done;
        if (n > KWS_APP_AUDIO_CHUNK) {
            n = KWS_APP_AUDIO_CHUNK;
        }
        for (i = 0; i < n; ++i) {
            app->pcm[i] = kws_msg_audio_sample(m, done + i);
        }
        kws_pipeline_process_pcm(app, app->pcm, n);
        done += n;
    }
    accepted(app, f->seq);
    send_ack(app, f, KWS_ACK_OK, app->stats.samples);
}

static void handle_features(kws_app *app, const kws_proto_frame *f, const kws_msg *m)
{
    size_t i;
    if (m->u.features.num_values % KWS_FE_NUM_FEATURES != 0) {
        send_nak(app, f, KWS_ERR_BAD_PAYLOAD);
        return;
    }
    if (already_accepted(app, f->seq)) {
        send_ack(app, f, KWS_ACK_DUPLICATE, app->ring.total);
        return;
    }
    for (i = 0; i < m->u.features.num_values; i += KWS_FE_NUM_FEATURES) {
        kws_pipeline_push_frame(app, m->u.features.values + i);
    }
    accepted(app, f->seq);
    send_ack(app, f, KWS_ACK_OK, app->ring.total);
}

/* A NAK for a failed candidate, if the credit allows (KWS_APP_NAK_CREDIT_MAX): a host whose frame was
 * damaged learns at once; a flood of false headers is not answered in kind (its sender times out). */
static void nak_failed_candidate(kws_app *app, const kws_proto_frame *f, uint8_t code)
{
    const uint16_t cost = 2u * (KWS_PROTO_HEADER_SIZE + 4u + KWS_PROTO_CRC_SIZE);
    if (app->nak_credit < cost) {
        ++app->stats.naks_withheld;
        return;
    }
    app->nak_credit = (uint16_t)(app->nak_credit - cost);
    send_nak(app, f, code);
}

void kws_binary_on_frame(void *ctx, int event, const kws_proto_frame *f)
{
    kws_app *app = (kws_app *)ctx;
    kws_msg m;
    int rc;
    if (event == KWS_PROTO_EV_BAD_CRC) {
        /* The header check passed, so the sender speaks the protocol: tell it to resend. */
        nak_failed_candidate(app, f, KWS_ERR_BAD_CRC);
        return;
    }
    if (event == KWS_PROTO_EV_TOO_LARGE) {
        nak_failed_candidate(app, f, KWS_ERR_TOO_LARGE);
        return;
    }
    if (f->type & 0x80u) {
        send_nak(app, f, KWS_ERR_UNKNOWN_TYPE); /* a board -> host type: not for us */
        return;
    }
    rc = kws_msg_decode(f->type, f->payload, f->len, &m);
    if (rc != 0) {
        send_nak(app, f, (uint8_t)rc);
        return;
    }
    if (f->type == KWS_MSG_HELLO) {
        if (m.u.hello.version != KWS_PROTO_VERSION) {
            send_nak(app, f, KWS_ERR_VERSION);
            return;
        }
        app->mode = KWS_APP_MODE_BINARY;
        /* Text typed before the session is abandoned whole, overflow included: the first command
         * after BYE starts a fresh line. */
        app->line_len = 0;
        app->line_overflow = 0;
        /* A new session may reuse the seqs of the old one's last chunks: forget them. */
        app->data_seq_count = 0;
        kws_binary_fill_info(app, &m);
        kws_app_send(app, &m);
        return;
    }
    if (app->mode != KWS_APP_MODE_BINARY) {
        send_nak(app, f, KWS_ERR_BAD_STATE);
        return;
    }
    switch (f->type) {
    case KWS_MSG_RESET:
        kws_app_reset(app, m.u.reset.has_time ? m.u.reset.stream_time_us : 0u);
        send_ack(app, f, KWS_ACK_OK, 0);
        break;
    case KWS_MSG_SET_PARAMS:
        rc = apply_params(app, &m.u.set_params);
        if (rc != KWS_ERR_NONE) {
            send_nak(app, f, (uint8_t)rc);
        } else {
            send_ack(app, f, KWS_ACK_OK, 0);
        }
        break;
    case KWS_MSG_AUDIO:
        handle_audio(app, f, &m);
        break;
    case KWS_MSG_FEATURES:
        handle_features(app, f, &m);
        break;
    case KWS_MSG_BYE:
        send_ack(app, f, KWS_ACK_OK, 0);
        app->mode = KWS_APP_MODE_TEXT;
        break;
    default:
        send_nak(app, f, KWS_ERR_UNKNOWN_TYPE);
        break;
    }
}
