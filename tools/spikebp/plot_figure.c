/* plot_figure.c — PLplot figure primitives of `spikebp plot` (plot.h): pages on the cairo
 * devices, framed panels, bars, legends and lines in one palette. */
#ifdef SBP_HAVE_PLPLOT
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"


static const int plot_palette[PLOT_COLOURS][3] = {
    {255, 255, 255}, {0, 0, 0},      {225, 225, 225}, {31, 119, 180}, {255, 127, 14},
    {44, 160, 44},   {214, 39, 40},  {148, 103, 189}, {140, 86, 75},  {227, 119, 194},
    {127, 127, 127}, {188, 189, 34}, {23, 190, 207},  {60, 60, 60},   {170, 170, 170}};

/* Colours of successive series (classes, traces). */
const int plot_series[10] = {PLOT_BLUE,  PLOT_ORANGE, PLOT_GREEN, PLOT_RED,   PLOT_PURPLE,
                             PLOT_BROWN, PLOT_PINK,   PLOT_GRAY,  PLOT_OLIVE, PLOT_CYAN};

static int plot_on_plplot_exit(PLCHAR_VECTOR msg)
{
    fprintf(stderr, "spikebp plot: PLplot: %s\n", msg);
    return CLI_FAIL;
}

/* Whether this PLplot installation has the output device `dev` (PLplot would otherwise ask
 * for a device on stdin). */
static int plot_have_device(const char *dev)
{
    const char *menus[128], *names[128];
    const char **m = menus, **d = names;
    int n = 128;
    plgFileDevs(&m, &d, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], dev))
            return 1;
    return 0;
}

/* Starts a figure of w×h pixels on device dev into path; 0 (with msg) if the device is missing
 * or path is not writable (both checked first: PLplot would prompt or exit). */
int plot_fig_begin(const char *dev, const char *path, int w, int h, char *msg, size_t size)
{
    if (!plot_have_device(dev)) {
        snprintf(msg, size,
                 "PLplot has no '%s' output device: install plplot-driver-cairo "
                 "(scripts/install-deps)",
                 dev);
        return 0;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(msg, size, "%s: %s", path, strerror(errno));
        return 0;
    }
    fclose(f);
    plsexit(plot_on_plplot_exit);
    plsdev(dev);
    plsfnam(path);
    plspage(0.0, 0.0, w, h, 0, 0);
    plscmap0n(PLOT_COLOURS);
    for (int i = 0; i < PLOT_COLOURS; i++)
        plscol0(i, plot_palette[i][0], plot_palette[i][1], plot_palette[i][2]);
    plscolbg(255, 255, 255);
    plinit();
    pladv(0);
    plschr(0.0, PLOT_SCALE_TEXT);
    plwidth(1.0);
    return 1;
}

void plot_fig_end(void)
{
    plend1();
}

/* Copies s with PLplot's text escape character '#' doubled. */
const char *plot_esc(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    for (; *s && o + 2 < size; s++) {
        if (*s == '#')
            buf[o++] = '#';
        buf[o++] = *s;
    }
    buf[o] = '\0';
    return buf;
}

/* A frame in viewport (x0, x1, y0, y1) of the page with world window wx/wy, a light grid, the
 * axes drawn with PLplot box options xbox/ybox ("bcnst": box, numbers, ticks; "o": custom
 * labels; "bc": a bare frame), axis labels and a title. */
void plot_frame(double x0, double x1, double y0, double y1, double wx0, double wx1,
                double wy0, double wy1, double xtick, double ytick, const char *xbox,
                const char *ybox, const char *xlabel, const char *ylabel, const char *title)
{
    plvpor(x0, x1, y0, y1);
    plwind(wx0, wx1, wy0, wy1);
    plcol0(PLOT_GRID);
    plwidth(0.8);
    pllsty(1);
    plbox(strchr(xbox, 'n') ? "g" : "", xtick, 0, "g", ytick, 0);
    plcol0(PLOT_FG);
    plwidth(1.0);
    plschr(0.0, PLOT_SCALE_TEXT);
    plbox(xbox, xtick, 0, ybox, ytick, 0);
    plschr(0.0, PLOT_SCALE_LABEL);
    plmtex("b", 2.7, 0.5, 0.5, xlabel);
    plmtex("l", strchr(ybox, 'o') ? 5.4 : 4.6, 0.5, 0.5, ylabel); /* 'o': long labels */
    plschr(0.0, PLOT_SCALE_TITLE);
    plmtex("t", 0.9, 0.5, 0.5, title);
    plschr(0.0, PLOT_SCALE_TEXT);
}

/* A filled rectangle [x0, x1] × [y0, y1] in world coordinates. */
void plot_rect(double x0, double x1, double y0, double y1, int colour)
{
    PLFLT x[4] = {x0, x1, x1, x0}, y[4] = {y0, y0, y1, y1};
    plcol0(colour);
    plfill(4, x, y);
}

/* A legend of n line (+ symbol) entries at a corner inside the current viewport. */
void plot_legend(int n, const char *const *text, const int *colours, const int *styles,
                 int symbols, PLINT position, double text_scale)
{
    PLINT opt[16], tc[16], lc[16], ls[16], sc[16], sn[16];
    PLFLT lw[16], ss[16];
    const char *sym[16];
    n = n > 16 ? 16 : n;
    for (int i = 0; i < n; i++) {
        opt[i] = PL_LEGEND_LINE | (symbols ? PL_LEGEND_SYMBOL : 0);
        tc[i] = PLOT_FG;
        lc[i] = sc[i] = colours[i];
        ls[i] = styles ? styles[i] : 1;
        lw[i] = 2.5;
        ss[i] = 1.0;
        sn[i] = 1;
        sym[i] = "●";
    }
    PLFLT w, h;
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position | PL_POSITION_INSIDE,
             0.02, 0.03, 0.08, PLOT_BG, PLOT_LIGHT, 1, 0, 0, n, opt, 1.0, text_scale, 2.0, 0.0, tc,
             (const char **)text, NULL, NULL, NULL, NULL, lc, ls, lw, sc, ss, sn,
             (const char **)sym);
}

/* A line with width and style in world coordinates (+ dots at the points if `dots`). */
void plot_series_line(int n, const double *x, const double *y, int colour, double width,
                      int style, int dots)
{
    plcol0(colour);
    plwidth(width);
    pllsty(style);
    plline(n, x, y);
    pllsty(1);
    plwidth(1.0);
    if (dots)
        plstring(n, x, y, "●");
}

/* Tick spacing for an integer axis of `span` units: 1, 2, 5, 10, 20, … with ≤ 12 ticks. */
double plot_int_tick(double span)
{
    double t = 1;
    for (int i = 0; span / t > 12; i++)
        t *= (i % 3 == 1) ? 2.5 : 2; /* 1, 2, 5, 10, 20, 50, … */
    return t;
}


#endif /* SBP_HAVE_PLPLOT */
