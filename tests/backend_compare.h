/*
 * backend_compare.h — a backend checked against the reference backend (the oracle) through the
 * library API: tiny networks, the backend chosen at run time by name, outputs o = M[T−1]/T and
 * weight gradients of a backward mode; one trainer step and an evaluation; the table itself.
 * Shared by tests/test_backend.c (cpu) and tests/test_cuda.c (cuda).
 *
 * Tolerance BC_TOL: the backends sum in different orders (GEMM or event lists against direct
 * loops), so currents differ by float rounding (~1e-6 relative); at these sizes no membrane
 * lands within that distance of a threshold, so the spikes agree and outputs and gradients agree
 * to 2e-5 of their largest magnitude. A wrong kernel, layout or reduction is off by O(1).
 */
#ifndef SBP_TESTS_BACKEND_COMPARE_H
#define SBP_TESTS_BACKEND_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#define BC_TOL 2e-5

/* A network: notation (with dropout 0.2 on layer 1), or NULL for the residual net (a 1×1 conv,
 * a subsample and an identity shortcut, dropout 0.25 on layer 2). The case named "strided"
 * gets padding 1 on layer 1 instead of the notation's (k − 1)/2. framed: no dropout, and images
 * as MNIST's, blank (mean 0) outside a box, so that the engine finds margins of layer 1 that no
 * current reaches (sbp_neuron_state.quiet) and a backend may skip them. */
typedef struct bc_case {
    const char *name;
    const char *notation;
    int framed;
} bc_case;

/* Deterministic pseudo-random pixels. */
void bc_image(uint8_t *px, size_t n, uint32_t seed);
double bc_max_abs(const float *a, size_t n);
/* Largest |a − b| relative to the largest |a|. */
double bc_rel_diff(const float *a, const float *b, size_t n);

/* Backend `name` against the reference on case c in `mode` (4 samples, T = 12, chunks of tc
 * steps; 0: the backend's choice): outputs and every weight gradient within BC_TOL, and, when
 * exact_counts, layer 1's spike counts equal (compared in channel-first order). */
void bc_compare_engines(const char *name, const bc_case *c, sbp_backward mode, int tc,
                        int exact_counts);

/* One SGD step (train_threads workers) and an evaluation (eval_threads) through the public
 * options on backend `name` against the reference: weights within BC_TOL, the same number
 * correct, the loss within 1e-4 relative. */
void bc_compare_trainers(const char *name, int train_threads, int eval_threads);

/* Every operation of be's table is filled, synapse rows with weight conversion where the kind
 * has weights: a missing one would crash the engine. */
void bc_check_table(const sbp_backend *be);

#endif
