/*
 * cmd_plot.c — `spikebp plot`: figures drawn outside the training loop (STYLE 14), from files:
 *   --log       MODEL.log.csv              loss and accuracy per epoch (two panels)
 *   --analysis  MODEL.analysis.csv         spike rate, silent and saturated neurons per layer
 *   --steps     MODEL.accuracy_steps.csv   accuracy against the number of inference steps
 *   --raster    --model FILE --image K     spike raster of a layer + membrane traces
 *   --confusion --model FILE               confusion matrix heat map
 * each written as PNG and/or SVG with PLplot's C API and its cairo drivers (pngcairo,
 * svgcairo). The single-image traces come from sbp_analysis_trace (src/analysis).
 *
 * PLplot keeps its own process-wide stream state; this file touches it only between
 * fig_begin and fig_end, one figure at a time. A PLplot fatal error exits the process through
 * PLplot's exit handler, which this file points at a message and exit status 1. Built without
 * PLplot (SBP_HAVE_PLPLOT undefined), the command says so and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "cli.h"
#include "outputs.h"
#include "plot.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: spikebp plot KIND [options]\n\n"
            "Draws figures from the files training and analysis write, or from a model.\n\n"
            "kind (one per call)\n"
            "  --log FILE            MODEL.log.csv of 'spikebp train': loss and train/test\n"
            "                        accuracy per epoch\n"
            "  --analysis FILE       MODEL.analysis.csv of 'spikebp analyze': spike rate, silent\n"
            "                        and saturated neurons per layer\n"
            "  --steps FILE          MODEL.accuracy_steps.csv of 'spikebp analyze': accuracy vs\n"
            "                        the number of inference steps\n"
            "  --raster              spike raster of a layer's neurons for one test image, with\n"
            "                        the membrane traces of three of them (needs --model); for\n"
            "                        the output layer, the membrane of every class. Membranes\n"
            "                        take T passes of 1 … T steps (O(T²) steps)\n"
            "  --confusion           confusion matrix on test images (needs --model)\n"
            "model-based kinds\n"
            "  --model FILE          a model saved by 'spikebp train'\n"
            "  --data NAME           mnist | fashion-mnist | folder  [default: the model's data]\n"
            "  -T, --timesteps N     time steps per image     [default: the model's training T]\n"
            "  --image K             test image to trace (0-based)                          [0]\n"
            "  --layer L             layer to trace, 1-based as in 'spikebp info'          [1]\n"
            "  --neurons N           neurons shown in the raster (evenly spread over the\n"
            "                        neurons that spike for this image, index order)       [64]\n"
            "  --images N            test images for the confusion matrix               [1000]\n"
            "  --seed S              seed of the input spike encoding (as eval)            [1]\n"
            "  --threads N           worker threads                             [all cores]\n"
            "output\n"
            "  --out DIR             folder for the figures  [default: the input file's folder]\n"
            "  --format LIST         png, svg or png,svg                             [png,svg]\n"
            "  --json                print one JSON object listing the files written\n"
            "  --quiet               no progress bar\n\n"
            "Files are named after the input: m.sbp.log.csv → m.sbp.log.png, m.sbp →\n"
            "m.sbp.raster-l1-i0.png, m.sbp.confusion.png, …\n");
}

#ifndef SBP_HAVE_PLPLOT

int cmd_plot(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            printf("\nThis build of spikebp has no plotting (PLplot was not found, or the "
                   "build was configured with -DSBP_PLPLOT=OFF).\n");
            return CLI_OK;
        }
    fprintf(stderr, "spikebp plot: this build has no plotting: PLplot was not found when spikebp "
                    "was configured (or -DSBP_PLPLOT=OFF); install libplplot-dev and "
                    "plplot-driver-cairo (scripts/install-deps) and rebuild\n");
    return CLI_FAIL;
}

#else /* SBP_HAVE_PLPLOT */

#include <plplot.h>

/* ------------------------------------------------------------------ output */

typedef struct plot_out {
    const char *dir;        /* --out, or NULL: the input's folder */
    int png, svg;
    int json, count;
    char files[8][4096];
} plot_out;

