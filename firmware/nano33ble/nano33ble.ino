/* Keyword spotting on the Arduino Nano 33 BLE Sense (mbed core, FQBN arduino:mbed_nano:nano33ble).
 *
 * A thin sketch on purpose: everything runs in the portable C core (firmware/core: frontend, feature
 * ring, recognizer, serial protocol), the board's HAL (kws_hal_nano33ble.cpp: PDM microphone, serial,
 * RGB LED, time) and one model backend (kws_nano_model.h): the model compiled to C by `kws compile`
 * (default) or TensorFlow Lite Micro. `kws flash [--backend aot|tflm]` stages this folder together with
 * the core, the backend's files and the run's generated files into runs/<run>/sketch/nano33ble/ and
 * builds that; this folder alone does not compile (see README.md). The TFLM backend's own
 * `#include <TensorFlowLite.h>` is what makes the Arduino build compile that library: arduino-cli finds
 * libraries from the includes of every source file in the sketch folder.
 */
#include "kws_hal_nano33ble.h"

void setup()
{
    kws_nano_setup();
}

void loop()
{
    kws_nano_loop();
}
