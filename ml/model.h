/* model.h -- the models: loss, gradient, prediction and their flop counts.
 *
 * Four models, all on ONE flat float32 parameter array so a distributed
 * algorithm can shard it or allreduce it by index ranges without knowing
 * which model it trains:
 *
 *   logreg   binary logistic regression      params: w[d], then b          P = d + 1
 *   svm      binary linear SVM, hinge loss   params: w[d], then b          P = d + 1
 *            (as in the Hogwild! paper, Niu et al. 2011)
 *   softmax  multiclass logistic regression  params: W[d][K] row-major, then b[K]
 *                                            P = (d + 1) K
 *   mlp:H1,H2,...  ReLU hidden layers, softmax output. Widths n_0 = d,
 *            n_1 = H1, ..., n_L = K. Layer l (1..L) stores W_l[n_{l-1}][n_l]
 *            row-major (one row per input unit), then b_l[n_l]; layers follow
 *            each other: W_1 b_1 W_2 b_2 ... P = sum_l (n_{l-1} + 1) n_l
 *
 * Labels: binary models take labels 0/1 and use y = -1/+1 inside.
 * Objective: mean data loss over the examples + (l2/2) ||params||^2 -- the
 * L2 term covers every parameter, biases included (as liblinear with -B 1
 * does), so an optimizer can apply it to any index range alike.
 *
 * Sparse gradients: on sparse (CSR) data the linear models return the
 * gradient as (index, value) pairs over the parameters the batch touched,
 * in order of first touch. Its L2 part is Hogwild!'s unbiased estimate:
 * each example adds (l2 / f_j) w_j for its own features j, where f_j is the
 * fraction of training examples that have feature j (ml_model_set_freq; 1
 * when not set) -- in expectation over the batch this is exactly l2 * w.
 * A dense gradient carries the exact l2 * params. The MLP densifies a
 * sparse batch and always returns a dense gradient.
 *
 * Flop counts (returned by every call, so a simulated run charges exactly
 * the work the real math did). B = examples in the call, Z = their stored
 * nonzeros (B d for dense data), K = classes, P = parameters:
 *   logreg, svm   forward    2Z + 2B
 *                 loss_grad  forward + 2Z + 2B + reg
 *   softmax       forward    2ZK + 4BK
 *                 loss_grad  forward + 2ZK + 2BK + reg
 *   where reg = 3(Z + B) (times K for softmax) for a sparse gradient and 2P
 *   for a dense one.
 *   mlp           forward    sum_l (2B n_{l-1} n_l + B n_l) + sum_{l<L} B n_l + 3BK
 *                 loss_grad  forward + BK + sum_l (2B n_{l-1} n_l + B n_l)
 *                            + sum_{l>=2} 2B n_{l-1} n_l + sum_{l<L} B n_l + 2P
 *   (a multiply-add is 2 flops; exp, log and compares count 1 each, folded
 *   into the per-example constants above; ml_model_flops computes these).
 *
 * Ownership and threads: an ml_model holds scratch buffers, so each rank
 * (or thread) creates its own; the parameter array belongs to the caller
 * and may be shared (Hogwild! reads it while others write). Scratch grows
 * with the largest batch seen; merging a sparse batch of several examples
 * also takes 2d floats (binary models) or d integers (softmax), allocated
 * on first use -- a batch-of-one binary model needs none.
 * Dense math goes through GSL's CBLAS interface, linked to OpenBLAS,
 * single-threaded per rank (ml_model_create sets that once).
 */
#ifndef DISTLAB_ML_MODEL_H
#define DISTLAB_ML_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ml/data.h"

#define ML_MLP_MAX_HIDDEN 8

typedef enum ml_model_kind {
    ML_MODEL_LOGREG = 0,
    ML_MODEL_SOFTMAX,
    ML_MODEL_SVM,
    ML_MODEL_MLP,
} ml_model_kind;

typedef struct ml_model ml_model;

/* A gradient: dense (n floats) or sparse (nnz index/value pairs with
 * global parameter indices). Set dense_only before a call to always get a
 * dense one (what an allreduce wants). */
typedef struct ml_grad {
    size_t n;           /* parameters */
    int dense_only;     /* input */
    int sparse;         /* output: 1 when index/value hold the gradient */
    float *dense;       /* n floats */
    size_t nnz, cap;
    uint32_t *index;
    float *value;
} ml_grad;

