/* The application: modes, message handling and the audio -> detection pipeline (see kws_app.h). */
#include "kws_app.h"

#include <string.h>

/* ------------------------------------------------------------------------------ small helpers */

static uint32_t now_us(const kws_app *app)
{
    return app->hal.time_us != NULL ? app->hal.time_us(app->hal.ctx) : 0u;
}

static void write_bytes(kws_app *app, const uint8_t *data, size_t len)
{
    if (app->hal.serial_write != NULL && len > 0) {
        app->hal.serial_write(app->hal.ctx, data, len);
    }
}

/* Text output without stdio: printf would pull several KB into the firmware and its float
 * formatting is optional on newlib-nano. */
static void t_flush(kws_app *app)
{
    write_bytes(app, (const uint8_t *)app->text, app->text_len);
    app->text_len = 0;
}

static void t_char(kws_app *app, char c)
{
    if (app->text_len == sizeof app->text) {
        t_flush(app);
    }
    app->text[app->text_len++] = c;
}

static void t_strn(kws_app *app, const char *s, size_t n)
{
    size_t i;
    for (i = 0; s != NULL && i < n && s[i] != '\0'; ++i) {
        t_char(app, s[i]);
    }
}

static void t_str(kws_app *app, const char *s)
{
    t_strn(app, s, (size_t)-1);
}

static void t_u64(kws_app *app, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0 && n < (int)sizeof digits);
    while (n > 0) {
        t_char(app, digits[--n]);
    }
}

static void t_i32(kws_app *app, int32_t v)
{
    if (v < 0) {
        t_char(app, '-');
        t_u64(app, (uint64_t)(-(int64_t)v));
    } else {
        t_u64(app, (uint64_t)v);
    }
}

/* Fixed 8 decimals: enough for quantization scales such as 0.00390625. */
static void t_float(kws_app *app, float f)
{
    double v = f;
    uint64_t whole;
    int i;
    if (!(v == v)) {
        t_str(app, "nan");
        return;
    }
    if (v < 0) {
        t_char(app, '-');
        v = -v;
    }
    if (v >= 1e15) {
        t_str(app, "inf");
        return;
    }
    whole = (uint64_t)v;
    t_u64(app, whole);
    t_char(app, '.');
    v -= (double)whole;
    for (i = 0; i < 8; ++i) {
        int d;
        v *= 10.0;
        d = (int)v;
        t_char(app, (char)('0' + d));
        v -= d;
    }
}

static void t_end(kws_app *app)
{
    t_str(app, "\r\n");
    t_flush(app);
}

/* Stream time of the end of the newest frame (see kws_app.h). 64-bit so t_ms does not wrap with
 * the 32-bit microsecond clock. */
static uint64_t stream_time_us64(const kws_app *app)
{
    const uint32_t frames = app->ring.total;
    const uint64_t end_sample =
        frames == 0 ? 0u : (uint64_t)(frames - 1u) * KWS_FE_STRIDE_SAMPLES + KWS_FE_FFT_SIZE;
    return app->start_us + end_sample * 1000000u / KWS_FE_SAMPLE_RATE;
}

/* ------------------------------------------------------------------------------ frames out */

static void send_msg(kws_app *app, const kws_msg *msg)
{
    /* The payload is encoded straight into the frame buffer, after the header; kws_proto_encode
     * then writes header and CRC around it (it tolerates payload already in place). */
    const int len = kws_msg_encode(msg, app->tx + KWS_PROTO_HEADER_SIZE, KWS_PROTO_MAX_PAYLOAD);
    size_t size;
    if (len < 0) {
        return; /* cannot happen for the messages the app builds (sizes are checked at init) */
    }
    size = kws_proto_encode(app->tx, sizeof app->tx, msg->type, app->tx_seq, app->tx + KWS_PROTO_HEADER_SIZE,
                            (uint16_t)len);
    ++app->tx_seq;
    write_bytes(app, app->tx, size);
}

static void send_ack(kws_app *app, const kws_proto_frame *f, uint8_t status, uint32_t count)
{
    kws_msg m;
    m.type = KWS_MSG_ACK;
    m.u.ack.seq = f->seq;
    m.u.ack.type = f->type;
    m.u.ack.status = status;
    m.u.ack.count = count;
    send_msg(app, &m);
}

static void send_nak(kws_app *app, const kws_proto_frame *f, uint8_t code)
{
    kws_msg m;
    m.type = KWS_MSG_NAK;
    m.u.nak.seq = f->seq;
    m.u.nak.type = f->type;
    m.u.nak.code = code;
    send_msg(app, &m);
}

