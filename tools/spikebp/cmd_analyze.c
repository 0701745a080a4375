/*
 * cmd_analyze.c — `spikebp analyze`: what a trained network does while it infers (SPEC §8):
 * spike rates, silent and saturated neurons per layer, the accumulates an event-driven machine
 * performs against the dense MACs of an ANN of the same architecture, the energy both would
 * need, and accuracy as a function of the number of inference steps. A table (or one JSON
 * object) on stdout; two CSV files next to the model for `spikebp plot`.
 * Definitions and counting rules: src/analysis/analysis.h.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "cli.h"
#include "outputs.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: spikebp analyze --model FILE [--data NAME] [options]\n\n"
            "Runs test images through a saved model and reports, per layer, the spike rate, the\n"
            "silent and saturated neurons and the synaptic operations of event-driven inference\n"
            "(SPEC §8), the dense ANN MACs and energy of the same architecture, and accuracy as a\n"
            "function of the number of inference steps.\n\n"
            "input\n"
            "  --model FILE          a model saved by 'spikebp train' (required)\n"
            "  --data NAME           mnist | fashion-mnist | folder of IDX files\n"
            "                        [default: the data the model was trained on]\n"
            "  -T, --timesteps N     time steps per image      [default: the model's training T]\n"
            "  --images N            analyse the first N test images                    [1000]\n"
            "  --seed S              seed of the input spike encoding (as eval)            [1]\n"
            "energy (45 nm, 32-bit float, SPEC §8)\n"
            "  --mac-pj X            energy of one multiply-accumulate, pJ               [4.6]\n"
            "  --ac-pj X             energy of one accumulate, pJ                        [0.9]\n"
            "output\n"
            "  --csv FILE            per-layer CSV                       [MODEL.analysis.csv]\n"
            "  --steps-csv FILE      accuracy by inference steps  [MODEL.accuracy_steps.csv]\n"
            "  --json                print one JSON object instead of the table\n"
            "  --quiet               no progress bar\n"
            "  --threads N           worker threads                             [all cores]\n\n"
            "definitions\n"
            "  rate       spikes per neuron per time step, averaged over the images\n"
            "  silent     neurons that never spike in the window (γ = 0)\n"
            "  saturated  neurons spiking at ≥ 90 %% of the T steps (γ ≥ ⌈0.9·T⌉)\n"
            "  ACs        accumulates: one per input spike per outgoing synapse per step, counted\n"
            "             at the receiving layer; convolution fan-outs count only synapses that\n"
            "             reach a real output (fewer at the edges, none into padding); layer 1\n"
            "             receives the encoded input spikes; a pooling layer counts one\n"
            "             accumulate per input spike (4 inputs → 1 output), as does a\n"
            "             parameter-free residual shortcut\n"
            "  MACs       dense ANN multiply-accumulates: neurons × fan-in over the layers with\n"
            "             weights (LeNet: 5,784,000); one ANN pass per image, ×T for a dense\n"
            "             clock-driven simulation of the SNN\n"
            "  energy     ANN = MACs of one pass × MAC pJ; SNN = ACs over the window × AC pJ\n");
}

static void on_progress(void *user, size_t done, size_t total)
{
    cli_progress_update(user, done, NULL);
}

/* A number with thousands separators ("5,784,000"); v ≥ 0, rounded. */
static const char *grouped(char *buf, size_t size, double v)
{
    char raw[64];
    if (!isfinite(v)) {
        snprintf(buf, size, "—");
        return buf;
    }
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        buf[o++] = raw[i];
        if (raw[i] != '-' && (n - 1 - i) % 3 == 0 && i + 1 < n)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* A percentage or "—" for NAN, right-aligned in `width`. */
static void pct(char *buf, size_t size, double v, int width)
{
    if (isnan(v))
        snprintf(buf, size, "%*s", width + 2, "—"); /* the dash is 3 bytes, 1 column */
    else
        snprintf(buf, size, "%*.2f", width, 100.0 * v);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
}

static int write_layer_csv(const char *path, const sbp_analysis_figures *fg)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fprintf(f, "layer,name,kind,neurons,spike_rate,silent_fraction,saturated_fraction,"
               "input_spikes_per_image,acs_per_image,dense_macs_per_step,dense_macs_per_image,"
               "density\n");
    for (int l = -1; l < fg->n_layers; l++) {
        const sbp_layer_figures *g = l < 0 ? &fg->input : &fg->layer[l];
        fprintf(f, "%d,%s,%s,%llu,", l + 1, g->name, g->kind, (unsigned long long)g->neurons);
        csv_num(f, g->spiking ? g->rate : NAN);
        fputc(',', f);
        csv_num(f, g->spiking ? g->silent : NAN);
        fputc(',', f);
        csv_num(f, g->spiking ? g->saturated : NAN);
        fputc(',', f);
        if (l >= 0) {
            csv_num(f, g->in_spikes);
            fputc(',', f);
            csv_num(f, g->acs);
            fputc(',', f);
            csv_num(f, g->macs_step);
            fputc(',', f);
            csv_num(f, g->macs_step * fg->T);
            fputc(',', f);
            csv_num(f, g->density);
        } else {
            fputs(",,,,", f);
        }
        fputc('\n', f);
    }
    fprintf(f, ",total,total,,,,,,");
    csv_num(f, fg->acs);
    fputc(',', f);
    csv_num(f, fg->macs_step);
    fputc(',', f);
    csv_num(f, fg->macs_window);
    fputc(',', f);
    csv_num(f, fg->density);
    fputc('\n', f);
    return fclose(f) == 0;
}

