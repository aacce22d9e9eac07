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
static inline uint64_t rng_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* A stateless 64-bit hash of a few integers (for per-element random scores). */
uint64_t rng_hash3(uint64_t a, uint64_t b, uint64_t c);

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(struct rng *r);
/* Uniform integer in [lo, hi] (inclusive, lo <= hi), without modulo bias. */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_double(struct rng *r);

#endif
