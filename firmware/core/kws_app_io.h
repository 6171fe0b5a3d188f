/* Internal to the app (kws_app*.c), not for boards: the clock, serial output and text formatting.
 *
 *     kws_text_str(app, "DETECT ");  kws_text_u64(app, score);  kws_text_end(app);   // one "\r\n" line
 *     kws_app_send(app, &msg);        // encode msg into app->tx and write it as the next frame (tx_seq)
 *
 * Text is buffered in app->text and written when the buffer fills or at kws_text_end.
 */
#ifndef KWS_APP_IO_H
#define KWS_APP_IO_H

#include <stddef.h>
#include <stdint.h>

#include "kws_app.h"

/* hal.time_us (required: kws_app_init refuses a HAL without it; 0 if it is missing all the same). */
uint32_t kws_app_now_us(const kws_app *app);
/* Raw bytes to hal.serial_write (nothing when it is missing or len is 0). */
void kws_app_write(kws_app *app, const uint8_t *data, size_t len);
/* One message as a frame numbered app->tx_seq (then incremented). */
void kws_app_send(kws_app *app, const kws_msg *msg);

void kws_text_flush(kws_app *app);
void kws_text_char(kws_app *app, char c);
/* At most n characters of s, stopping at its NUL; NULL prints nothing. */
void kws_text_strn(kws_app *app, const char *s, size_t n);
void kws_text_str(kws_app *app, const char *s);
void kws_text_u64(kws_app *app, uint64_t v);
void kws_text_i32(kws_app *app, int32_t v);
/* Fixed 8 decimals (enough for scales such as 0.00390625); "nan", and "inf" from 1e15 up. */
void kws_text_float(kws_app *app, float f);
/* "\r\n", then flush: ends a line. */
void kws_text_end(kws_app *app);

#endif /* KWS_APP_IO_H */
