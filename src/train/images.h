/*
 * images.h — what training, evaluation and analysis share about running a network over a data
 * set: the §2 loss of one sample, the check that data and network fit, the worker count, and
 * the parallel loop over images (one OpenMP thread per worker, chunks with a progress call).
 */
#ifndef SBP_TRAIN_IMAGES_H
#define SBP_TRAIN_IMAGES_H

#include <stddef.h>

#include "data/dataset.h"
#include "net/net.h"

/* Loss Σ_k (o_k − y_k)² of one sample and, if g is not NULL, g = ∂/∂o = 2(o − y) (§2);
 * *correct = whether argmax o (ties to the lowest class) is the label. */
double sbp_sample_loss(const float *o, int classes, int label, float *g, int *correct);

/* Whether ds can run through net with a window of T steps: T ≥ 1, image shape, classes, a
 * nonempty set, a spike data set's own T. Messages start with `who` ("" or e.g. "analysis: "). */
sbp_status sbp_images_check(const sbp_net *net, const sbp_dataset *ds, int T, const char *who,
                            sbp_error *err);

/* Workers for a requested thread count (0: OpenMP's default). */
int sbp_workers(int requested);

/* fn(ctx, worker, i) for i = 0 … n−1 on `workers` threads, in chunks of `chunk` images (dynamic
 * schedule), progress(user, done, n) after each chunk if not NULL. A worker index is used by one
 * thread at a time, so per-worker state needs no locks. */
void sbp_images_each(size_t n, int workers, size_t chunk,
                     void (*fn)(void *ctx, int worker, size_t i), void *ctx,
                     void (*progress)(void *user, size_t done, size_t total), void *user);

#endif
