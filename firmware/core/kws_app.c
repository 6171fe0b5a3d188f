/* The application's public API: init, reset, the main loop and the board's push hooks (see kws_app.h).
 * Its parts: kws_app_io.c (clock, serial and text output), kws_app_pipeline.c (audio -> detection),
 * kws_app_binary.c (binary mode's messages), kws_app_console.c (text mode's commands). */
#include "kws_app.h"

#include <string.h>

#include "kws_app_binary.h"
#include "kws_app_console.h"
#include "kws_app_io.h"
#include "kws_app_pipeline.h"

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
    app->dropped_samples = 0;
    app->overrun_reported = 0;
    app->frames_since_infer = 0;
    app->frontend_us = 0;
    app->frontend_frames = 0;
    app->model_fail_run = 0;
    app->data_seq_count = 0;
    app->stats.inferences = 0;
    app->stats.detections = 0;
    app->stats.model_errors = 0;
    app->stats.samples = 0;
    app->stats.frames = 0;
    app->stats.audio_dropped = 0;
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
    kws_proto_parser_init(&app->parser, kws_binary_on_frame, kws_console_on_text, app);
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
    } else if (hal->time_us == NULL) {
        /* Without a clock every timeout would silently be off: refuse rather than count polls, whose
         * pace no core can know (a fallback short enough to matter would cut slow lines' frames). */
        problem = "the HAL needs time_us (the inter-byte timeout, the LED and TIMING use it)";
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
        kws_binary_fill_info(app, &m);
        if (kws_msg_encode(&m, app->tx, KWS_APP_TX_PAYLOAD) < 0) {
            problem = "INFO does not fit in one frame (labels or strings too long for KWS_APP_TX_PAYLOAD)";
        }
    }
    if (problem != 0) {
        kws_text_str(app, "ERROR init: ");
        kws_text_str(app, problem);
        kws_text_end(app);
        return -1;
    }
    kws_recognizer_init(&app->recognizer, &config, info->model.num_labels, app->is_keyword);
    kws_app_reset(app, 0);
    app->nak_credit = KWS_APP_NAK_CREDIT_MAX;
    app->ready = 1;

    /* The ready marker: the first line a person or the host sees after boot. */
    kws_text_str(app, "KWS ready firmware=");
    kws_text_str(app, info->firmware_version);
    kws_text_str(app, " board=");
    kws_text_str(app, info->board);
    kws_text_str(app, " protocol=");
    kws_text_u64(app, KWS_PROTO_VERSION);
    kws_text_str(app, " model=");
    kws_text_strn(app, info->model.sha256, 16);
    kws_text_str(app, " labels=");
    for (k = 0; k < info->model.num_labels; ++k) {
        if (k > 0) {
            kws_text_char(app, ',');
        }
        kws_text_str(app, info->model.labels[k]);
    }
    kws_text_end(app);
    return 0;
}

/* The inter-byte timeout counts only silence the board saw. A look is a moment the board found no byte
 * waiting: at a look more than KWS_APP_RX_TIMEOUT_US after the last byte, a partial frame is abandoned.
 * Bytes found later arrived after the previous look; if that look was recent (at most half the timeout
 * before), their arrival time is known that closely and the silence before them counts too, so they
 * never join a stale candidate. After a longer busy spell (a slow inference) they may have waited in
 * the UART or USB buffer since right after the last byte: they are taken as its continuation, and a
 * stale candidate then costs at most one more timeout, where cutting a real frame would cost a resend. */
static int quiet_too_long(const kws_app *app, uint32_t now)
{
    return kws_proto_parser_busy(&app->parser) && now - app->last_rx_us > KWS_APP_RX_TIMEOUT_US;
}

static void look(kws_app *app)
{
    const uint32_t now = kws_app_now_us(app);
    app->last_look_us = now;
    app->looked_since_rx = 1;
    if (quiet_too_long(app, now)) {
        kws_proto_parser_expire(&app->parser);
    }
}

void kws_app_receive(kws_app *app, const uint8_t *data, size_t len)
{
    if (app->ready && len > 0) {
        const uint32_t now = kws_app_now_us(app);
        /* looked_since_rx: a look before the last byte (or none at all since boot) says nothing about
         * the silence after it, and its time would alias with readings after the clock wraps. */
        if (quiet_too_long(app, now) && app->looked_since_rx &&
            now - app->last_look_us <= KWS_APP_RX_TIMEOUT_US / 2u) {
            kws_proto_parser_expire(&app->parser);
        }
        app->last_rx_us = now;
        app->looked_since_rx = 0;
        app->nak_credit = (uint16_t)(len >= KWS_APP_NAK_CREDIT_MAX - app->nak_credit ? KWS_APP_NAK_CREDIT_MAX
                                                                                       : app->nak_credit + len);
        kws_proto_parser_feed(&app->parser, data, len);
    }
}

