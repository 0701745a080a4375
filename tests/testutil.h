/*
 * testutil.h — what the kernel tests share: a fixed-seed xorshift generator (each test file
 * defines TEST_RNG_SEED before including this, so its shapes are its own and reproducible),
 * float arrays that abort the test on allocation failure, scratch as the engine hands it out,
 * and single-layer geometries resolved by the library itself.
 */
#ifndef SBP_TESTS_TESTUTIL_H
#define SBP_TESTS_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#ifndef TEST_RNG_SEED
#error "define TEST_RNG_SEED before including testutil.h"
#endif

static uint64_t rng_state = TEST_RNG_SEED;

static inline uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Uniform in [0, 1). */
static inline double urand(void)
{
    return (double)(xorshift() >> 11) * (1.0 / 9007199254740992.0);
}

/* Integer in [lo, hi]. */
static inline int irand(int lo, int hi)
{
    return lo + (int)(xorshift() % (uint64_t)(hi - lo + 1));
}

/* Standard normal (Box–Muller). */
static inline float nrand(void)
{
    double u1 = urand(), u2 = urand();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static inline float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static inline void fill_normal(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = nrand();
}

/* Scratch as the engine hands it out: 64-byte aligned, exactly the size asked for (rounded up
 * to the alignment, which aligned_alloc requires), so valgrind sees any overrun. */
static inline float *scratch_alloc(size_t floats)
{
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* A network spec with input c×h×w and the paper's neuron constants, no layers yet. */
static inline void spec_init(sbp_net_spec *spec, int c, int h, int w)
{
    memset(spec, 0, sizeof *spec);
    spec->in_c = c;
    spec->in_h = h;
    spec->in_w = w;
    spec->leak = 0.99f;
    spec->vth = 1.0f;
    spec->vth_pool = 0.75f;
    spec->init_gain = 2.0f;
}

/* Resolves `first` (followed by a 1-feature output layer unless it is an output layer itself)
 * and returns layer 0; 0 if the library rejects the geometry. */
static inline int resolve_first(sbp_layer *out, const sbp_net_spec *base, sbp_layer_spec first)
{
    sbp_net_spec spec = *base;
    spec.layers[0] = first;
    spec.n_layers = 1;
    if (first.kind != SBP_LAYER_OUTPUT) {
        spec.n_layers = 2;
        spec.layers[1] = (sbp_layer_spec){.kind = SBP_LAYER_OUTPUT, .out = 1};
    }
    sbp_layer layers[2];
    size_t n_params = 0;
    sbp_error err = {0};
    if (sbp_net_resolve(layers, NULL, &n_params, &spec, &err) != SBP_OK)
        return 0;
    *out = layers[0];
    return 1;
}

#endif
