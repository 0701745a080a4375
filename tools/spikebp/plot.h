/*
 * plot.h — what the parts of `spikebp plot` share: a minimal CSV reader for the files training
 * and analysis write (plot_csv.c), and the PLplot figure primitives (plot_figure.c) the kinds
 * of figure in cmd_plot.c are drawn with.
 */
#ifndef SBP_TOOLS_PLOT_H
#define SBP_TOOLS_PLOT_H

#include <stddef.h>

/* A small CSV table: header names and rows of fields (no quoting: our files have none). */
typedef struct csv_table {
    char *text;      /* the file, fields NUL-terminated in place */
    int ncol, nrow;
    char **field;    /* ((nrow + 1) × ncol): row 0 is the header; missing fields are "" */
} csv_table;

void csv_free(csv_table *t);
int csv_load(csv_table *t, const char *path, char *msg, size_t size);
int csv_col(const csv_table *t, const char *name);
const char *csv_str(const csv_table *t, int r, int c);
double csv_num(const csv_table *t, int r, int c);
int csv_need(const csv_table *t, const char *path, const char *const *names, int *cols,
                    int n, char *msg, size_t size);
/* Every data row's cells in the n columns cols are finite numbers (or empty, if empty_ok);
 * else 0 with a message naming the row, the column and the cell. */
int csv_need_numbers(const csv_table *t, const char *path, const int *cols, int n,
                     int empty_ok, char *msg, size_t size);

#ifdef SBP_HAVE_PLPLOT
#include <plplot.h>

enum { C_BG, C_FG, C_GRID, C_BLUE, C_ORANGE, C_GREEN, C_RED, C_PURPLE, C_BROWN, C_PINK,
       C_GRAY, C_OLIVE, C_CYAN, C_DARK, C_LIGHT, C_COUNT };
/* Text scales: tick numbers and notes, axis labels, panel titles, values on bars. */
#define S_TEXT 0.85
#define S_LABEL 0.95
#define S_TITLE 1.05
#define S_SMALL 0.75

/* Colours of successive series (classes, traces). */
extern const int plot_series[10];

int fig_begin(const char *dev, const char *path, int w, int h, char *msg, size_t size);
void fig_end(void);
const char *esc(const char *s, char *buf, size_t size);
void frame(double x0, double x1, double y0, double y1, double wx0, double wx1,
                  double wy0, double wy1, double xtick, double ytick, const char *xbox,
                  const char *ybox, const char *xlabel, const char *ylabel, const char *title);
void rect(double x0, double x1, double y0, double y1, int colour);
void legend(int n, const char *const *text, const int *colours, const int *styles,
                   int symbols, PLINT position, double text_scale);
void series_line(int n, const double *x, const double *y, int colour, double width,
                        int style, int dots);
double int_tick(double span);

/* ---- the kinds of figure (plot_draw.c): each draws one page from a filled-in plot_job */
#include <stdint.h>
typedef struct plot_job plot_job;
typedef void (*draw_fn)(const plot_job *j);

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

void draw_log(const plot_job *j);
void draw_analysis(const plot_job *j);
void draw_steps(const plot_job *j);
void draw_raster(const plot_job *j);
void draw_confusion(const plot_job *j);
#endif /* SBP_HAVE_PLPLOT */

#endif
