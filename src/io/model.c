/*
 * model.c — the self-describing model file (STYLE 9; GGUF-like).
 *
 *   "SPIKEBP\n"            8-byte magic
 *   u32 version = 1, u32 kind = 1 (model)
 *   u32 n, n bytes         description text: "input C H W", "neuron leak=… vth=… vth_pool=…
 *                          init_gain=…", one "layer KIND out=… kernel=… stride=… pad=…
 *                          dropout=…" per layer, "meta KEY VALUE" lines
 *   u32 count, then per tensor: u32 name length, name, u32 dtype (0 = f32 LE), u32 ndim,
 *                          u32 dims[ndim], data
 *   u32 CRC-32 (zlib) of every byte before it
 *
 * Written atomically (core/file.h: temporary file in the same folder, fsync, rename, fsync of
 * the folder): a crash leaves either the old file or the new one, never half of one.
 * Reading checks magic, version, CRC, every line of the description and every tensor's name
 * and shape against the network the description builds. All integers little-endian.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/file.h"
#include "net/kinds/kind.h"
#include "net/net.h"

#define MODEL_MAGIC "SPIKEBP\n"
#define MODEL_VERSION 1u
#define MODEL_KIND 1u
#define MODEL_MAX_BYTES ((size_t)1 << 34)

/* ---------------------------------------------------------------- writing */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom || n == 0) /* n == 0: src may be the NULL of a buffer whose allocation failed */
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(wbuf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, c, 4);
}

static void put_text(wbuf *b, const char *fmt, ...) SBP_PRINTF(2, 3);
static void put_text(wbuf *b, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void describe(wbuf *t, const sbp_net *net)
{
    const sbp_net_spec *s = &net->spec;
    put_text(t, "input %d %d %d\n", s->in_c, s->in_h, s->in_w);
    put_text(t, "neuron leak=%.9g vth=%.9g vth_pool=%.9g init_gain=%.9g\n", s->leak, s->vth,
             s->vth_pool, s->init_gain);
    for (int i = 0; i < s->n_layers; i++) {
        const sbp_layer_spec *l = &s->layers[i];
        put_text(t, "layer %s out=%d kernel=%d stride=%d pad=%d dropout=%.9g",
                 sbp_layer_kind_name(l->kind), l->out, l->kernel, l->stride, l->pad, l->dropout);
        if (l->shortcut != SBP_SHORTCUT_NONE)
            put_text(t, " shortcut=%s from=%d", sbp_shortcut_name(l->shortcut), l->shortcut_from);
        put_text(t, "\n");
    }
    for (int i = 0; i < net->n_meta; i++)
        put_text(t, "meta %s %s\n", net->meta_key[i], net->meta_val[i]);
}

/* The finished buffer, written in one go by the atomic-write helper (core/file.h). */
static sbp_status put_buffer(FILE *f, void *ctx, sbp_error *err)
{
    const wbuf *b = ctx;
    fwrite(b->p, 1, b->n, f); /* a short write is caught by the helper (ferror) */
    return SBP_OK;
}

sbp_status sbp_net_save(const sbp_net *net, const char *path, sbp_error *err)
{
    wbuf b = {0}, t = {0};
    describe(&t, net);
    put(&b, MODEL_MAGIC, 8);
    put_u32(&b, MODEL_VERSION);
    put_u32(&b, MODEL_KIND);
    put_u32(&b, (uint32_t)t.n);
    put(&b, t.p, t.n);
    uint32_t count = 0;
    for (int i = 0; i < net->n_layers; i++)
        count += (net->layers[i].w_count > 0) +
                 (net->layers[i].sc && net->layers[i].sc->w_count > 0);
    put_u32(&b, count);
    for (int i = 0; i < net->n_layers; i++) {
        for (int part = 0; part < 2; part++) { /* the layer's weights, then its shortcut's */
            const sbp_layer *L = part ? net->layers[i].sc : &net->layers[i];
            if (!L || !L->w_count)
                continue;
            char name[64];
            int nl = part ? snprintf(name, sizeof name, "layer%d.conv.shortcut.weight", i)
                          : snprintf(name, sizeof name, "layer%d.%s.weight", i,
                                     sbp_layer_kind_name(L->spec.kind));
            put_u32(&b, (uint32_t)nl);
            put(&b, name, (size_t)nl);
            put_u32(&b, 0); /* f32 */
            size_t shape[4]; /* the kind's PyTorch shape; a shortcut is a 1×1 conv */
            const int ndim = sbp_kind_of(L->spec.kind)->param_shape(L, shape);
            put_u32(&b, (uint32_t)ndim);
            for (int d = 0; d < ndim; d++)
                put_u32(&b, (uint32_t)shape[d]);
            const float *w = net->params + L->w_offset;
            for (size_t j = 0; j < L->w_count; j++) { /* explicit little-endian */
                uint32_t u;
                memcpy(&u, &w[j], 4);
                put_u32(&b, u);
            }
        }
    }
    put_u32(&b, (uint32_t)crc32_z(0L, b.p, b.n));
    sbp_status st = (b.oom || t.oom) ? sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path)
                                     : sbp_write_atomic(path, put_buffer, &b, err);
    free(b.p);
    free(t.p);
    return st;
}

