/*
 * plot.h — what the parts of `spikebp plot` share: a minimal CSV reader for the files training
 * and analysis write (plot_csv.c), and the PLplot figure primitives (plot_figure.c) the kinds
 * of figure in cmd_plot.c are drawn with. Every name here starts with plot_ / PLOT_. The
 * module keeps no mutable state of its own (a figure's data travel in a plot_job); PLplot
 * itself keeps its current stream globally, so figures are drawn one at a time.
 */
#ifndef SBP_TOOLS_PLOT_H
#define SBP_TOOLS_PLOT_H

#include <stddef.h>

/* A small CSV table: header names and rows of fields (no quoting: our files have none). */
typedef struct plot_csv_table {
    char *text;      /* the file, fields NUL-terminated in place */
    int ncol, nrow;
    char **field;    /* ((nrow + 1) × ncol): row 0 is the header; missing fields are "" */
} plot_csv_table;

/* Reads path into the caller's *t (its text and field index are allocated: release them with
 * plot_csv_free). 1 on success; 0 with msg naming the file and the fault. */
int plot_csv_load(plot_csv_table *t, const char *path, char *msg, size_t size);
void plot_csv_free(plot_csv_table *t);
int plot_csv_col(const plot_csv_table *t, const char *name);
const char *plot_csv_str(const plot_csv_table *t, int r, int c);
double plot_csv_num(const plot_csv_table *t, int r, int c);
int plot_csv_need(const plot_csv_table *t, const char *path, const char *const *names, int *cols,
                  int n, char *msg, size_t size);
/* Every data row's cells in the n columns cols are finite numbers (or empty, if empty_ok);
 * else 0 with a message naming the row, the column and the cell. */
int plot_csv_need_numbers(const plot_csv_table *t, const char *path, const int *cols, int n,
                          int empty_ok, char *msg, size_t size);

#ifdef SBP_HAVE_PLPLOT
#include <plplot.h>

enum { PLOT_BG, PLOT_FG, PLOT_GRID, PLOT_BLUE, PLOT_ORANGE, PLOT_GREEN, PLOT_RED, PLOT_PURPLE,
       PLOT_BROWN, PLOT_PINK, PLOT_GRAY, PLOT_OLIVE, PLOT_CYAN, PLOT_DARK, PLOT_LIGHT,
       PLOT_COLOURS };
/* Text scales: tick numbers and notes, axis labels, panel titles, values on bars. */
#define PLOT_SCALE_TEXT 0.85
#define PLOT_SCALE_LABEL 0.95
#define PLOT_SCALE_TITLE 1.05
#define PLOT_SCALE_SMALL 0.75

/* Colours of successive series (classes, traces). */
extern const int plot_series[10];

int plot_fig_begin(const char *dev, const char *path, int w, int h, char *msg, size_t size);
void plot_fig_end(void);
const char *plot_esc(const char *s, char *buf, size_t size);
void plot_frame(double x0, double x1, double y0, double y1, double wx0, double wx1,
                double wy0, double wy1, double xtick, double ytick, const char *xbox,
                const char *ybox, const char *xlabel, const char *ylabel, const char *title);
void plot_rect(double x0, double x1, double y0, double y1, int colour);
void plot_legend(int n, const char *const *text, const int *colours, const int *styles,
                 int symbols, PLINT position, double text_scale);
void plot_series_line(int n, const double *x, const double *y, int colour, double width,
                      int style, int dots);
double plot_int_tick(double span);

/* ---- the kinds of figure (plot_draw.c): each draws one page from a filled-in plot_job */
#include <stdint.h>
typedef struct plot_job plot_job;
typedef void (*plot_draw_fn)(const plot_job *j);

/* What one figure needs, whatever the format. */
struct plot_job {
    const char *source;  /* input file named in titles */
    int w, h;            /* page size, pixels */
    /* --log */
    int n;               /* rows */
    double *x, *a, *b, *c, *d; /* columns (meaning per kind) */
    /* --analysis */
    char (*names)[48];
    /* --raster / --confusion */
    int T, rows, classes, layer_spiking, label, pred;
    double thr;
    const uint8_t *raster;   /* (T, n_out) */
    size_t n_out;
    const size_t *shown;     /* (rows) neuron indices shown, index order */
    const size_t *watch;     /* (3) neurons with membrane traces */
    int n_watch;
    const float *membrane;   /* (T, n_watch) */
    const uint64_t *confusion; /* (classes, classes) */
    char title[512];     /* the page's title line */
    char subtitle[256];  /* the main panel's title (raster, confusion) */
};

void plot_draw_log(const plot_job *j);
void plot_draw_analysis(const plot_job *j);
void plot_draw_steps(const plot_job *j);
void plot_draw_raster(const plot_job *j);
void plot_draw_confusion(const plot_job *j);
#endif /* SBP_HAVE_PLPLOT */

#endif
