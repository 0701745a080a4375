/*
 * analysis.h — what a trained network does while it infers (SPEC §8): spike rates, silent and
 * saturated neurons per layer, the synaptic operations an event-driven machine performs versus
 * the dense multiply-accumulates of an ANN of the same architecture, accuracy as a function of
 * the number of inference steps, and spike rasters / membrane traces of single images.
 *
 * Internal API (not in spikebp.h): the `spikebp analyze` and `spikebp plot` commands and the
 * per-epoch spike-rate summary of `spikebp train` use it. Everything the functions measure is
 * counted in integers (spikes, neurons, accumulates), so sums over images are exact and do not
 * depend on the thread count or the order of the images; ratios are formed only at the end.
 *
 * Definitions used throughout (stated in the tool's --help and table too):
 *   rate        spikes per neuron per step, over the T-step window, averaged over images;
 *   silent      a neuron with γ = 0 (no spike in the window);
 *   saturated   a neuron spiking at ≥ 90 % of the steps: γ ≥ ⌈0.9·T⌉;
 *   accumulates (ACs) one per input spike per outgoing synapse per step (§8), counted for the
 *               synapses of the layer that receives the spike. The fan-out of an input position
 *               is the number of its synapses that reach a real output: for a convolution the
 *               (c_out, ky, kx) that land on a valid output position with the layer's stride and
 *               padding (edge positions have fewer), for a dense layer the number of outputs.
 *               The input image's encoded spikes count for layer 1. Pooling counts one
 *               accumulate per input spike that falls in a pooling window (4 inputs → 1
 *               output); parameter-free residual shortcuts one per sampled input spike.
 *   dense MACs  Σ over layers with weights (and 1×1 conv shortcuts) of neurons × fan_in: what
 *               one ANN pass over the image costs (§8: LeNet 5,784,000). Padding positions
 *               count, as is conventional; pooling does not.
 *
 * What this file deliberately does not do: write files or print (the tool does), or change
 * the engine — it drives sbp_engine like sbp_eval does and reads its state afterwards.
 */
#ifndef SBP_ANALYSIS_ANALYSIS_H
#define SBP_ANALYSIS_ANALYSIS_H

#include <stdint.h>

#include "engine/engine.h"

/* Encoding counter tag of evaluation: the same value as train.c's EVAL_TAG, so that analysis
 * sees exactly the spikes sbp_eval sees (test_analysis checks the agreement). */
#define SBP_ANALYSIS_EVAL_TAG SBP_INPUT_EVAL_TAG /* sbp_eval's tag (engine.h) */

/* Integer activity counts of one group of neurons (the encoded input, or one layer), summed
 * over images. */
typedef struct sbp_activity_count {
    uint64_t neurons;   /* neurons (input positions) of the group */
    uint64_t spikes;    /* Σ over images and neurons of γ (input: Σ_t |x[t]|) */
    uint64_t silent;    /* Σ over images of the neurons with γ = 0 */
    uint64_t saturated; /* Σ over images of the neurons with γ ≥ ⌈0.9·T⌉ */
    uint64_t in_spikes; /* Σ over images of the spikes arriving at this layer's synapses */
    uint64_t acs;       /* accumulates its synapses performed (main path), summed over images */
    uint64_t acs_sc;    /* accumulates of its residual shortcut, summed over images */
} sbp_activity_count;

typedef struct sbp_activity {
    int n_layers, T;
    uint64_t images;
    sbp_activity_count input;                   /* the rate-encoded (or given) input spikes */
    sbp_activity_count layer[SBP_MAX_LAYERS];   /* output layer: spikes etc. stay 0 */
} sbp_activity;

/* Per-layer figures derived from an sbp_activity (per image unless named otherwise). */
typedef struct sbp_layer_figures {
    char name[32];       /* "20C5", "P2", "200FC", "10 out", … (the paper's notation) */
    const char *kind;    /* sbp_layer_kind_name(), or "input" */
    int spiking;         /* 0 for the non-spiking output layer (rates are NAN there) */
    uint64_t neurons;
    double rate;         /* spikes per neuron per step */
    double silent;       /* fraction of neurons with γ = 0 */
    double saturated;    /* fraction of neurons spiking at ≥ 90 % of the steps */
    double in_spikes;    /* spikes arriving at the layer's synapses, per image */
    double acs;          /* accumulates per image, including its shortcut's */
    double macs_step;    /* dense MACs of the layer per image per step (one ANN pass) */
    double density;      /* acs / (macs_step · T): fraction of the dense work done; NAN if 0 */
} sbp_layer_figures;

