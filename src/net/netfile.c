/*
 * netfile.c — the network description file: a strict, line-oriented INI dialect, so that a
 * user trains a new architecture without recompiling (STYLE 13, after darknet's .cfg).
 *
 *   # comment                        [input]    shape = HxWxC          (required, first)
 *   [neuron]  leak, threshold, pool_threshold, init_gain    (optional; defaults of §1/§4)
 *   [conv]    filters, kernel, stride = 1, pad = (kernel−1)/2, dropout = 0,
 *             shortcut = none|conv|subsample|identity, from = NAME|input, name = NAME
 *   [pool]    name = NAME                                  (2×2 average pool + IF)
 *   [dense]   units, dropout = 0, name = NAME
 *   [output]  classes                                      (required, last)
 *
 * Every section starts a layer in file order (except [input] and [neuron]). Unknown sections,
 * unknown or repeated keys, missing required keys, malformed values and references to unknown
 * names are errors (SBP_ERR_FORMAT) that name the file and line. Written by hand rather than
 * with inih because layers repeat section names and every error needs its line number.
 *
 * A layer section is a kind's row (kinds/kind.h): its name, keys, ranges, required keys and
 * defaults. This file knows [input] and [neuron], and the three key types that relate layers
 * to each other (name, from, shortcut); the table above is a summary of the rows.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "net/kinds/kind.h"
#include "net/shortcut.h"
#include "net/spec.h"
#include "spikebp.h"

#define NAME_LEN 32

typedef struct parser {
    sbp_net_spec *spec;
    const char *origin; /* file name or "built-in NAME", for messages */
    sbp_error *err;
    int line;
    int section;   /* 0 none, 1 input, 2 neuron, 3 layer */
    int section_line;
    unsigned seen; /* keys seen in the current section (bit per key) */
    char names[SBP_MAX_LAYERS][NAME_LEN];
    char from[SBP_MAX_LAYERS][NAME_LEN];
    int from_line[SBP_MAX_LAYERS];
    int have_input, have_output, have_neuron;
} parser;

static sbp_status fail(parser *ps, const char *fmt, const char *a, const char *b)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a, b);
    return sbp_fail(ps->err, SBP_ERR_FORMAT, "%s:%d: %s", ps->origin, ps->line, msg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return 0;
    *out = (int)x;
    return 1;
}

static int parse_float(const char *v, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return 0;
    *out = (float)x;
    return 1;
}

/* Checks the layer just finished: its row's required keys and the defaults that depend on
 * other keys; a shortcut needs its source. */
static sbp_status finish_layer(parser *ps)
{
    if (ps->section != 3)
        return SBP_OK;
    sbp_layer_spec *l = &ps->spec->layers[ps->spec->n_layers - 1];
    const sbp_kind *K = sbp_kind_of(l->kind);
    const int saved = ps->line;
    ps->line = ps->section_line;
    char missing[128] = "";
    for (int k = 0; k < K->n_keys; k++)
        if (K->keys[k].required && !(ps->seen & (1u << k))) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof missing - n, "%s%s", n ? " and " : "", K->keys[k].key);
        }
    sbp_status st = SBP_OK;
    if (missing[0])
        st = fail(ps, "[%s] needs %s", K->name, missing);
    else if (l->shortcut != SBP_SHORTCUT_NONE && !ps->from[ps->spec->n_layers - 1][0])
        st = fail(ps, "a shortcut needs 'from = NAME' (or 'from = input')%s%s", "", "");
    if (K->section_complete)
        K->section_complete(l, ps->seen);
    ps->line = saved;
    return st;
}

