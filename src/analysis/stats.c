/*
 * stats.c — the public face of the spike analysis (spikebp.h, sbp_spike_stats): per-layer spike
 * rates, silent and saturated fractions and operation counts, for callers that cannot reach
 * the internal sbp_analysis_* API (language bindings). It runs sbp_analysis_run and copies the
 * per-image figures of sbp_analysis_figures_of; it measures nothing of its own.
 */
#include <string.h>

#include "analysis/analysis.h"
#include "core/error.h"

static void copy_figures(sbp_layer_stats *s, const sbp_layer_figures *g)
{
    memset(s, 0, sizeof *s);
    memcpy(s->name, g->name, sizeof s->name);
    s->name[sizeof s->name - 1] = '\0';
    s->kind = g->kind;
    s->spiking = g->spiking;
    s->neurons = g->neurons;
    s->rate = g->rate;
    s->silent = g->silent;
    s->saturated = g->saturated;
    s->acs = g->acs;
    s->macs_step = g->macs_step;
}

sbp_status sbp_spike_stats(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                           size_t images, sbp_layer_stats *stats, sbp_error *err)
{
    if (!net || !ds || !opts || !stats)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "spike statistics: the network, data, options and output must be set");
    if (opts->timesteps < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "spike statistics: %d time steps",
                        opts->timesteps);
    sbp_analysis_opts ao;
    sbp_analysis_opts_default(&ao);
    ao.timesteps = opts->timesteps;
    ao.images = images;
    ao.seed = opts->seed;
    ao.threads = opts->threads;
    ao.progress = opts->progress;
    ao.progress_user = opts->progress_user;
    sbp_activity act;
    sbp_status st = sbp_analysis_run(net, ds, &ao, &act, NULL, NULL, err);
    if (st != SBP_OK)
        return st;
    sbp_analysis_figures f;
    /* the energy constants only feed figures this function does not return */
    sbp_analysis_figures_of(net, &act, 1.0, 1.0, &f);
    copy_figures(&stats[0], &f.input);
    for (int l = 0; l < f.n_layers; l++)
        copy_figures(&stats[1 + l], &f.layer[l]);
    return SBP_OK;
}