typedef struct sbp_analysis_figures {
    int n_layers, T;
    uint64_t images;
    sbp_layer_figures input;
    sbp_layer_figures layer[SBP_MAX_LAYERS];
    double acs;            /* SNN accumulates per image, every layer (incl. pooling) */
    double acs_pool;       /* … of which in pooling layers and parameter-free shortcuts */
    double macs_step;      /* dense ANN MACs per image, one pass (= per step of a dense SNN) */
    double macs_window;    /* macs_step · T: a clock-driven SNN touching every synapse each step */
    double ops_ratio;      /* macs_step / acs: how many ANN MACs per SNN accumulate */
    double density;        /* acs / macs_window */
    double mac_pj, ac_pj;  /* energy per operation used below */
    double ann_energy_uj;  /* macs_step · mac_pj, µJ per image */
    double snn_energy_uj;  /* acs · ac_pj, µJ per image */
    double energy_ratio;   /* ann / snn */
} sbp_analysis_figures;

/* Zeroes *a and records the group sizes of net (neurons per layer, input positions) and T. */
void sbp_activity_init(sbp_activity *a, const sbp_net *net, int T);

/* Dense ANN multiply-accumulates of one pass over an image (§8): Σ over layers with weights of
 * n_out · fan_in, plus n_out · C_in for 1×1 conv shortcuts. LeNet: 5,784,000. */
uint64_t sbp_analysis_dense_macs(const sbp_net *net);
/* The same for layer l alone (0 for pooling), including its conv shortcut. */
uint64_t sbp_analysis_layer_macs(const sbp_net *net, int l);

/* Fan-out of input position i (flat (c, h, w) index) of layer L's synapses: see the header
 * comment. For a shortcut geometry (L = net->layers[l].sc), `paramfree` selects the channel-wise
 * parameter-free form (one synapse per sampled position). */
uint32_t sbp_analysis_fanout(const sbp_layer *L, int paramfree, size_t i);

/* Short name of layer l in the paper's notation ("20C5", "64C3/2", "P2", "200FC", "10 out"). */
void sbp_analysis_layer_name(const sbp_net *net, int l, char *buf, size_t size);

/* --------------------------------------------------------------- one image at a time */

/* A probe runs single images through its own engine and adds what it sees to counters.
 * One probe per thread. Initialise with sbp_probe_init, release with sbp_probe_free. */
typedef struct sbp_probe {
    const sbp_net *net;
    int T;
    sbp_engine eng;
    uint32_t *fan;     /* one arena: fan-out per input position of every layer and shortcut */
    uint32_t *fan_of[SBP_MAX_LAYERS];    /* (n_in of layer l) */
    uint32_t *fan_sc_of[SBP_MAX_LAYERS]; /* (n_in of l's shortcut), NULL without one */
    float *x;          /* (T, n_in of layer 0) encoded input spikes of the current image */
    float *in_count;   /* (n_in of layer 0) Σ_t |x[t]| of the current image */
    float *hist;       /* (T, classes) output membrane M[t] of the current image */
    float *out;        /* (classes) o = M[T−1]/T */
} sbp_probe;

/* Takes the net's weights as they are now (like sbp_engine_set_weights). */
sbp_status sbp_probe_init(sbp_probe *p, const sbp_net *net, int T, sbp_error *err);
void sbp_probe_free(sbp_probe *p);

/* Runs one image (§1 forward, no dropout) and adds its counts to *acc. `in` is built as for
 * evaluation (sbp_analysis_input) or carries given spikes (in->spikes, (T, C, H, W)).
 * If label ≥ 0: correct_by_steps[t] (T entries, may be NULL) is incremented when the
 * prediction after t+1 steps, argmax M[t], equals the label, and confusion (classes × classes,
 * row = label, column = prediction after T steps, may be NULL) gets one count.
 * *pred_out (may be NULL) gets the prediction after T steps. */
void sbp_probe_image(sbp_probe *p, const sbp_input *in, int label, sbp_activity *acc,
                     uint64_t *correct_by_steps, uint64_t *confusion, int *pred_out);

/* The input of image i of ds as sbp_eval builds it: rate encoding with the ENCODE stream of
 * `seed`, counter tag SBP_ANALYSIS_EVAL_TAG and the image's index (or the data set's given
 * spike train). */
