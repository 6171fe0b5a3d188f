/* Internal to the app (kws_app*.c): the text-mode console.
 *
 *     kws_proto_parser_init(&app->parser, kws_binary_on_frame, kws_console_on_text, app);
 *
 * Collects the bytes outside frames into lines (spaces dropped, case ignored, KWS_APP_LINE_MAX long)
 * and answers "info", "reset" and "help"; in binary mode those bytes are garbage and ignored.
 */
#ifndef KWS_APP_CONSOLE_H
#define KWS_APP_CONSOLE_H

#include <stdint.h>

/* The parser's text callback; ctx is the kws_app. */
void kws_console_on_text(void *ctx, uint8_t byte);

#endif /* KWS_APP_CONSOLE_H */