static void report_error(kws_app *app, uint8_t code, const char *text, int32_t detail)
{
    if (app->mode == KWS_APP_MODE_BINARY) {
        /* Compose "text detail" in the text buffer, then ship it as the ERROR payload. */
        kws_msg m;
        size_t n = 0;
        char buf[64];
        char digits[12];
        int d = 0;
        uint32_t mag = detail < 0 ? (uint32_t)(-(int64_t)detail) : (uint32_t)detail;
        while (text[n] != '\0' && n < sizeof buf - 14) {
            buf[n] = text[n];
            ++n;
        }
        buf[n++] = ' ';
        if (detail < 0) {
            buf[n++] = '-';
        }
        do {
            digits[d++] = (char)('0' + (int)(mag % 10u));
            mag /= 10u;
        } while (mag != 0);
        while (d > 0) {
            buf[n++] = digits[--d];
        }
        m.type = KWS_MSG_ERROR;
        m.u.error.code = code;
        m.u.error.text = buf;
        m.u.error.text_len = (uint16_t)n;
        send_msg(app, &m);
    } else {
        t_str(app, "ERROR ");
        t_u64(app, code);
        t_char(app, ' ');
        t_str(app, text);
        t_char(app, ' ');
        t_i32(app, detail);
        t_end(app);
    }
}

static void fill_info(const kws_app *app, kws_msg *m)
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

/* ------------------------------------------------------------------------------ pipeline */

static void detection(kws_app *app, const kws_recognition *r, uint32_t inference)
{
    const char *name = app->info.model.labels[r->label];
    const uint64_t t_us = stream_time_us64(app);
    ++app->stats.detections;
    app->last_label = r->label;
    app->last_score = r->score;
    if (app->hal.led != NULL) {
        app->hal.led(app->hal.ctx, 1);
    }
    app->led_on = 1;
    app->led_since_us = now_us(app);
    if (app->mode == KWS_APP_MODE_BINARY) {
        kws_msg m;
        m.type = KWS_MSG_DETECTION;
        m.u.detection.inference = inference;
        m.u.detection.time_us = (uint32_t)t_us;
        m.u.detection.label = (uint8_t)r->label;
        m.u.detection.score = r->score;
        m.u.detection.name = kws_str_from(name);
        send_msg(app, &m);
    } else {
        t_str(app, "DETECT ");
        t_str(app, name);
        t_str(app, " score=");
        t_u64(app, r->score);
        t_str(app, " t_ms=");
        t_u64(app, t_us / 1000u);
        t_end(app);
    }
}

static void run_inference(kws_app *app)
{
    const uint8_t n = app->info.model.num_labels;
    const uint32_t inference = app->stats.inferences++;
    uint32_t t0, invoke_us;
    int rc;
    kws_recognition r;

    kws_features_copy(&app->ring, app->model_input);
    t0 = now_us(app);
    rc = app->hal.model_invoke(app->hal.ctx, app->model_input, KWS_FE_FEATURE_SIZE, app->scores, n);
    invoke_us = now_us(app) - t0; /* unsigned: right across the 2^32 wrap */
    app->frames_since_infer = 0;

    if (rc != 0) {
        ++app->stats.model_errors;
        ++app->model_fail_run;
        /* The first failure and every 100th after it: a broken model must not flood the link. */
        if (app->model_fail_run % 100u == 1u) {
            report_error(app, KWS_ERR_MODEL, "model invoke failed, code", rc);
        }
        app->frontend_us = 0;
        app->frontend_frames = 0;
        return;
    }
    app->model_fail_run = 0;

    if (app->mode == KWS_APP_MODE_BINARY) {
        kws_msg m;
        if (app->params.flags & KWS_FLAG_SCORES) {
            m.type = KWS_MSG_SCORES;
            m.u.scores.inference = inference;
            m.u.scores.time_us = (uint32_t)stream_time_us64(app);
            m.u.scores.scale = app->info.model.output_scale;
            m.u.scores.zero_point = (int8_t)app->info.model.output_zero_point;
            m.u.scores.num_scores = n;
            m.u.scores.scores = app->scores;
            send_msg(app, &m);
        }
        if (app->params.flags & KWS_FLAG_TIMING) {
            m.type = KWS_MSG_TIMING;
            m.u.timing.inference = inference;
            m.u.timing.frontend_us = app->frontend_us;
            m.u.timing.invoke_us = invoke_us;
            m.u.timing.frames = app->frontend_frames;
            send_msg(app, &m);
        }
    }
    app->frontend_us = 0;
    app->frontend_frames = 0;

    r = kws_recognizer_process(&app->recognizer, app->scores, (uint32_t)stream_time_us64(app));
    if (r.detected) {
        detection(app, &r, inference);
    }
}

