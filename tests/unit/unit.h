/* A tiny assert header: each test binary prints "N passed, N failed" last,
 * the closing line tests/unit/run sums up. */
#ifndef HERALD_UNIT_H
#define HERALD_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            unit_passed++;                                                     \
        } else {                                                               \
            unit_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ && b_ && strcmp(a_, b_) == 0) {                                 \
            unit_passed++;                                                     \
        } else {                                                               \
            unit_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:  %s\n  want: %s\n", \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",            \
                    b_ ? b_ : "(null)");                                       \
        }                                                                      \
    } while (0)

#define UNIT_RUN(fn)                                                           \
    do {                                                                       \
        int before_ = unit_failed;                                             \
        fn();                                                                  \
        fprintf(stderr, "  %s %s\n", unit_failed == before_ ? "ok  " : "FAIL", \
                #fn);                                                          \
    } while (0)

#define UNIT_DONE()                                                            \
    (printf("%d passed, %d failed\n", unit_passed, unit_failed),               \
     unit_failed ? 1 : 0)

#endif
