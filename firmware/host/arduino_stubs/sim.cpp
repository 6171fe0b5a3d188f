/* The simulated board behind the host stubs: clock, PDM interrupt, serial, LED pins, echo interpreter. */
#include <string.h>

#include <Arduino.h>
#include <PDM.h>

#include "kws_settings.h"
#include "sim.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

namespace {
uint32_t clock_us = 0;
const uint8_t *rx = nullptr;
size_t rx_len = 0, rx_pos = 0;
FILE *tx = nullptr;
FILE *trace = nullptr;
FILE *dump = nullptr;
unsigned long invokes = 0;
int pins[32];
int last_rgb = -1;
struct PinsStartHigh {  // the RGB LED is active low: a pin's power-on LOW would read as "lit"
    PinsStartHigh()
    {
        for (int &pin : pins) {
            pin = HIGH;
        }
    }
} pins_start_high;

bool pdm_on = false, pdm_stopped = false;
void (*pdm_callback)(void) = nullptr;
uint8_t pdm_block[DEFAULT_PDM_BUFFER_SIZE];
size_t pdm_len = 0, pdm_read = 0;
}  // namespace

unsigned long micros(void) { return clock_us; }
unsigned long millis(void) { return clock_us / 1000u; }
void delay(unsigned long ms) { clock_us += (uint32_t)(ms * 1000u); }
void pinMode(unsigned pin, int mode) { (void)pin, (void)mode; }

void digitalWrite(unsigned pin, int value)
{
    if (pin < 32) {
        pins[pin] = value;
    }
    // Active-low RGB: report which colours are lit.
    const int rgb = (pins[LEDR] == LOW) * 4 + (pins[LEDG] == LOW) * 2 + (pins[LEDB] == LOW);
    if ((pin == LEDR || pin == LEDG || pin == LEDB) && rgb != last_rgb && trace != nullptr) {
        fprintf(trace, "LED %d %d %d\n", (rgb >> 2) & 1, (rgb >> 1) & 1, rgb & 1);
    }
    if (pin == LEDR || pin == LEDG || pin == LEDB) {
        last_rgb = rgb;
    }
}

SimSerial Serial(0);
SimSerial Serial1(1);

void SimSerial::begin(unsigned long baud) { (void)baud; }
int SimSerial::available(void) { return index_ == 0 ? (int)(rx_len - rx_pos) : 0; }
int SimSerial::read(void) { return index_ == 0 && rx_pos < rx_len ? rx[rx_pos++] : -1; }
size_t SimSerial::write(uint8_t c) { return write(&c, 1); }
size_t SimSerial::write(const uint8_t *data, size_t len)
{
    if (index_ == 0 && tx != nullptr) {
        fwrite(data, 1, len, tx);
    }
    return len;
}
SimSerial::operator bool() { return true; }

PDMClass PDM;

int PDMClass::begin(int channels, int sampleRate)
{
    if (channels != 1 || sampleRate != 16000) {
        return 0;
    }
    pdm_on = true;
    pdm_len = pdm_read = 0;
    return 1;
}
void PDMClass::end() { pdm_on = false; }
int PDMClass::available() { return (int)(pdm_len - pdm_read); }
int PDMClass::read(void *buffer, size_t size)
{
    size_t n = pdm_len - pdm_read;
    if (size < n) {
        n = size;
    }
    memcpy(buffer, pdm_block + pdm_read, n);
    pdm_read += n;
    return (int)n;
}
void PDMClass::onReceive(void (*function)(void)) { pdm_callback = function; }
void PDMClass::setGain(int gain) { (void)gain; }
void PDMClass::setBufferSize(int bufferSize) { (void)bufferSize; }

void sim_set_micros(uint32_t us) { clock_us = us; }
void sim_advance_us(uint32_t us) { clock_us += us; }  // uint32: wraps like the board's counter
int sim_pdm_stopped(void) { return pdm_stopped; }
void sim_serial_input(const uint8_t *data, size_t len) { rx = data, rx_len = len, rx_pos = 0; }
void sim_serial_output(FILE *out) { tx = out; }
void sim_trace(FILE *out) { trace = out; }
void sim_model_dump(FILE *out) { dump = out; }
unsigned long sim_invokes(void) { return invokes; }

void sim_pdm_interrupt(const int16_t *pcm, size_t n)
{
    if (!pdm_on || pdm_stopped) {
        return;
    }
    if (pdm_read < pdm_len) {  // the previous block was never read: the nRF52 driver disables the PDM
        pdm_stopped = true;
        return;
    }
    if (n * sizeof(int16_t) > sizeof pdm_block) {
        n = sizeof pdm_block / sizeof(int16_t);
    }
    memcpy(pdm_block, pcm, n * sizeof(int16_t));
    pdm_len = n * sizeof(int16_t);
    pdm_read = 0;
    if (pdm_callback != nullptr) {
        pdm_callback();
    }
}

namespace tflite {

namespace {
Model the_model = {nullptr};
}

const Model *GetModel(const void *buf)
{
    the_model.buffer = buf;
    return &the_model;
}

MicroInterpreter::MicroInterpreter(const Model *model, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                                   size_t tensor_arena_size, MicroResourceVariables *resource_variables,
                                   MicroProfilerInterface *profiler)
    : resolver_(op_resolver), arena_(tensor_arena), arena_size_(tensor_arena_size), used_(0)
{
    (void)model, (void)resource_variables, (void)profiler;
    memset(&input_, 0, sizeof input_);
    memset(&output_, 0, sizeof output_);
}

TfLiteStatus MicroInterpreter::AllocateTensors()
{
    const size_t need = KWS_MODEL_INPUT_SIZE + KWS_NUM_LABELS;
    if (need > arena_size_ || resolver_.registered() != KWS_OP_COUNT) {
        return kTfLiteError;
    }
    input_.data.int8 = reinterpret_cast<int8_t *>(arena_);
    input_.type = kTfLiteInt8;
    input_.bytes = KWS_MODEL_INPUT_SIZE;
    input_.params.scale = KWS_MODEL_INPUT_SCALE;
    input_.params.zero_point = KWS_MODEL_INPUT_ZERO_POINT;
    output_.data.int8 = reinterpret_cast<int8_t *>(arena_ + KWS_MODEL_INPUT_SIZE);
    output_.type = kTfLiteInt8;
    output_.bytes = KWS_NUM_LABELS;
    output_.params.scale = KWS_MODEL_OUTPUT_SCALE;
    output_.params.zero_point = KWS_MODEL_OUTPUT_ZERO_POINT;
    used_ = need;
    return kTfLiteOk;
}

TfLiteStatus MicroInterpreter::Invoke()
{
    // "Echo": the scores are the first values of the newest frame (firmware/host/tests/fake_hal.h's model),
    // so a host steers them exactly with FEATURES frames.
    const int8_t *newest = input_.data.int8 + KWS_MODEL_INPUT_SIZE - KWS_MODEL_INPUT_FEATURES;
    for (size_t i = 0; i < output_.bytes; ++i) {
        output_.data.int8[i] = newest[i];
    }
    if (dump != nullptr) {
        fwrite(input_.data.int8, 1, input_.bytes, dump);
    }
    ++invokes;
    return kTfLiteOk;
}

TfLiteTensor *MicroInterpreter::input(size_t index) { return index == 0 ? &input_ : nullptr; }
TfLiteTensor *MicroInterpreter::output(size_t index) { return index == 0 ? &output_ : nullptr; }
size_t MicroInterpreter::arena_used_bytes() const { return used_; }

}  // namespace tflite
