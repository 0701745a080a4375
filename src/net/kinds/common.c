/*
 * common.c — what several rows of the kind table share: reading a count of the notation,
 * §4's initialisation, the size check of an `out` count, dense-equivalent MACs. Below the
 * rows: it calls none of them and does not know the table.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "net/kinds/kind.h"

long sbp_kind_parse_count(const char **p)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(*p, &end, 10);
    if (errno || v <= 0 || v > 1000000)
        return -1;
    *p = end;
    return v;
}

void sbp_kind_init_normal(float *w, const sbp_layer *L, float gain, sbp_rng_key key,
                          uint32_t layer, uint32_t part)
{
    double sd = sqrt((double)gain / (double)L->fan_in);
    for (size_t j = 0; j < L->w_count; j++)
        w[j] = (float)(sd * sbp_rng_normal(key, layer, part, j));
}

sbp_status sbp_kind_check_out(const sbp_layer *L, const char *name, int i, sbp_error *err)
{
    const sbp_layer_spec *s = &L->spec;
    if (s->out > 1 << 16) /* keeps counts within the int and uint32 fields that hold them */
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (%s): size out of range (out %d, kernel %d, "
                        "stride %d, padding %d)",
                        i + 1, name, s->out, s->kernel, s->stride,
                        s->pad);
    return SBP_OK;
}

uint64_t sbp_kind_macs_weighted(const sbp_layer *L)
{
    return L->w_count ? (uint64_t)L->n_out * (uint64_t)L->fan_in : 0;
}
