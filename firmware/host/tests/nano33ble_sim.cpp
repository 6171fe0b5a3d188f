/* Host driver: the Nano sketch (nano33ble.ino + HAL + TFLM backend, unchanged) on the simulated board of
 * firmware/host/arduino_stubs.
 *
 *   nano33ble_sim AUDIO.raw|- INPUTS.i8 START_US LOOPS_PER_BLOCK STALL_EVERY STALL_BLOCKS [IDLE_LOOPS]
 *
 * AUDIO.raw (int16 LE mono, or - for none) is delivered as PDM interrupts of 256 samples, 16 ms of
 * simulated time apart, starting at START_US (pick one near 2^32 to cross the wrap). After each block the
 * sketch's loop() runs LOOPS_PER_BLOCK times, except that every STALL_EVERY blocks (0: never) it does not
 * run for STALL_BLOCKS blocks (a long inference, a busy host). Then loop() runs IDLE_LOOPS (default 400)
 * more times, 1 ms apart. stdin is the host's serial input, stdout the board's serial output; stderr gets
 * the LED trace and a summary line; INPUTS.i8 every model input tensor. Built by tests/test_nano33ble.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws_hal_nano33ble.h"
#include "sim.h"

void setup();
void loop();

static unsigned char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = (unsigned char *)malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = (unsigned char *)realloc(buf, cap);
        }
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s AUDIO.raw|- INPUTS.i8 START_US LOOPS_PER_BLOCK STALL_EVERY STALL_BLOCKS "
                        "[IDLE_LOOPS]\n", argv[0]);
        return 2;
    }
    size_t audio_len = 0, rx_len = 0;
    unsigned char *audio = NULL;
    if (strcmp(argv[1], "-") != 0) {
        FILE *f = fopen(argv[1], "rb");
        if (f == NULL) {
            perror(argv[1]);
            return 2;
        }
        audio = read_all(f, &audio_len);
        fclose(f);
    }
    FILE *inputs = fopen(argv[2], "wb");
    if (inputs == NULL) {
        perror(argv[2]);
        return 2;
    }
    const unsigned long start_us = strtoul(argv[3], NULL, 10);
    const int loops_per_block = atoi(argv[4]);
    const int stall_every = atoi(argv[5]);
    const int stall_blocks = atoi(argv[6]);
    const int idle_loops = argc > 7 ? atoi(argv[7]) : 400;
    unsigned char *rx = read_all(stdin, &rx_len);

    sim_set_micros((uint32_t)start_us);
    sim_serial_input(rx, rx_len);
    sim_serial_output(stdout);
    sim_trace(stderr);
    sim_model_dump(inputs);
    setup();

    const size_t block = 256, samples = audio_len / 2;
    int16_t pcm[256];
    size_t blocks = 0;
    for (size_t start = 0; start + block <= samples; start += block, ++blocks) {
        for (size_t i = 0; i < block; ++i) {  // little-endian whatever the host
            const unsigned char *p = audio + 2 * (start + i);
            pcm[i] = (int16_t)(uint16_t)(p[0] | (p[1] << 8));
        }
        sim_pdm_interrupt(pcm, block);
        sim_advance_us(16000u);
        const bool stalled = stall_every > 0 && (int)(blocks % (size_t)stall_every) < stall_blocks;
        for (int k = 0; !stalled && k < loops_per_block; ++k) {
            loop();
        }
    }
    for (int k = 0; k < idle_loops; ++k) {
        sim_advance_us(1000u);
        loop();
    }
    fflush(stdout);
    fclose(inputs);
    fprintf(stderr, "SUMMARY blocks=%lu invokes=%lu dropped=%lu pdm_stopped=%d\n", (unsigned long)blocks,
            sim_invokes(), (unsigned long)kws_nano_audio_dropped(), sim_pdm_stopped());
    free(audio);
    free(rx);
    return 0;
}
