/* Host driver: replays a score stream through the C recognizer and prints every result.
 *
 *   recognizer_replay WINDOW_MS SUPPRESSION_MS MINIMUM_COUNT THRESHOLD KEYWORDS < stream.txt
 *
 * KEYWORDS is one character per label, '1' for a keyword and '0' for _silence_/_unknown_-like
 * labels ("0011"); its length is the label count. Each input line is "t_us s0 s1 ... s(n-1)"
 * (t_us a uint32 microsecond timestamp, s raw int8 scores). Each output line is
 * "label score detected count" (label -1 when there is no decision).
 * Used by tests/test_recognizer.py against kws/recognizer.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws_recognizer.h"

static kws_recognizer rec;

int main(int argc, char **argv)
{
    kws_recognizer_config config;
    uint8_t keywords[KWS_MAX_LABELS];
    int8_t scores[KWS_MAX_LABELS];
    size_t n, i;
    unsigned long t;

    if (argc != 6) {
        fprintf(stderr, "usage: %s WINDOW_MS SUPPRESSION_MS MINIMUM_COUNT THRESHOLD KEYWORDS\n", argv[0]);
        return 2;
    }
    config.average_window_ms = (uint32_t)strtoul(argv[1], NULL, 10);
    config.suppression_ms = (uint32_t)strtoul(argv[2], NULL, 10);
    config.minimum_count = (uint16_t)strtoul(argv[3], NULL, 10);
    config.detection_threshold = (uint8_t)strtoul(argv[4], NULL, 10);
    n = strlen(argv[5]);
    if (n == 0 || n > KWS_MAX_LABELS) {
        fprintf(stderr, "1..%d labels\n", KWS_MAX_LABELS);
        return 2;
    }
    for (i = 0; i < n; ++i) {
        keywords[i] = (uint8_t)(argv[5][i] == '1');
    }
    if (kws_recognizer_init(&rec, &config, (uint8_t)n, keywords) != 0) {
        fprintf(stderr, "bad config: %s\n", kws_recognizer_check_config(&config));
        return 2;
    }
    while (scanf("%lu", &t) == 1) {
        kws_recognition r;
        for (i = 0; i < n; ++i) {
            int s;
            if (scanf("%d", &s) != 1) {
                fprintf(stderr, "short line\n");
                return 1;
            }
            scores[i] = (int8_t)s;
        }
        r = kws_recognizer_process(&rec, scores, (uint32_t)t);
        printf("%d %u %u %u\n", r.label, (unsigned)r.score, (unsigned)r.detected, (unsigned)r.count);
    }
    return 0;
}
