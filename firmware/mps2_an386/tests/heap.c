/* Uses malloc: the board has no heap, so this must fail to link (tests/test_m4_build.py). */
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(16);
    return p == NULL;
}
