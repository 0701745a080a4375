/*
 * kind.h — a layer kind in one place: everything the library knows about conv, pool, dense or
 * output that is not a compute kernel, as one row of a table indexed by sbp_layer_kind.
 *
 * A row holds the kind's name, its token in the paper's notation, its section and keys in a
 * description file, its shape inference and neuron model, the shape and initialisation of its
 * parameters, and what the analysis counts for it. The rows live one per file in
 * src/net/kinds/ (conv.c, pool.c, dense.c, output.c), share the helpers of common.c and are
 * collected in kinds.c. The notation parser (notation.c), the description parser (netfile.c),
 * shape inference (net.c), the model and NPZ files (src/io) and the analysis (src/analysis)
 * read them and hold no per-kind code.
 * The compute kernels are not here: each backend keeps its own table of them, indexed by the
 * same enum. docs/layer-kinds.md walks through adding a kind.
 *
 * Rows are const and hold no state; every function is pure apart from writing its outputs.
 */
#ifndef SBP_NET_KINDS_KIND_H
#define SBP_NET_KINDS_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "net/layer.h"
#include "spikebp.h"

/* How the value of a description-file key is read. INT and FLOAT are stored by the row's
 * offset into sbp_layer_spec and checked against [lo, hi]; the other three are netfile.c's
 * business because they relate layers to each other (names and shortcut sources). */
typedef enum sbp_key_type {
    SBP_KEY_INT,      /* decimal integer in [lo, hi] → the int at `field` */
    SBP_KEY_FLOAT,    /* number in [lo, hi] → the float at `field` */
    SBP_KEY_SHORTCUT, /* none|conv|subsample|identity → spec.shortcut */
    SBP_KEY_NAME,     /* this layer's name, which a later 'from' may refer to */
    SBP_KEY_FROM,     /* NAME|input: where this layer's shortcut starts */
} sbp_key_type;

typedef struct sbp_kind_key {
    const char *key; /* as written in the file, e.g. "filters" */
    sbp_key_type type;
    size_t field;    /* INT, FLOAT: offsetof(sbp_layer_spec, …) */
    double lo, hi;   /* INT, FLOAT: accepted range, both ends included */
    int required;    /* a section without it is an error */
} sbp_kind_key;

/* Row flags: what a kind allows that the others do not. */
enum {
    SBP_KIND_DROPOUT = 1u << 0,  /* spec.dropout may be > 0 (hidden spiking layers) */
    SBP_KIND_SHORTCUT = 1u << 1, /* may receive a residual shortcut (spec.shortcut) */
    SBP_KIND_FINAL = 1u << 2,    /* the network's last layer, and only it */
};

typedef struct sbp_kind {
    const char *name; /* sbp_layer_kind_name(), [name] section, model files, tensor names */
    unsigned flags;   /* SBP_KIND_* */

    /* --- paper notation (notation.c) */
    const char *notation; /* the token(s) for messages, e.g. "nCk, nCk/s" */
    /* Fills *l (zeroed by the caller) from `tok` and returns 1 if the token is this kind's;
     * returns 0 without judging it otherwise. */
    int (*notation_parse)(sbp_layer_spec *l, const char *tok);
    /* Writes "-TOKEN" for layer i (0-based) into tok; SBP_ERR_UNSUPPORTED (naming layer i+1)
     * for a layer the notation cannot express. */
    sbp_status (*notation_format)(const sbp_layer_spec *l, int i, char *tok, size_t size,
                                  sbp_error *err);

    /* --- description file (netfile.c): section [name] */
    const sbp_kind_key *keys;
    int n_keys; /* ≤ 32: netfile.c keeps one bit per key */
    /* Values before any key of a new section is read (after zeroing); NULL: all zero. */
    void (*section_defaults)(sbp_layer_spec *l);
    /* Defaults that depend on other keys, once the section is complete; bit i of `given` is
     * set if keys[i] was written. NULL: none. */
    void (*section_complete)(sbp_layer_spec *l, unsigned given);

    /* --- shape inference (net.c) */
    /* Given L->spec, the input shape L->in_c/h/w and the defaults of a LIF layer (neuron,
     * leak, threshold from `spec`), sets out_c/h/w, fan_in and w_count, and changes the neuron
     * model where the kind has another. i (0-based) is for messages; errors are SBP_ERR_SHAPE
     * naming layer i+1. n_in, n_out and the weight offset are the caller's. */
    sbp_status (*infer)(sbp_layer *L, const sbp_net_spec *spec, int i, sbp_error *err);

    /* --- parameters: model files, NPZ export/import, initialisation */
    /* PyTorch shape of the layer's weight tensor into shape[0 … ndim−1]; returns ndim, 0 for a
     * kind without weights. The product equals L->w_count. */
    int (*param_shape)(const sbp_layer *L, size_t shape[4]);
    /* Draws the L->w_count weights w (§4) from stream (layer, part) of the INIT key; NULL for
     * a kind without weights. */
    void (*init)(float *w, const sbp_layer *L, float gain, sbp_rng_key key, uint32_t layer,
                 uint32_t part);

    /* --- analysis (SPEC §8) */
    /* Synaptic operations one spike of input neuron i (flat index into the C×H×W input)
     * causes; `paramfree` counts taps only (a parameter-free shortcut adds, it does not
     * multiply per output channel). */
    uint32_t (*fanout)(const sbp_layer *L, int paramfree, size_t i);
    /* Multiply-accumulates per time step of the equivalent dense (ANN) computation. */
    uint64_t (*macs)(const sbp_layer *L);
    /* Short label for tables and figures, e.g. "20C5", "P2", "200FC", "10 out". */
    void (*label)(const sbp_layer_spec *s, char *buf, size_t size);
} sbp_kind;

extern const sbp_kind sbp_kind_conv, sbp_kind_pool, sbp_kind_dense, sbp_kind_output;

/* The row of kind k, or NULL for a value outside the enum. */
const sbp_kind *sbp_kind_of(sbp_layer_kind k);
/* The kind whose name is `name`, or SBP_LAYER_KIND_COUNT. */
sbp_layer_kind sbp_kind_find(const char *name);

/* ---- shared by the rows (common.c) */

/* Parses a positive decimal integer (≤ 1,000,000) at *p, advancing it; -1 if none. */
long sbp_kind_parse_count(const char **p);
/* §4 initialisation: w[j] = sd·N(0,1) with sd = √(gain / fan_in), draw j of stream
 * (layer, part). */
void sbp_kind_init_normal(float *w, const sbp_layer *L, float gain, sbp_rng_key key,
                          uint32_t layer, uint32_t part);
/* The size check every kind with an `out` count makes (a layer of more than 2¹⁶ channels);
 * `name` is the kind's, for the message. */
sbp_status sbp_kind_check_out(const sbp_layer *L, const char *name, int i, sbp_error *err);
/* Dense-equivalent MACs of a weighted layer: every output neuron sums fan_in inputs. */
uint64_t sbp_kind_macs_weighted(const sbp_layer *L);

/* The fully connected synapse of dense.c, which the output kind shares; `name` is the
 * calling kind's, for messages. */
sbp_status sbp_kind_fc_infer(sbp_layer *L, const char *name, int i, sbp_error *err);
int sbp_kind_fc_param_shape(const sbp_layer *L, size_t shape[4]);
uint32_t sbp_kind_fc_fanout(const sbp_layer *L, int paramfree, size_t i);

#endif