/* Writes job j in every requested format as DIR/BASE.EXT. */
static int render(plot_out *o, const char *input, const char *base, plot_draw_fn draw,
                  const plot_job *j, char *msg, size_t size)
{
    char dir[4096];
    if (o->dir) {
        snprintf(dir, sizeof dir, "%s", o->dir);
    } else {
        snprintf(dir, sizeof dir, "%s", input);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    const char *fmts[2] = {"png", "svg"}, *devs[2] = {"pngcairo", "svgcairo"};
    const int want[2] = {o->png, o->svg};
    for (int f = 0; f < 2; f++) {
        if (!want[f] || o->count == 8)
            continue;
        char *path = o->files[o->count];
        int k = snprintf(path, sizeof o->files[0], "%s/%s.%s", dir, base, fmts[f]);
        if (k < 0 || (size_t)k >= sizeof o->files[0]) {
            snprintf(msg, size, "%s/%s.%s: output path too long (%d bytes, at most %zu)", dir,
                     base, fmts[f], k, sizeof o->files[0] - 1);
            return 0;
        }
        const char *in[1] = {input};
        if (cli_check_output(o->dir ? "--out" : "figure", path, CLI_OUT_FIGURE, in, 1, msg,
                             size) != 0)
            return 0;
        if (!plot_fig_begin(devs[f], path, j->w, j->h, msg, size))
            return 0;
        draw(j);
        plot_fig_end();
        o->count++;
        if (!o->json)
            printf("wrote %s\n", path);
    }
    return 1;
}

/* The file name of path without its folder and without a final ".csv". */
static void base_of(char *buf, size_t size, const char *path)
{
    const char *s = strrchr(path, '/');
    snprintf(buf, size, "%s", s ? s + 1 : path);
    size_t n = strlen(buf);
    if (n > 4 && !strcmp(buf + n - 4, ".csv"))
        buf[n - 4] = '\0';
}

static int plot_log(plot_out *o, const char *path, char *msg, size_t size)
{
    plot_csv_table t;
    if (!plot_csv_load(&t, path, msg, size))
        return 0;
    static const char *const cols[] = {"epoch", "train_loss", "test_loss", "train_accuracy",
                                       "test_accuracy"};
    int c[5], ok = 0;
    plot_job j = {0};
    if (plot_csv_need(&t, path, cols, c, 5, msg, size) &&
        plot_csv_need_numbers(&t, path, c, 5, 0, msg, size)) {
        j.n = t.nrow;
        j.x = malloc(sizeof(double) * (size_t)j.n * 5);
        if (j.x) {
            j.a = j.x + j.n, j.b = j.a + j.n, j.c = j.b + j.n, j.d = j.c + j.n;
            double *cols5[5] = {j.x, j.a, j.b, j.c, j.d};
            for (int r = 0; r < j.n; r++)
                for (int k = 0; k < 5; k++)
                    cols5[k][r] = plot_csv_num(&t, r, c[k]);
            j.w = 1300, j.h = 560;
            snprintf(j.title, sizeof j.title, "training log %s (%d epoch%s)", path, j.n,
                     j.n == 1 ? "" : "s");
            char base[1024];
            base_of(base, sizeof base, path);
            ok = render(o, path, base, plot_draw_log, &j, msg, size);
        } else {
            snprintf(msg, size, "out of memory");
        }
    }
    free(j.x);
    plot_csv_free(&t);
    return ok;
}

static int plot_analysis(plot_out *o, const char *path, char *msg, size_t size)
{
    plot_csv_table t;
    if (!plot_csv_load(&t, path, msg, size))
        return 0;
    static const char *const cols[] = {"layer", "name", "kind", "spike_rate", "silent_fraction",
                                       "saturated_fraction"};
    int c[6], ok = 0;
    plot_job j = {0};
    if (plot_csv_need(&t, path, cols, c, 6, msg, size) &&
        plot_csv_need_numbers(&t, path, c, 1, 1, msg, size) && /* "layer": empty in the total row */
        plot_csv_need_numbers(&t, path, c + 3, 3, 1, msg, size)) { /* empty: not spiking */
        j.x = malloc(sizeof(double) * (size_t)t.nrow * 3);
        j.names = malloc(sizeof *j.names * (size_t)t.nrow);
        if (j.x && j.names) {
            j.a = j.x, j.b = j.a + t.nrow, j.c = j.b + t.nrow;
            for (int r = 0; r < t.nrow; r++) {
                if (!strcmp(plot_csv_str(&t, r, c[2]), "total") ||
                    isnan(plot_csv_num(&t, r, c[3]))) /* totals; the non-spiking output */
                    continue;
                const char *layer = plot_csv_str(&t, r, c[0]), *name = plot_csv_str(&t, r, c[1]);
                if (!strcmp(layer, "0"))
                    snprintf(j.names[j.n], sizeof j.names[0], "%s", name);
                else
                    snprintf(j.names[j.n], sizeof j.names[0], "%s: %s", layer, name);
                j.a[j.n] = plot_csv_num(&t, r, c[3]);
                j.b[j.n] = plot_csv_num(&t, r, c[4]);
                j.c[j.n] = plot_csv_num(&t, r, c[5]);
                j.n++;
            }
            if (j.n == 0) {
                snprintf(msg, size, "%s: no layer with a spike rate", path);
            } else {
                j.w = 1200, j.h = 780;
                snprintf(j.title, sizeof j.title, "spike activity per layer: %s", path);
                char base[1024];
                base_of(base, sizeof base, path);
                ok = render(o, path, base, plot_draw_analysis, &j, msg, size);
            }
        } else {
            snprintf(msg, size, "out of memory");
        }
    }
    free(j.x);
    free(j.names);
    plot_csv_free(&t);
    return ok;
}

static int plot_steps(plot_out *o, const char *path, char *msg, size_t size)
{
    plot_csv_table t;
    if (!plot_csv_load(&t, path, msg, size))
        return 0;
    static const char *const cols[] = {"steps", "accuracy", "images"};
    int c[3], ok = 0;
    plot_job j = {0};
    if (plot_csv_need(&t, path, cols, c, 3, msg, size) &&
        plot_csv_need_numbers(&t, path, c, 3, 0, msg, size)) {
        j.n = t.nrow;
        j.x = malloc(sizeof(double) * (size_t)j.n * 2);
        if (j.x) {
            j.a = j.x + j.n;
            for (int r = 0; r < j.n; r++) {
                j.x[r] = plot_csv_num(&t, r, c[0]);
                j.a[r] = plot_csv_num(&t, r, c[1]);
                if (isnan(j.x[r]) || isnan(j.a[r])) {
                    snprintf(msg, size, "%s: row %d is not numeric", path, r + 2);
                    goto done;
                }
            }
            j.w = 1100, j.h = 620;
            snprintf(j.title, sizeof j.title, "%s (%s test images)", path,
                     plot_csv_str(&t, 0, c[2]));
            char base[1024];
            base_of(base, sizeof base, path);
            ok = render(o, path, base, plot_draw_steps, &j, msg, size);
        } else {
            snprintf(msg, size, "out of memory");
        }
    }
done:
    free(j.x);
    plot_csv_free(&t);
    return ok;
}

/* Model-based kinds share loading. */
typedef struct model_args {
    const char *model, *data;
    long T, image, layer, neurons, images, seed, threads;
    int quiet;
} model_args;

static void on_progress(void *user, size_t done, size_t total)
{
    cli_progress_update(user, done, NULL);
}

static int load_model(const model_args *a, sbp_net **net, sbp_dataset **ds, size_t limit,
                      int *T, const char **data, char *msg, size_t size)
{
    sbp_error err = {0};
    *net = NULL, *ds = NULL;
    if (cli_load_model(net, a->model, &err) != SBP_OK) {
        snprintf(msg, size, "%s", err.msg);
        return 0;
    }
    *data = a->data;
    long t = a->T;
    if (cli_model_defaults(*net, a->model, data, &t, msg, size) != 0)
        return 0;
    *T = (int)t;
    if (cli_load_data(*data, 0, limit, ds, &err) != SBP_OK) {
        snprintf(msg, size, "%s", err.msg);
        return 0;
    }
    return 1;
}

static int plot_raster(plot_out *o, const model_args *a, char *msg, size_t size)
{
    sbp_net *net;
    sbp_dataset *ds;
    const char *data;
    int T, ok = 0;
    uint8_t *raster = NULL;
    size_t *shown = NULL;
    float *membrane = NULL;
    sbp_probe probe = {0};
    if (!load_model(a, &net, &ds, (size_t)a->image + 1, &T, &data, msg, size))
        goto done;
    const sbp_net_spec *spec = sbp_net_get_spec(net);
    if (a->layer > spec->n_layers) {
        snprintf(msg, size, "--layer %ld: the network has %d layers (see spikebp info --model)",
                 a->layer, spec->n_layers);
        goto done;
    }
    if ((size_t)a->image >= sbp_dataset_count(ds)) {
        snprintf(msg, size, "--image %ld: the test set has %zu images", a->image,
                 sbp_dataset_count(ds));
        goto done;
    }
    const int layer = (int)a->layer - 1;
    int oc, oh, ow;
    sbp_net_layer_shape(net, layer, &oc, &oh, &ow);
    const size_t n = (size_t)oc * oh * ow;
    const int spiking = spec->layers[layer].kind != SBP_LAYER_OUTPUT;
    sbp_input in;
    sbp_analysis_input(&in, ds, (size_t)a->image, (uint64_t)a->seed);
    sbp_error err = {0};
    raster = malloc((size_t)T * n);
    shown = malloc(sizeof *shown * (n + 16));
    membrane = malloc(sizeof(float) * (size_t)T * (n < 16 ? n : 16));
    if (!raster || !shown || !membrane) {
        snprintf(msg, size, "out of memory for a raster of %zu neurons × %d steps", n, T);
        goto done;
    }
    /* prediction of this image */
    int pred = -1;
    if (sbp_probe_init(&probe, net, T, &err) != SBP_OK) {
        snprintf(msg, size, "%s", err.msg);
        goto done;
    }
    sbp_activity act;
    sbp_activity_init(&act, net, T);
    sbp_probe_image(&probe, &in, -1, &act, NULL, NULL, &pred);

    plot_job j = {0};
    j.T = T;
    j.n_out = n;
    j.label = sbp_dataset_label(ds, (size_t)a->image);
    j.pred = pred;
    j.layer_spiking = spiking;
    j.raster = raster;
    j.shown = shown;
    j.membrane = membrane;
    char lname[32];
    sbp_analysis_layer_name(net, layer, lname, sizeof lname);
    size_t *watch = shown + n; /* 16 slots after the shown list */
    if (!spiking) {
        j.n_watch = n < 16 ? (int)n : 16;
        for (int w = 0; w < j.n_watch; w++)
            watch[w] = (size_t)w;
        if (sbp_analysis_trace(net, &in, T, layer, NULL, watch, j.n_watch, membrane,
                               (int)a->threads, &err) != SBP_OK) {
            snprintf(msg, size, "%s", err.msg);
            goto done;
        }
        j.watch = watch;
        j.w = 1200, j.h = 700;
        snprintf(j.title, sizeof j.title,
                 "%s: layer %d (%s, output), test image %ld (label %d, predicted %d), T = %d",
                 a->model, layer + 1, lname, a->image, j.label, pred, T);
    } else {
        if (sbp_analysis_trace(net, &in, T, layer, raster, NULL, 0, NULL, (int)a->threads,
                               &err) != SBP_OK) {
            snprintf(msg, size, "%s", err.msg);
            goto done;
        }
        /* γ per neuron; show N neurons evenly spread over the active ones (index order),
         * topped up with silent ones if fewer are active. */
        int *gamma = calloc(n, sizeof *gamma);
        if (!gamma) {
            snprintf(msg, size, "out of memory");
            goto done;
        }
        size_t active = 0, total = 0;
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < T; k++)
                gamma[i] += raster[(size_t)k * n + i];
            active += gamma[i] > 0;
            total += (size_t)gamma[i];
        }
        size_t want = (size_t)a->neurons < n ? (size_t)a->neurons : n, rows = 0;
        size_t from_active = active < want ? active : want;
        for (size_t q = 0, seen = 0; q < n && rows < from_active; q++)
            if (gamma[q] > 0) {
                if (seen * from_active / active == rows) /* every (active/want)-th active */
                    shown[rows++] = q;
                seen++;
            }
        size_t silent_want = want - rows, silent = n - active;
        for (size_t q = 0, seen = 0; q < n && silent_want && rows < want; q++)
            if (gamma[q] == 0) {
                if (seen * silent_want / silent == rows - from_active)
                    shown[rows++] = q;
                seen++;
            }
        /* sort the shown indices (active and silent lists are each sorted) */
        for (size_t p = 1; p < rows; p++)
            for (size_t q = p; q > 0 && shown[q - 1] > shown[q]; q--) {
                size_t s = shown[q];
                shown[q] = shown[q - 1];
                shown[q - 1] = s;
            }
        j.rows = (int)rows;
        /* Traces: the most active, the median active and the least active shown neuron. */
        size_t order[3] = {0, 0, 0};
        int nw = 0;
        if (active) {
            size_t *act_shown = malloc(sizeof *act_shown * rows);
            size_t na = 0;
            for (size_t r = 0; act_shown && r < rows; r++)
                if (gamma[shown[r]] > 0)
                    act_shown[na++] = shown[r];
            for (size_t p = 1; act_shown && p < na; p++) /* by γ, descending */
                for (size_t q = p; q > 0 && gamma[act_shown[q - 1]] < gamma[act_shown[q]]; q--) {
                    size_t s = act_shown[q];
                    act_shown[q] = act_shown[q - 1];
                    act_shown[q - 1] = s;
                }
            const size_t pick[3] = {0, na / 2, na ? na - 1 : 0};
            for (int k = 0; k < 3 && act_shown; k++) {
                int dup = 0;
                for (int m = 0; m < nw; m++)
                    dup |= order[m] == act_shown[pick[k]];
                if (!dup && na)
                    order[nw++] = act_shown[pick[k]];
            }
            free(act_shown);
        } else if (rows) {
            order[nw++] = shown[0];
        }
        for (int w = 0; w < nw; w++)
            watch[w] = order[w];
        j.n_watch = nw;
        j.watch = watch;
        if (nw && sbp_analysis_trace(net, &in, T, layer, NULL, watch, nw, membrane,
                                     (int)a->threads, &err) != SBP_OK) {
            free(gamma);
            snprintf(msg, size, "%s", err.msg);
            goto done;
        }
        free(gamma);
        j.thr = spec->layers[layer].kind == SBP_LAYER_POOL ? spec->vth_pool : spec->vth;
        j.w = 1200, j.h = 900;
        snprintf(j.title, sizeof j.title,
                 "%s: layer %d (%s), test image %ld (label %d, predicted %d), T = %d", a->model,
                 layer + 1, lname, a->image, j.label, pred, T);
        snprintf(j.subtitle, sizeof j.subtitle,
                 "%zu of %zu neurons (%zu active), layer rate %.2f %%",
                 rows, n, active, 100.0 * (double)total / ((double)n * T));
    }
    char base[1024];
    const char *slash = strrchr(a->model, '/');
    snprintf(base, sizeof base, "%s.raster-l%ld-i%ld", slash ? slash + 1 : a->model, a->layer,
             a->image);
    ok = render(o, a->model, base, plot_draw_raster, &j, msg, size);