static int write_steps_csv(const char *path, const uint64_t *cbs, int T, uint64_t images)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fprintf(f, "steps,accuracy,correct,images\n");
    for (int t = 0; t < T; t++)
        fprintf(f, "%d,%.6f,%llu,%llu\n", t + 1, (double)cbs[t] / (double)images,
                (unsigned long long)cbs[t], (unsigned long long)images);
    return fclose(f) == 0;
}

static void print_table(const char *model, const char *data, long seed,
                        const sbp_analysis_figures *fg, const uint64_t *cbs)
{
    char a[64], b[64], c[64], r[32], s[32], z[32];
    const int T = fg->T;
    printf("%s on %s: %llu test images, T = %d steps, encoding seed %ld\n\n", model, data,
           (unsigned long long)fg->images, T, seed);
    printf("  #  %-9s %9s %8s %8s %8s %14s %14s %16s %11s\n", "layer", "neurons", "rate %",
           "silent %", "satur. %", "in spikes/img", "ACs/img", "dense MACs/step",
           "% of MACs·T");
    for (int l = -1; l < fg->n_layers; l++) {
        const sbp_layer_figures *g = l < 0 ? &fg->input : &fg->layer[l];
        pct(r, sizeof r, g->rate, 8);
        pct(s, sizeof s, g->silent, 8);
        pct(z, sizeof z, g->saturated, 8);
        if (l < 0) {
            printf("  -  %-9s %9llu %s %s %s\n", g->name, (unsigned long long)g->neurons, r, s,
                   z);
            continue;
        }
        char d[32];
        pct(d, sizeof d, g->density, 10);
        printf("%3d  %-9s %9llu %s %s %s %14s %14s %16s %s\n", l + 1, g->name,
               (unsigned long long)g->neurons, r, s, z, grouped(a, sizeof a, g->in_spikes),
               grouped(b, sizeof b, g->acs), grouped(c, sizeof c, g->macs_step), d);
    }
    printf("\n  rate: spikes per neuron per step; silent: no spike in the window (γ = 0);\n"
           "  saturated: spiking at ≥ 90 %% of the steps (γ ≥ %d of %d); averaged over images.\n"
           "  ACs: one accumulate per input spike per outgoing synapse (SPEC §8), no synapses\n"
           "  into padding; pooling and parameter-free shortcuts: one per input spike.\n\n",
           (9 * T + 9) / 10, T);
    printf("operations per image\n");
    printf("  SNN accumulates, event-driven, T = %d       %16s  (pooling %s)\n", T,
           grouped(a, sizeof a, fg->acs), grouped(b, sizeof b, fg->acs_pool));
    printf("  ANN multiply-accumulates, one pass          %16s  (= dense MACs per step)\n",
           grouped(a, sizeof a, fg->macs_step));
    printf("  dense SNN, every synapse at every step (×T) %16s  SNN ACs are %.3f %% of it\n",
           grouped(a, sizeof a, fg->macs_window), 100.0 * fg->density);
    printf("  ANN MACs / SNN ACs                          %16.3f\n", fg->ops_ratio);
    printf("energy per image (MAC %.3g pJ, AC %.3g pJ)\n", fg->mac_pj, fg->ac_pj);
    printf("  ANN %.4g µJ   SNN %.4g µJ   ANN / SNN %.3f\n\n", fg->ann_energy_uj,
           fg->snn_energy_uj, fg->energy_ratio);
    printf("accuracy by inference steps (prediction argmax M[t] after t steps):\n ");
    const int marks[] = {1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 500, 1000};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (marks[i] < T)
            printf(" t=%d %.2f %% ", marks[i], 100.0 * (double)cbs[marks[i] - 1] / fg->images);
    printf(" t=%d %.2f %%\n", T, 100.0 * (double)cbs[T - 1] / fg->images);
}

