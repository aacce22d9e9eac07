#include "core/model/rng.h"

uint64_t rng_hash3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t st = a;
    uint64_t h = rng_splitmix64(&st);
    st = h ^ b;
    h = rng_splitmix64(&st);
    st = h ^ c;
    return rng_splitmix64(&st);
}

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream into the seed first so that streams of nearby seeds do not overlap. */
    uint64_t st = rng_hash3(seed, stream, 0x6c6f6e676361ull);
    for (int i = 0; i < 4; i++) r->s[i] = rng_splitmix64(&st);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0 means the whole 64-bit range */
    if (span == 0) return (int64_t)rng_next(r);
    /* Reject the top partial bucket so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do x = rng_next(r);
    while (x >= limit);
    return (int64_t)((uint64_t)lo + x % span);
}

double rng_double(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