/* Text mode listens to the microphone; binary mode only with LIVE_AUDIO. */
static int listening(const kws_app *app)
{
    return app->mode == KWS_APP_MODE_TEXT || (app->params.flags & KWS_FLAG_LIVE_AUDIO) != 0;
}

void kws_app_audio(kws_app *app, const int16_t *pcm, size_t n)
{
    if (app->ready && listening(app)) {
        kws_pipeline_process_pcm(app, pcm, n);
    }
}

/* Up to KWS_APP_POLL_SAMPLES of live audio into the pipeline, stopping after the step that ran an
 * inference; steps of at most one stride, so no step runs two. Not listening: up to
 * KWS_APP_DRAIN_SAMPLES read and discarded. */
static void poll_audio(kws_app *app)
{
    enum { STEP = KWS_APP_AUDIO_CHUNK < KWS_FE_STRIDE_SAMPLES ? KWS_APP_AUDIO_CHUNK : KWS_FE_STRIDE_SAMPLES };
    int16_t pcm[STEP];
    const int listen = listening(app);
    const uint32_t inferences = app->stats.inferences;
    size_t budget = listen ? KWS_APP_POLL_SAMPLES : KWS_APP_DRAIN_SAMPLES;
    while (budget > 0) {
        const size_t want = budget < (size_t)STEP ? budget : (size_t)STEP;
        size_t n = app->hal.audio_read(app->hal.ctx, pcm, want);
        if (n == 0) {
            break;
        }
        if (n > want) {
            n = want; /* a driver that overfills: never trust it with the stack */
        }
        budget -= n;
        if (listen) {
            kws_pipeline_process_pcm(app, pcm, n);
            if (app->stats.inferences != inferences) {
                break;
            }
        }
    }
}

void kws_app_audio_overrun(kws_app *app, uint32_t dropped_total)
{
    static const char prefix[] = "audio overrun: dropped samples total ";
    const uint32_t lost = dropped_total - app->overrun_seen; /* wrap-safe */
    char text[sizeof prefix + 10];
    size_t len = sizeof prefix - 1u;
    char digits[10];
    int d = 0;
    uint32_t v;
    app->overrun_seen = dropped_total;
    if (!app->ready || lost == 0 || !listening(app)) {
        return;
    }
    app->stats.audio_dropped += lost;
    app->dropped_samples += lost;
    if (app->overrun_reported != 0 &&
        app->stats.audio_dropped - app->overrun_reported < KWS_APP_OVERRUN_REPORT_SAMPLES) {
        return;
    }
    app->overrun_reported = app->stats.audio_dropped;
    memcpy(text, prefix, len);
    v = app->stats.audio_dropped;
    do {
        digits[d++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (d > 0) {
        text[len++] = digits[--d];
    }
    text[len] = '\0';
    kws_app_log(app, KWS_LOG_WARNING, text);
}

void kws_app_poll(kws_app *app)
{
    uint8_t buf[64];
    size_t n, budget = KWS_PROTO_MAX_FRAME;
    int looked = app->hal.serial_read == NULL; /* a board that pushes its bytes pushed what it had */
    if (!app->ready) {
        return;
    }
    /* A bounded amount of serial input per turn, so live audio is never starved. */
    while (app->hal.serial_read != NULL && budget > 0) {
        n = app->hal.serial_read(app->hal.ctx, buf, sizeof buf);
        if (n == 0) {
            looked = 1;
            break;
        }
        kws_app_receive(app, buf, n > sizeof buf ? sizeof buf : n);
        budget = budget > n ? budget - n : 0;
    }
    if (looked) {
        look(app); /* nothing waiting: the line may have gone quiet in the middle of a frame */
    }
    if (app->hal.audio_read != NULL) {
        poll_audio(app);
    }
    if (app->led_on && kws_app_now_us(app) - app->led_since_us > KWS_APP_LED_US) {
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
        while (text[n] != '\0' && n < KWS_APP_TX_PAYLOAD - 1) { /* the level byte, then the text */
            ++n;
        }
        m.type = KWS_MSG_LOG;
        m.u.log.level = level;
        m.u.log.text = text;
        m.u.log.text_len = (uint16_t)n;
        kws_app_send(app, &m);
    } else {
        kws_text_str(app, "LOG ");
        kws_text_str(app, text);
        kws_text_end(app);
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
