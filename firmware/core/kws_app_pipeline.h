/* Internal to the app (kws_app*.c): the audio -> detection pipeline.
 *
 *     kws_pipeline_process_pcm(app, pcm, n);      // live audio or an AUDIO frame's samples
 *     kws_pipeline_push_frame(app, values);       // one feature frame of a FEATURES message
 *
 * Both run the model when the ring is full and infer_every new frames have arrived, then send SCORES,
 * TIMING, DETECTION (binary mode) or print DETECT lines (text mode), as kws_app.h describes.
 */
#ifndef KWS_APP_PIPELINE_H
#define KWS_APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "kws_app.h"

void kws_pipeline_process_pcm(kws_app *app, const int16_t *pcm, size_t n);
void kws_pipeline_push_frame(kws_app *app, const int8_t *frame);

#endif /* KWS_APP_PIPELINE_H */
