/*
 * kinds.c — the table of layer kinds: one row per file in this folder (kind.h), collected
 * here and looked up by enum or by name. Nothing here is called by a row (common.c is).
 */
#include "net/kinds/kind.h"

#include <string.h>

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
