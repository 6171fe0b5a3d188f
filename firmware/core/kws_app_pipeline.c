/* The audio -> detection pipeline: frontend, feature ring, model, recognizer, and what each inference
 * reports (see kws_app_pipeline.h and the pipeline rules in kws_app.h). */
#include "kws_app_pipeline.h"

#include "kws_app_io.h"

/* Stream time of the end of the newest frame (KWS_FE_FRAME_SAMPLES: the micro frontend's window, the float
 * frontend's FFT frame), counting live audio the driver lost (see kws_app.h).
 * 64-bit so t_ms does not wrap with the 32-bit microsecond clock. */
static uint64_t stream_time_us64(const kws_app *app)
{
    const uint32_t frames = app->ring.total;
    const uint64_t end_sample = app->dropped_samples +
        (frames == 0 ? 0u : (uint64_t)(frames - 1u) * KWS_FE_STRIDE_SAMPLES + KWS_FE_FRAME_SAMPLES);
    return app->start_us + end_sample * 1000000u / KWS_FE_SAMPLE_RATE;
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
        kws_app_send(app, &m);
    } else {
        kws_text_str(app, "ERROR ");
        kws_text_u64(app, code);
        kws_text_char(app, ' ');
        kws_text_str(app, text);
        kws_text_char(app, ' ');
        kws_text_i32(app, detail);
        kws_text_end(app);
    }
}

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
    app->led_since_us = kws_app_now_us(app);
    if (app->mode == KWS_APP_MODE_BINARY) {
        kws_msg m;
        m.type = KWS_MSG_DETECTION;
        m.u.detection.inference = inference;
        m.u.detection.time_us = (uint32_t)t_us;
        m.u.detection.label = (uint8_t)r->label;
        m.u.detection.score = r->score;
        m.u.detection.name = kws_str_from(name);
        kws_app_send(app, &m);
    } else {
        kws_text_str(app, "DETECT ");
        kws_text_str(app, name);
        kws_text_str(app, " score=");
        kws_text_u64(app, r->score);
        kws_text_str(app, " t_ms=");
        kws_text_u64(app, t_us / 1000u);
        kws_text_end(app);
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
    t0 = kws_app_now_us(app);
    rc = app->hal.model_invoke(app->hal.ctx, app->model_input, KWS_FE_FEATURE_SIZE, app->scores, n);
    invoke_us = kws_app_now_us(app) - t0; /* unsigned: right across the 2^32 wrap */
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
            kws_app_send(app, &m);
        }
        if (app->params.flags & KWS_FLAG_TIMING) {
            m.type = KWS_MSG_TIMING;
            m.u.timing.inference = inference;
            m.u.timing.frontend_us = app->frontend_us;
            m.u.timing.invoke_us = invoke_us;
            m.u.timing.frames = app->frontend_frames;
            kws_app_send(app, &m);
        }
    }
    app->frontend_us = 0;
    app->frontend_frames = 0;

    r = kws_recognizer_process(&app->recognizer, app->scores, (uint32_t)stream_time_us64(app));
    if (r.detected) {
        detection(app, &r, inference);
    }
}

void kws_pipeline_push_frame(kws_app *app, const int8_t *frame)
{
    kws_features_push(&app->ring, frame);
    ++app->stats.frames;
    ++app->frames_since_infer;
    if (kws_features_full(&app->ring) && app->frames_since_infer >= app->params.infer_every) {
        run_inference(app);
    }
}

void kws_pipeline_process_pcm(kws_app *app, const int16_t *pcm, size_t n)
{
    app->stats.samples += (uint32_t)n;
    while (n > 0) {
        int ready;
        const uint32_t t0 = kws_app_now_us(app);
        const size_t used = kws_frontend_push(&app->frontend, pcm, n, app->frame, &ready);
        app->frontend_us += kws_app_now_us(app) - t0;
        pcm += used;
        n -= used;
        if (ready) {
            if (app->frontend_frames < 0xFFFFu) {
                ++app->frontend_frames;
            }
            kws_pipeline_push_frame(app, app->frame);
        }
    }
}
