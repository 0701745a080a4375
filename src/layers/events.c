/* events.c — building per-step event lists from dense spike chunks. */
#include "layers/events.h"

size_t sbp_events_scratch(size_t n, int tc)
{
    /* idx and val (one float-sized slot each per entry), the header and tc + 1 offsets. */
    size_t words = 2 * n * (size_t)tc + ((size_t)tc + 1) * sizeof(size_t) / sizeof(float);
    return words + 2 * sizeof(sbp_events) / sizeof(float) + 8;
}

sbp_events *sbp_events_build(float *ws, const float *x, size_t n, int tc, size_t *count)
{
    sbp_events *ev = (sbp_events *)(void *)ws;
    float *after = (float *)(void *)(ev->off + tc + 1);
    ev->idx = (uint32_t *)(void *)after;
    ev->val = after + n * (size_t)tc;
    size_t k = 0;
    for (int t = 0; t < tc; t++) {
        ev->off[t] = k;
        const float *xt = x + (size_t)t * n;
        for (size_t i = 0; i < n; i++)
            if (xt[i] != 0.0f) {
                ev->idx[k] = (uint32_t)i;
                ev->val[k] = xt[i];
                k++;
            }
    }
    ev->off[tc] = k;
    *count = k;
    return ev;
}

size_t sbp_events_count(const float *x, size_t n, int tc)
{
    size_t k = 0, total = n * (size_t)tc;
    for (size_t i = 0; i < total; i++)
        k += x[i] != 0.0f;
    return k;
}
