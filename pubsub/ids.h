/* Service-generated identifiers: item ids (XEP-0060 §7.1.1 publish
 * without an id), instant NodeIDs (§8.1.2) and notification message id
 * prefixes. An id is 16 hex digits of a strictly increasing microsecond
 * clock followed by 8 hex digits drawn at random once per generator:
 * unique within the process (the clock part never repeats), across
 * restarts (time moves on) and, with high probability, across herald
 * processes sharing a database (the random part). Ids sort by creation
 * time, which keeps them readable in logs. */
#ifndef HERALD_PS_IDS_H
#define HERALD_PS_IDS_H

#include <stdint.h>

#define PS_ID_LEN 24

typedef struct {
    uint64_t last_us; /* last clock value handed out */
    uint32_t tag;     /* the random suffix */
} ps_ids_t;

/* Seeds the random tag (getrandom, else time and pid). */
void ps_ids_init(ps_ids_t *g);

/* Writes the next id for clock reading `now_us` (microseconds since the
 * epoch; a clock that stands still or goes back still yields a larger
 * value than the previous id's). */
void ps_ids_next(ps_ids_t *g, uint64_t now_us, char out[PS_ID_LEN + 1]);

/* Current wall clock in microseconds, for ps_ids_next. */
uint64_t ps_ids_now_us(void);

#endif
