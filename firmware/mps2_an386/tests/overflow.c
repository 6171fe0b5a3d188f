/* A program of a chosen size, for the link-time budget test (tests/test_m4_build.py):
 * -DBIG_FLASH_BYTES=N puts an N-byte const table in flash, -DBIG_RAM_BYTES=N an N-byte buffer in RAM.
 * Both are used through volatile accesses, so neither the compiler nor --gc-sections can drop them. */
#include "m4_board.h"

#ifndef BIG_FLASH_BYTES
#define BIG_FLASH_BYTES 16
#endif
#ifndef BIG_RAM_BYTES
#define BIG_RAM_BYTES 16
#endif

static const uint8_t big_flash[BIG_FLASH_BYTES] = {1, 2, 3};
static volatile uint8_t big_ram[BIG_RAM_BYTES];

int main(void)
{
    volatile uint32_t index = BIG_FLASH_BYTES - 1u;
    big_ram[index % BIG_RAM_BYTES] = big_flash[index];
    return big_ram[index % BIG_RAM_BYTES] == big_flash[BIG_FLASH_BYTES - 1u] ? 0 : 1;
}
