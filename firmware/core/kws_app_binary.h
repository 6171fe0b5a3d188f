/* Internal to the app (kws_app*.c): binary mode's message handling.
 *
 *     kws_proto_parser_init(&app->parser, kws_binary_on_frame, kws_console_on_text, app);
 *
 * HELLO switches to binary mode and answers INFO; RESET, SET_PARAMS, AUDIO, FEATURES and BYE are
 * acknowledged (duplicates of the last data frame are ACKed, not processed twice) or refused with a NAK.
 */
#ifndef KWS_APP_BINARY_H
#define KWS_APP_BINARY_H

#include "kws_app.h"

/* The parser's frame callback; ctx is the kws_app. */
void kws_binary_on_frame(void *ctx, int event, const kws_proto_frame *f);
/* The INFO message describing this firmware, model and current parameters. */
void kws_binary_fill_info(const kws_app *app, kws_msg *m);

#endif /* KWS_APP_BINARY_H */