int ml_grad_init(ml_grad *g, size_t nparams);
void ml_grad_free(ml_grad *g);
/* Write the gradient as a dense vector of g->n floats into out. */
void ml_grad_to_dense(const ml_grad *g, float *out);

/* spec: "logreg", "svm", "softmax" or "mlp:H1,H2,..." (up to
 * ML_MLP_MAX_HIDDEN hidden layers). d features, classes labels (binary
 * models need 2). Returns 0, or -1 with a message saying what was expected. */
int ml_model_create(const char *spec, size_t d, int classes, double l2, ml_model **out,
                    char *err, size_t errlen);
void ml_model_free(ml_model *m);

ml_model_kind ml_model_kind_of(const ml_model *m);
size_t ml_model_nparams(const ml_model *m);
size_t ml_model_inputs(const ml_model *m);   /* d */
int ml_model_classes(const ml_model *m);
double ml_model_l2(const ml_model *m);

/* Initial parameters: zeros for the linear models; for the MLP, He-uniform
 * weights (U(-sqrt(6/n_in), +sqrt(6/n_in)), GSL mt19937 from seed) and
 * zero biases. */
void ml_model_init_params(const ml_model *m, float *params, uint64_t seed);

/* Record each feature's frequency in the training set (for the unbiased
 * sparse L2 term above). */
int ml_model_set_freq(ml_model *m, const ml_dataset *train, char *err, size_t errlen);

/* After ml_model_set_freq(m, train), for serial SGD on train: keep each
 * nonzero's inverse frequency in an array beside train's CSR (4 bytes a
 * nonzero), which ml_model_sgd_step on train (the same col array) reads
 * in order instead of looking each feature's up: one gather per nonzero
 * fewer, the same bits. train must stay unchanged while m steps on it;
 * ml_model_set_freq drops the array. Nothing to keep without frequencies.
 * Returns 0, or -1 with err set. */
int ml_model_stream_freq(ml_model *m, const ml_dataset *train, char *err, size_t errlen);

/* The mean data loss over the B examples idx[0..B) of ds (no L2 term:
 * see ml_model_objective) and its gradient with the L2 part, into g.
 * *flops gets the count above. loss may be NULL when only the gradient
 * is wanted (a binary model then skips the loss's log1p). Returns 0, or
 * -1 with err set. */
int ml_model_loss_grad(ml_model *m, const float *params, const ml_dataset *ds,
                       const size_t *idx, size_t batch, ml_grad *g, double *loss,
                       double *flops, char *err, size_t errlen);

/* One plain SGD step on the batch, params -= lr * gradient (serial SGD's
 * step): the same bits as ml_model_loss_grad (loss NULL) followed by
 * ml_optim_step_sparse or ml_optim_step of a momentum-free SGD optimizer
 * over all P parameters, with one exception. A binary model on sparse data
 * (g->dense_only not set) updates each coordinate where it makes its
 * gradient, without writing g, and on a batch of several it steps once per
 * nonzero, w_j -= lr (dz_i x_ij + reg_j w_j) with w_j as the batch found
 * it: a feature in c rows takes c steps that add up to its merged
 * gradient's, so the same step up to rounding, not bit for bit. Otherwise
 * g gets the gradient first. g's contents afterwards are scratch. *flops
 * gets both calls' counts (loss_grad's, plus 2 per update: per updated
 * coordinate, or per nonzero and the bias on a binary model's sparse
 * batch). Returns 0, or -1 with err set (params untouched). */
int ml_model_sgd_step(ml_model *m, float *params, const ml_dataset *ds, const size_t *idx,
                      size_t batch, float lr, ml_grad *g, double *flops, char *err, size_t errlen);

/* The same gradient, bit for bit, handed over layer by layer as backward
 * finishes each one, the output layer first (the order PyTorch's autograd
 * makes them): ready(ctx, first, count, flops) says that g->dense[first ..
 * first+count) is final, L2 part included, and that the work since the
 * previous call was `flops` (the first call's includes the forward; the
 * calls' flops add up to ml_model_flops). The MLP calls it once per weight
 * layer (W_l and b_l, one contiguous range), from l = L down; the linear
 * models once, for the whole vector, after the gradient. g->dense_only
 * must be set. The caller may hand a finished range to another thread:
 * backward writes only the ranges it has not handed over yet. Returns 0,
 * -1 with err set, or 1 when ready returned non-zero (backward stopped
 * there; the caller's ctx says why). */
