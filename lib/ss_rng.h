/* ss_rng: a counter-based random generator (Philox4x32-10, Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 *
 * The values drawn depend only on (seed, stream, index) and on how many were
 * drawn before from the same generator, never on threads or on how work is
 * split, so a result keyed by sample index is the same for any thread count
 * or chunking. The 64-bit seed is the Philox key; the counter holds the draw
 * number (32 bits), index (64 bits) and stream (32 bits). */
#ifndef SS_RNG_H
#define SS_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t seed;
    uint32_t stream;
    uint64_t index;
    uint32_t block;    /* next counter block */
    uint32_t buf[4];
    int pos;           /* next unused word of buf; 4 when empty */
} ss_rng;

/* Well-known stream numbers, so tools never share a sequence by accident. */
enum {
    SS_RNG_SHUFFLE = 1,
    SS_RNG_SPLIT = 2,
    SS_RNG_SAMPLE = 3,
    SS_RNG_AUGMENT = 4,
    SS_RNG_INIT = 5,
    SS_RNG_TRAIN = 6
};

void ss_rng_init(ss_rng *r, uint64_t seed, uint32_t stream, uint64_t index);

/* One Philox4x32-10 block for a given key and 128-bit counter. */
void ss_rng_philox(uint64_t key, const uint32_t counter[4], uint32_t out[4]);

uint32_t ss_rng_u32(ss_rng *r);
uint64_t ss_rng_u64(ss_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ss_rng_uniform(ss_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float ss_rng_uniformf(ss_rng *r);
/* Uniform integer in [0, n), without bias (Lemire's method); n > 0. */
uint64_t ss_rng_below(ss_rng *r, uint64_t n);
/* Standard normal (Box-Muller, both values of a pair are not cached, so the
 * count of draws per call is fixed at two 53-bit uniforms). */
double ss_rng_normal(ss_rng *r);

#endif
