/*
 * comm.h — the communicator behind sbp_comm (spikebp.h): what the trainer and the evaluation
 * need from the other processes of a data-parallel job, and nothing about how it is carried.
 * Two instances: comm_single.c (one process: every operation is the identity, so the trainer
 * and sbp_eval run one code path whatever the rank count) and comm_mpi.c (Open MPI or any MPI,
 * MPI_COMM_WORLD).
 *
 * Buffers are host memory. The gradient arena handed to sum_f32 is the backend's (engine gk, in
 * the backend's layout): the communicator never knows which backend produced it, and the
 * trainer refuses a backend whose buffers are not host memory (backend.h: host_memory) until a
 * device-aware or staged path exists.
 *
 * Every operation is collective: every rank calls it, in the same order, with the same n. A
 * failure of the transport ends the job (MPI's default error handler) rather than returning:
 * a rank that died cannot be waited for. The statuses are for arguments the transport refuses.
 */
#ifndef SBP_TRAIN_COMM_H
#define SBP_TRAIN_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "spikebp.h"

typedef struct sbp_comm_ops {
    const char *name;
    /* x (n) = the elementwise sum of every rank's x, identical bits on every rank. */
    sbp_status (*sum_f32)(const sbp_comm *c, float *x, size_t n, sbp_error *err);
    sbp_status (*sum_f64)(const sbp_comm *c, double *x, size_t n, sbp_error *err);
    sbp_status (*max_int)(const sbp_comm *c, int *x, size_t n, sbp_error *err);
    /* all = every rank's block of `bytes` bytes, in rank order (size · bytes), on every rank. */
    sbp_status (*gather)(const sbp_comm *c, const void *mine, void *all, size_t bytes,
                         sbp_error *err);
    /* The same with rank r's block of counts[r] bytes at all + offset Σ_{q<r} counts[q]. */
    sbp_status (*gatherv)(const sbp_comm *c, const void *mine, void *all, const size_t *counts,
                          sbp_error *err);
    void (*abort)(const sbp_comm *c, int code);
    void (*close)(sbp_comm *c);
} sbp_comm_ops;

struct sbp_comm {
    const sbp_comm_ops *ops;
    int rank, size;
    void *impl; /* the instance's own state (comm_mpi.c: the MPI communicator) */
};

/* The communicator to use for `c`: c itself, or the single-process instance for NULL. */
const sbp_comm *sbp_comm_or_single(const sbp_comm *c);

/* Rank r's contiguous share [*first, *last) of n items: the split OpenMP's static schedule
 * makes over `size` threads (the first n mod size get one item more), so R ranks of one thread
 * run the samples that R threads of one process would — the same partial sums. */
void sbp_comm_share(size_t n, int rank, int size, size_t *first, size_t *last);

/* One thing the ranks must agree on: a name for the message and a 64-bit fingerprint. */
typedef struct sbp_comm_fact {
    const char *what;
    uint64_t value;
} sbp_comm_fact;

/* Collective: every rank's facts (the same n and names on every rank) against rank 0's; the
 * first difference fails with SBP_ERR_INVALID_ARG naming the rank, the fact and both values.
 * `who` starts the message ("training: "). */
sbp_status sbp_comm_agree(const sbp_comm *c, const sbp_comm_fact *facts, int n, const char *who,
                          sbp_error *err);

/* CRC-32 of the weights layer by layer (what `spikebp info` prints as weights CRC-32). */
uint32_t sbp_comm_weights_crc(const sbp_net *net);
/* CRC-32 of a data set's labels, with its size and shape: the fingerprint the ranks compare. */
uint64_t sbp_comm_data_fingerprint(const sbp_dataset *ds);
/* FNV-1a over bytes, chained from h (start with 0). */
uint64_t sbp_comm_hash(uint64_t h, const void *p, size_t n);

#endif