typedef int (*ml_grad_ready_fn)(void *ctx, size_t first, size_t count, double flops);
int ml_model_loss_grad_layers(ml_model *m, const float *params, const ml_dataset *ds,
                              const size_t *idx, size_t batch, ml_grad *g, double *loss,
                              ml_grad_ready_fn ready, void *ctx, char *err, size_t errlen);

/* Forward only over count examples (idx NULL: examples 0..count-1): mean
 * data loss, fraction predicted right, flops. pred (may be NULL) gets each
 * predicted class. */
int ml_model_evaluate(ml_model *m, const float *params, const ml_dataset *ds,
                      const size_t *idx, size_t count, double *loss, double *accuracy,
                      int32_t *pred, double *flops, char *err, size_t errlen);

/* The regularised objective over the whole set: mean data loss +
 * (l2/2) ||params||^2. */
int ml_model_objective(ml_model *m, const float *params, const ml_dataset *ds,
                       double *objective, double *flops, char *err, size_t errlen);

/* The diagonal of the data loss's Hessian, averaged over the count
 * examples idx[0..count) (idx NULL: 0..count-1), into diag[P] (no L2
 * term): logreg p (1 - p) x_j^2, softmax p_k (1 - p_k) x_j^2 for weight
 * (j, k), with x = 1 for the biases. A diagonal preconditioner for
 * L-BFGS. Linear smooth models only (logreg, softmax): -1 with err
 * otherwise. *flops gets a forward pass plus 3 (Z + B) K. */
int ml_model_hessian_diag(ml_model *m, const float *params, const ml_dataset *ds,
                          const size_t *idx, size_t count, float *diag, double *flops, char *err,
                          size_t errlen);

/* The flop count formula above, for a call on batch examples holding nnz
 * stored values; with_grad 0 = forward, 1 = loss_grad (sparse_grad says
 * which reg term applies). */
double ml_model_flops(const ml_model *m, size_t batch, size_t nnz, int with_grad,
                      int sparse_grad);

/* ---- MLP pieces, for algorithms that split a network across ranks ---- */

/* Number of weight layers L (1 for the linear models) and layer l's shape
 * (l = 1..L) and where its W and b start in the flat array. */
int ml_model_layers(const ml_model *m);
void ml_model_layer(const ml_model *m, int l, size_t *n_in, size_t *n_out, size_t *w_offset,
                    size_t *b_offset);

/* out[B][n_out] = in[B][n_in] W + b, then ReLU when relu. W's rows are ldw
 * floats apart (ldw >= n_out), so a rank that holds output units c0..c1 of
 * a wider layer passes W + c0, b + c0 and the full row length as ldw.
 * Returns the flops: 2 B n_in n_out + B n_out (+ B n_out for the ReLU). */
double ml_dense_forward(const float *in, size_t batch, size_t n_in, const float *W, size_t ldw,
                        const float *b, size_t n_out, int relu, float *out);
/* Backward through the same layer: dout[B][n_out] is dLoss/d(pre-activation).
 * Writes gW (n_in rows, ld ldw) = in^T dout and gb = column sums of dout;
 * when din is not NULL also din[B][n_in] = dout W^T. Returns the flops:
 * 2 B n_in n_out + B n_out (+ 2 B n_in n_out with din). */
double ml_dense_backward(const float *in, size_t batch, size_t n_in, const float *W, size_t ldw,
                         size_t n_out, const float *dout, float *gW, float *gb, float *din);
/* delta[k] = 0 where act[k] <= 0 (the ReLU derivative). Returns count flops. */
double ml_relu_backward(const float *act, size_t count, float *delta);
/* Softmax cross-entropy on logits[B][K] with labels y: adds the summed loss
 * to *loss_sum and the number predicted right to *correct; when delta is
 * not NULL writes delta = (softmax - onehot) * scale. Returns flops
 * 3BK (+ BK with delta). */
double ml_softmax_xent(const float *logits, size_t batch, size_t k, const int32_t *y,
                       float scale, float *delta, double *loss_sum, size_t *correct);

#endif