done:
    sbp_probe_free(&probe);
    free(raster);
    free(shown);
    free(membrane);
    sbp_dataset_free(ds);
    sbp_net_free(net);
    return ok;
}

static int plot_confusion(plot_out *o, const model_args *a, char *msg, size_t size)
{
    sbp_net *net;
    sbp_dataset *ds;
    const char *data;
    int T, ok = 0;
    uint64_t *conf = NULL;
    if (!load_model(a, &net, &ds, (size_t)a->images, &T, &data, msg, size))
        goto done;
    const sbp_net_spec *spec = sbp_net_get_spec(net);
    const int K = spec->layers[spec->n_layers - 1].out;
    conf = calloc((size_t)K * K, sizeof *conf);
    if (!conf) {
        snprintf(msg, size, "out of memory");
        goto done;
    }
    sbp_analysis_opts ao;
    sbp_analysis_opts_default(&ao);
    ao.timesteps = T;
    ao.seed = (uint64_t)a->seed;
    ao.threads = (int)a->threads;
    cli_progress p;
    cli_progress_start(&p, "confusion", sbp_dataset_count(ds), a->quiet);
    ao.progress = on_progress;
    ao.progress_user = &p;
    sbp_activity act;
    sbp_error err = {0};
    if (sbp_analysis_run(net, ds, &ao, &act, NULL, conf, &err) != SBP_OK) {
        snprintf(msg, size, "%s", err.msg);
        goto done;
    }
    cli_progress_end(&p);
    uint64_t correct = 0;
    for (int k = 0; k < K; k++)
        correct += conf[(size_t)k * K + k];
    plot_job j = {0};
    j.classes = K;
    j.confusion = conf;
    j.w = 900, j.h = 820;
    const char *slash = strrchr(a->model, '/');
    snprintf(j.title, sizeof j.title, "%s on %s, T = %d", a->model, data, T);
    snprintf(j.subtitle, sizeof j.subtitle,
             "confusion matrix of %llu test images: accuracy %.2f %%",
             (unsigned long long)act.images, 100.0 * (double)correct / (double)act.images);
    char base[1024];
    snprintf(base, sizeof base, "%s.confusion", slash ? slash + 1 : a->model);
    ok = render(o, a->model, base, plot_draw_confusion, &j, msg, size);
done:
    free(conf);
    sbp_dataset_free(ds);
    sbp_net_free(net);
    return ok;
}