/* ---------------------------------------------------------------- reading */

typedef struct rbuf {
    const unsigned char *p;
    size_t n, off;
    const char *path;
    sbp_error *err;
} rbuf;

static int get(rbuf *r, void *dst, size_t n, const char *what)
{
    if (r->n - r->off < n) {
        sbp_fail(r->err, SBP_ERR_FORMAT, "%s: truncated while reading %s (offset %zu)", r->path,
                 what, r->off);
        return 0;
    }
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return 1;
}

static int get_u32(rbuf *r, uint32_t *v, const char *what)
{
    unsigned char c[4];
    if (!get(r, c, 4, what))
        return 0;
    *v = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    return 1;
}

static sbp_status read_file(const char *path, unsigned char **data, size_t *size, sbp_error *err)
{
    FILE *f;
    long long bytes;
    sbp_status ost = sbp_open_regular(path, &f, &bytes, err);
    if (ost != SBP_OK)
        return ost;
    if ((unsigned long long)bytes > MODEL_MAX_BYTES) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: %lld bytes is too large for a model (at most "
                        "%zu)", path, bytes, MODEL_MAX_BYTES);
    }
    size_t n = (size_t)bytes;
    unsigned char *p = malloc(n ? n : 1);
    if (!p) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    if (fread(p, 1, n, f) != n) {
        free(p);
        fclose(f);
        return sbp_fail(err, SBP_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    *data = p;
    *size = n;
    return SBP_OK;
}

/* Every weight takes 4 bytes of the file, so a description that needs more weights than the
 * `left` bytes after it can hold is refused before the arena is allocated: a 200-byte file
 * must not cost a 16 GiB calloc. Shape errors are reported as sbp_net_alloc reports them. */
static sbp_status check_weight_bytes(const sbp_net_spec *spec, size_t left, const char *path,
                                     sbp_error *err)
{
    sbp_layer *layers = malloc(2 * SBP_MAX_LAYERS * sizeof *layers);
    if (!layers) /* the caller prefixes the path to messages of other statuses */
        return sbp_fail(err, SBP_ERR_NOMEM, "out of memory checking the description");
    size_t n_params = 0;
    sbp_status st = sbp_net_resolve(layers, layers + SBP_MAX_LAYERS, &n_params, spec, err);
    if (st == SBP_OK && n_params > left / 4)
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: the description needs %zu weights but only %zu bytes follow it "
                      "(truncated, or a corrupt description)",
                      path, n_params, left);
    free(layers);
    return st;
}

/* The metadata keys spikebp itself reads back, with what their values must be: a model whose
 * `timesteps` is "abc" or 0 is refused, not used with a silently substituted value. Keys
 * other tools add are kept as text. */
static const struct {
    const char *key;
    double lo, hi;
    int whole;
} meta_numbers[] = {
    {"timesteps", 1, 100000, 1},
    {"epochs", 1, 100000, 1},
    {"test_accuracy", 0, 1, 0},
    {"val_accuracy", 0, 1, 0},
};