static void push_frame(kws_app *app, const int8_t *frame)
{
    kws_features_push(&app->ring, frame);
    ++app->stats.frames;
    ++app->frames_since_infer;
    if (kws_features_full(&app->ring) && app->frames_since_infer >= app->params.infer_every) {
        run_inference(app);
    }
}

static void process_pcm(kws_app *app, const int16_t *pcm, size_t n)
{
    app->stats.samples += (uint32_t)n;
    while (n > 0) {
        int ready;
        const uint32_t t0 = now_us(app);
        const size_t used = kws_frontend_push(&app->frontend, pcm, n, app->frame, &ready);
        app->frontend_us += now_us(app) - t0;
        pcm += used;
        n -= used;
        if (ready) {
            if (app->frontend_frames < 0xFFFFu) {
                ++app->frontend_frames;
            }
            push_frame(app, app->frame);
        }
    }
}

/* ------------------------------------------------------------------------------ frames in */

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

static void handle_audio(kws_app *app, const kws_proto_frame *f, const kws_msg *m)
{
    size_t done = 0;
    if (app->params.flags & KWS_FLAG_LIVE_AUDIO) {
        send_nak(app, f, KWS_ERR_BAD_STATE);
        return;
    }
    if (app->have_last_data_seq && f->seq == app->last_data_seq) {
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
        process_pcm(app, app->pcm, n);
        done += n;
    }
    app->last_data_seq = f->seq;
    app->have_last_data_seq = 1;
    send_ack(app, f, KWS_ACK_OK, app->stats.samples);
}

static void handle_features(kws_app *app, const kws_proto_frame *f, const kws_msg *m)
{
    size_t i;
    if (m->u.features.num_values % KWS_FE_NUM_FEATURES != 0) {
        send_nak(app, f, KWS_ERR_BAD_PAYLOAD);
        return;
    }
    if (app->have_last_data_seq && f->seq == app->last_data_seq) {
        send_ack(app, f, KWS_ACK_DUPLICATE, app->ring.total);
        return;
    }
    for (i = 0; i < m->u.features.num_values; i += KWS_FE_NUM_FEATURES) {
        push_frame(app, m->u.features.values + i);
    }
    app->last_data_seq = f->seq;
    app->have_last_data_seq = 1;
    send_ack(app, f, KWS_ACK_OK, app->ring.total);
}

