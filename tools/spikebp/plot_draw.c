/* plot_draw.c — the kinds of figure of `spikebp plot` (plot.h): training curves, per-layer
 * spike activity, accuracy against inference steps, spike raster with membrane traces, and the
 * confusion matrix, each drawn on one page from a plot_job that cmd_plot.c fills in. */
#ifdef SBP_HAVE_PLPLOT
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"



/* The page's title line, above the panels. */
static void plot_suptitle(const char *s)
{
    char t[600];
    plvpor(0, 1, 0, 1);
    plwind(0, 1, 0, 1);
    plcol0(PLOT_DARK);
    plschr(0.0, PLOT_SCALE_TEXT);
    plmtex("t", -1.4, 0.5, 0.5, plot_esc(s, t, sizeof t));
    plcol0(PLOT_FG);
}

void plot_draw_log(const plot_job *j)
{
    double xmin = j->x[0], xmax = j->x[0], lmax = 0, amin = 1;
    for (int i = 0; i < j->n; i++) {
        xmin = fmin(xmin, j->x[i]);
        xmax = fmax(xmax, j->x[i]);
        lmax = fmax(lmax, fmax(isnan(j->a[i]) ? 0 : j->a[i], isnan(j->b[i]) ? 0 : j->b[i]));
        amin = fmin(amin, fmin(isnan(j->c[i]) ? 1 : j->c[i], isnan(j->d[i]) ? 1 : j->d[i]));
    }
    const double pad = j->n <= 30 ? 0.5 : 0;
    const int dots = j->n <= 30;
    const double xt = plot_int_tick(xmax - xmin + 2 * pad);
    double *acc1 = malloc(sizeof(double) * (size_t)j->n * 2), *acc2 = acc1 + j->n;
    if (!acc1)
        return;
    for (int i = 0; i < j->n; i++) {
        acc1[i] = 100.0 * j->c[i];
        acc2[i] = 100.0 * j->d[i];
    }
    const char *names[2] = {"train", "test"};
    const int colours[2] = {PLOT_BLUE, PLOT_ORANGE};
    plot_suptitle(j->title);
    plot_frame(0.08, 0.47, 0.14, 0.84, xmin - pad, xmax + pad, 0, lmax > 0 ? 1.15 * lmax : 1, xt, 0,
               "bcnst", "bcnstv", "epoch", "loss: Σ (o − y)² per image", "loss per epoch");
    plot_series_line(j->n, j->x, j->a, PLOT_BLUE, 2.5, 1, dots);
    plot_series_line(j->n, j->x, j->b, PLOT_ORANGE, 2.5, 1, dots);
    plot_legend(2, names, colours, NULL, 1, PL_POSITION_TOP | PL_POSITION_RIGHT, 1.0);
    double lo = floor(100.0 * amin / 10.0) * 10.0;
    lo = lo > 90 ? 90 : lo;
    plot_frame(0.57, 0.96, 0.14, 0.84, xmin - pad, xmax + pad, lo, 100, xt, 0, "bcnst", "bcnstv",
               "epoch", "accuracy (%)", "accuracy per epoch");
    plot_series_line(j->n, j->x, acc1, PLOT_BLUE, 2.5, 1, dots);
    plot_series_line(j->n, j->x, acc2, PLOT_ORANGE, 2.5, 1, dots);
    plot_legend(2, names, colours, NULL, 1, PL_POSITION_BOTTOM | PL_POSITION_RIGHT, 1.0);
    free(acc1);
}

/* x tick labels of the layer bar charts. */
static void plot_layer_labels(const plot_job *j)
{
    char t[96];
    plcol0(PLOT_FG);
    plschr(0.0, PLOT_SCALE_TEXT);
    for (int i = 0; i < j->n; i++)
        plmtex("b", 1.5, (i + 0.5) / j->n, 0.5, plot_esc(j->names[i], t, sizeof t));
}