static sbp_status check_meta(const char *key, const char *value, const char *path, int lineno,
                             sbp_error *err)
{
    if (!strcmp(key, "backward") && strcmp(value, "exact") && strcmp(value, "aggregate"))
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: description line %d: metadata backward = '%.40s' is not exact or "
                        "aggregate", path, lineno, value);
    if (!strcmp(key, "data") && !value[0])
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: description line %d: metadata data is empty",
                        path, lineno);
    for (size_t i = 0; i < sizeof meta_numbers / sizeof meta_numbers[0]; i++) {
        if (strcmp(key, meta_numbers[i].key))
            continue;
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(v) || v < meta_numbers[i].lo ||
            v > meta_numbers[i].hi || (meta_numbers[i].whole && v != floor(v)))
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: description line %d: metadata %s = '%.40s' is not %s in "
                            "[%g, %g]", path, lineno, key, value,
                            meta_numbers[i].whole ? "a whole number" : "a number",
                            meta_numbers[i].lo, meta_numbers[i].hi);
    }
    return SBP_OK;
}

/* Parses the description text into spec + meta pairs (stored into *meta_net later). */
static sbp_status parse_description(char *text, sbp_net_spec *spec, char (*mk)[32],
                                    char (*mv)[1024], int *n_meta, const char *path,
                                    sbp_error *err)
{
    memset(spec, 0, sizeof *spec);
    int have_input = 0, have_neuron = 0, lineno = 0;
    *n_meta = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        int used = -1;
        char kind[16], key[32];
        if (sscanf(line, "input %d %d %d%n", &spec->in_c, &spec->in_h, &spec->in_w, &used) == 3 &&
            line[used] == '\0') {
            if (have_input++)
                return sbp_fail(err, SBP_ERR_FORMAT, "%s: description line %d: a second input "
                                "line", path, lineno);
        } else if (sscanf(line, "neuron leak=%g vth=%g vth_pool=%g init_gain=%g%n", &spec->leak,
                          &spec->vth, &spec->vth_pool, &spec->init_gain, &used) == 4 &&
                   line[used] == '\0') {
            if (have_neuron++)
                return sbp_fail(err, SBP_ERR_FORMAT, "%s: description line %d: a second neuron "
                                "line", path, lineno);
        } else if (sscanf(line, "layer %15s%n", kind, &used) == 1) {
            if (spec->n_layers >= SBP_MAX_LAYERS)
                return sbp_fail(err, SBP_ERR_FORMAT,
                                "%s: description line %d: more than %d layers", path, lineno,
                                SBP_MAX_LAYERS);
            sbp_layer_spec *l = &spec->layers[spec->n_layers];
            int u2 = -1;
            l->kind = sbp_kind_find(kind);
            if (l->kind == SBP_LAYER_KIND_COUNT ||
                sscanf(line + used, " out=%d kernel=%d stride=%d pad=%d dropout=%g%n", &l->out,
                       &l->kernel, &l->stride, &l->pad, &l->dropout, &u2) != 5)
                return sbp_fail(err, SBP_ERR_FORMAT, "%s: description line %d not understood: '%.80s'",
                                path, lineno, line);
            const char *rest = line + used + u2;
            l->shortcut = SBP_SHORTCUT_NONE;
            l->shortcut_from = 0;
            if (*rest) { /* optional " shortcut=KIND from=N" */
                char sk[16];
                int u3 = -1;
                if (sscanf(rest, " shortcut=%15[a-z] from=%d%n", sk, &l->shortcut_from, &u3) != 2 ||
                    rest[u3] != '\0')
                    return sbp_fail(err, SBP_ERR_FORMAT,
                                    "%s: description line %d not understood: '%.80s'", path, lineno,
                                    line);
                l->shortcut = SBP_SHORTCUT_COUNT;
                for (int k = 1; k < SBP_SHORTCUT_COUNT; k++)
                    if (!strcmp(sk, sbp_shortcut_name((sbp_shortcut)k)))
                        l->shortcut = (sbp_shortcut)k;
                if (l->shortcut == SBP_SHORTCUT_COUNT)
                    return sbp_fail(err, SBP_ERR_FORMAT,
                                    "%s: description line %d: unknown shortcut '%s'", path,
                                    lineno, sk);
            }
            spec->n_layers++;
        } else if (sscanf(line, "meta %31s%n", key, &used) == 1 && line[used] == ' ') {
            used++; /* exactly one space separates key and value; the value keeps the rest */
            if (*n_meta >= SBP_NET_MAX_META)
                return sbp_fail(err, SBP_ERR_FORMAT,
                                "%s: description line %d: more than %d metadata entries", path,
                                lineno, SBP_NET_MAX_META);
            if (strlen(line + used) >= 1024)
                return sbp_fail(err, SBP_ERR_FORMAT,
                                "%s: description line %d: metadata %s is %zu bytes (at most "
                                "1023)", path, lineno, key, strlen(line + used));
            for (int i = 0; i < *n_meta; i++)
                if (!strcmp(mk[i], key))
                    return sbp_fail(err, SBP_ERR_FORMAT,
                                    "%s: description line %d: metadata %s given twice", path,
                                    lineno, key);
            sbp_status mst = check_meta(key, line + used, path, lineno, err);
            if (mst != SBP_OK)
                return mst;
            strcpy(mk[*n_meta], key);
            strcpy(mv[*n_meta], line + used);
            (*n_meta)++;
        } else {
            return sbp_fail(err, SBP_ERR_FORMAT, "%s: description line %d not understood: '%.80s'",
                            path, lineno, line);
        }
    }
    if (have_neuron && !(isfinite(spec->leak) && isfinite(spec->vth) && isfinite(spec->vth_pool) &&
                         isfinite(spec->init_gain)))
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: the neuron constants are not finite numbers",
                        path);
    for (int i = 0; i < spec->n_layers; i++)
        if (!isfinite(spec->layers[i].dropout))
            return sbp_fail(err, SBP_ERR_FORMAT, "%s: layer %d: dropout is not a finite number",
                            path, i + 1);
    if (!have_input || !have_neuron || spec->n_layers == 0)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the network description lacks its input, neuron or layer lines", path);
    return SBP_OK;
}

