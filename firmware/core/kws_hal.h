/* The porting boundary: everything the portable core needs from a board, and nothing more.
 *
 * A board (the Nano 33 BLE Sense sketch, the emulated host board, a test driver) fills one
 * kws_hal with function pointers and hands it to kws_app_init(). The core never includes a board
 * header, never calls an Arduino/POSIX function, never allocates: all it knows of the outside world
 * is this struct. Function pointers instead of link-time symbols (MLPerf Tiny's th_* hooks are
 * link-time) because a host build loads the core as a shared library and implements the hooks as
 * ctypes callbacks; `ctx` is handed back on every call so a board can keep its state anywhere.
 *
 * Rules every implementation must follow (the core relies on them):
 * - No hook may call back into the core (no kws_app_* call from inside a hook).
 * - time_us: a free-running microsecond counter that wraps at 2^32 (~71.6 minutes). The core only
 *   ever subtracts two readings as uint32_t, which is right across the wrap for any interval below
 *   71.6 minutes (the original TFLM example froze after ~37 h on a signed millisecond overflow).
 * - serial_write: sends all `len` bytes before returning (may block); binary-safe: no newline
 *   translation (put a pty or UART in raw mode).
 * - serial_read: non-blocking; returns how many bytes (0..cap) it put in `buf`.
 * - audio_read: non-blocking; 16 kHz mono int16 samples of the live microphone (0..cap), oldest
 *   first; may be NULL on boards without one (audio then only comes from the host over the
 *   protocol). The core takes at most KWS_APP_POLL_SAMPLES per poll (and one inference), so the
 *   driver buffers the rest (a ring filled by the microphone's interrupt or DMA); when the ring
 *   overruns it drops the oldest samples, counts them, and the board passes the count to
 *   kws_app_audio_overrun() after each poll.
 * - led: may be NULL. on = 1 after a detection, 0 when the core turns it off again.
 * - model_invoke: runs the model once on `input` (input_len int8 features, frames x features in
 *   time order, oldest first, exactly the model's input tensor) and writes output_len int8 scores
 *   (the model's raw output tensor). Returns 0 on success, any other value on failure (the core
 *   reports it as an ERROR frame / line with that value and carries on).
 * time_us, serial_write and model_invoke are required (kws_app_init refuses a HAL without them: with
 * no clock the parser's inter-byte timeout, the LED timeout and TIMING would silently do nothing).
 * serial_read, audio_read and led may be NULL: the core then skips what needs them.
 */
#ifndef KWS_HAL_H
#define KWS_HAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t (*kws_hal_time_us_fn)(void *ctx);
typedef void (*kws_hal_serial_write_fn)(void *ctx, const uint8_t *data, size_t len);
typedef size_t (*kws_hal_serial_read_fn)(void *ctx, uint8_t *buf, size_t cap);
typedef size_t (*kws_hal_audio_read_fn)(void *ctx, int16_t *buf, size_t cap);
typedef void (*kws_hal_led_fn)(void *ctx, int on);
typedef int (*kws_hal_model_invoke_fn)(void *ctx, const int8_t *input, size_t input_len, int8_t *output,
                                       size_t output_len);

typedef struct kws_hal {
    void *ctx;                              /* handed back to every hook */
    kws_hal_time_us_fn time_us;             /* wrapping 32-bit microseconds (timeouts, TIMING); required */
    kws_hal_serial_write_fn serial_write;   /* blocking, binary-safe */
    kws_hal_serial_read_fn serial_read;     /* non-blocking */
    kws_hal_audio_read_fn audio_read;       /* non-blocking live audio; NULL = none */
    kws_hal_led_fn led;                     /* detection indicator; NULL = none */
    kws_hal_model_invoke_fn model_invoke;   /* the model backend (TFLM, tflite runtime via ctypes, a fake) */
} kws_hal;

#ifdef __cplusplus
}
#endif

#endif /* KWS_HAL_H */