/* A value printed just above a bar of height y in a window of height range. */
static void plot_bar_value(double x, double y, double range, const char *fmt, double v)
{
    char s[32];
    snprintf(s, sizeof s, fmt, v);
    plcol0(PLOT_FG);
    plschr(0.0, PLOT_SCALE_SMALL);
    plptex(x, y + 0.045 * range, 1, 0, 0.5, s);
    plschr(0.0, PLOT_SCALE_TEXT);
}

/* Whole percentages, but small non-zero ones with two decimals (0.03, not 0). */
static const char *plot_pct_fmt(double v)
{
    return v > 0 && v < 1 ? "%.2f" : "%.0f";
}

void plot_draw_analysis(const plot_job *j)
{
    /* a = rate, b = silent, c = saturated (fractions); names = "1: 20C5" … */
    double rmax = 0;
    for (int i = 0; i < j->n; i++)
        rmax = fmax(rmax, isnan(j->a[i]) ? 0 : 100.0 * j->a[i]);
    rmax = rmax > 0 ? 1.22 * rmax : 1;
    plot_suptitle(j->title);
    plot_frame(0.09, 0.97, 0.57, 0.86, 0, j->n, 0, rmax, 1, 0, "bc", "bcnstv", "", "spike rate (%)",
               "spike rate: spikes per neuron per time step");
    for (int i = 0; i < j->n; i++) {
        if (isnan(j->a[i]))
            continue;
        plot_rect(i + 0.2, i + 0.8, 0, 100.0 * j->a[i], i == 0 ? PLOT_GRAY : PLOT_BLUE);
        plot_bar_value(i + 0.5, 100.0 * j->a[i], rmax, "%.2f", 100.0 * j->a[i]);
    }
    plot_layer_labels(j);

    plot_frame(0.09, 0.97, 0.12, 0.43, 0, j->n, 0, 135, 1, 20, "bc", "bcnstv", "",
               "% of the neurons", "silent (γ = 0) and saturated (spiking at ≥ 90 % of the steps)");
    for (int i = 0; i < j->n; i++) {
        if (!isnan(j->b[i])) {
            plot_rect(i + 0.15, i + 0.5, 0, 100.0 * j->b[i], PLOT_GRAY);
            plot_bar_value(i + 0.325, 100.0 * j->b[i], 135, plot_pct_fmt(100.0 * j->b[i]),
                           100.0 * j->b[i]);
        }
        if (!isnan(j->c[i])) {
            plot_rect(i + 0.5, i + 0.85, 0, 100.0 * j->c[i], PLOT_RED);
            plot_bar_value(i + 0.675, 100.0 * j->c[i], 135, plot_pct_fmt(100.0 * j->c[i]),
                           100.0 * j->c[i]);
        }
    }
    plot_layer_labels(j);
    PLINT opt[2] = {PL_LEGEND_COLOR_BOX, PL_LEGEND_COLOR_BOX}, tc[2] = {PLOT_FG, PLOT_FG};
    PLINT bc[2] = {PLOT_GRAY, PLOT_RED}, bp[2] = {0, 0};
    PLFLT bs[2] = {0.8, 0.8}, bw[2] = {1.0, 1.0}, w, h;
    const char *text[2] = {"silent", "saturated"};
    plschr(0.0, PLOT_SCALE_SMALL);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.01, 0.02, 0.04, PLOT_BG,
             PLOT_LIGHT, 1, 1, 2, 2, opt, 1.0, 1.0, 2.0, 0.0, tc, text, bc, bp, bs, bw, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL);
    plschr(0.0, PLOT_SCALE_TEXT);
}

