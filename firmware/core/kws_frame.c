/* Serial protocol, the byte layer: CRC-32, the resynchronising frame parser and the frame encoder
 * (the spec is kws_protocol.h; the payload codec is kws_msg.c). */
#include "kws_protocol.h"

#include <string.h>

#include "kws_le.h"

/* ------------------------------------------------------------------------------------ CRC */

/* Nibble table of the reflected polynomial 0xEDB88320: 64 bytes of flash instead of 1 KB, and
 * constant, so no init call can be forgotten. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t kws_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; ++i) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

/* ------------------------------------------------------------------------------ framing */

void kws_proto_parser_init(kws_proto_parser *p, kws_proto_frame_fn on_frame, kws_proto_text_fn on_text, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->on_frame = on_frame;
    p->on_text = on_text;
    p->ctx = ctx;
}

void kws_proto_parser_reset(kws_proto_parser *p)
{
    p->have = 0;
    p->need = 0;
    p->rescan_len = 0;
    p->rescan_pos = 0;
    p->regions = 0;
    p->byte_depth = 0;
    p->depth = 0;
}

static void emit_text(kws_proto_parser *p, uint8_t byte)
{
    ++p->stats.text_bytes;
    if (p->on_text != NULL) {
        p->on_text(p->ctx, byte);
    }
}

/* Rescan regions: the tail of every failed candidate is scanned again, and a candidate starting in it
 * is one level deeper than the region (new input is depth 0). The regions still being read form a
 * stack, newest on top; the newest is read first (its bytes were put in front of the older ones'), so
 * a region is done once no more than `lo` unread bytes remain. */
static void pop_done_regions(kws_proto_parser *p, uint16_t unread)
{
    while (p->regions > 0 && p->region_lo[p->regions - 1u] >= unread) {
        --p->regions;
    }
}

/* The candidate is not a frame. Its sync0 is text; everything after it must be scanned again,
 * before the bytes still waiting in the rescan buffer. Invariant: have + unread rescan bytes never
 * exceeds KWS_PROTO_MAX_FRAME (rescan bytes are drained before new input is read, and a candidate
 * never outgrows its announced size), so the tail always fits. */
static void fail(kws_proto_parser *p)
{
    const uint16_t tail = (uint16_t)(p->have - 1u);
    const uint16_t unread = (uint16_t)(p->rescan_len - p->rescan_pos);
    p->stats.rescan_bytes += tail;
    pop_done_regions(p, unread);
    /* Never full (depths increase up the stack, bar two at the cap); kws/device/framing.py mirrors it. */
    if (tail > 0 && p->regions < sizeof p->region_lo / sizeof p->region_lo[0]) {
        p->region_lo[p->regions] = unread;
        p->region_depth[p->regions] = p->depth;
        ++p->regions;
    }
    emit_text(p, p->frame[0]);
    if ((size_t)tail + unread > sizeof p->rescan) {
        /* Unreachable by the invariant; dropping the candidate's tail keeps memory safe regardless. */
        memmove(p->rescan, p->rescan + p->rescan_pos, unread);
        p->rescan_len = unread;
    } else {
        memmove(p->rescan + tail, p->rescan + p->rescan_pos, unread);
        memcpy(p->rescan, p->frame + 1, tail);
        p->rescan_len = (uint16_t)(tail + unread);
    }
    p->rescan_pos = 0;
    p->have = 0;
    p->need = 0;
}

/* A candidate KWS_PROTO_RESCAN_DEPTH levels deep failed its CRC: all its bytes are text and none is
 * scanned again (the bytes still waiting in the rescan buffer are). This bounds the work on a flood of
 * valid headers: a byte is scanned again at most once per level. */
static void skip_whole(kws_proto_parser *p)
{
    uint16_t i;
    for (i = 0; i < p->have; ++i) {
        emit_text(p, p->frame[i]);
    }
    p->have = 0;
    p->need = 0;
}

static void header_fields(const kws_proto_parser *p, kws_proto_frame *f)
{
    f->type = p->frame[2];
    f->seq = get_u16(&p->frame[3]);
    f->len = get_u16(&p->frame[5]);
    f->payload = NULL;
}

