/*
 * kinds.c — the table of layer kinds (one row per file in this folder, kind.h) and the few
 * helpers the rows share.
 */
#include "net/kinds/kind.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const sbp_kind *const kinds[] = {
    [SBP_LAYER_CONV] = &sbp_kind_conv,
    [SBP_LAYER_POOL] = &sbp_kind_pool,
    [SBP_LAYER_DENSE] = &sbp_kind_dense,
    [SBP_LAYER_OUTPUT] = &sbp_kind_output,
};
_Static_assert(sizeof kinds / sizeof kinds[0] == SBP_LAYER_KIND_COUNT, "one row per layer kind");

const sbp_kind *sbp_kind_of(sbp_layer_kind k)
{
    return (unsigned)k < SBP_LAYER_KIND_COUNT ? kinds[k] : NULL;
}

const char *sbp_layer_kind_name(sbp_layer_kind k)
{
    return (unsigned)k < SBP_LAYER_KIND_COUNT ? kinds[k]->name : "?";
}

sbp_layer_kind sbp_kind_find(const char *name)
{
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++)
        if (!strcmp(name, kinds[k]->name))
            return (sbp_layer_kind)k;
    return SBP_LAYER_KIND_COUNT;
}

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

sbp_status sbp_kind_check_out(const sbp_layer *L, int i, sbp_error *err)
{
    const sbp_layer_spec *s = &L->spec;
    if (s->out > 1 << 16) /* keeps counts within the int and uint32 fields that hold them */
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (%s): size out of range (out %d, kernel %d, "
                        "stride %d, padding %d)",
                        i + 1, sbp_layer_kind_name(s->kind), s->out, s->kernel, s->stride,
                        s->pad);
    return SBP_OK;
}

uint64_t sbp_kind_macs_weighted(const sbp_layer *L)
{
    return L->w_count ? (uint64_t)L->n_out * (uint64_t)L->fan_in : 0;
}