sbp_status sbp_net_load(sbp_net **out, const char *path, sbp_error *err)
{
    *out = NULL;
    unsigned char *data = NULL;
    size_t size = 0;
    sbp_status st = read_file(path, &data, &size, err);
    if (st != SBP_OK)
        return st;
    rbuf r = {data, size, 0, path, err};
    char magic[8];
    uint32_t version, kind, tlen, count, crc_stored;
    sbp_net *net = NULL;
    char *text = NULL;
    if (size < 8 || memcmp(data, MODEL_MAGIC, 8) != 0) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: not a spikebp model (bad magic)", path);
        goto done;
    }
    if (size < 12 + 4) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated (%zu bytes)", path, size);
        goto done;
    }
    {
        unsigned char *c = data + size - 4;
        crc_stored = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
                     (uint32_t)c[3] << 24;
    }
    if ((uint32_t)crc32_z(0L, data, size - 4) != crc_stored) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: CRC mismatch — the file is corrupted or truncated", path);
        goto done;
    }
    r.n = size - 4;
    get(&r, magic, 8, "magic");
    if (!get_u32(&r, &version, "version") || !get_u32(&r, &kind, "kind")) {
        st = SBP_ERR_FORMAT;
        goto done;
    }
    if (version != MODEL_VERSION || kind != MODEL_KIND) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: format version %u kind %u, this build reads version %u kind %u", path,
                      version, kind, MODEL_VERSION, MODEL_KIND);
        goto done;
    }
    if (!get_u32(&r, &tlen, "description length")) {
        st = SBP_ERR_FORMAT;
        goto done;
    }
    if (tlen > r.n - r.off) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: description length %u exceeds the file", path,
                      tlen);
        goto done;
    }
    text = malloc((size_t)tlen + 1);
    if (!text) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    get(&r, text, tlen, "description");
    text[tlen] = '\0';
    if (strlen(text) != tlen) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: description contains a NUL byte", path);
        goto done;
    }
    sbp_net_spec spec;
    char(*mv)[1024] = calloc(SBP_NET_MAX_META, 1024);
    char(*mk)[32] = calloc(SBP_NET_MAX_META, 32);
    int n_meta = 0;
    if (!mv || !mk) {
        free(mv);
        free(mk);
        st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    st = parse_description(text, &spec, mk, mv, &n_meta, path, err);
    if (st == SBP_OK)
        st = check_weight_bytes(&spec, r.n - r.off, path, err);
    if (st == SBP_OK)
        st = sbp_net_alloc(&net, &spec, err);
    for (int i = 0; st == SBP_OK && i < n_meta; i++)
        st = sbp_net_set_meta(net, mk[i], mv[i], err);
    free(mv);
    free(mk);
    if (st != SBP_OK) {
        if (err && st != SBP_ERR_FORMAT) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s: %s", path, err->msg);
            memcpy(err->msg, m, sizeof m);
        }
        st = SBP_ERR_FORMAT;
        if (err)
            err->status = st;
        goto done;
    }
    if (!get_u32(&r, &count, "tensor count")) {
        st = SBP_ERR_FORMAT;
        goto done;
    }
    uint32_t expected = 0;
    for (int i = 0; i < net->n_layers; i++)
        expected += (net->layers[i].w_count > 0) +
                    (net->layers[i].sc && net->layers[i].sc->w_count > 0);
    if (count != expected) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: %u tensors, the network needs %u", path, count,
                      expected);
        goto done;
    }
    for (int i = 0; i < net->n_layers; i++) {
        for (int part = 0; part < 2; part++) { /* the layer's weights, then its shortcut's */
            const sbp_layer *L = part ? net->layers[i].sc : &net->layers[i];
            if (!L || !L->w_count)
                continue;
            char want[64], name[64];
            if (part)
                snprintf(want, sizeof want, "layer%d.conv.shortcut.weight", i);
            else
                snprintf(want, sizeof want, "layer%d.%s.weight", i,
                         sbp_layer_kind_name(L->spec.kind));
            uint32_t nl, dtype, ndim, dims[8];
            if (!get_u32(&r, &nl, "tensor name length") || nl >= sizeof name ||
                !get(&r, name, nl, "tensor name")) {
                st = sbp_fail(err, SBP_ERR_FORMAT, "%s: bad tensor header for layer %d", path, i);
                goto done;
            }
            name[nl] = '\0';
            if (strcmp(name, want) != 0) {
                st = sbp_fail(err, SBP_ERR_FORMAT, "%s: found tensor '%s' where '%s' belongs",
                              path, name, want);
                goto done;
            }
            if (!get_u32(&r, &dtype, "dtype") || !get_u32(&r, &ndim, "ndim") || dtype != 0 ||
                ndim < 1 || ndim > 8) {
                st = sbp_fail(err, SBP_ERR_FORMAT, "%s: tensor '%s': unsupported dtype or rank",
                              path, name);
                goto done;
            }
            size_t elems = 1;
            for (uint32_t d = 0; d < ndim; d++) {
                if (!get_u32(&r, &dims[d], "dims")) {
                    st = SBP_ERR_FORMAT;
                    goto done;
                }
                elems *= dims[d];
            }
            size_t want_dims[4];
            const int want_ndim = sbp_kind_of(L->spec.kind)->param_shape(L, want_dims);
            int shape_ok = elems == L->w_count && ndim == (uint32_t)want_ndim;
            for (uint32_t d = 0; shape_ok && d < ndim; d++)
                shape_ok = dims[d] == want_dims[d];
            if (!shape_ok) {
                st = sbp_fail(err, SBP_ERR_FORMAT, "%s: tensor '%s' has the wrong shape", path,
                              name);
                goto done;
            }
            float *w = net->params + L->w_offset;
            for (size_t j = 0; j < elems; j++) {
                uint32_t u;
                if (!get_u32(&r, &u, name)) {
                    st = SBP_ERR_FORMAT;
                    goto done;
                }
                memcpy(&w[j], &u, 4);
                if (!isfinite(w[j])) { /* a trained network never holds one: corruption */
                    st = sbp_fail(err, SBP_ERR_FORMAT, "%s: tensor '%s': element %zu is %s",
                                  path, name, j, isnan(w[j]) ? "NaN" : "infinite");
                    goto done;
                }
            }
        }
    }
    if (r.off != r.n) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: %zu unexpected bytes after the last tensor", path,
                      r.n - r.off);
        goto done;
    }
    *out = net;
    net = NULL;
done:
    sbp_net_free(net);
    free(text);
    free(data);
    return st;
}
