/* Little-endian field access, shared by the two halves of the protocol (kws_frame.c: frame header and
 * CRC; kws_msg.c: payload fields). Internal to the core: boards include kws_protocol.h only. Static
 * inline: each file gets its own copy, no symbol is exported, and a file using only some of them
 * draws no unused-function warning. */
#ifndef KWS_LE_H
#define KWS_LE_H

#include <stdint.h>

static inline uint16_t get_u16(const uint8_t *b)
{
    return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static inline void put_u16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v & 0xFFu);
    b[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v & 0xFFu);
    b[1] = (uint8_t)((v >> 8) & 0xFFu);
    b[2] = (uint8_t)((v >> 16) & 0xFFu);
    b[3] = (uint8_t)(v >> 24);
}

#endif /* KWS_LE_H */
