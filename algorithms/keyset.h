/* keyset.h -- which keys of a flat parameter array a message names, for
 * the algorithms that ship parts of a model around (the parameter server).
 *
 * On dense data a push or a pull names a server's whole key range
 * [lo, lo + n); on sparse data (CSR rows, a linear model) only the keys a
 * minibatch touches -- each of its features' K weights and the K biases --
 * which are sorted and travel with the message. A keyset is either, so the
 * code that packs, answers and applies a message has one path for both.
 */
#ifndef DISTLAB_KEYSET_H
#define DISTLAB_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/train.h"

typedef struct keyset {
    size_t lo, n;         /* keys NULL: the range [lo, lo + n) */
    const uint32_t *keys; /* else: n sorted keys (borrowed) */
} keyset;

/* The count a message header carries: n, or -1 for a whole range. */
int32_t keyset_wire(const keyset *k);
/* out[i] = w[key i - base] */
void keyset_gather(const keyset *k, const float *w, size_t base, float *out);
/* w[key i] = vals[i] */
void keyset_scatter(const keyset *k, const float *vals, float *w);

/* The keys a linear model's gradient on sparse rows touches, sorted:
 * for each feature f of the rows, w_off + f K + c for the K classes c,
 * then b_off + c (the biases) when there is a row. */
typedef struct keyset_rows {
    size_t w_off, b_off, K;
    unsigned char *mark;  /* d flags */
    uint32_t *feat;       /* d features */
} keyset_rows;

int keyset_rows_init(keyset_rows *kr, const ml_model *m, size_t d);
void keyset_rows_free(keyset_rows *kr);
/* The keys of rows idx[0..n) of ds into keys (room for every parameter);
 * returns how many. */
size_t keyset_rows_keys(keyset_rows *kr, const ml_dataset *ds, const size_t *idx, size_t n,
                        uint32_t *keys);

/* Where the sorted keys[0..n) fall among the ranges of S servers over P
 * parameters (train_range): keys[start[s]..start[s+1]) are server s's. */
void keyset_split(const uint32_t *keys, size_t n, size_t P, int S, size_t *start);
/* Pairs (index, value)[0..n) grouped by the server owning each index,
 * into gkey/gval, server s's from start[s] to start[s+1] (a counting sort:
 * within a server, in their order). */
void keyset_group(const uint32_t *index, const float *value, size_t n, size_t P, int S,
                  uint32_t *gkey, float *gval, size_t *start);

#endif
