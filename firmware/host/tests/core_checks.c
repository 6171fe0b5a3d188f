/* Host driver: checks of the core that need no conversation, one per name.
 *
 *   core_checks NAME        (exit 0 and "ok NAME" on stdout, or exit 1 naming what failed)
 *
 *   encode_null   kws_msg_encode refuses (-1) an AUDIO, FEATURES, SCORES, LOG or ERROR message whose
 *                 data pointer is NULL with a non-zero count, instead of reading through NULL; a NULL
 *                 pointer with count 0 encodes as an empty array.
 *
 * Built with ASan/UBSan by tests/test_core_robustness.py: a read through NULL aborts the run.
 */
#include <stdio.h>
#include <string.h>

#include "kws_protocol.h"

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        ++failures;
    }
}

static int encode(const kws_msg *m)
{
    static uint8_t out[KWS_PROTO_MAX_PAYLOAD];
    return kws_msg_encode(m, out, sizeof out);
}

static void check_encode_null(void)
{
    kws_msg m;

    memset(&m, 0, sizeof m);
    m.type = KWS_MSG_AUDIO;
    m.u.audio.num_samples = 4;
    expect(encode(&m) == -1, "AUDIO with NULL samples and num_samples 4");
    m.u.audio.num_samples = 0;
    expect(encode(&m) == 0, "AUDIO with NULL samples and num_samples 0 is empty");

    memset(&m, 0, sizeof m);
    m.type = KWS_MSG_FEATURES;
    m.u.features.num_values = 40;
    expect(encode(&m) == -1, "FEATURES with NULL values and num_values 40");
    m.u.features.num_values = 0;
    expect(encode(&m) == 0, "FEATURES with NULL values and num_values 0 is empty");

    memset(&m, 0, sizeof m);
    m.type = KWS_MSG_SCORES;
    m.u.scores.num_scores = 4;
    expect(encode(&m) == -1, "SCORES with NULL scores and num_scores 4");
    m.u.scores.num_scores = 0;
    expect(encode(&m) == 14, "SCORES with NULL scores and num_scores 0 is the 14-byte header");

    memset(&m, 0, sizeof m);
    m.type = KWS_MSG_LOG;
    m.u.log.text_len = 5;
    expect(encode(&m) == -1, "LOG with NULL text and text_len 5");
    m.u.log.text_len = 0;
    expect(encode(&m) == 1, "LOG with NULL text and text_len 0 is the level alone");

    memset(&m, 0, sizeof m);
    m.type = KWS_MSG_ERROR;
    m.u.error.text_len = 5;
    expect(encode(&m) == -1, "ERROR with NULL text and text_len 5");
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "";
    if (strcmp(name, "encode_null") == 0) {
        check_encode_null();
    } else {
        printf("unknown check %s\n", name);
        return 2;
    }
    if (failures == 0) {
        printf("ok %s\n", name);
    }
    return failures == 0 ? 0 : 1;
}
