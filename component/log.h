/* Leveled logging with a subject, costing one comparison when filtered.
 * Output goes to stderr (journald picks it up under systemd). */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

typedef enum {
    HLOG_ERROR = 0,
    HLOG_WARN,
    HLOG_INFO,
    HLOG_DEBUG,
} hlog_level_t;

extern hlog_level_t hlog_threshold;

void hlog_set_level(hlog_level_t level);
/* "error"|"warn"|"info"|"debug" -> level; returns 0 on success, -1 if unknown. */
int hlog_parse_level(const char *name, hlog_level_t *out);
const char *hlog_level_name(hlog_level_t level);

void hlog_write(hlog_level_t level, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Arguments are not evaluated when the level is filtered out. */
#define hlog(level, subject, ...)                                              \
    do {                                                                       \
        if ((level) <= hlog_threshold)                                         \
            hlog_write((level), (subject), __VA_ARGS__);                       \
    } while (0)

#define hlog_error(subj, ...) hlog(HLOG_ERROR, subj, __VA_ARGS__)
#define hlog_warn(subj, ...) hlog(HLOG_WARN, subj, __VA_ARGS__)
#define hlog_info(subj, ...) hlog(HLOG_INFO, subj, __VA_ARGS__)
#define hlog_debug(subj, ...) hlog(HLOG_DEBUG, subj, __VA_ARGS__)

#endif