int cmd_plot(int argc, char **argv)
{
    const char *log = NULL, *analysis = NULL, *steps = NULL, *formats = "png,svg";
    int raster = 0, confusion = 0;
    model_args a = {0};
    a.image = 0, a.layer = 1, a.neurons = 64, a.images = 1000, a.seed = 1;
    plot_out o = {0};
    static const struct option opts[] = {{"log", required_argument, 0, 'L'},
                                         {"analysis", required_argument, 0, 'A'},
                                         {"steps", required_argument, 0, 'S'},
                                         {"raster", no_argument, 0, 'R'},
                                         {"confusion", no_argument, 0, 'C'},
                                         {"model", required_argument, 0, 'm'},
                                         {"data", required_argument, 0, 'd'},
                                         {"timesteps", required_argument, 0, 'T'},
                                         {"image", required_argument, 0, 'i'},
                                         {"layer", required_argument, 0, 'l'},
                                         {"neurons", required_argument, 0, 'n'},
                                         {"images", required_argument, 0, 'N'},
                                         {"seed", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "hT:", opts, NULL)) != -1) {
        switch (c) {
        case 'L': log = optarg; break;
        case 'A': analysis = optarg; break;
        case 'S': steps = optarg; break;
        case 'R': raster = 1; break;
        case 'C': confusion = 1; break;
        case 'm': a.model = optarg; break;
        case 'd': a.data = optarg; break;
        case 'T': if (!cli_int("plot", "--timesteps", optarg, 1, 100000, &a.T)) return CLI_USAGE; break;
        case 'i': if (!cli_int("plot", "--image", optarg, 0, 1L << 40, &a.image)) return CLI_USAGE; break;
        case 'l': if (!cli_int("plot", "--layer", optarg, 1, SBP_MAX_LAYERS, &a.layer)) return CLI_USAGE; break;
        case 'n': if (!cli_int("plot", "--neurons", optarg, 1, 100000, &a.neurons)) return CLI_USAGE; break;
        case 'N': if (!cli_int("plot", "--images", optarg, 1, 1L << 40, &a.images)) return CLI_USAGE; break;
        case 's': if (!cli_int("plot", "--seed", optarg, 0, 1L << 62, &a.seed)) return CLI_USAGE; break;
        case 't': if (!cli_int("plot", "--threads", optarg, 1, 1024, &a.threads)) return CLI_USAGE; break;
        case 'o': o.dir = optarg; break;
        case 'f': formats = optarg; break;
        case 'j': o.json = 1; break;
        case 'q': a.quiet = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spikebp plot: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    const int kinds = !!log + !!analysis + !!steps + raster + confusion;
    if (kinds != 1) {
        fprintf(stderr, "spikebp plot: give exactly one of --log, --analysis, --steps, --raster, "
                        "--confusion (see --help)\n");
        return CLI_USAGE;
    }
    if ((raster || confusion) && !a.model) {
        fprintf(stderr, "spikebp plot: --%s needs --model FILE\n", raster ? "raster" : "confusion");
        return CLI_USAGE;
    }
    char fbuf[64];
    snprintf(fbuf, sizeof fbuf, "%s", formats);
    char *save = NULL;
    for (char *tok = strtok_r(fbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "png"))
            o.png = 1;
        else if (!strcmp(tok, "svg"))
            o.svg = 1;
        else {
            fprintf(stderr, "spikebp plot: --format: '%s' is not png or svg\n", tok);
            return CLI_USAGE;
        }
    }
    if (!o.png && !o.svg) {
        fprintf(stderr, "spikebp plot: --format: no format given\n");
        return CLI_USAGE;
    }
    char msg[1024] = "";
    int ok = log        ? plot_log(&o, log, msg, sizeof msg)
             : analysis ? plot_analysis(&o, analysis, msg, sizeof msg)
             : steps    ? plot_steps(&o, steps, msg, sizeof msg)
             : raster   ? plot_raster(&o, &a, msg, sizeof msg)
                        : plot_confusion(&o, &a, msg, sizeof msg);
    if (!ok) {
        fprintf(stderr, "spikebp plot: %s\n", msg);
        return CLI_FAIL;
    }
    if (o.json) {
        printf("{\"command\":\"plot\",\"kind\":\"%s\",\"files\":[",
               log ? "log" : analysis ? "analysis" : steps ? "steps" : raster ? "raster"
                                                                             : "confusion");
        for (int i = 0; i < o.count; i++) {
            if (i)
                putchar(',');
            cli_json_string(stdout, o.files[i]);
        }
        printf("]}\n");
    }
    return CLI_OK;
}

#endif /* SBP_HAVE_PLPLOT */
