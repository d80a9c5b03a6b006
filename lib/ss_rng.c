/* ss_rng: Philox4x32-10 and the distributions drawn from it. */
#include "ss_rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ss_rng_philox(uint64_t key, const uint32_t counter[4], uint32_t out[4])
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ss_rng_init(ss_rng *r, uint64_t seed, uint32_t stream, uint64_t index)
{
    r->seed = seed;
    r->stream = stream;
    r->index = index;
    r->block = 0;
    r->pos = 4;
}

uint32_t ss_rng_u32(ss_rng *r)
{
    if (r->pos == 4) {
        uint32_t ctr[4] = {r->block++, (uint32_t)r->index, (uint32_t)(r->index >> 32), r->stream};
        ss_rng_philox(r->seed, ctr, r->buf);
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

uint64_t ss_rng_u64(ss_rng *r)
{
    uint64_t hi = ss_rng_u32(r);
    return hi << 32 | ss_rng_u32(r);
}

double ss_rng_uniform(ss_rng *r)
{
    return (double)(ss_rng_u64(r) >> 11) * 0x1.0p-53;
}

float ss_rng_uniformf(ss_rng *r)
{
    return (float)(ss_rng_u32(r) >> 8) * 0x1.0p-24f;
}

uint64_t ss_rng_below(ss_rng *r, uint64_t n)
{
    if (n <= UINT32_MAX) {
        /* Lemire, "Fast random integer generation in an interval", 2019. */
        uint32_t n32 = (uint32_t)n;
        uint64_t m = (uint64_t)ss_rng_u32(r) * n32;
        uint32_t low = (uint32_t)m;
        if (low < n32) {
            uint32_t threshold = (uint32_t)(-n32) % n32;
            while (low < threshold) {
                m = (uint64_t)ss_rng_u32(r) * n32;
                low = (uint32_t)m;
            }
        }
        return m >> 32;
    }
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = ss_rng_u64(r);
    while (v >= limit);
    return v % n;
}

double ss_rng_normal(ss_rng *r)
{
    double u1 = ss_rng_uniform(r), u2 = ss_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}