static void print_json(const char *model, const char *data, long seed, const char *csv,
                       const char *steps_csv, const sbp_analysis_figures *fg, const uint64_t *cbs)
{
    const int T = fg->T;
    printf("{\"command\":\"analyze\",\"model\":");
    cli_json_string(stdout, model);
    printf(",\"data\":");
    cli_json_string(stdout, data);
    printf(",\"timesteps\":%d,\"images\":%llu,\"seed\":%ld,\"accuracy\":%.6f,\"correct\":%llu",
           T, (unsigned long long)fg->images, seed, (double)cbs[T - 1] / fg->images,
           (unsigned long long)cbs[T - 1]);
    printf(",\"saturation_threshold_spikes\":%d", (9 * T + 9) / 10);
    printf(",\"input\":{\"neurons\":%llu,\"spike_rate\":", (unsigned long long)fg->input.neurons);
    json_num(stdout, fg->input.rate);
    printf(",\"silent_fraction\":");
    json_num(stdout, fg->input.silent);
    printf(",\"saturated_fraction\":");
    json_num(stdout, fg->input.saturated);
    printf("},\"layers\":[");
    for (int l = 0; l < fg->n_layers; l++) {
        const sbp_layer_figures *g = &fg->layer[l];
        printf("%s{\"layer\":%d,\"name\":", l ? "," : "", l + 1);
        cli_json_string(stdout, g->name);
        printf(",\"kind\":\"%s\",\"neurons\":%llu,\"spiking\":%s,\"spike_rate\":", g->kind,
               (unsigned long long)g->neurons, g->spiking ? "true" : "false");
        json_num(stdout, g->rate);
        printf(",\"silent_fraction\":");
        json_num(stdout, g->silent);
        printf(",\"saturated_fraction\":");
        json_num(stdout, g->saturated);
        printf(",\"input_spikes_per_image\":");
        json_num(stdout, g->in_spikes);
        printf(",\"acs_per_image\":");
        json_num(stdout, g->acs);
        printf(",\"dense_macs_per_step\":");
        json_num(stdout, g->macs_step);
        printf(",\"dense_macs_per_image\":");
        json_num(stdout, g->macs_step * T);
        printf(",\"density\":");
        json_num(stdout, g->density);
        printf("}");
    }
    printf("],\"totals\":{\"snn_acs_per_image\":");
    json_num(stdout, fg->acs);
    printf(",\"snn_acs_pooling_per_image\":");
    json_num(stdout, fg->acs_pool);
    printf(",\"dense_macs_per_step\":");
    json_num(stdout, fg->macs_step);
    printf(",\"ann_macs_per_image\":");
    json_num(stdout, fg->macs_step);
    printf(",\"dense_macs_per_image\":");
    json_num(stdout, fg->macs_window);
    printf(",\"snn_acs_over_dense_macs_per_image\":");
    json_num(stdout, fg->density);
    printf(",\"ops_ratio_ann_over_snn\":");
    json_num(stdout, fg->ops_ratio);
    printf(",\"mac_pj\":");
    json_num(stdout, fg->mac_pj);
    printf(",\"ac_pj\":");
    json_num(stdout, fg->ac_pj);
    printf(",\"ann_energy_uj\":");
    json_num(stdout, fg->ann_energy_uj);
    printf(",\"snn_energy_uj\":");
    json_num(stdout, fg->snn_energy_uj);
    printf(",\"energy_ratio_ann_over_snn\":");
    json_num(stdout, fg->energy_ratio);
    printf("},\"accuracy_by_steps\":[");
    for (int t = 0; t < T; t++)
        printf("%s%.6f", t ? "," : "", (double)cbs[t] / fg->images);
    printf("],\"csv\":");
    cli_json_string(stdout, csv);
    printf(",\"steps_csv\":");
    cli_json_string(stdout, steps_csv);
    printf("}\n");
}

