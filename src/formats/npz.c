/*
 * npz.c — NumPy .npz archives (numpy.savez / savez_compressed: a zip archive of NAME.npy
 * members), read and written through libzip. The arrays themselves are npy.c's business: a
 * member is read by the same strict reader as a file (libzip inflates deflated members and
 * checks their CRC), and written with numpy.save's header. The archive is built at a temporary
 * path that the atomic-write helper (core/file.h) then fsyncs and renames into place.
 */
#include "formats/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "core/error.h"
#include "core/file.h"

#define NPZ_MTIME ((time_t)946684800) /* 2000-01-01: fixed, so equal arrays give equal files */

/* ---------------------------------------------------------------- reading */

/* A zip member as a byte source for sbp_npy_read_source. */
static sbp_status zip_member_read(void *ctx, const char *what, void *buf, size_t want,
                                  size_t *got, sbp_error *err)
{
    zip_file_t *zf = ctx;
    size_t done = 0;
    while (done < want) {
        zip_int64_t k = zip_fread(zf, (uint8_t *)buf + done, want - done);
        if (k < 0) {
            *got = done;
            return sbp_fail(err, SBP_ERR_FORMAT, "%s: cannot read the member: %s", what,
                            zip_file_strerror(zf));
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    *got = done;
    return SBP_OK;
}

/* The member names of an archive, comma-separated, for a "no such member" message. */
static void list_members(zip_t *za, char *buf, size_t size)
{
    buf[0] = '\0';
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(za, (zip_uint64_t)i, 0);
        size_t l = strlen(buf);
        if (!nm || l + 8 >= size)
            break;
        snprintf(buf + l, size - l, "%s%s", i ? ", " : "", nm);
    }
    if (!buf[0])
        snprintf(buf, size, "none");
}

sbp_status sbp_npz_read(sbp_npy_array *out, const char *path, const char *name, sbp_error *err)
{
    if (!out || !path || !name || !*name)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "npz: path, member name and output must be set");
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return sbp_fail(err, SBP_ERR_IO, "%s: is a directory, not an .npz archive", path);
    if (!S_ISREG(sb.st_mode)) /* a FIFO would block libzip's open */
        return sbp_fail(err, SBP_ERR_IO, "%s: not a regular file, not an .npz archive", path);
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        sbp_status st =
            zerr == ZIP_ER_EXISTS /* libzip's "File already exists": ZIP_CHECKCONS found it */
                ? sbp_fail(err, SBP_ERR_FORMAT,
                           "%s: the archive holds two members of the same name (a corrupt or "
                           "hand-made .npz; numpy.savez never writes one)", path)
                : sbp_fail(err, zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ ? SBP_ERR_IO
                                                                           : SBP_ERR_FORMAT,
                           "%s: not a readable .npz (zip) archive: %s", path,
                           zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    char member[300];
    snprintf(member, sizeof member, "%s.npy", name);
    zip_int64_t idx = zip_name_locate(za, member, 0);
    if (idx < 0) {
        snprintf(member, sizeof member, "%s", name);
        idx = zip_name_locate(za, member, 0);
    }
    if (idx < 0) {
        char names[256];
        list_members(za, names, sizeof names);
        zip_discard(za);
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: no array '%s' in the archive (members: %s)", path,
                        name, names);
    }
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!zf) {
        sbp_status st = sbp_fail(err, SBP_ERR_UNSUPPORTED, "%s: cannot open member %s: %s", path,
                                 member, zip_strerror(za));
        zip_discard(za);
        return st;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s: member %s", path, member);
    const sbp_npy_source src = {what, -1, zip_member_read, zf}; /* size unknown: grow as read */
    sbp_status st = sbp_npy_read_source(out, &src, err);
    zip_fclose(zf);
    zip_discard(za);
    return st;
}

/* ---------------------------------------------------------------- writing */

static int valid_member_name(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

/* What sbp_npz_write hands the atomic-write helper. */
typedef struct npz_content {
    const char *path; /* the target, for messages */
    const sbp_npz_member *m;
    size_t n;
} npz_content;

/* Builds the archive at tmp (libzip writes beside it and renames over it on zip_close). */
static sbp_status fill_archive(const char *tmp, void *ctx, sbp_error *err)
{
    const npz_content *c = ctx;
    const char *path = c->path;
    int zerr = 0;
    zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        sbp_status st = sbp_fail(err, SBP_ERR_IO, "%s: cannot create the archive: %s", path,
                                 zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    sbp_status st = SBP_OK;
    for (size_t i = 0; i < c->n && st == SBP_OK; i++) {
        const sbp_npz_member *m = &c->m[i];
        uint8_t *hdr = NULL;
        size_t hlen = 0, nbytes = 0;
        char what[1200];
        snprintf(what, sizeof what, "%s: array %s", path, m->name);
        st = sbp_npy_header(what, m->dtype, m->ndim, m->shape, &hdr, &hlen, &nbytes, err);
        if (st != SBP_OK)
            break;
        if (nbytes && !m->data) {
            free(hdr);
            st = sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: data is NULL", what);
            break;
        }
        uint8_t *buf = realloc(hdr, hlen + nbytes);
        if (!buf) {
            free(hdr);
            st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu bytes", what, nbytes);
            break;
        }
        if (nbytes)
            memcpy(buf + hlen, m->data, nbytes);
        zip_source_t *src = zip_source_buffer(za, buf, hlen + nbytes, 1); /* takes buf */
        if (!src) {
            free(buf);
            st = sbp_fail(err, SBP_ERR_NOMEM, "%s: %s", what, zip_strerror(za));
            break;
        }
        char member[220];
        snprintf(member, sizeof member, "%s.npy", m->name);
        zip_int64_t idx = zip_file_add(za, member, src, 0);
        if (idx < 0) {
            zip_source_free(src);
            st = sbp_fail(err, SBP_ERR_IO, "%s: %s", what, zip_strerror(za));
            break;
        }
        if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
            zip_file_set_mtime(za, (zip_uint64_t)idx, NPZ_MTIME, 0) != 0)
            st = sbp_fail(err, SBP_ERR_IO, "%s: %s", what, zip_strerror(za));
    }
    if (st != SBP_OK) {
        zip_discard(za);
        return st;
    }
    if (zip_close(za) != 0) {
        st = sbp_fail(err, SBP_ERR_IO, "%s: write failed: %s (the previous file, if any, is "
                      "untouched)", path, zip_strerror(za));
        zip_discard(za);
    }
    return st;
}

sbp_status sbp_npz_write(const char *path, const sbp_npz_member *m, size_t n, sbp_error *err)
{
    if (!path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "npz write: path is NULL");
    if (!m || n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: an .npz archive needs at least one array",
                        path);
    for (size_t i = 0; i < n; i++) {
        if (!valid_member_name(m[i].name))
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "%s: array name '%s' is not [A-Za-z0-9_.-]+ (at most 200 characters)",
                            path, m[i].name ? m[i].name : "(null)");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m[i].name, m[j].name))
                return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: array name '%s' appears twice", path,
                                m[i].name);
    }
    /* the helper's temporary is created 0644, and libzip keeps the mode of the file it
     * replaces */
    npz_content c = {path, m, n};
    return sbp_write_atomic_path(path, fill_archive, &c, err);
}
