/* The Nano 33 BLE Sense board: setup/loop for the thin .ino, and the build-time options.
 *
 * Options (add -D... with arduino-cli compile --build-property "compiler.cpp.extra_flags=-D..."):
 *   KWS_SERIAL        the serial object: Serial (USB CDC, default) or Serial1 (the UART on pins TX/RX,
 *                     for a USB-serial adapter; 115200 8N1 raw)
 *   KWS_BAUD          baud rate of a UART (USB CDC ignores it), default 115200
 *   KWS_PDM_GAIN      PDM microphone gain 0..80, default 20 (the PDM library's own default)
 *   KWS_SERIAL_WAIT_MS  how long setup waits for a USB host before going on, default 1500
 */
#ifndef KWS_HAL_NANO33BLE_H
#define KWS_HAL_NANO33BLE_H

#include <stdint.h>

#define KWS_FIRMWARE_VERSION "0.1.0" /* = kws.device.artifacts.FIRMWARE_VERSION (a test checks) */
#define KWS_BOARD "nano33ble"

#ifndef KWS_SERIAL
#define KWS_SERIAL Serial
#endif
#ifndef KWS_BAUD
#define KWS_BAUD 115200
#endif
#ifndef KWS_PDM_GAIN
#define KWS_PDM_GAIN 20
#endif
#ifndef KWS_SERIAL_WAIT_MS
#define KWS_SERIAL_WAIT_MS 1500u
#endif

#ifdef __cplusplus
extern "C" {
#endif

void kws_nano_setup(void);
void kws_nano_loop(void);

/* Samples the microphone ring dropped because the loop fell behind (for tests and logs). */
uint32_t kws_nano_audio_dropped(void);

#ifdef __cplusplus
}
#endif

#endif /* KWS_HAL_NANO33BLE_H */
