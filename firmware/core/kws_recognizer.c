/* Recognizer: posterior averaging, threshold, suppression, wrap-safe time (see kws_recognizer.h). */
#include "kws_recognizer.h"

#include <string.h>

kws_recognizer_config kws_recognizer_default_config(void)
{
    kws_recognizer_config config;
    config.average_window_ms = KWS_REC_DEFAULT_AVERAGE_WINDOW_MS;
    config.suppression_ms = KWS_REC_DEFAULT_SUPPRESSION_MS;
    config.minimum_count = KWS_REC_DEFAULT_MINIMUM_COUNT;
    config.detection_threshold = KWS_REC_DEFAULT_DETECTION_THRESHOLD;
    return config;
}

const char *kws_recognizer_check_config(const kws_recognizer_config *config)
{
    if (config->average_window_ms > KWS_REC_MAX_MS) {
        return "average_window_ms above 600000";
    }
    if (config->suppression_ms > KWS_REC_MAX_MS) {
        return "suppression_ms above 600000";
    }
    if (config->minimum_count > KWS_REC_MAX_RESULTS) {
        return "minimum_count above the recognizer's queue size";
    }
    return 0;
}

void kws_recognizer_reset(kws_recognizer *rec)
{
    memset(rec->sums, 0, sizeof rec->sums);
    rec->head = 0;
    rec->count = 0;
    rec->suppressing = 0;
    rec->last_detection_us = 0;
}

int kws_recognizer_init(kws_recognizer *rec, const kws_recognizer_config *config, uint8_t num_labels,
                        const uint8_t *is_keyword)
{
    uint8_t i;
    memset(rec, 0, sizeof *rec);
    rec->config = *config;
    if (kws_recognizer_check_config(config) != 0 || num_labels == 0 || num_labels > KWS_MAX_LABELS) {
        rec->config = kws_recognizer_default_config();
        return -1;
    }
    rec->num_labels = num_labels;
    for (i = 0; i < num_labels; ++i) {
        rec->is_keyword[i] = (uint8_t)(is_keyword == 0 || is_keyword[i] != 0);
    }
    return 0;
}

static void drop_oldest(kws_recognizer *rec)
{
    uint8_t i;
    for (i = 0; i < rec->num_labels; ++i) {
        rec->sums[i] -= rec->scores[rec->head][i];
    }
    rec->head = (uint16_t)((rec->head + 1u) % KWS_REC_MAX_RESULTS);
    --rec->count;
}

kws_recognition kws_recognizer_process(kws_recognizer *rec, const int8_t *scores, uint32_t now_us)
{
    kws_recognition result;
    const uint32_t window_us = rec->config.average_window_ms * 1000u;
    const uint32_t suppression_us = rec->config.suppression_ms * 1000u;
    uint16_t slot;
    uint8_t i;

    result.label = -1;
    result.score = 0;
    result.detected = 0;
    result.count = 0;
    if (rec->num_labels == 0) {
        return result;
    }

    /* 1. A gap longer than the window, or a clock that went backwards (huge unsigned difference). */
    if (rec->count > 0) {
        const uint16_t newest = (uint16_t)((rec->head + rec->count - 1u) % KWS_REC_MAX_RESULTS);
        if ((uint32_t)(now_us - rec->times[newest]) > window_us) {
            const uint8_t suppressing = rec->suppressing;
            const uint32_t last = rec->last_detection_us;
            kws_recognizer_reset(rec);
            rec->suppressing = suppressing; /* suppression is about detections, not the queue */
            rec->last_detection_us = last;
        }
    }

    /* 2. Push, dropping the oldest when full. */
    if (rec->count == KWS_REC_MAX_RESULTS) {
        drop_oldest(rec);
    }
    slot = (uint16_t)((rec->head + rec->count) % KWS_REC_MAX_RESULTS);
    rec->times[slot] = now_us;
    for (i = 0; i < rec->num_labels; ++i) {
        const uint8_t s = (uint8_t)((int)scores[i] + 128);
        rec->scores[slot][i] = s;
        rec->sums[i] += s;
    }
    ++rec->count;

    /* 3. Prune results older than the window (the newest has age 0 and always stays). */
    while ((uint32_t)(now_us - rec->times[rec->head]) > window_us) {
        drop_oldest(rec);
    }
    result.count = rec->count;

    /* 4. End of suppression. */
    if (rec->suppressing && (uint32_t)(now_us - rec->last_detection_us) > suppression_us) {
        rec->suppressing = 0;
    }

    /* 5. Too little evidence for a decision. A full queue counts as spanning enough: with a long
     * window at a fast cadence, KWS_REC_MAX_RESULTS results may never span window / 4. */
    if (rec->count < rec->config.minimum_count ||
        ((uint32_t)(now_us - rec->times[rec->head]) < window_us / 4u && rec->count < KWS_REC_MAX_RESULTS)) {
        return result;
    }

    /* 6. Average and top label (first maximum). */
    {
        uint32_t best = rec->sums[0] / rec->count;
        int16_t top = 0;
        for (i = 1; i < rec->num_labels; ++i) {
            const uint32_t avg = rec->sums[i] / rec->count;
            if (avg > best) {
                best = avg;
                top = (int16_t)i;
            }
        }
        result.label = top;
        result.score = (uint8_t)best;
    }

    /* 7. Detection. */
    if (rec->is_keyword[result.label] && result.score > rec->config.detection_threshold && !rec->suppressing) {
        result.detected = 1;
        rec->suppressing = 1;
        rec->last_detection_us = now_us;
    }
    return result;
}