static sbp_status begin_section(parser *ps, const char *name)
{
    sbp_status st = finish_layer(ps);
    if (st != SBP_OK)
        return st;
    ps->seen = 0;
    ps->section_line = ps->line;
    if (!strcmp(name, "input")) {
        if (ps->have_input)
            return fail(ps, "a second [input] section%s%s", "", "");
        ps->have_input = 1;
        ps->section = 1;
        return SBP_OK;
    }
    if (!strcmp(name, "neuron")) {
        if (ps->have_neuron++) /* its keys would silently override the first one's */
            return fail(ps, "a second [neuron] section%s%s", "", "");
        ps->section = 2;
        return SBP_OK;
    }
    sbp_layer_kind kind = sbp_kind_find(name);
    if (kind == SBP_LAYER_KIND_COUNT) {
        char list[128] = "input, neuron";
        for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, ", %s", sbp_layer_kind_name((sbp_layer_kind)k));
        }
        return fail(ps, "unknown section [%s] (%s)", name, list);
    }
    const sbp_kind *K = sbp_kind_of(kind);
    if (!ps->have_input)
        return fail(ps, "[%s] before [input]%s", name, "");
    if (ps->have_output)
        return fail(ps, "[%s] after [output]: the output layer must be the last%s", name, "");
    if (ps->spec->n_layers >= SBP_MAX_LAYERS) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", SBP_MAX_LAYERS);
        return fail(ps, "more than %s layers (the limit)%s", lim, "");
    }
    sbp_layer_spec *l = &ps->spec->layers[ps->spec->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    if (K->section_defaults)
        K->section_defaults(l);
    ps->have_output = (K->flags & SBP_KIND_FINAL) != 0;
    ps->section = 3;
    return SBP_OK;
}

static sbp_status set_key(parser *ps, const char *key, const char *v)
{
    sbp_net_spec *spec = ps->spec;
    if (ps->section == 0)
        return fail(ps, "'%s' outside any section%s", key, "");
    if (ps->section == 1) {
        if (strcmp(key, "shape"))
            return fail(ps, "unknown key '%s' in [input] (shape)%s", key, "");
        int h, w, c, used = 0;
        if (ps->seen & 1u)
            return fail(ps, "'shape' given twice%s%s", "", "");
        ps->seen |= 1u;
        if (sscanf(v, "%dx%dx%d%n", &h, &w, &c, &used) != 3 || v[used] || h < 1 || w < 1 || c < 1)
            return fail(ps, "shape '%s' is not HxWxC, e.g. 32x32x3%s", v, "");
        spec->in_h = h, spec->in_w = w, spec->in_c = c;
        return SBP_OK;
    }
    if (ps->section == 2) {
        static const char *const keys[] = {"leak", "threshold", "pool_threshold", "init_gain"};
        float *dst[] = {&spec->leak, &spec->vth, &spec->vth_pool, &spec->init_gain};
        for (unsigned i = 0; i < 4; i++)
            if (!strcmp(key, keys[i])) {
                if (ps->seen & (1u << i))
                    return fail(ps, "'%s' given twice%s", key, "");
                ps->seen |= 1u << i;
                if (!parse_float(v, 1e-6, 1e6, dst[i]) || (i == 0 && *dst[i] > 1.0f))
                    return fail(ps, "%s = '%s' is not a valid number", key, v);
                return SBP_OK;
            }
        return fail(ps, "unknown key '%s' in [neuron] (leak, threshold, pool_threshold, "
                        "init_gain)%s",
                    key, "");
    }
    const int li = spec->n_layers - 1;
    sbp_layer_spec *l = &spec->layers[li];
    const sbp_kind *K = sbp_kind_of(l->kind);
    int idx = 0;
    while (idx < K->n_keys && strcmp(key, K->keys[idx].key))
        idx++;
    if (idx == K->n_keys)
        return fail(ps, "key '%s' does not belong in [%s]", key, K->name);
    if (ps->seen & (1u << idx))
        return fail(ps, "'%s' given twice%s", key, "");
    ps->seen |= 1u << idx;
    const sbp_kind_key *kk = &K->keys[idx];
    int ok = 1;
    switch (kk->type) {
    case SBP_KEY_INT:
        ok = parse_int(v, (long)kk->lo, (long)kk->hi, (int *)((char *)l + kk->field));
        break;
    case SBP_KEY_FLOAT:
        ok = parse_float(v, kk->lo, kk->hi, (float *)((char *)l + kk->field));
        break;
    case SBP_KEY_SHORTCUT:
        l->shortcut = sbp_shortcut_find(v);
        if (l->shortcut == SBP_SHORTCUT_COUNT)
            return fail(ps, "shortcut '%s' is not none, conv, subsample or identity%s", v, "");
        break;
    case SBP_KEY_NAME:
    case SBP_KEY_FROM: {
        size_t n = strlen(v);
        ok = n > 0 && n < NAME_LEN;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)v[i]) || v[i] == '_' || v[i] == '-';
        if (!ok)
            return fail(ps, "%s '%s': use 1–31 letters, digits, '_' or '-'", key, v);
        if (kk->type == SBP_KEY_NAME) {
            if (!strcmp(v, "input"))
                return fail(ps, "'input' is reserved for the network input%s%s", "", "");
            for (int i = 0; i < li; i++)
                if (!strcmp(ps->names[i], v))
                    return fail(ps, "name '%s' is already used%s", v, "");
            strcpy(ps->names[li], v);
        } else {
            strcpy(ps->from[li], v);
            ps->from_line[li] = ps->line;
        }
        break;
    }
    }
    if (!ok)
        return fail(ps, "%s = '%s' is not a valid value", key, v);
    return SBP_OK;
}

