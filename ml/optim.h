/* optim.h -- optimizers and learning-rate schedules on flat float arrays.
 *
 * An optimizer owns the state (momentum velocity, Adagrad's sums of squared
 * gradients) for a range of n parameters and updates any sub-range of it,
 * from a dense gradient or from sparse (index, value) pairs -- so a
 * parameter-server shard holding parameters [base, base + n) of the model
 * keeps its own ml_optim and applies the pieces of gradients that fall in
 * its range.
 *
 *   sgd      v = momentum v + g;  w -= lr v        (momentum 0: w -= lr g)
 *   adagrad  s += g^2;            w -= lr g / (sqrt(s) + eps)
 *            (Duchi, Hazan & Singer 2011)
 *
 * Sparse updates touch only the listed coordinates; their momentum decays
 * only when they are touched (the usual lazy approximation).
 * Flops per updated coordinate: sgd 2 (4 with momentum), adagrad 6; each
 * step call returns its count.
 */
#ifndef DISTLAB_ML_OPTIM_H
#define DISTLAB_ML_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef enum ml_optim_kind {
    ML_OPTIM_SGD = 0,
    ML_OPTIM_ADAGRAD,
} ml_optim_kind;

typedef struct ml_optim {
    ml_optim_kind kind;
    size_t n;         /* parameters covered */
    size_t base;      /* global index of the first (for sparse updates) */
    float momentum;
    float eps;        /* adagrad, default 1e-8 */
    float *state;     /* n floats: velocity or sums of squares; NULL for plain sgd */
} ml_optim;

/* State for parameters [base, base + n) of the model, zeroed. */
int ml_optim_init(ml_optim *o, ml_optim_kind kind, size_t n, size_t base, float momentum,
                  char *err, size_t errlen);
void ml_optim_free(ml_optim *o);

/* Update params[first .. first + count) (indices relative to base, the
 * same for params, grad and the state) with the dense gradient. */
double ml_optim_step(ml_optim *o, float *params, const float *grad, size_t first, size_t count,
                     float lr);
/* Update from sparse pairs with GLOBAL indices; pairs outside
 * [base, base + n) are skipped. params is indexed relative to base. */
double ml_optim_step_sparse(ml_optim *o, float *params, const uint32_t *index,
                            const float *value, size_t nnz, float lr);

/* ---- learning-rate schedules ---- */

typedef enum ml_schedule_kind {
    ML_SCHED_CONSTANT = 0,
    ML_SCHED_STEP,    /* lr * gamma^floor(epoch / every) */
    ML_SCHED_INV,     /* lr / (1 + epoch / t0): decaying, for convex problems */
    ML_SCHED_WARMUP,  /* Goyal et al. 2017: linear scaling rule with gradual warmup */
} ml_schedule_kind;

/* Goyal et al., "Accurate, Large Minibatch SGD" (2017), section 2: with k
 * times the batch, use k times the learning rate, reached linearly from lr
 * over the first warmup epochs; after that the step decay (every, gamma)
 * applies when every > 0. */
typedef struct ml_schedule {
    ml_schedule_kind kind;
    double lr;              /* base learning rate */
    double gamma;           /* step: factor, default 0.1 */
    double every_epochs;    /* step: period; warmup: 0 = no decay */
    double t0_epochs;       /* inv */
    double warmup_epochs;   /* warmup, default 5 */
    double scale;           /* the linear scaling rule's k, the batch multiple
                               (default 1; an algorithm with P workers may set
                               it to P): every schedule's rate is k times its
                               base, except that warmup starts from the base
                               and reaches k times it after warmup_epochs */
} ml_schedule;

/* Parse "constant", "step:every=E,gamma=G", "inv:t0=E" or
 * "warmup:epochs=E,k=K[,every=E,gamma=G]" with base rate lr. */
int ml_schedule_parse(ml_schedule *s, const char *spec, double lr, char *err, size_t errlen);
/* The rate at a (fractional) epoch: steps done / steps per epoch. */
double ml_schedule_lr(const ml_schedule *s, double epoch);

#endif
