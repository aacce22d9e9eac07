/* Seeded, reproducible random numbers: xoshiro256** seeded through splitmix64. The same seed
 * gives the same bits on every machine, so a run's seed is part of its identity. Independent
 * streams of one seed (documents, prefix, block scores, inputs) come from rng_seed's stream id. */
#ifndef LC_RNG_H
#define LC_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* splitmix64 step: advances *state and returns the next output. */
uint64_t rng_splitmix64(uint64_t *state);
/* A stateless 64-bit hash of a few integers (for per-element random scores). */
uint64_t rng_hash3(uint64_t a, uint64_t b, uint64_t c);

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(struct rng *r);
/* Uniform integer in [lo, hi] (inclusive, lo <= hi), without modulo bias. */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_double(struct rng *r);

#endif
