/* Host stand-in for the parts of Arduino.h the Nano sketch uses (see README.md). */
#ifndef KWS_STUB_ARDUINO_H
#define KWS_STUB_ARDUINO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x0
#define OUTPUT 0x1
/* ArduinoCore-mbed variants/ARDUINO_NANO33BLE/pins_arduino.h */
#define LED_BUILTIN 13u
#define LEDR 22u
#define LEDG 23u
#define LEDB 24u

unsigned long micros(void); /* 32 bits on the board: the stub wraps it at 2^32 too */
unsigned long millis(void);
void delay(unsigned long ms);
void pinMode(unsigned pin, int mode);
void digitalWrite(unsigned pin, int value);

class SimSerial {
public:
    explicit SimSerial(int index) : index_(index) {}
    void begin(unsigned long baud);
    int available(void);
    int read(void);
    size_t write(uint8_t c);
    size_t write(const uint8_t *data, size_t len);
    operator bool(); /* non-explicit, as in ArduinoCore-mbed */

private:
    int index_;
};

extern SimSerial Serial;  /* USB CDC on the board */
extern SimSerial Serial1; /* the UART on pins TX/RX */

#endif
