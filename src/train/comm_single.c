/* comm_single.c — the communicator of one process alone (comm.h): every collective is the
 * identity, so the trainer and sbp_eval have one code path whatever the rank count. */
#include <string.h>

#include "train/comm.h"

static sbp_status sum_f32(const sbp_comm *c, float *x, size_t n, sbp_error *err)
{
    return SBP_OK;
}

static sbp_status sum_f64(const sbp_comm *c, double *x, size_t n, sbp_error *err)
{
    return SBP_OK;
}

static sbp_status max_int(const sbp_comm *c, int *x, size_t n, sbp_error *err)
{
    return SBP_OK;
}

static sbp_status gather(const sbp_comm *c, const void *mine, void *all, size_t bytes,
                         sbp_error *err)
{
    if (bytes && mine != all)
        memmove(all, mine, bytes);
    return SBP_OK;
}

static sbp_status gatherv(const sbp_comm *c, const void *mine, void *all, const size_t *counts,
                          sbp_error *err)
{
    return gather(c, mine, all, counts[0], err);
}

static void no_abort(const sbp_comm *c, int code)
{
}

static const sbp_comm_ops single_ops = {
    .name = "single",
    .sum_f32 = sum_f32,
    .sum_f64 = sum_f64,
    .max_int = max_int,
    .gather = gather,
    .gatherv = gatherv,
    .abort = no_abort,
    .close = NULL, /* nothing to end; and the instance below is shared and read-only */
};

static const sbp_comm single = {.ops = &single_ops, .rank = 0, .size = 1};

const sbp_comm *sbp_comm_or_single(const sbp_comm *c)
{
    return c ? c : &single;
}