static void step(kws_proto_parser *p, uint8_t byte)
{
    kws_proto_frame f;
    if (p->have == 0) {
        if (byte == KWS_PROTO_SYNC0) {
            p->frame[0] = byte;
            p->have = 1;
            p->depth = (uint8_t)(p->byte_depth < KWS_PROTO_RESCAN_DEPTH ? p->byte_depth + 1u : KWS_PROTO_RESCAN_DEPTH);
        } else {
            emit_text(p, byte);
        }
        return;
    }
    p->frame[p->have++] = byte;
    if (p->have == 2) {
        if (byte != KWS_PROTO_SYNC1) {
            fail(p);
        }
        return;
    }
    if (p->have < KWS_PROTO_HEADER_SIZE) {
        return;
    }
    if (p->have == KWS_PROTO_HEADER_SIZE) {
        if ((uint8_t)(kws_crc32(0, &p->frame[2], 5) & 0xFFu) != p->frame[7]) {
            ++p->stats.bad_header;
            fail(p);
            return;
        }
        header_fields(p, &f);
        if (f.len > KWS_PROTO_MAX_PAYLOAD) {
            ++p->stats.too_large;
            p->on_frame(p->ctx, KWS_PROTO_EV_TOO_LARGE, &f);
            fail(p);
            return;
        }
        p->need = (uint16_t)(KWS_PROTO_HEADER_SIZE + f.len + KWS_PROTO_CRC_SIZE);
        return;
    }
    if (p->have < p->need) {
        return;
    }
    header_fields(p, &f);
    if (kws_crc32(0, &p->frame[2], (size_t)p->need - 6u) != get_u32(&p->frame[p->need - 4u])) {
        ++p->stats.bad_crc;
        p->on_frame(p->ctx, KWS_PROTO_EV_BAD_CRC, &f);
        if (p->depth >= KWS_PROTO_RESCAN_DEPTH) {
            skip_whole(p);
        } else {
            fail(p);
        }
        return;
    }
    ++p->stats.frames;
    f.payload = &p->frame[KWS_PROTO_HEADER_SIZE];
    p->have = 0;
    p->need = 0;
    p->on_frame(p->ctx, KWS_PROTO_EV_FRAME, &f);
}

static void drain_rescan(kws_proto_parser *p)
{
    while (p->rescan_pos < p->rescan_len) {
        pop_done_regions(p, (uint16_t)(p->rescan_len - p->rescan_pos));
        p->byte_depth = p->regions > 0 ? p->region_depth[p->regions - 1u] : 0u;
        step(p, p->rescan[p->rescan_pos++]);
    }
    p->regions = 0; /* all read */
    p->byte_depth = 0;
}

void kws_proto_parser_feed(kws_proto_parser *p, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; ++i) {
        step(p, data[i]); /* new input: depth 0 (byte_depth is 0 whenever the rescan buffer is empty) */
        drain_rescan(p);
    }
}

int kws_proto_parser_expire(kws_proto_parser *p)
{
    if (p->have == 0) {
        return 0;
    }
    fail(p);
    drain_rescan(p);
    return 1;
}

int kws_proto_parser_busy(const kws_proto_parser *p)
{
    return p->have > 0;
}

size_t kws_proto_encode(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len)
{
    const size_t total = (size_t)KWS_PROTO_HEADER_SIZE + len + KWS_PROTO_CRC_SIZE;
    if (len > KWS_PROTO_MAX_PAYLOAD || total > cap) {
        return 0;
    }
    out[0] = KWS_PROTO_SYNC0;
    out[1] = KWS_PROTO_SYNC1;
    out[2] = type;
    put_u16(&out[3], seq);
    put_u16(&out[5], len);
    out[7] = (uint8_t)(kws_crc32(0, &out[2], 5) & 0xFFu);
    if (len > 0) {
        memmove(&out[KWS_PROTO_HEADER_SIZE], payload, len); /* memmove: payload may already sit there */
    }
    put_u32(&out[KWS_PROTO_HEADER_SIZE + len], kws_crc32(0, &out[2], (size_t)len + 6u));
    return total;
}
