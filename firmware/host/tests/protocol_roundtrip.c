/* Host driver: decodes every frame on stdin with the C codec, re-encodes it and writes it to stdout.
 *
 *   protocol_roundtrip < frames.bin > echoed.bin      (statistics on stderr)
 *
 * A frame the C side decodes is written back with the same type and seq from the C encoder, so
 * Python -> C -> Python equality proves both ends read and write every layout alike. A frame with a
 * bad payload layout comes back as ERROR(code); a bad CRC or an oversize header as NAK(code); bytes
 * outside frames are copied through unchanged (they are the "text" of the stream).
 * Used by tests/test_protocol.py.
 */
#include <stdio.h>

#include "kws_protocol.h"

static kws_proto_parser parser;
static uint8_t out[KWS_PROTO_MAX_FRAME];
static uint8_t payload[KWS_PROTO_MAX_PAYLOAD];

static void write_frame(uint8_t type, uint16_t seq, const uint8_t *data, int len)
{
    size_t n = kws_proto_encode(out, sizeof out, type, seq, data, (uint16_t)len);
    fwrite(out, 1, n, stdout);
}

static void on_frame(void *ctx, int event, const kws_proto_frame *f)
{
    kws_msg m;
    int rc, len;
    (void)ctx;
    if (event != KWS_PROTO_EV_FRAME) {
        m.type = KWS_MSG_NAK;
        m.u.nak.seq = f->seq;
        m.u.nak.type = f->type;
        m.u.nak.code = event == KWS_PROTO_EV_BAD_CRC ? KWS_ERR_BAD_CRC : KWS_ERR_TOO_LARGE;
        len = kws_msg_encode(&m, payload, sizeof payload);
        write_frame(KWS_MSG_NAK, f->seq, payload, len);
        return;
    }
    rc = kws_msg_decode(f->type, f->payload, f->len, &m);
    if (rc != 0) {
        m.type = KWS_MSG_ERROR;
        m.u.error.code = (uint8_t)rc;
        m.u.error.text = "decode failed";
        m.u.error.text_len = 13;
        len = kws_msg_encode(&m, payload, sizeof payload);
        write_frame(KWS_MSG_ERROR, f->seq, payload, len);
        return;
    }
    len = kws_msg_encode(&m, payload, sizeof payload);
    if (len < 0) {
        fprintf(stderr, "re-encode of type 0x%02x failed\n", f->type);
        return;
    }
    write_frame(f->type, f->seq, payload, len);
}

static void on_text(void *ctx, uint8_t byte)
{
    (void)ctx;
    fputc(byte, stdout);
}

int main(void)
{
    uint8_t buf[4096];
    size_t n;
    kws_proto_parser_init(&parser, on_frame, on_text, NULL);
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        kws_proto_parser_feed(&parser, buf, n);
    }
    fflush(stdout);
    fprintf(stderr, "frames=%lu bad_crc=%lu bad_header=%lu too_large=%lu text_bytes=%lu rescan_bytes=%lu\n",
            (unsigned long)parser.stats.frames, (unsigned long)parser.stats.bad_crc,
            (unsigned long)parser.stats.bad_header, (unsigned long)parser.stats.too_large,
            (unsigned long)parser.stats.text_bytes, (unsigned long)parser.stats.rescan_bytes);
    return 0;
}