void plot_draw_steps(const plot_job *j)
{
    /* x = steps, a = accuracy (fraction) */
    double *y = malloc(sizeof(double) * (size_t)j->n);
    if (!y)
        return;
    double lo = 100, fin = 100.0 * j->a[j->n - 1];
    for (int i = 0; i < j->n; i++) {
        y[i] = 100.0 * j->a[i];
        lo = fmin(lo, y[i]);
    }
    int reach = j->n - 1; /* first step from which accuracy stays ≥ 99 % of the final */
    while (reach > 0 && y[reach - 1] >= 0.99 * fin)
        reach--;
    const double T = j->x[j->n - 1];
    lo = fmin(floor(lo / 10.0) * 10.0, 90);
    const double span = 100 - lo;
    plot_suptitle(j->title);
    plot_frame(0.09, 0.96, 0.12, 0.86, 0, T, lo, 100, plot_int_tick(T), 0, "bcnst", "bcnstv",
               "inference time steps t (prediction = argmax M[t] after t steps)",
               "test accuracy (%)", "accuracy vs number of inference steps");
    double hx[2] = {0, T}, hy[2] = {fin, fin};
    plot_series_line(2, hx, hy, PLOT_GRAY, 1.2, 2, 0);
    double vx[2] = {j->x[reach], j->x[reach]}, vy[2] = {lo, 100};
    plot_series_line(2, vx, vy, PLOT_GREEN, 1.2, 3, 0);
    plot_series_line(j->n, j->x, y, PLOT_BLUE, 2.5, 1, j->n <= 30);
    int best = 0;
    for (int i = 1; i < j->n; i++)
        if (y[i] > y[best])
            best = i;
    char s[160];
    plcol0(PLOT_FG);
    plstring(1, &j->x[j->n - 1], &y[j->n - 1], "●");
    snprintf(s, sizeof s, "t = %.0f: %.2f %%", T, fin);
    plschr(0.0, PLOT_SCALE_TEXT);
    plptex(T - 0.01 * T, fin + (fin > lo + 0.85 * span ? -0.06 : 0.05) * span, 1, 0, 1.0, s);
    plcol0(PLOT_ORANGE);
    plstring(1, &j->x[best], &y[best], "●");
    /* Notes below the curve when it ends high, above it when it ends low. */
    const double ny = fin > lo + 0.5 * span ? lo + 0.30 * span : lo + 0.85 * span;
    const double nx = j->x[reach] + 0.015 * T;
    snprintf(s, sizeof s, "≥ 99 %% of the final accuracy from t = %.0f on", j->x[reach]);
    plcol0(PLOT_GREEN);
    plptex(nx, ny, 1, 0, 0.0, s);
    snprintf(s, sizeof s, "best: %.2f %% at t = %.0f", y[best], j->x[best]);
    plcol0(PLOT_ORANGE);
    plptex(nx, ny - 0.07 * span, 1, 0, 0.0, s);
    plcol0(PLOT_FG);
    free(y);
}

/* Raster y labels: row r shows neuron shown[r]. */
static void plot_raster_label(PLINT axis, PLFLT value, PLCHAR_NC_VECTOR label, PLINT length,
                              PLPointer data)
{
    const plot_job *j = data;
    long r = lround(value);
    if (axis == PL_Y_AXIS && r >= 0 && r < j->rows && fabs(value - (double)r) < 1e-6)
        snprintf(label, (size_t)length, "%zu", j->shown[r]);
    else if (axis == PL_X_AXIS)
        snprintf(label, (size_t)length, "%.0f", value);
    else
        label[0] = '\0';
}

