/* UART round trip: a u32 LE length, then that many bytes, echoed back byte for byte; then the number
 * of SysTick ticks the transfer took (text line). Run by tests/test_m4_board_support.py. */
#include "m4_board.h"

int main(void)
{
    uint32_t len = 0, i;
    uint64_t t0;
    for (i = 0; i < 4u; ++i) {
        len |= (uint32_t)m4_uart_getc() << (8u * i);
    }
    t0 = m4_ticks();
    for (i = 0; i < len; ++i) {
        m4_uart_putc(m4_uart_getc());
    }
    m4_uart_puts("\r\nticks=");
    m4_uart_put_u32((uint32_t)(m4_ticks() - t0));
    m4_uart_puts("\r\n");
    return 0;
}
