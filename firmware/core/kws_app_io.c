/* The app's output and clock: hal.time_us, raw serial bytes, text, one message as a frame (see
 * kws_app_io.h). Text without stdio: printf would pull several KB into the firmware and its float
 * formatting is optional on newlib-nano. */
#include "kws_app_io.h"

uint32_t kws_app_now_us(const kws_app *app)
{
    return app->hal.time_us != NULL ? app->hal.time_us(app->hal.ctx) : 0u;
}

void kws_app_write(kws_app *app, const uint8_t *data, size_t len)
{
    if (app->hal.serial_write != NULL && len > 0) {
        app->hal.serial_write(app->hal.ctx, data, len);
    }
}

void kws_text_flush(kws_app *app)
{
    kws_app_write(app, (const uint8_t *)app->text, app->text_len);
    app->text_len = 0;
}

void kws_text_char(kws_app *app, char c)
{
    if (app->text_len == sizeof app->text) {
        kws_text_flush(app);
    }
    app->text[app->text_len++] = c;
}

void kws_text_strn(kws_app *app, const char *s, size_t n)
{
    size_t i;
    for (i = 0; s != NULL && i < n && s[i] != '\0'; ++i) {
        kws_text_char(app, s[i]);
    }
}

void kws_text_str(kws_app *app, const char *s)
{
    kws_text_strn(app, s, (size_t)-1);
}

void kws_text_u64(kws_app *app, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0 && n < (int)sizeof digits);
    while (n > 0) {
        kws_text_char(app, digits[--n]);
    }
}

void kws_text_i32(kws_app *app, int32_t v)
{
    if (v < 0) {
        kws_text_char(app, '-');
        kws_text_u64(app, (uint64_t)(-(int64_t)v));
    } else {
        kws_text_u64(app, (uint64_t)v);
    }
}

/* Fixed 8 decimals: enough for quantization scales such as 0.00390625. */
void kws_text_float(kws_app *app, float f)
{
    double v = f;
    uint64_t whole;
    int i;
    if (!(v == v)) {
        kws_text_str(app, "nan");
        return;
    }
    if (v < 0) {
        kws_text_char(app, '-');
        v = -v;
    }
    if (v >= 1e15) {
        kws_text_str(app, "inf");
        return;
    }
    whole = (uint64_t)v;
    kws_text_u64(app, whole);
    kws_text_char(app, '.');
    v -= (double)whole;
    for (i = 0; i < 8; ++i) {
        int d;
        v *= 10.0;
        d = (int)v;
        kws_text_char(app, (char)('0' + d));
        v -= d;
    }
}

void kws_text_end(kws_app *app)
{
    kws_text_str(app, "\r\n");
    kws_text_flush(app);
}

void kws_app_send(kws_app *app, const kws_msg *msg)
{
    /* The payload is encoded straight into the frame buffer, after the header; kws_proto_encode
     * then writes header and CRC around it (it tolerates payload already in place). */
    const int len = kws_msg_encode(msg, app->tx + KWS_PROTO_HEADER_SIZE, KWS_APP_TX_PAYLOAD);
    size_t size;
    if (len < 0) {
        return; /* cannot happen for the messages the app builds (sizes are checked at init) */
    }
    size = kws_proto_encode(app->tx, sizeof app->tx, msg->type, app->tx_seq, app->tx + KWS_PROTO_HEADER_SIZE,
                            (uint16_t)len);
    ++app->tx_seq;
    kws_app_write(app, app->tx, size);
}
