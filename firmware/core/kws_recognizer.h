/* The recognizer: turns a stream of per-inference int8 scores into detections.
 *
 * TFLM micro_speech's RecognizeCommands, with wrap-safe time and three deliberate, documented
 * changes. kws/recognizer.py is a pure-Python model of exactly this code; tests/test_recognizer.py
 * checks that both give identical results on recorded and generated score streams.
 *
 * Inputs per call: the model's raw int8 scores (one per label) and the time of the newest audio the
 * scores cover, now_us, a uint32 microsecond clock that wraps at 2^32 (71.6 minutes). Every time
 * comparison is an unsigned difference (uint32_t)(a - b), which is right across the wrap for
 * intervals below 2^32 us; nothing ever compares two timestamps with < or >.
 *
 * Semantics of kws_recognizer_process(scores, now_us), step by step:
 *  1. Gap check. If the queue is not empty and (now - newest) > window_us (window_us =
 *     average_window_ms * 1000), the queue is emptied: after a gap longer than the window nothing
 *     in it could be averaged anyway, and a clock that went backwards (the difference is then
 *     huge) restarts the average instead of freezing it. [TFLM returns an error on a backwards
 *     clock and keeps its stale queue.]
 *  2. Push (now, scores[i] + 128 for each label) onto the queue. The queue holds at most
 *     KWS_REC_MAX_RESULTS results; when full, the oldest is dropped first. [TFLM: 50, and it drops
 *     the newest.]
 *  3. Prune: drop results from the oldest end while (now - t) > window_us. A result exactly
 *     window_us old stays (TFLM: `time < now - window` is dropped).
 *  4. Suppression ends: if a detection is being suppressed and (now - last_detection) >
 *     suppression_us, suppression ends. (Checked on every call, so the unsigned difference never
 *     has to span more than one call interval plus the suppression time.)
 *  5. Enough evidence? If the queue has fewer than minimum_count results, or its span
 *     (now - oldest) is below window_us / 4 (integer division) while the queue is not full, there
 *     is no decision: label -1, score 0, no detection. (TFLM's two conditions, except that a full
 *     queue counts as spanning enough: else a long window at a fast cadence, whose
 *     KWS_REC_MAX_RESULTS newest results span less than window / 4, would never decide.)
 *  6. Average: avg[i] = (sum of the queued scores[i] + 128) / count, integer division (floor).
 *     The top label is the first index with the highest average (ties go to the lower index).
 *  7. Detection: a new detection is reported when all of
 *       - the top label is a keyword (its name does not start with '_': _silence_ and _unknown_
 *         are never detected) [TFLM "detects" silence, repeatedly: a known quirk],
 *       - avg[top] > detection_threshold (strictly, as TFLM; threshold 255 disables detection),
 *       - no suppression is running.
 *     A detection starts suppression: no detection of ANY label until more than suppression_ms
 *     have passed (DeployConfig.suppression_ms: "time after a detection during which no new
 *     detection is reported"). [TFLM suppresses only a repeat of the same label.]
 *     The reported score is avg[top], 0..255, and the time is now_us.
 * Exactness: timestamps must advance by less than 2^31 us (35.8 minutes) between calls for the
 * backwards-clock test of step 1 to mean what it says; in the app they advance by one stride.
 */
#ifndef KWS_RECOGNIZER_H
#define KWS_RECOGNIZER_H

#include <stdint.h>

#include "kws_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most results averaged at once: 64 covers a 1 s window at one inference per 20 ms stride (51). */
#ifndef KWS_REC_MAX_RESULTS
#define KWS_REC_MAX_RESULTS 64
#endif

/* Largest window/suppression accepted: 10 minutes keeps every microsecond interval below 2^31. */
#define KWS_REC_MAX_MS 600000u

/* TFLM RecognizeCommands defaults (DeployConfig's). */
#define KWS_REC_DEFAULT_AVERAGE_WINDOW_MS 1000u
#define KWS_REC_DEFAULT_DETECTION_THRESHOLD 200u
#define KWS_REC_DEFAULT_SUPPRESSION_MS 1500u
#define KWS_REC_DEFAULT_MINIMUM_COUNT 3u

typedef struct kws_recognizer_config {
    uint32_t average_window_ms;  /* 0..KWS_REC_MAX_MS */
    uint32_t suppression_ms;     /* 0..KWS_REC_MAX_MS */
    uint16_t minimum_count;      /* 0..KWS_REC_MAX_RESULTS (more could never decide) */
    uint8_t detection_threshold; /* 0..255, compared with > */
} kws_recognizer_config;

typedef struct kws_recognition {
    int16_t label;    /* top label of the average, -1 when there is no decision (step 5) */
    uint8_t score;    /* its average score 0..255 (0 without a decision) */
    uint8_t detected; /* 1 for a new detection (step 7) */
    uint16_t count;   /* results in the averaging window */
} kws_recognition;

typedef struct kws_recognizer {
    kws_recognizer_config config;
    uint8_t num_labels;
    uint8_t is_keyword[KWS_MAX_LABELS];
    uint32_t times[KWS_REC_MAX_RESULTS];
    uint8_t scores[KWS_REC_MAX_RESULTS][KWS_MAX_LABELS]; /* raw int8 + 128 */
    uint32_t sums[KWS_MAX_LABELS];                        /* running sums over the queue */
    uint16_t head;                                        /* index of the oldest result */
    uint16_t count;
    uint8_t suppressing;
    uint32_t last_detection_us;
} kws_recognizer;

/* The defaults above. */
kws_recognizer_config kws_recognizer_default_config(void);

/* 0 when the config is usable, else a short reason (a static string). */
const char *kws_recognizer_check_config(const kws_recognizer_config *config);

/* Sets up for num_labels (1..KWS_MAX_LABELS) labels; is_keyword[i] != 0 marks labels that may be
 * detected (NULL: all). Returns 0, or -1 for a bad config or label count (the recognizer is then
 * left with no labels and never detects). */
int kws_recognizer_init(kws_recognizer *rec, const kws_recognizer_config *config, uint8_t num_labels,
                        const uint8_t *is_keyword);

/* Forgets every result and any running suppression; keeps config and labels. */
void kws_recognizer_reset(kws_recognizer *rec);

/* One inference's num_labels raw int8 scores at time now_us; see the semantics above. */
kws_recognition kws_recognizer_process(kws_recognizer *rec, const int8_t *scores, uint32_t now_us);

#ifdef __cplusplus
}
#endif

#endif /* KWS_RECOGNIZER_H */
