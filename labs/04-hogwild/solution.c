/* solution.c -- lab 04, Hogwild!: the lock-free step (teacher's copy).
 *
 * Every rank of the host runs SGD on ONE weight vector in shared memory:
 * logistic regression, one sparse example per step (algorithms/plugin.h,
 * plugin_hogwild_step, says the step exactly). The baseline below takes
 * the host's lock around each whole step, so steps never overlap: it is
 * correct, and on W ranks no faster than one. Hogwild! takes no lock:
 * steps overlap, another rank's write can land between this step's read
 * and its write, and two read-add-writes of one weight can lose one add.
 * The bet (Niu et al., 2011) is that on sparse data two steps rarely touch
 * the same weight, so the speed is worth it.
 *
 *   build/distlab lab check 04 labs/04-hogwild/solution.c
 */
#include <math.h>

#include "algorithms/plugin.h"

/* A shared float read or written while other threads write it must be an
 * atomic access, or the race is undefined behaviour in C (and the
 * compiler may keep a weight in a register across the whole step).
 * Relaxed order is enough: Hogwild! promises no order at all. On x86 each
 * is a plain mov. */
static float load_f(const float *p)
{
    float v;
    __atomic_load(p, &v, __ATOMIC_RELAXED);
    return v;
}

static void store_f(float *p, float v)
{
    __atomic_store(p, &v, __ATOMIC_RELAXED);
}

/* The baseline: read, gradient and write, all under the lock. Inside it
 * nobody else touches w, so plain reads and writes are fine. */
static int locked_step(rt *r, const plugin_hogwild *h, const uint32_t *index, const float *x,
                       size_t nnz, float y)
{
    int rc = h->lock(r, h->lock_arg);
    if (rc)
        return rc;
    /* 1. read */
    float z = h->w[h->d];
    for (size_t k = 0; k < nnz; k++)
        z += h->w[index[k]] * x[k];
    /* 2. gradient, and its cost */
    float g = 1.0f / (1.0f + expf(-z)) - y;
    rc = rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz));
    /* 3. write */
    for (size_t k = 0; k < nnz && !rc; k++)
        h->w[index[k]] -= h->lr * g * x[k];
    if (!rc)
        h->w[h->d] -= h->lr * g;
    int rc2 = h->unlock(r, h->lock_arg);
    return rc ? rc : rc2;
}

int plugin_hogwild_step(rt *r, const plugin_hogwild *h, const uint32_t *index, const float *x,
                        size_t nnz, float y)
{
    if (h->locked)
        return locked_step(r, h, index, x, nnz, y);
    /* 1. read: each weight once, as it is now (others may be writing) */
    float *w = h->w;
    float z = load_f(&w[h->d]);
    for (size_t k = 0; k < nnz; k++)
        z += load_f(&w[index[k]]) * x[k];
    /* 2. gradient; in simulation the other ranks run during its cost */
    float g = 1.0f / (1.0f + expf(-z)) - y;
    int rc = rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz));
    if (rc)
        return rc;
    /* 3. write: load and store, so a concurrent add to the same weight
     * can be lost -- rare when examples share few features */
    for (size_t k = 0; k < nnz; k++)
        store_f(&w[index[k]], load_f(&w[index[k]]) - h->lr * g * x[k]);
    store_f(&w[h->d], load_f(&w[h->d]) - h->lr * g);
    return RT_OK;
}
