/*
 * events.h — a chunk of layer input as a list of events (nonzero entries) per step: the
 * representation of the event-driven ("sparse") kernels (§8: one accumulate per input spike
 * per outgoing synapse). Spike maps are mostly zeros — a few percent of neurons fire per step
 * in a trained LeNet — so walking the events does far fewer operations than a dense product.
 */
#ifndef SBP_BACKEND_CPU_EVENTS_H
#define SBP_BACKEND_CPU_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

typedef struct sbp_events {
    uint32_t *idx; /* (cap) flat input index of each event, in this backend's neuron order:
                      (y·W + x)·C + c (channel-last, backend.c: channel_last) */
    float *val;    /* (cap) its value (±1, or the dropout-scaled spike, or a count) */
    size_t off[1]; /* flexible: off[t] … off[t+1] are step t's events (tc + 1 entries) */
} sbp_events;

/* Floats of scratch an event list of tc steps over n inputs needs (idx, val and offsets). */
size_t sbp_events_scratch(size_t n, int tc);

/* Builds the event list of x (tc, n) in scratch `ws` (at least sbp_events_scratch floats);
 * returns it (pointing into ws) and the total number of events in *count. */
sbp_events *sbp_events_build(float *ws, const float *x, size_t n, int tc, size_t *count);

/* Number of nonzeros of x (tc, n). */
size_t sbp_events_count(const float *x, size_t n, int tc);

/* The portable loops behind both (the vector paths are checked against them). */
sbp_events *sbp_events_build_plain(float *ws, const float *x, size_t n, int tc, size_t *count);
size_t sbp_events_count_plain(const float *x, size_t n, int tc);

/* Events written by the spiking neurons themselves (backend.h: events_bytes,
 * neuron_forward_events), so that the synapses above need not scan the rows for them: bytes
 * of one chunk's lists for rows of n neurons, and the cpu backend's neuron_forward_events, which
 * leaves in `buf` an sbp_events (at its start) equal to what sbp_events_build makes of y. */
size_t sbp_events_bytes(size_t n, int tc);
void sbp_events_neuron_forward(float *y, void *buf, const float *I, sbp_neuron_state *st,
                               const sbp_layer *L, int t0, int tc);

/* The cpu backend's spikes_unpack_events: y (tc, n) the spikes of steps t0 … t0+tc−1 from a
 * layer's bits, × mask, as spikes_unpack makes them, and in buf (sbp_events_bytes(n, tc)) the
 * event lists sbp_events_build would make of y — for a synapse's backward_events, without a
 * scan of y. */
void sbp_events_unpack(float *y, void *buf, const uint64_t *bits, const float *mask, size_t n,
                       int t0, int tc);
/* Its portable loop (the vector path is checked against it). */
void sbp_events_unpack_plain(float *y, void *buf, const uint64_t *bits, const float *mask,
                             size_t n, int t0, int tc);

/* The event-driven dense-layer kernels are used where the input's density (nonzeros / entries)
 * is at most this; above it the dense GEMM wins (bench/: measured on LeNet layers). The
 * convolutions choose per layer width (conv.c, sparse_max_density). */
#define SBP_SPARSE_MAX_DENSITY 0.15

#endif
