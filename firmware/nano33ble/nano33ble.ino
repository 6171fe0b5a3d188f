/* Keyword spotting on the Arduino Nano 33 BLE Sense (mbed core, FQBN arduino:mbed_nano:nano33ble).
 *
 * A thin sketch on purpose: everything runs in the portable C core (firmware/core: frontend, feature
 * ring, recognizer, serial protocol), the board's HAL (kws_hal_nano33ble.cpp: PDM microphone, serial,
 * RGB LED, time) and the TensorFlow Lite Micro backend (kws_model_tflm.cpp). `kws flash` stages this
 * folder together with the core and the run's generated model files into runs/<run>/sketch/nano33ble/
 * and builds that; this folder alone does not compile (see README.md).
 */
#include <TensorFlowLite.h> /* tells the Arduino build to compile the Arduino_TensorFlowLite library */

#include "kws_hal_nano33ble.h"

void setup()
{
    kws_nano_setup();
}

void loop()
{
    kws_nano_loop();
}
