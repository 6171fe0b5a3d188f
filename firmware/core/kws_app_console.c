/* Text mode: the typed commands info, reset and help (see kws_app_console.h). */
#include "kws_app_console.h"

#include "kws_app_io.h"

static void print_info(kws_app *app)
{
    uint8_t k;
    kws_text_str(app, "firmware ");
    kws_text_str(app, app->info.firmware_version);
    kws_text_str(app, " board ");
    kws_text_str(app, app->info.board);
    kws_text_str(app, " protocol ");
    kws_text_u64(app, KWS_PROTO_VERSION);
    kws_text_end(app);
    kws_text_str(app, "model ");
    kws_text_str(app, app->info.model.sha256);
    kws_text_str(app, " backend ");
    kws_text_str(app, app->info.model.backend);
    kws_text_str(app, " arena ");
    kws_text_u64(app, app->info.model.arena_bytes);
    kws_text_str(app, " output_scale ");
    kws_text_float(app, app->info.model.output_scale);
    kws_text_str(app, " output_zero_point ");
    kws_text_i32(app, app->info.model.output_zero_point);
    kws_text_end(app);
    kws_text_str(app, "frontend ");
    kws_text_str(app, KWS_FE_SPEC_HASH);
    kws_text_str(app, " " KWS_FE_FEATURE_TYPE_NAME " ");
    kws_text_u64(app, KWS_FE_NUM_FRAMES);
    kws_text_char(app, 'x');
    kws_text_u64(app, KWS_FE_NUM_FEATURES);
    kws_text_end(app);
    kws_text_str(app, "labels ");
    for (k = 0; k < app->info.model.num_labels; ++k) {
        if (k > 0) {
            kws_text_char(app, ',');
        }
        kws_text_str(app, app->info.model.labels[k]);
    }
    kws_text_end(app);
    kws_text_str(app, "recognizer window_ms=");
    kws_text_u64(app, app->params.average_window_ms);
    kws_text_str(app, " threshold=");
    kws_text_u64(app, app->params.detection_threshold);
    kws_text_str(app, " suppression_ms=");
    kws_text_u64(app, app->params.suppression_ms);
    kws_text_str(app, " minimum_count=");
    kws_text_u64(app, app->params.minimum_count);
    kws_text_str(app, " infer_every=");
    kws_text_u64(app, app->params.infer_every);
    kws_text_end(app);
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
        kws_text_str(app, "ERROR line too long; try: help");
        kws_text_end(app);
    } else if (line_is(app, "info")) {
        print_info(app);
    } else if (line_is(app, "reset")) {
        kws_app_reset(app, 0);
        kws_text_str(app, "OK reset");
        kws_text_end(app);
    } else if (line_is(app, "help")) {
        kws_text_str(app, "commands: info, reset, help. Detections print as: DETECT <label> score=<0-255> t_ms=<ms>");
        kws_text_end(app);
    } else {
        kws_text_str(app, "ERROR unknown command; try: help");
        kws_text_end(app);
    }
}

void kws_console_on_text(void *ctx, uint8_t byte)
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
