/* plot_csv.c — the CSV reader of `spikebp plot` (plot.h): the logs and analysis tables that
 * train and analyze write, header row first, no quoting. Anything else is refused with the
 * place and the reason — a NUL byte, a row whose field count is not the header's, a cell that
 * should be a number and is not — rather than drawn as an empty or partial figure. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"

/* Opens path for reading if it is a regular file: a folder, FIFO or device is refused with
 * its kind (O_NONBLOCK: opening a FIFO must not wait for a writer). */
static FILE *open_regular(const char *path, char *msg, size_t size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(msg, size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(msg, size, "%s: %s, not a CSV file", path,
                 S_ISDIR(sb.st_mode) ? "a folder" : "not a regular file");
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(msg, size, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

void plot_csv_free(plot_csv_table *t)
{
    free(t->text);
    free(t->field);
    memset(t, 0, sizeof *t);
}

int plot_csv_load(plot_csv_table *t, const char *path, char *msg, size_t size)
{
    memset(t, 0, sizeof *t);
    FILE *f = open_regular(path, msg, size);
    if (!f)
        return 0;
    size_t cap = 1 << 16, n = 0;
    t->text = malloc(cap + 1);
    for (size_t k; t->text && (k = fread(t->text + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            char *p = realloc(t->text, 2 * cap + 1);
            if (!p) {
                free(t->text);
                t->text = NULL;
                break;
            }
            t->text = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (!t->text) {
        snprintf(msg, size, "%s: out of memory", path);
        return 0;
    }
    t->text[n] = '\0';
    const char *nul = memchr(t->text, '\0', n);
    if (nul) {
        snprintf(msg, size, "%s: a NUL byte at offset %zu — not a text CSV file", path,
                 (size_t)(nul - t->text));
        plot_csv_free(t);
        return 0;
    }
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += t->text[i] == '\n';
    if (n && t->text[n - 1] != '\n')
        lines++;
    char *s = t->text;
    t->ncol = 1;
    for (char *c = s; *c && *c != '\n'; c++)
        t->ncol += *c == ',';
    t->field = calloc((size_t)(lines + 1) * (size_t)t->ncol, sizeof *t->field);
    if (!t->field || lines < 1) {
        snprintf(msg, size, lines < 1 ? "%s: empty file" : "%s: out of memory", path);
        plot_csv_free(t);
        return 0;
    }
    int row = 0, lineno = 0;
    while (*s && row < lines) {
        lineno++;
        char *end = strchr(s, '\n');
        if (end)
            *end = '\0';
        if (end && end > s && end[-1] == '\r')
            end[-1] = '\0';
        if (*s) {
            int fields = 1;
            for (const char *c = s; *c; c++)
                fields += *c == ',';
            if (fields != t->ncol) {
                snprintf(msg, size, "%s: line %d has %d field%s, the header has %d", path,
                         lineno, fields, fields == 1 ? "" : "s", t->ncol);
                plot_csv_free(t);
                return 0;
            }
            int col = 0;
            for (char *tok = s; col < t->ncol; col++) {
                char *comma = strchr(tok, ',');
                if (comma)
                    *comma = '\0';
                t->field[(size_t)row * t->ncol + col] = tok;
                if (!comma) {
                    col++;
                    break;
                }
                tok = comma + 1;
            }
            for (; col < t->ncol; col++)
                t->field[(size_t)row * t->ncol + col] = "";
            row++;
        }
        if (!end)
            break;
        s = end + 1;
    }
    t->nrow = row - 1;
    if (t->nrow < 1) {
        snprintf(msg, size, "%s: no data rows below the header", path);
        plot_csv_free(t);
        return 0;
    }
    return 1;
}

int plot_csv_col(const plot_csv_table *t, const char *name)
{
    for (int c = 0; c < t->ncol; c++)
        if (!strcmp(t->field[c], name))
            return c;
    return -1;
}

/* Row r (0-based, below the header), column c. */
const char *plot_csv_str(const plot_csv_table *t, int r, int c)
{
    return t->field[(size_t)(r + 1) * t->ncol + c];
}

double plot_csv_num(const plot_csv_table *t, int r, int c)
{
    const char *s = plot_csv_str(t, r, c);
    char *end;
    double v = strtod(s, &end);
    return (*s && *end == '\0') ? v : NAN;
}

int plot_csv_need_numbers(const plot_csv_table *t, const char *path, const int *cols, int n,
                          int empty_ok, char *msg, size_t size)
{
    for (int r = 0; r < t->nrow; r++)
        for (int i = 0; i < n; i++) {
            const char *s = plot_csv_str(t, r, cols[i]);
            if (empty_ok && !*s)
                continue;
            if (!isfinite(plot_csv_num(t, r, cols[i]))) {
                snprintf(msg, size, "%s: data row %d, column '%s': '%.40s' is not a number",
                         path, r + 1, plot_csv_str(t, -1, cols[i]), s);
                return 0;
            }
        }
    return 1;
}

/* Finds the named columns or explains which is missing. */
int plot_csv_need(const plot_csv_table *t, const char *path, const char *const *names, int *cols,
                  int n, char *msg, size_t size)
{
    for (int i = 0; i < n; i++)
        if ((cols[i] = plot_csv_col(t, names[i])) < 0) {
            snprintf(msg, size, "%s: no column '%s' — is it the right kind of file?", path,
                     names[i]);
            return 0;
        }
    return 1;
}

