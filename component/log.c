#include "component/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

hlog_level_t hlog_threshold = HLOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void hlog_set_level(hlog_level_t level) { hlog_threshold = level; }

int hlog_parse_level(const char *name, hlog_level_t *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (hlog_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *hlog_level_name(hlog_level_t level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

void hlog_write(hlog_level_t level, const char *subject, const char *fmt, ...)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    int n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s: ", stamp,
                     ts.tv_nsec / 1000000, hlog_level_name(level), subject);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines whole when stderr is shared. */
    size_t len = strlen(line);
    if (len + 1 < sizeof(line)) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
}
