/* The Arduino runtime the stand-in headers declare, as no-ops, so the Nano sketch links with arm-none-eabi-gcc
 * and newlib-nano for a size figure (tests/test_nano33ble_arm.py). Not a board: no pin, clock, USB or PDM
 * driver is here, and the figure leaves out the mbed core (mbed OS, USB CDC, the PDM library), which the
 * real build adds. Linked without startup files or syscalls, so anything in the sketch that wants a heap
 * (_sbrk) or stdio fails the link.
 */
#include <Arduino.h>
#include <PDM.h>

namespace {
volatile uint32_t g_clock_us = 0;  // advances on every read, so a loop that waits on the clock ends
}

unsigned long micros(void) { return g_clock_us += 1000u; }
unsigned long millis(void) { return micros() / 1000u; }
void delay(unsigned long ms) { g_clock_us += (uint32_t)(ms * 1000u); }
void pinMode(unsigned pin, int mode) { (void)pin, (void)mode; }
void digitalWrite(unsigned pin, int value) { (void)pin, (void)value; }

SimSerial Serial(0);
SimSerial Serial1(1);

void SimSerial::begin(unsigned long baud) { (void)baud; }
int SimSerial::available(void) { return 0; }
int SimSerial::read(void) { return -1; }
size_t SimSerial::write(uint8_t c) { return write(&c, 1); }
size_t SimSerial::write(const uint8_t *data, size_t len) { return data != nullptr ? len : 0; }
SimSerial::operator bool() { return index_ >= 0; }

PDMClass PDM;

int PDMClass::begin(int channels, int sampleRate) { return channels == 1 && sampleRate == 16000; }
void PDMClass::end() {}
int PDMClass::available() { return 0; }
int PDMClass::read(void *buffer, size_t size) { return buffer != nullptr && size > 0 ? 0 : -1; }
void PDMClass::onReceive(void (*function)(void)) { (void)function; }
void PDMClass::setGain(int gain) { (void)gain; }
void PDMClass::setBufferSize(int bufferSize) { (void)bufferSize; }

// What the startup files and libstdc++ bring in the real build: PDMClass's virtual destructor needs a
// deleting destructor (operator delete; nothing is ever deleted, there is no heap), and the global PDM
// object registers that destructor against the module handle of crtbegin.o.
void operator delete(void *p) noexcept { (void)p; }
void operator delete(void *p, size_t n) noexcept { (void)p, (void)n; }
extern "C" {
void *__dso_handle = nullptr;
}

void setup();
void loop();

int main(void)
{
    setup();
    for (;;) {
        loop();
    }
}