sbp_status sbp_net_spec_parse_description(sbp_net_spec *spec, const char *text,
                                          const char *origin, sbp_error *err)
{
    sbp_net_spec_defaults(spec);
    parser ps = {.spec = spec, .origin = origin ? origin : "network description", .err = err};
    const char *p = text;
    char line[512];
    sbp_status st = SBP_OK;
    if (!strncmp(p, "\xef\xbb\xbf", 3)) { /* invisible in an editor, so say what it is */
        ps.line = 1;
        return fail(&ps, "the file starts with a UTF-8 byte-order mark (bytes EF BB BF); save "
                    "it as UTF-8 without BOM%s%s", "", "");
    }
    while (*p && st == SBP_OK) {
        size_t n = strcspn(p, "\n");
        ps.line++;
        if (n >= sizeof line)
            return fail(&ps, "line longer than 511 characters%s%s", "", "");
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || trim(close + 1)[0])
                return fail(&ps, "malformed section header '%s'%s", s, "");
            *close = '\0';
            st = begin_section(&ps, trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            return fail(&ps, "expected 'key = value' or '[section]', got '%s'%s", s, "");
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (!*key || !*val)
            return fail(&ps, "empty key or value%s%s", "", "");
        st = set_key(&ps, key, val);
    }
    if (st == SBP_OK)
        st = finish_layer(&ps);
    if (st != SBP_OK)
        return st;
    ps.line = 0;
    if (!ps.have_input)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: no [input] section", ps.origin);
    if (!ps.have_output)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: no [output] section (it must be last)",
                        ps.origin);
    for (int i = 0; i < spec->n_layers; i++) {
        if (!ps.from[i][0])
            continue;
        ps.line = ps.from_line[i];
        if (spec->layers[i].shortcut == SBP_SHORTCUT_NONE)
            return fail(&ps, "'from' without a shortcut kind (shortcut = conv|subsample|identity)"
                             "%s%s",
                        "", "");
        int found = !strcmp(ps.from[i], "input") ? -1 : -2;
        for (int j = 0; j < i && found == -2; j++)
            if (!strcmp(ps.names[j], ps.from[i]))
                found = j;
        if (found == -2)
            return fail(&ps, "'from = %s' names no earlier layer%s", ps.from[i], "");
        spec->layers[i].shortcut_from = found;
    }
    return SBP_OK;
}

sbp_status sbp_net_spec_load(sbp_net_spec *spec, const char *path, sbp_error *err)
{
    FILE *f;
    long long fsize;
    sbp_status ost = sbp_open_regular(path, &f, &fsize, err); /* a FIFO would block */
    if (ost != SBP_OK)
        return ost;
    char *buf = malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    int more = fgetc(f) != EOF, bad = ferror(f);
    fclose(f);
    sbp_status st;
    if (bad)
        st = sbp_fail(err, SBP_ERR_IO, "%s: read error", path);
    else if (more)
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: larger than 1 MiB — not a network description",
                      path);
    else if (memchr(buf, '\0', n))
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: contains NUL bytes — not a text file", path);
    else {
        buf[n] = '\0';
        st = sbp_net_spec_parse_description(spec, buf, path, err);
    }
    free(buf);
    return st;
}