static void plot_draw_output_traces(const plot_job *j)
{
    const int T = j->T;
    double mlo = 0, mhi = 0;
    for (size_t i = 0; i < (size_t)T * j->n_watch; i++) {
        mlo = fmin(mlo, j->membrane[i]);
        mhi = fmax(mhi, j->membrane[i]);
    }
    double pad = 0.08 * (mhi - mlo > 0 ? mhi - mlo : 1);
    plot_suptitle(j->title);
    plot_frame(0.10, 0.78, 0.12, 0.86, 0, T, mlo - pad, mhi + pad, plot_int_tick(T), 0, "bcnst",
               "bcnstv", "time step t", "output membrane M[t]",
               "membrane of every output neuron; prediction = argmax M[T−1]");
    double *x = malloc(sizeof(double) * (size_t)T * 2), *y = x + T;
    const char *names[16];
    char nbuf[16][40];
    int colours[16], styles[16];
    for (int w = 0; w < j->n_watch && w < 16 && x; w++) {
        for (int k = 0; k < T; k++) {
            x[k] = k + 0.5;
            y[k] = j->membrane[(size_t)k * j->n_watch + w];
        }
        colours[w] = plot_series[w % 10];
        styles[w] = (w / 10) % 2 ? 2 : 1;
        plot_series_line(T, x, y, colours[w], (int)j->watch[w] == j->label ? 4.0 : 1.8,
                         styles[w], 0);
        snprintf(nbuf[w], sizeof nbuf[w], "class %zu%s", j->watch[w],
                 (int)j->watch[w] == j->label ? " (label)" : "");
        names[w] = nbuf[w];
    }
    free(x);
    plvpor(0.80, 0.99, 0.12, 0.86);
    plwind(0, 1, 0, 1);
    plot_legend(j->n_watch < 16 ? j->n_watch : 16, names, colours, styles, 0,
                PL_POSITION_TOP | PL_POSITION_LEFT, 0.9);
}

void plot_draw_raster(const plot_job *j)
{
    const int T = j->T;
    char s[160];
    if (!j->layer_spiking) {
        plot_draw_output_traces(j);
        return;
    }
    plot_suptitle(j->title);
    /* Raster: row r = neuron shown[r]; a tick per spike, coloured for the traced neurons. */
    plslabelfunc(plot_raster_label, (PLPointer)j);
    plot_frame(0.11, 0.77, 0.46, 0.87, 0, T, -0.5, j->rows - 0.5, plot_int_tick(T),
               plot_int_tick(j->rows), "bcnst", "bcnstvo", "", "neuron (index in the layer)",
               j->subtitle);
    plslabelfunc(NULL, NULL);
    const double tw = T > 50 ? 0.0 : 0.1; /* gaps between the ticks when steps are wide */
    for (int r = 0; r < j->rows; r++) {
        int colour = PLOT_FG;
        for (int w = 0; w < j->n_watch; w++)
            if (j->watch[w] == j->shown[r])
                colour = plot_series[w];
        for (int k = 0; k < T; k++)
            if (j->raster[(size_t)k * j->n_out + j->shown[r]])
                plot_rect(k + tw, k + 1 - tw, r - 0.4, r + 0.4, colour);
    }
    /* Membranes: V[t] after each step; a spike is drawn as a rise to the threshold, a stroke
     * to 1.3·threshold and the reset to 0. */
    double vlo = 0;
    for (size_t i = 0; i < (size_t)T * j->n_watch; i++)
        vlo = fmin(vlo, j->membrane[i]);
    const double top = 1.4 * j->thr;
    snprintf(s, sizeof s, "membrane V (threshold %.2g)", j->thr);
    plot_frame(0.11, 0.77, 0.10, 0.36, 0, T, vlo - 0.05 * (top - vlo), top, plot_int_tick(T), 0,
               "bcnst", "bcnstv", "time step t", s,
               "membrane after each step (legend: neuron: spikes)");
    double tx[2] = {0, T}, ty[2] = {j->thr, j->thr};
    plot_series_line(2, tx, ty, PLOT_GRAY, 1.2, 2, 0);
    double *x = malloc(sizeof(double) * (size_t)T * 6), *y = x + 3 * T;
    const char *names[3];
    char nbuf[3][64];
    int colours[3];
    for (int w = 0; w < j->n_watch && x; w++) {
        int m = 0, g = 0;
        for (int k = 0; k < T; k++) {
            double v = j->membrane[(size_t)k * j->n_watch + w];
            if (j->raster[(size_t)k * j->n_out + j->watch[w]]) {
                x[m] = k + 0.5, y[m++] = j->thr;
                x[m] = k + 0.5, y[m++] = 1.3 * j->thr;
                g++;
            }
            x[m] = k + 0.5, y[m++] = v;
        }
        plot_series_line(m, x, y, plot_series[w], 1.8, 1, 0);
        snprintf(nbuf[w], sizeof nbuf[w], "%zu: %d spike%s", j->watch[w], g,
                 g == 1 ? "" : "s");
        names[w] = nbuf[w];
        colours[w] = plot_series[w];
    }
    free(x);
    plvpor(0.79, 0.995, 0.10, 0.36);
    plwind(0, 1, 0, 1);
    plot_legend(j->n_watch, names, colours, NULL, 0, PL_POSITION_TOP | PL_POSITION_LEFT, 0.8);
}

