/* The KWS firmware on the mps2-an386 board: the portable core (firmware/core) with this board's HAL.
 *
 * kws_settings.h is the export's (runs/<run>/export/generated/) or, for the fake backend, the one
 * kws.device.m4 generates; only its model facts, labels and recognizer defaults are used here (the
 * board name is this board's, not the one the export checked its budget for).
 * Built and started by kws.device.m4 (M4Board, build_board_elf). Build defines: KWS_M4_MIC=1 (a
 * microphone paced by the board's clock, kws_hal_m4.h), KWS_M4_FAKE_MODEL_US=N (a slow fake model).
 */
#include "kws_app.h"
#include "kws_hal_m4.h"
#include "kws_m4_model.h"
#include "kws_settings.h"
#include "m4_board.h"

#ifndef KWS_M4_FIRMWARE_VERSION
#define KWS_M4_FIRMWARE_VERSION "0.1.0"
#endif
#define KWS_M4_BOARD_NAME "mps2-an386"

/* ~13 KB on this board (buffers sized for its labels: kws.device.m4.firmware_sizes); static, never on the stack. */
static kws_app app;

int main(void)
{
    kws_hal hal;
    kws_build_info info = {KWS_M4_FIRMWARE_VERSION, KWS_M4_BOARD_NAME,
                           {0, KWS_SETTINGS_MODEL_SHA256, kws_labels, KWS_NUM_LABELS, 0,
                            KWS_MODEL_OUTPUT_SCALE, KWS_MODEL_OUTPUT_ZERO_POINT},
                           {KWS_AVERAGE_WINDOW_MS, KWS_SUPPRESSION_MS, KWS_MINIMUM_COUNT, KWS_DETECTION_THRESHOLD},
                           1};
    info.model.backend = kws_m4_backend_name;
    info.model.arena_bytes = kws_m4_backend_arena_bytes();
    kws_hal_m4_fill(&hal);
    if (kws_m4_model_init() != 0) {
        m4_uart_puts("ERROR model initialisation failed\r\n");
        return 3;
    }
    if (kws_app_init(&app, &hal, &info) != 0) {
        return 4; /* the core printed why */
    }
    for (;;) {
        kws_app_poll(&app);
        kws_app_audio_overrun(&app, kws_hal_m4_audio_dropped()); /* always 0 without a microphone */
    }
}