void sbp_analysis_input(sbp_input *in, const sbp_dataset *ds, size_t i, uint64_t seed);

/* The rate encoder of §1 exactly as the engine applies it: x (T, n) for the pixel input `in`
 * (in->pixels, mean, std, gain, key, tag, sample); n = C·H·W of the input, P = H·W. */
void sbp_analysis_encode(float *x, const sbp_input *in, int T, int C, size_t P);

/* --------------------------------------------------------------- data sets */

typedef struct sbp_analysis_opts {
    int timesteps;     /* T */
    size_t images;     /* the first `images` images of the data set; 0 = all */
    uint64_t seed;     /* encoding seed (sbp_eval's default is 1) */
    int threads;       /* 0 = OpenMP default */
    void (*progress)(void *user, size_t done, size_t total); /* optional, after each chunk */
    void *progress_user;
    /* Data parallelism (spikebp.h, sbp_comm): NULL for one process; else every rank analyses
     * its share of the images and every rank gets the summed (exact, integer) counts. The
     * progress callback then counts this rank's share. */
    const sbp_comm *comm;
} sbp_analysis_opts;

void sbp_analysis_opts_default(sbp_analysis_opts *o);

/* Runs the first o->images images of ds through the network (OpenMP over images, one probe per
 * thread) and fills *act. correct_by_steps (T entries) and confusion (classes × classes, where
 * classes = the network's outputs) are caller-owned and optional (NULL); they are overwritten.
 * The results do not depend on the thread count. */
sbp_status sbp_analysis_run(const sbp_net *net, const sbp_dataset *ds,
                            const sbp_analysis_opts *o, sbp_activity *act,
                            uint64_t *correct_by_steps, uint64_t *confusion, sbp_error *err);

/* Rates, fractions, per-image operation counts and energy (mac_pj, ac_pj per operation) from
 * the counts of sbp_analysis_run. */
void sbp_analysis_figures_of(const sbp_net *net, const sbp_activity *act, double mac_pj,
                             double ac_pj, sbp_analysis_figures *f);

/* --------------------------------------------------------------- training summary */

/* Thresholds of the training warnings: a layer is silent below 0.1 % of its neuron-steps
 * spiking, saturated above 90 %. */
#define SBP_ANALYSIS_SILENT_RATE 0.001
#define SBP_ANALYSIS_SATURATED_RATE 0.9

/* Spikes per neuron per step of every layer, measured on the first `images` images of ds
 * (64 is quick) with the evaluation encoding of `seed`. rates (n_layers, caller-owned):
 * NAN for the non-spiking output layer. */
sbp_status sbp_analysis_spike_rates(const sbp_net *net, const sbp_dataset *ds, int T,
                                    size_t images, uint64_t seed, double *rates,
                                    sbp_error *err);

/* Writes into buf (size bytes, always NUL-terminated) one line
 *   "spike rates: 1:20C5 4.1 %  2:P2 3.0 %  …"
 * and, after it, one line per silent or saturated layer:
 *   "warning: layer 5 (200FC) is silent: 0.04 % of its neuron-steps spike (< 0.1 %)"
 * Lines end with '\n'. Returns the number of warnings. */
int sbp_analysis_format_rates(const sbp_net *net, const double *rates, char *buf, size_t size);

/* --------------------------------------------------------------- single-image traces */

/* Spike raster and membrane traces of layer `layer` (0-based) for one input over T steps.
 *   raster (T, n_out of the layer), caller-owned, may be NULL: 1 where neuron i spiked at
 *     step t. It comes from one forward pass that keeps the exact-mode spike bits.
 *   membrane (T, n_watch), caller-owned, may be NULL: the membrane of neurons watch[0…n_watch−1]
 *     after every step, V[t] (after reset and leak; for the output layer M[t]). The engine
 *     exposes the membrane only at the end of a window, so V[t] is read after a window of t+1
 *     steps: T passes, O(T²) steps in all (parallel over the passes). All passes use chunks of
 *     one step so that every pass computes the same steps bit for bit.
 * threads 0 = OpenMP default. */
sbp_status sbp_analysis_trace(const sbp_net *net, const sbp_input *in, int T, int layer,
                              uint8_t *raster, const size_t *watch, int n_watch, float *membrane,
                              int threads, sbp_error *err);

#endif
