/* The Nano 33 BLE Sense HAL (firmware/core/kws_hal.h) and main loop.
 *
 * - Microphone: the PDM library (mbed core) at 16 kHz mono. Its interrupt hands over one 512-BYTE block
 *   (256 samples, 16 ms) at a time and stops the microphone if the previous block was not read, so the
 *   block is copied at once, inside the callback, into a 1.024 s ring of SAMPLES (kws_audio_ring.h);
 *   the core drains the ring from the main loop through audio_read, so a slow inference never loses a
 *   PDM block (only a loop more than ~1 s late drops audio: the ring counts it, and the loop hands the count
 *   to kws_app_audio_overrun, which adds it to stream time and reports it).
 * - Serial: KWS_SERIAL (USB CDC by default, or the UART Serial1), raw bytes both ways. USB CDC drops
 *   writes while no host has the port open (DTR low): nobody listening, nothing to keep.
 * - Time: micros(), a free-running uint32 that wraps every 71.6 minutes; the core only subtracts
 *   readings as uint32_t, and so does this file (the wait for a USB host, on millis()).
 * - LED: the RGB LED shows which keyword was heard (one colour per keyword, in label order: green, red,
 *   blue, yellow, cyan, magenta, white, then again). Its three pins are ACTIVE LOW on this board
 *   (LOW = on). The core's led hook only says on/off, so the hook records the request and the loop
 *   reads the keyword with kws_app_last_detection() after kws_app_poll() returns (hooks must not call
 *   into the core).
 * - Model: whichever backend was staged with the sketch (kws_nano_model.h): the compiled model
 *   (kws_model_aot_glue.cpp, default) or TensorFlow Lite Micro (kws_model_tflm.cpp).
 */
#include <string.h>

#include <Arduino.h>
#include <PDM.h>

#include "kws_app.h"
#include "kws_audio_ring.h"
#include "kws_hal_nano33ble.h"
#include "kws_nano_model.h"
#include "kws_settings.h"

namespace {

kws_app g_app;          // ~20 KB: static, never on the stack
kws_audio_ring g_ring;  // 32 KB
int16_t g_pdm_block[DEFAULT_PDM_BUFFER_SIZE / sizeof(int16_t)];  // one PDM block, in samples
volatile int g_led_request = -1;  // -1 nothing pending, 0 off, 1 on (set by the led hook)

// Called by the PDM library from its interrupt with a full block ready. PDM.available() and PDM.read()
// count BYTES; the ring counts SAMPLES: convert here and nowhere else.
void on_pdm_block()
{
    int bytes = PDM.available();
    while (bytes >= (int)sizeof(int16_t)) {
        int want = bytes < (int)sizeof g_pdm_block ? bytes : (int)sizeof g_pdm_block;
        want -= want % (int)sizeof(int16_t);  // whole samples only
        const int got = PDM.read(g_pdm_block, (size_t)want);
        if (got <= 0) {
            break;
        }
        kws_audio_ring_write(&g_ring, g_pdm_block, (size_t)got / sizeof(int16_t));
        bytes -= got;
    }
}

uint32_t hal_time_us(void *ctx)
{
    (void)ctx;
    return (uint32_t)micros();
}

void hal_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    while (len > 0) {
        const size_t n = KWS_SERIAL.write(data, len);
        if (n == 0) {
            return;  // USB CDC with no host attached: dropped, as the core expects of a missing listener
        }
        data += n;
        len -= n < len ? n : len;
    }
}

size_t hal_serial_read(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    size_t n = 0;
    int available = KWS_SERIAL.available();
    while (n < cap && available-- > 0) {
        const int c = KWS_SERIAL.read();
        if (c < 0) {
            break;
        }
        buf[n++] = (uint8_t)c;
    }
    return n;
}

size_t hal_audio_read(void *ctx, int16_t *buf, size_t cap)
{
    (void)ctx;
    return kws_audio_ring_read(&g_ring, buf, cap);
}

void hal_led(void *ctx, int on)
{
    (void)ctx;
    g_led_request = on ? 1 : 0;
}

void rgb(bool r, bool g, bool b)
{
    // Active low: LOW lights the colour.
    digitalWrite(LEDR, r ? LOW : HIGH);
    digitalWrite(LEDG, g ? LOW : HIGH);
    digitalWrite(LEDB, b ? LOW : HIGH);
}