/* Confusion axes labels: x = predicted class, y = true class with class 0 on top. */
static void plot_confusion_label(PLINT axis, PLFLT value, PLCHAR_NC_VECTOR label, PLINT length,
                                 PLPointer data)
{
    const plot_job *j = data;
    long k = lround(value - 0.5);
    if (fabs(value - 0.5 - (double)k) > 1e-6 || k < 0 || k >= j->classes) {
        label[0] = '\0';
        return;
    }
    snprintf(label, (size_t)length, "%ld", axis == PL_Y_AXIS ? j->classes - 1 - k : k);
}

void plot_draw_confusion(const plot_job *j)
{
    const int K = j->classes;
    char v[32];
    plot_suptitle(j->title);
    plvpor(0.11, 0.83, 0.10, 0.86);
    plwind(0, K, 0, K);
    /* cmap1: white → dark blue */
    PLFLT pos[2] = {0, 1}, r[2] = {1, 0.03}, g[2] = {1, 0.19}, b[2] = {1, 0.42};
    plscmap1l(1, 2, pos, r, g, b, NULL);
    for (int i = 0; i < K; i++) {
        uint64_t total = 0;
        for (int k = 0; k < K; k++)
            total += j->confusion[(size_t)i * K + k];
        for (int k = 0; k < K; k++) {
            uint64_t c = j->confusion[(size_t)i * K + k];
            double f = total ? (double)c / (double)total : 0;
            double y0 = K - 1 - i;
            PLFLT x[4] = {k, k + 1, k + 1, k}, y[4] = {y0, y0, y0 + 1, y0 + 1};
            plcol1(f);
            plfill(4, x, y);
            if (c) {
                snprintf(v, sizeof v, "%llu", (unsigned long long)c);
                plcol0(f > 0.45 ? PLOT_BG : PLOT_FG);
                plschr(0.0, K > 12 ? 0.55 : PLOT_SCALE_TEXT);
                plptex(k + 0.5, y0 + 0.5, 1, 0, 0.5, v);
            }
        }
    }
    plcol0(PLOT_FG);
    plschr(0.0, PLOT_SCALE_TEXT);
    plslabelfunc(plot_confusion_label, (PLPointer)j);
    plsmaj(0.0, 0.0); /* labels at every class centre (ticks every 0.5), no tick marks */
    plsmin(0.0, 0.0);
    plbox("bcnto", 0.5, 1, "bcntvo", 0.5, 1);
    plsmaj(0.0, 1.0);
    plsmin(0.0, 1.0);
    plslabelfunc(NULL, NULL);
    plschr(0.0, PLOT_SCALE_LABEL);
    plmtex("b", 2.6, 0.5, 0.5, "predicted class (after T steps)");
    plmtex("l", 3.0, 0.5, 0.5, "true class");
    plmtex("t", 1.0, 0.5, 0.5, j->subtitle);
    /* colour scale */
    plvpor(0.87, 0.90, 0.10, 0.86);
    plwind(0, 1, 0, 100);
    for (int i = 0; i < 100; i++) {
        PLFLT x[4] = {0, 1, 1, 0}, y[4] = {i, i, i + 1, i + 1};
        plcol1((i + 0.5) / 100.0);
        plfill(4, x, y);
    }
    plcol0(PLOT_FG);
    plschr(0.0, PLOT_SCALE_TEXT);
    plbox("bc", 0, 0, "bcmtv", 20, 0);
    plschr(0.0, PLOT_SCALE_LABEL);
    plmtex("r", 3.6, 0.5, 0.5, "% of the true class's images");
}


#endif /* SBP_HAVE_PLPLOT */
