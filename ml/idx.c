/* idx.c -- the MNIST-style IDX reader (MNIST, Fashion-MNIST, KMNIST).
 *
 * IDX is a big-endian header (two zero bytes, a type code, the number of
 * dimensions, then each dimension as a 32-bit count) followed by the raw
 * array. Only unsigned-byte images (magic 0x00000803) and labels
 * (0x00000801) are read: that is what the datasets ship. The files are
 * usually gzip'd; zlib reads both forms. Every refusal names the file and
 * the byte offset where the data stopped making sense.
 *
 * Format reference: http://yann.lecun.com/exdb/mnist/ (bottom of the page).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml/data.h"
#include "ml/internal.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the header of an IDX buffer and its size; fills dims[0..ndim) and
 * points *data at the array. */
static int idx_check(const char *path, const unsigned char *buf, size_t len, uint32_t magic,
                     int ndim, uint32_t *dims, const unsigned char **data, char *err,
                     size_t errlen)
{
    size_t header = 4 + 4 * (size_t)ndim;
    if (len < 4)
        return ml_err(err, errlen, "%s: byte %zu: file ends inside the 4-byte magic number",
                      path, len);
    if (be32(buf) != magic)
        return ml_err(err, errlen,
                      "%s: byte 0: magic number 0x%08x, expected 0x%08x (unsigned-byte %s)",
                      path, be32(buf), magic, ndim == 3 ? "images, 3 dimensions" : "labels, 1 dimension");
    if (len < header)
        return ml_err(err, errlen, "%s: byte %zu: file ends inside the %zu-byte header", path,
                      len, header);
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        if (dims[i] == 0)
            return ml_err(err, errlen, "%s: byte %d: dimension %d is zero", path, 4 + 4 * i, i);
        total = ml_mul_size(total, dims[i]);
        if (!total)
            return ml_err(err, errlen, "%s: byte %d: dimensions overflow", path, 4 + 4 * i);
    }
    if (len - header < total)
        return ml_err(err, errlen,
                      "%s: byte %zu: data truncated: the header announces %zu bytes after byte %zu",
                      path, len, total, header);
    if (len - header > total)
        return ml_err(err, errlen, "%s: byte %zu: %zu unexpected bytes after the data", path,
                      header + total, len - header - total);
    *data = buf + header;
    return 0;
}

/* Read an IDX file whole, but never more than its header announces (and
 * a little more, to count trailing bytes): a small gzip can inflate to
 * gigabytes, and its header is the cheapest place to find out. */
static int idx_read(const char *path, uint32_t magic, int ndim, const ml_limits *l, char **buf, size_t *len,
                    char *err, size_t errlen)
{
    enum { TRAILING = 4096 };
    size_t header = 4 + 4 * (size_t)ndim, total = 1;
    char *head;
    size_t hlen;
    int more;
    if (ml_read_file_max(path, header, &head, &hlen, &more, err, errlen) < 0)
        return -1;
    /* a header that makes sense announces the size; else idx_check says
     * what is wrong with it */
    int sized = hlen == header && be32((unsigned char *)head) == magic;
    for (int i = 0; sized && i < ndim; i++)
        sized = (total = ml_mul_size(total, be32((unsigned char *)head + 4 + 4 * i))) != 0;
    free(head);
    if (sized && (total > l->input_bytes || header > l->input_bytes - total)) {
        char where[128];
        snprintf(where, sizeof where, "byte %zu: the header announces %zu bytes of data", header, total);
        return ml_refuse_input_bytes(path, l, where, err, errlen);
    }
    size_t expect = header + (sized ? total : 0);
    if (ml_read_file_max(path, expect + TRAILING, buf, len, &more, err, errlen) < 0)
        return -1;
    if (more && sized) {
        ml_err(err, errlen, "%s: byte %zu: more than %d unexpected bytes after the data", path, expect,
               TRAILING);
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int ml_idx_load(const char *images_path, const char *labels_path, size_t max_examples,
                ml_dataset *out, char *err, size_t errlen)
{
    char *ibuf = NULL, *lbuf = NULL;
    size_t ilen, llen;
    uint32_t idims[3], ldims[1];
    const unsigned char *pix, *lab;
    ml_limits lim;
    memset(out, 0, sizeof *out);
    if (ml_limits_get(&lim, err, errlen) < 0)
        goto fail;
    if (idx_read(images_path, IDX_IMAGES_MAGIC, 3, &lim, &ibuf, &ilen, err, errlen) < 0)
        goto fail;
    if (idx_read(labels_path, IDX_LABELS_MAGIC, 1, &lim, &lbuf, &llen, err, errlen) < 0)
        goto fail;
    if (idx_check(images_path, (unsigned char *)ibuf, ilen, IDX_IMAGES_MAGIC, 3, idims, &pix,
                  err, errlen) < 0)
        goto fail;
    if (idx_check(labels_path, (unsigned char *)lbuf, llen, IDX_LABELS_MAGIC, 1, ldims, &lab,
                  err, errlen) < 0)
        goto fail;
    if (idims[0] != ldims[0]) {
        ml_err(err, errlen, "%s: %u labels for the %u images of %s", labels_path, ldims[0],
               idims[0], images_path);
        goto fail;
    }
    size_t n = idims[0], d = (size_t)idims[1] * idims[2];
    if (d > lim.features) {
        ml_err(err, errlen, "%s: byte 8: %u x %u pixels per image is past the limit of %zu features; "
               "raise it with DISTLAB_MAX_FEATURES=N", images_path, idims[1], idims[2], lim.features);
        goto fail;
    }
    if (max_examples && max_examples < n)
        n = max_examples;
    out->x = malloc(n * d * sizeof *out->x);
    out->y = malloc(n * sizeof *out->y);
    if (!out->x || !out->y) {
        ml_err(err, errlen, "%s: out of memory for %zu x %zu pixels", images_path, n, d);
        goto fail;
    }
    int max_label = 0;
    for (size_t i = 0; i < n; i++) {
        out->y[i] = lab[i];
        if (lab[i] > max_label)
            max_label = lab[i];
    }
    for (size_t k = 0; k < n * d; k++)
        out->x[k] = pix[k] * (1.0f / 255.0f);
    out->n = n;
    out->d = d;
    out->classes = max_label + 1 < 2 ? 2 : max_label + 1;
    free(ibuf);
    free(lbuf);
    return 0;
fail:
    free(ibuf);
    free(lbuf);
    ml_dataset_free(out);
    return -1;
}
