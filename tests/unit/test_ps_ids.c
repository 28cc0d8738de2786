/* Service-generated ids: format, strict increase even when the clock
 * stands still or goes back, distinct tags per generator. */
#include "tests/unit/unit.h"

#include <string.h>

#include "pubsub/ids.h"

static int is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void test_ids(void)
{
    ps_ids_t g;
    ps_ids_init(&g);
    char a[PS_ID_LEN + 1], b[PS_ID_LEN + 1];
    ps_ids_next(&g, 1000, a);
    CHECK(strlen(a) == PS_ID_LEN && is_hex(a));
    CHECK(memcmp(a, "00000000000003e8", 16) == 0);
    /* Same clock reading, and an earlier one: still increasing. */
    int increasing = 1;
    for (int i = 0; i < 1000; i++) {
        ps_ids_next(&g, i % 3 ? 1000 : 900, b);
        increasing &= strcmp(b, a) > 0;
        memcpy(a, b, sizeof a);
    }
    CHECK(increasing);
    ps_ids_next(&g, 5000000, b);
    CHECK(memcmp(b, "00000000004c4b40", 16) == 0);
    /* Two generators (processes) at the same instant differ. */
    ps_ids_t h;
    ps_ids_init(&h);
    if (h.tag == g.tag) /* 1 in 2^32: make the check deterministic */
        h.tag ^= 1;
    char c[PS_ID_LEN + 1], d[PS_ID_LEN + 1];
    ps_ids_next(&g, 9999999999, c);
    ps_ids_next(&h, 9999999999, d);
    CHECK(strcmp(c, d) != 0);
    CHECK(memcmp(c, d, 16) == 0);
    /* The real clock is plausible (after 2020, in microseconds). */
    CHECK(ps_ids_now_us() > 1577836800ull * 1000000ull);
}

int main(void)
{
    UNIT_RUN(test_ids);
    return UNIT_DONE();
}
