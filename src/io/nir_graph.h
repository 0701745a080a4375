/*
 * nir_graph.h — a NIR file read as a graph (nir_graph.c), for the importer (nir_read.c): the
 * nodes with their types, the edges, and typed reads of a node's keys, each failure a message
 * naming the file and the node. Only hard links and data stored inside the file are followed.
 * Included only when SBP_HAVE_HDF5 is defined.
 */
#ifndef SBP_IO_NIR_GRAPH_H
#define SBP_IO_NIR_GRAPH_H

#include <stddef.h>

#include "core/error.h"
#include "io/nir_h5.h"
#include "spikebp.h"

enum node_type {
    NT_INPUT, NT_OUTPUT, NT_CONV2D, NT_AVGPOOL2D, NT_IF, NT_LIF, NT_LI, NT_I, NT_LINEAR,
    NT_AFFINE, NT_FLATTEN, NT_OTHER
};


#define NIR_MAX_NODES (6 * SBP_MAX_LAYERS + 8)
#define NIR_MAX_EDGES (2 * NIR_MAX_NODES)
#define NIR_NAME 64

typedef struct rnode {
    char name[NIR_NAME];
    char type_name[32];
    enum node_type type;
    hid_t g;
    int layer; /* spikebp layer whose neurons this node is (−1: none, −2: the input) */
    int used;  /* visited by the walk */
} rnode;

typedef struct in_path {
    int src;  /* neuron (or input) node the current comes from */
    int syn;  /* synapse node (Conv2d, AvgPool2d, Linear, Affine) or −1 for a direct edge */
    int flat; /* Flatten node between src and syn, or −1 */
} in_path;

typedef struct layer_nodes {
    int neuron, syn, flat, sc_syn;
} layer_nodes;

typedef struct reader {
    const char *path;
    sbp_error *err;
    hid_t file, graph, nodes_g, meta;
    int n_nodes;
    rnode node[NIR_MAX_NODES];
    int n_edges;
    int edge[NIR_MAX_EDGES][2];
    layer_nodes ln[SBP_MAX_LAYERS];
    double dt;
} reader;

/* NIR's type name of each node_type ("Input", "Conv2d", …). */
extern const char *const sbp_nir_type_names[NT_OTHER];

/* Fails with st and a message "PATH: node 'NODE': …" (or "PATH: …" when node is NULL). */
sbp_status sbp_nir_fail(reader *r, sbp_status st, const char *node, const char *fmt, ...)
    SBP_PRINTF(4, 5);
/* Typed reads (nir_graph.c has each one's contract). */
hid_t sbp_nir_open_child(hid_t loc, const char *name, H5I_type_t kind);
int sbp_nir_read_string(hid_t loc, const char *name, char *out, size_t size);
long sbp_nir_read_numbers(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                         size_t max);
void sbp_nir_dims_text(char *buf, size_t size, int rank, const hsize_t *dims);
sbp_status sbp_nir_read_ints(reader *r, const rnode *n, const char *key, long long *out, int want,
                            int broadcast);
sbp_status sbp_nir_read_param(reader *r, const rnode *n, const char *key, size_t count,
                             double *value, int optional, double dflt);
/* The graph: nodes by name, the node and edge lists, and the current paths into a node. */
int sbp_nir_find_node(const reader *r, const char *name);
sbp_status sbp_nir_read_nodes(reader *r);
sbp_status sbp_nir_read_edges(reader *r);
int sbp_nir_is_source(enum node_type t);
int sbp_nir_is_synapse(enum node_type t);
int sbp_nir_in_degree(const reader *r, int node, int *from);
sbp_status sbp_nir_in_paths(reader *r, int n, in_path *p, int *np);

#endif
