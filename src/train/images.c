/* images.c — the loss, the data check and the parallel image loop (images.h). */
#include "train/images.h"

#include <omp.h>

#include "core/error.h"

/* Loss Σ_k (o_k − y_k)² of one sample and, if g is not NULL, g = ∂/∂o = 2(o − y) (§2). */
double sbp_sample_loss(const float *o, int classes, int label, float *g, int *correct)
{
    double loss = 0.0;
    int best = 0;
    for (int k = 0; k < classes; k++) {
        float d = o[k] - (k == label ? 1.0f : 0.0f);
        loss += (double)d * d;
        if (g)
            g[k] = 2.0f * d;
        if (o[k] > o[best])
            best = k;
    }
    *correct = best == label;
    return loss;
}

sbp_status sbp_images_check(const sbp_net *net, const sbp_dataset *ds, int T, const char *who,
                            sbp_error *err)
{
    const sbp_net_spec *s = &net->spec;
    const sbp_layer *Lo = &net->layers[net->n_layers - 1];
    if (T < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%stimesteps must be at least 1 (got %d)", who,
                        T);
    if (ds->c != s->in_c || ds->h != s->in_h || ds->w != s->in_w)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "%sdata images are %dx%dx%d but the network expects %dx%dx%d", who, ds->h,
                        ds->w, ds->c, s->in_h, s->in_w, s->in_c);
    if ((size_t)ds->classes > Lo->n_out)
        return sbp_fail(err, SBP_ERR_SHAPE, "%sdata has %d classes but the network outputs %zu",
                        who, ds->classes, Lo->n_out);
    if (ds->n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%sdata set is empty", who);
    if (ds->timesteps > 0 && ds->timesteps != T)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "%sthe data are spike trains of %d steps but %d time steps were asked "
                        "for",
                        who, ds->timesteps, T);
    return SBP_OK;
}

int sbp_workers(int requested)
{
    return requested > 0 ? requested : omp_get_max_threads();
}

void sbp_images_each(size_t n, int workers, size_t chunk,
                     void (*fn)(void *ctx, int worker, size_t i), void *ctx,
                     void (*progress)(void *user, size_t done, size_t total), void *user)
{
    for (size_t first = 0; first < n; first += chunk) {
        const size_t last = first + chunk < n ? first + chunk : n;
#pragma omp parallel for num_threads(workers) schedule(dynamic, 1)
        for (size_t i = first; i < last; i++)
            fn(ctx, omp_get_thread_num(), i);
        if (progress)
            progress(user, last, n);
    }
}