int cmd_analyze(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *csv = NULL, *steps_csv = NULL;
    long T = 0, images = 1000, seed = 1, threads = 0;
    double mac_pj = 4.6, ac_pj = 0.9;
    int json = 0, quiet = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"data", required_argument, 0, 'd'},
                                         {"timesteps", required_argument, 0, 'T'},
                                         {"images", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"mac-pj", required_argument, 0, 'M'},
                                         {"ac-pj", required_argument, 0, 'A'},
                                         {"csv", required_argument, 0, 'c'},
                                         {"steps-csv", required_argument, 0, 'S'},
                                         {"threads", required_argument, 0, 't'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "hT:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'T': if (!cli_int("analyze", "--timesteps", optarg, 1, 100000, &T)) return CLI_USAGE; break;
        case 'n': if (!cli_int("analyze", "--images", optarg, 1, 1L << 40, &images)) return CLI_USAGE; break;
        case 's': if (!cli_int("analyze", "--seed", optarg, 0, 1L << 62, &seed)) return CLI_USAGE; break;
        case 'M': if (!cli_float("analyze", "--mac-pj", optarg, 0, 1e9, &mac_pj)) return CLI_USAGE; break;
        case 'A': if (!cli_float("analyze", "--ac-pj", optarg, 0, 1e9, &ac_pj)) return CLI_USAGE; break;
        case 'c': csv = optarg; break;
        case 'S': steps_csv = optarg; break;
        case 't': if (!cli_int("analyze", "--threads", optarg, 1, 1024, &threads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc || !model) {
        fprintf(stderr, optind < argc ? "spikebp analyze: unexpected argument '%s'\n"
                                      : "spikebp analyze: --model FILE is required%s\n",
                optind < argc ? argv[optind] : "");
        return CLI_USAGE;
    }
    char csv_buf[4096], steps_buf[4096];
    if (!csv) {
        snprintf(csv_buf, sizeof csv_buf, "%s.analysis.csv", model);
        csv = csv_buf;
    }
    if (!steps_csv) {
        snprintf(steps_buf, sizeof steps_buf, "%s.accuracy_steps.csv", model);
        steps_csv = steps_buf;
    }
    sbp_comm *comm = NULL; /* under mpirun: the images split over the ranks, rank 0 writes */
    if (cli_ranks_start("analyze", &comm, &quiet) != CLI_OK)
        return CLI_FAIL;
    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    uint64_t *cbs = NULL;
    int rc = CLI_FAIL;
    { /* the outputs, before any work (outputs.h) */
        char store[CLI_MAX_DATA_INPUTS][4096];
        const char *in[1 + CLI_MAX_DATA_INPUTS] = {model};
        size_t n_in = 1 + (data ? cli_data_inputs(data, store, in + 1) : 0);
        if (cli_check_output("--csv", csv, CLI_OUT_CSV, in, n_in, err.msg, sizeof err.msg) != 0 ||
            cli_check_output("--steps-csv", steps_csv, CLI_OUT_CSV, in, n_in, err.msg,
                             sizeof err.msg) != 0)
            goto fail;
        if (!strcmp(csv, steps_csv) || cli_same_file(csv, steps_csv)) {
            snprintf(err.msg, sizeof err.msg, "--csv and --steps-csv name the same file (%s)",
                     csv);
            goto fail;
        }
    }
    if (cli_load_model(&net, model, &err) != SBP_OK)
        goto fail;
    if (cli_model_defaults(net, model, &data, &T, err.msg, sizeof err.msg) != 0) {
        fprintf(stderr, "spikebp analyze: %s\n", err.msg);
        rc = CLI_USAGE;
        goto out;
    }
    if (cli_load_data(data, 0, (size_t)images, &ds, &err) != SBP_OK)
        goto fail;
    if (sbp_dataset_timesteps(ds) > 0 && T != sbp_dataset_timesteps(ds)) {
        /* as eval: spike data fix the window; T here came from the model or from -T */
        fprintf(stderr, "spikebp analyze: %s holds spike trains of %d steps; using T = %d\n",
                data, sbp_dataset_timesteps(ds), sbp_dataset_timesteps(ds));
        T = sbp_dataset_timesteps(ds);
    }
    if ((size_t)threads > sbp_dataset_count(ds)) { /* idle threads would only cost memory */
        fprintf(stderr, "spikebp analyze: note: --threads %ld capped at %zu, the number of "
                "images\n", threads, sbp_dataset_count(ds));
        threads = (long)sbp_dataset_count(ds);
    }
    cbs = calloc((size_t)T, sizeof *cbs);
    if (!cbs) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        goto fail;
    }
    sbp_analysis_opts o;
    sbp_analysis_opts_default(&o);
    o.timesteps = (int)T;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.comm = comm;
    cli_progress p;
    cli_progress_start(&p, "analyze", sbp_dataset_count(ds), quiet);
    o.progress = on_progress;
    o.progress_user = &p;
    sbp_activity act;
    if (sbp_analysis_run(net, ds, &o, &act, cbs, NULL, &err) != SBP_OK)
        goto fail;
    cli_progress_end(&p);
    sbp_analysis_figures fg;
    sbp_analysis_figures_of(net, &act, mac_pj, ac_pj, &fg);
    if (cli_ranks_lead(comm) && !write_layer_csv(csv, &fg)) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot write the CSV file: %s", csv,
                 strerror(errno));
        goto fail;
    }
    if (cli_ranks_lead(comm) && !write_steps_csv(steps_csv, cbs, (int)T, fg.images)) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot write the CSV file: %s", steps_csv,
                 strerror(errno));
        goto fail;
    }
    if (json) {
        print_json(model, data, seed, csv, steps_csv, &fg, cbs);
    } else {
        print_table(model, data, seed, &fg, cbs);
        printf("\nwrote %s and %s\n", csv, steps_csv);
    }
    rc = CLI_OK;
    goto out;
fail:
    cli_ranks_fail(comm, "analyze", err.msg);
out:
    free(cbs);
    sbp_dataset_free(ds);
    sbp_net_free(net);
    sbp_comm_close(comm);
    return rc;
}
