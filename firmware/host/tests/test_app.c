/* Shared by the app drivers (see test_app.h). */
#include "test_app.h"

#include <stdlib.h>
#include <string.h>

void test_app_setup_init(test_app_setup *s, const char *board)
{
    memset(s, 0, sizeof *s);
    s->clock_step = 13;
    s->rx_chunk = 61;
    s->info.firmware_version = "0.1.0-host";
    s->info.board = board;
    s->info.model.backend = "fake";
    s->info.model.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    s->info.model.arena_bytes = 10240;
    s->info.model.output_scale = 0.00390625f;
    s->info.model.output_zero_point = -128;
    s->info.recognizer = kws_recognizer_default_config();
    s->info.infer_every = 1;
    strcpy(s->label_text, "_silence_,_unknown_,yes,no");
}

int test_app_option(test_app_setup *s, const char *opt, const char *val)
{
    if (strcmp(opt, "--labels") == 0) {
        strncpy(s->label_text, val, sizeof s->label_text - 1);
    } else if (strcmp(opt, "--clock-start") == 0) {
        s->clock_start = (uint32_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--clock-step") == 0) {
        s->clock_step = (uint32_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--rx-chunk") == 0) {
        s->rx_chunk = strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--window") == 0) {
        s->info.recognizer.average_window_ms = (uint32_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--suppression") == 0) {
        s->info.recognizer.suppression_ms = (uint32_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--min-count") == 0) {
        s->info.recognizer.minimum_count = (uint16_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--threshold") == 0) {
        s->info.recognizer.detection_threshold = (uint8_t)strtoul(val, NULL, 10);
    } else if (strcmp(opt, "--infer-every") == 0) {
        s->info.infer_every = (uint8_t)strtoul(val, NULL, 10);
    } else {
        return 0;
    }
    return 1;
}

void test_app_setup_labels(test_app_setup *s)
{
    char *p = s->label_text;
    uint8_t n = 0;
    while (*p && n < KWS_MAX_LABELS) {
        s->labels[n++] = p;
        while (*p && *p != ',') {
            ++p;
        }
        if (*p == ',') {
            *p++ = '\0';
        }
    }
    s->info.model.labels = s->labels;
    s->info.model.num_labels = n;
}
