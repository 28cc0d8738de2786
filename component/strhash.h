/* Seeded string hashing for Herald's in-memory tables. JIDs and caps
 * `ver` strings come from the network, so a fixed hash function would let
 * a peer pick keys that all collide in an open-addressing table; every
 * table therefore hashes with its own random key (SipHash-1-3). */
#ifndef HERALD_STRHASH_H
#define HERALD_STRHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t k0, k1;
} strhash_key_t;

/* Fills `key` from the kernel's random source (falls back to time and
 * address entropy if that fails: weaker, never fatal). */
void strhash_key_init(strhash_key_t *key);

/* SipHash-1-3 of `len` bytes at `data` under `key`. */
uint64_t strhash(const strhash_key_t *key, const void *data, size_t len);

#endif
