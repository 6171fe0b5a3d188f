/* Host stand-in for ArduinoCore-mbed's PDM library (libraries/PDM/src/PDM.h, nrf52 implementation):
 * available() and read() count BYTES; one interrupt = one DEFAULT_PDM_BUFFER_SIZE-byte block; a block
 * that is still unread when the next one is due stops the microphone (the driver's overflow rule). */
#ifndef KWS_STUB_PDM_H
#define KWS_STUB_PDM_H

#include <Arduino.h>

#define DEFAULT_PDM_BUFFER_SIZE 512

class PDMClass {
public:
    int begin(int channels, int sampleRate);
    void end();
    virtual int available();
    virtual int read(void *buffer, size_t size);
    void onReceive(void (*function)(void));
    void setGain(int gain);
    void setBufferSize(int bufferSize);
    virtual ~PDMClass() {}
};

extern PDMClass PDM;

#endif