void show_keyword(int label)
{
    // The keyword's rank among the labels that can be detected (names not starting with '_').
    int rank = 0;
    for (int i = 0; i < label && i < KWS_NUM_LABELS; ++i) {
        rank += kws_labels[i][0] != '_' ? 1 : 0;
    }
    static const uint8_t palette[7] = {0x2, 0x4, 0x1, 0x6, 0x3, 0x5, 0x7};  // bits: R=4, G=2, B=1
    const uint8_t c = palette[rank % 7];
    rgb((c & 4) != 0, (c & 2) != 0, (c & 1) != 0);
}

void append_u32(char *buf, size_t cap, uint32_t v)
{
    size_t n = strlen(buf);
    char digits[10];
    int d = 0;
    do {
        digits[d++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0 && d < (int)sizeof digits);
    while (d > 0 && n + 1 < cap) {
        buf[n++] = digits[--d];
    }
    buf[n] = '\0';
}

const kws_hal g_hal = {nullptr, hal_time_us, hal_serial_write, hal_serial_read, hal_audio_read, hal_led,
                       kws_nano_model_invoke};

}  // namespace

static_assert(sizeof(KWS_SETTINGS_MODEL_SHA256) == 65, "kws_settings.h must carry a 64-digit model SHA-256");

extern "C" void kws_nano_setup(void)
{
    pinMode(LEDR, OUTPUT);
    pinMode(LEDG, OUTPUT);
    pinMode(LEDB, OUTPUT);
    pinMode(LED_BUILTIN, OUTPUT);
    rgb(false, false, false);
    digitalWrite(LED_BUILTIN, LOW);

    KWS_SERIAL.begin(KWS_BAUD);
    // Give a USB host a moment to open the port so it sees the ready line; never wait forever (the board
    // must work without a computer). Wrap-safe: unsigned difference of millis().
    const uint32_t start = (uint32_t)millis();
    while (!KWS_SERIAL && (uint32_t)((uint32_t)millis() - start) < KWS_SERIAL_WAIT_MS) {
    }

    const int model_status = kws_nano_model_init();
    kws_audio_ring_reset(&g_ring);
    // Built by hand rather than with KWS_BUILD_INFO_FROM_SETTINGS: the board name is this board's, whatever
    // board the export's budget was checked for, and the backend and its arena are the staged backend's.
    // kws_app_init copies it.
    const kws_build_info info = {
        KWS_FIRMWARE_VERSION, KWS_BOARD,
        {kws_nano_backend_name, KWS_SETTINGS_MODEL_SHA256, kws_labels, KWS_NUM_LABELS,
         kws_nano_backend_arena_bytes(), KWS_MODEL_OUTPUT_SCALE, KWS_MODEL_OUTPUT_ZERO_POINT},
        {KWS_AVERAGE_WINDOW_MS, KWS_SUPPRESSION_MS, KWS_MINIMUM_COUNT, KWS_DETECTION_THRESHOLD},
        1};
    if (kws_app_init(&g_app, &g_hal, &info) != 0) {
        digitalWrite(LED_BUILTIN, HIGH);  // the reason went out as an ERROR line
        return;
    }
    char line[64] = "";
    strncat(line, kws_nano_backend_name, 16);
    strcat(line, ": ");
    if (model_status == 0) {
        strcat(line, "arena used ");
        append_u32(line, sizeof line, (uint32_t)kws_nano_model_arena_used());
        strcat(line, " of ");
        append_u32(line, sizeof line, kws_nano_backend_arena_bytes());
        strcat(line, " B");
    } else {
        strcat(line, "init failed, code ");
        append_u32(line, sizeof line, (uint32_t)model_status);
        digitalWrite(LED_BUILTIN, HIGH);
    }
    kws_app_log(&g_app, KWS_LOG_INFO, line);

    PDM.onReceive(on_pdm_block);
    PDM.setGain(KWS_PDM_GAIN);
    if (!PDM.begin(1, KWS_FE_SAMPLE_RATE)) {
        kws_app_log(&g_app, KWS_LOG_WARNING, "PDM microphone did not start: only AUDIO frames will be heard");
    }
}

extern "C" void kws_nano_loop(void)
{
    kws_app_poll(&g_app);

    const int request = g_led_request;
    if (request >= 0) {
        g_led_request = -1;
        const int label = kws_app_last_detection(&g_app, nullptr);
        if (request == 1 && label >= 0) {
            show_keyword(label);
        } else {
            rgb(false, false, false);
        }
    }

    // Audio the ring lost: the core counts it in stream time and stats and reports it (kws_app.h).
    kws_app_audio_overrun(&g_app, g_ring.dropped);
}

extern "C" uint32_t kws_nano_audio_dropped(void)
{
    return g_ring.dropped;
}
