/* comm_mpi.c — the MPI communicator (comm.h): MPI_COMM_WORLD, built when CMake finds MPI
 * (SBP_HAVE_MPI); without it sbp_comm_mpi_open reports that this build has none. */
#include <stdlib.h>
#include <string.h>

#include "train/comm.h"

#ifdef SBP_HAVE_MPI
#include <limits.h>
#include <mpi.h>

int sbp_comm_mpi_built(void)
{
    return 1;
}

/* MPI counts are int: long arrays go in pieces of at most 2^30 elements. */
#define PIECE ((size_t)1 << 30)

static sbp_status sum(const sbp_comm *c, void *x, size_t n, size_t elem, MPI_Datatype type,
                      MPI_Op op, sbp_error *err)
{
    MPI_Comm mc = *(MPI_Comm *)c->impl;
    for (size_t at = 0; at < n; at += PIECE) {
        const int k = (int)(n - at < PIECE ? n - at : PIECE);
        const int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)x + at * elem, k, type, op, mc);
        if (rc != MPI_SUCCESS)
            return sbp_fail(err, SBP_ERR_IO, "MPI_Allreduce of %d values failed (error %d)", k,
                            rc);
    }
    return SBP_OK;
}

static sbp_status sum_f32(const sbp_comm *c, float *x, size_t n, sbp_error *err)
{
    return sum(c, x, n, sizeof *x, MPI_FLOAT, MPI_SUM, err);
}

static sbp_status sum_f64(const sbp_comm *c, double *x, size_t n, sbp_error *err)
{
    return sum(c, x, n, sizeof *x, MPI_DOUBLE, MPI_SUM, err);
}

static sbp_status max_int(const sbp_comm *c, int *x, size_t n, sbp_error *err)
{
    return sum(c, x, n, sizeof *x, MPI_INT, MPI_MAX, err);
}

static sbp_status gather(const sbp_comm *c, const void *mine, void *all, size_t bytes,
                         sbp_error *err)
{
    if (bytes > INT_MAX)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "MPI_Allgather: %zu bytes per rank", bytes);
    const int rc = MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE,
                                 *(MPI_Comm *)c->impl);
    if (rc != MPI_SUCCESS)
        return sbp_fail(err, SBP_ERR_IO, "MPI_Allgather failed (error %d)", rc);
    return SBP_OK;
}

static sbp_status gatherv(const sbp_comm *c, const void *mine, void *all, const size_t *counts,
                          sbp_error *err)
{
    int *cnt = malloc(2 * (size_t)c->size * sizeof *cnt);
    if (!cnt)
        return sbp_fail(err, SBP_ERR_NOMEM, "MPI_Allgatherv: out of memory");
    size_t off = 0;
    for (int r = 0; r < c->size; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX) {
            free(cnt);
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "MPI_Allgatherv: %zu bytes exceed int",
                            off + counts[r]);
        }
        cnt[r] = (int)counts[r];
        cnt[c->size + r] = (int)off;
        off += counts[r];
    }
    const int rc = MPI_Allgatherv(mine, cnt[c->rank], MPI_BYTE, all, cnt, cnt + c->size,
                                  MPI_BYTE, *(MPI_Comm *)c->impl);
    free(cnt);
    if (rc != MPI_SUCCESS)
        return sbp_fail(err, SBP_ERR_IO, "MPI_Allgatherv failed (error %d)", rc);
    return SBP_OK;
}

static void mpi_abort(const sbp_comm *c, int code)
{
    MPI_Abort(*(MPI_Comm *)c->impl, code);
}

static void mpi_close(sbp_comm *c)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
    free(c->impl);
    free(c);
}

static const sbp_comm_ops mpi_ops = {
    .name = "mpi",
    .sum_f32 = sum_f32,
    .sum_f64 = sum_f64,
    .max_int = max_int,
    .gather = gather,
    .gatherv = gatherv,
    .abort = mpi_abort,
    .close = mpi_close,
};

sbp_status sbp_comm_mpi_open(sbp_comm **out, sbp_error *err)
{
    *out = NULL;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "MPI is already initialised in this process: one communicator per "
                        "process");
    /* FUNNELED: only the thread that called this calls MPI; OpenMP workers never do. */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sbp_fail(err, SBP_ERR_IO, "MPI_Init_thread failed");
    sbp_comm *c = calloc(1, sizeof *c);
    MPI_Comm *mc = malloc(sizeof *mc);
    if (!c || !mc) {
        free(c);
        free(mc);
        MPI_Finalize();
        return sbp_fail(err, SBP_ERR_NOMEM, "MPI communicator: out of memory");
    }
    *mc = MPI_COMM_WORLD;
    c->ops = &mpi_ops;
    c->impl = mc;
    MPI_Comm_rank(*mc, &c->rank);
    MPI_Comm_size(*mc, &c->size);
    *out = c;
    return SBP_OK;
}

#else /* no MPI in this build */

int sbp_comm_mpi_built(void)
{
    return 0;
}

sbp_status sbp_comm_mpi_open(sbp_comm **out, sbp_error *err)
{
    *out = NULL;
    return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                    "this build of spikebp has no MPI (install libopenmpi-dev and rebuild: CMake "
                    "reports MPI ✓ when it finds it)");
}

#endif