static void on_frame(void *ctx, int event, const kws_proto_frame *f)
{
    kws_app *app = (kws_app *)ctx;
    kws_msg m;
    int rc;
    if (event == KWS_PROTO_EV_BAD_CRC) {
        /* The header check passed, so the sender speaks the protocol: tell it to resend. */
        send_nak(app, f, KWS_ERR_BAD_CRC);
        return;
    }
    if (event == KWS_PROTO_EV_TOO_LARGE) {
        send_nak(app, f, KWS_ERR_TOO_LARGE);
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
        app->line_len = 0;
        /* A new session may reuse the seq of the old one's last chunk: forget it. */
        app->have_last_data_seq = 0;
        fill_info(app, &m);
        send_msg(app, &m);
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

/* ------------------------------------------------------------------------------ text mode */

static void print_info(kws_app *app)
{
    uint8_t k;
    t_str(app, "firmware ");
    t_str(app, app->info.firmware_version);
    t_str(app, " board ");
    t_str(app, app->info.board);
    t_str(app, " protocol ");
    t_u64(app, KWS_PROTO_VERSION);
    t_end(app);
    t_str(app, "model ");
    t_str(app, app->info.model.sha256);
    t_str(app, " backend ");
    t_str(app, app->info.model.backend);
    t_str(app, " arena ");
    t_u64(app, app->info.model.arena_bytes);
    t_str(app, " output_scale ");
    t_float(app, app->info.model.output_scale);
    t_str(app, " output_zero_point ");
    t_i32(app, app->info.model.output_zero_point);
    t_end(app);
    t_str(app, "frontend ");
    t_str(app, KWS_FE_SPEC_HASH);
    t_str(app, " " KWS_FE_FEATURE_TYPE_NAME " ");
    t_u64(app, KWS_FE_NUM_FRAMES);
    t_char(app, 'x');
    t_u64(app, KWS_FE_NUM_FEATURES);
    t_end(app);
    t_str(app, "labels ");
    for (k = 0; k < app->info.model.num_labels; ++k) {
        if (k > 0) {
            t_char(app, ',');
        }
        t_str(app, app->info.model.labels[k]);
    }
    t_end(app);
    t_str(app, "recognizer window_ms=");
    t_u64(app, app->params.average_window_ms);
    t_str(app, " threshold=");
    t_u64(app, app->params.detection_threshold);
    t_str(app, " suppression_ms=");
    t_u64(app, app->params.suppression_ms);
    t_str(app, " minimum_count=");
    t_u64(app, app->params.minimum_count);
    t_str(app, " infer_every=");
    t_u64(app, app->params.infer_every);
    t_end(app);
}

static int line_is(const kws_app *app, const char *word)
{
    size_t i = 0;
    for (; i < app->line_len; ++i) {
        char c = app->line[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (word[i] == '\0' || c != word[i]) {
            return 0;
        }
    }
    return word[i] == '\0';
}

static void run_line(kws_app *app)
{
    if (app->line_overflow) {
        t_str(app, "ERROR line too long; try: help");
        t_end(app);
    } else if (line_is(app, "info")) {
        print_info(app);
    } else if (line_is(app, "reset")) {
        kws_app_reset(app, 0);
        t_str(app, "OK reset");
        t_end(app);
    } else if (line_is(app, "help")) {
        t_str(app, "commands: info, reset, help. Detections print as: DETECT <label> score=<0-255> t_ms=<ms>");
        t_end(app);
    } else {
        t_str(app, "ERROR unknown command; try: help");
        t_end(app);
    }
}

static void on_text(void *ctx, uint8_t byte)
{
    kws_app *app = (kws_app *)ctx;
    if (app->mode != KWS_APP_MODE_TEXT) {
        return; /* garbage between frames */
    }
    if (byte == '\r' || byte == '\n') {
        if (app->line_len > 0 || app->line_overflow) {
            run_line(app);
        }
        app->line_len = 0;
        app->line_overflow = 0;
    } else if (byte == ' ' || byte == '\t') {
        /* spaces are ignored: "  info " is "info" */
    } else if (app->line_len < KWS_APP_LINE_MAX) {
        app->line[app->line_len++] = (char)byte;
    } else {
        app->line_overflow = 1;
    }
}

/* ------------------------------------------------------------------------------ public API */

size_t kws_app_sizeof(void)
{
    return sizeof(kws_app);
}

void kws_app_reset(kws_app *app, uint32_t start_us)
{
    kws_frontend_reset(&app->frontend);
    kws_features_reset(&app->ring);
    kws_recognizer_reset(&app->recognizer);
    app->start_us = start_us;
    app->frames_since_infer = 0;
    app->frontend_us = 0;
    app->frontend_frames = 0;
    app->model_fail_run = 0;
    app->have_last_data_seq = 0;
    app->stats.inferences = 0;
    app->stats.detections = 0;
    app->stats.model_errors = 0;
    app->stats.samples = 0;
    app->stats.frames = 0;
    app->last_label = -1;
    app->last_score = 0;
}

int kws_app_init(kws_app *app, const kws_hal *hal, const kws_build_info *info)
{
    kws_recognizer_config config;
    kws_msg m;
    uint8_t k;
    const char *problem = 0;

    memset(app, 0, sizeof *app);
    app->hal = *hal;
    app->info = *info;
    app->mode = KWS_APP_MODE_TEXT;
    kws_proto_parser_init(&app->parser, on_frame, on_text, app);
    kws_frontend_init(&app->frontend);
    kws_features_reset(&app->ring);

    config = info->recognizer;
    app->params.average_window_ms = config.average_window_ms;
    app->params.suppression_ms = config.suppression_ms;
    app->params.minimum_count = config.minimum_count;
    app->params.detection_threshold = config.detection_threshold;
    app->params.infer_every = info->infer_every == 0 ? 1 : info->infer_every;
    app->params.flags = KWS_FLAG_DEFAULT;

    if (hal->serial_write == NULL || hal->model_invoke == NULL) {
        problem = "the HAL needs serial_write and model_invoke";
    } else if (info->model.num_labels == 0 || info->model.num_labels > KWS_MAX_LABELS ||
               info->model.labels == NULL) {
        problem = "the model needs 1 to KWS_MAX_LABELS labels";
    } else if (kws_recognizer_check_config(&config) != 0) {
        problem = kws_recognizer_check_config(&config);
    }
    if (problem == 0) {
        for (k = 0; k < info->model.num_labels; ++k) {
            const char *label = info->model.labels[k];
            if (label == NULL) {
                problem = "a label is NULL";
                break;
            }
            app->is_keyword[k] = (uint8_t)(label[0] != '_');
        }
    }
    if (problem == 0) {
        fill_info(app, &m);
        if (kws_msg_encode(&m, app->tx, KWS_PROTO_MAX_PAYLOAD) < 0) {
            problem = "INFO does not fit in one frame (labels or strings too long)";
        }
    }
    if (problem != 0) {
        t_str(app, "ERROR init: ");
        t_str(app, problem);
        t_end(app);
        return -1;
    }
    kws_recognizer_init(&app->recognizer, &config, info->model.num_labels, app->is_keyword);
    kws_app_reset(app, 0);
    app->ready = 1;

    /* The ready marker: the first line a person or the host sees after boot. */
    t_str(app, "KWS ready firmware=");
    t_str(app, info->firmware_version);
    t_str(app, " board=");
    t_str(app, info->board);
    t_str(app, " protocol=");
    t_u64(app, KWS_PROTO_VERSION);
    t_str(app, " model=");
    t_strn(app, info->model.sha256, 16);
    t_str(app, " labels=");
    for (k = 0; k < info->model.num_labels; ++k) {
        if (k > 0) {
            t_char(app, ',');
        }
        t_str(app, info->model.labels[k]);
    }
    t_end(app);
    return 0;
}

void kws_app_receive(kws_app *app, const uint8_t *data, size_t len)
{
    if (app->ready && len > 0) {
        app->last_rx_us = now_us(app);
        kws_proto_parser_feed(&app->parser, data, len);
    }
}

void kws_app_audio(kws_app *app, const int16_t *pcm, size_t n)
{
    if (!app->ready) {
        return;
    }
    if (app->mode == KWS_APP_MODE_TEXT || (app->params.flags & KWS_FLAG_LIVE_AUDIO)) {
        process_pcm(app, pcm, n);
    }
}

void kws_app_poll(kws_app *app)
{
    uint8_t buf[64];
    size_t n, budget = KWS_PROTO_MAX_FRAME;
    if (!app->ready) {
        return;
    }
    /* A bounded amount of serial input per turn, so live audio is never starved. */
    while (app->hal.serial_read != NULL && budget > 0 &&
           (n = app->hal.serial_read(app->hal.ctx, buf, sizeof buf)) > 0) {
        kws_app_receive(app, buf, n > sizeof buf ? sizeof buf : n);
        budget = budget > n ? budget - n : 0;
    }
    if (kws_proto_parser_busy(&app->parser) && now_us(app) - app->last_rx_us > KWS_APP_RX_TIMEOUT_US) {
        kws_proto_parser_expire(&app->parser);
    }
    if (app->hal.audio_read != NULL) {
        /* Drained even when unused, so switching back to it never plays stale audio. */
        int16_t pcm[KWS_APP_AUDIO_CHUNK];
        while ((n = app->hal.audio_read(app->hal.ctx, pcm, KWS_APP_AUDIO_CHUNK)) > 0) {
            kws_app_audio(app, pcm, n > KWS_APP_AUDIO_CHUNK ? KWS_APP_AUDIO_CHUNK : n);
        }
    }
    if (app->led_on && now_us(app) - app->led_since_us > KWS_APP_LED_US) {
        app->led_on = 0;
        if (app->hal.led != NULL) {
            app->hal.led(app->hal.ctx, 0);
        }
    }
}

void kws_app_log(kws_app *app, uint8_t level, const char *text)
{
    if (app->mode == KWS_APP_MODE_BINARY) {
        kws_msg m;
        size_t n = 0;
        while (text[n] != '\0' && n < KWS_PROTO_MAX_PAYLOAD - 1) {
            ++n;
        }
        m.type = KWS_MSG_LOG;
        m.u.log.level = level;
        m.u.log.text = text;
        m.u.log.text_len = (uint16_t)n;
        send_msg(app, &m);
    } else {
        t_str(app, "LOG ");
        t_str(app, text);
        t_end(app);
    }
}

int kws_app_last_detection(const kws_app *app, uint8_t *score)
{
    if (score != NULL) {
        *score = app->last_label >= 0 ? app->last_score : (uint8_t)0;
    }
    return app->last_label;
}

int kws_app_mode(const kws_app *app)
{
    return app->mode;
}

kws_app_stats kws_app_get_stats(const kws_app *app)
{
    kws_app_stats s = app->stats;
    s.link = app->parser.stats;
    return s;
}
