/* model.c -- logistic regression, linear SVM, softmax regression and the
 * MLP behind one interface (see model.h for the parameter layout, the
 * objective and the flop formulas).
 *
 * The three linear models share one code path: nout outputs (1 for the
 * binary models, K for softmax) computed from the input, then a per-example
 * loss that gives dLoss/dlogit, then the gradient as x^T delta. Dense data
 * goes through CBLAS (sgemm); sparse data loops over the CSR nonzeros and
 * builds a sparse gradient. The MLP is a stack of ml_dense_forward /
 * ml_dense_backward calls, the same pieces a model-parallel algorithm uses.
 *
 * Shapes: B = batch, d = inputs, K = classes, n_l = width of layer l.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>

#include "ml/internal.h"
#include "ml/model.h"

/* OpenBLAS's own call; GSL's CBLAS header does not declare it. */
extern void openblas_set_num_threads(int num_threads);

/* One BLAS thread per rank: ranks are the parallelism (and a simulated
 * rank's flops are charged as one core's). Once per process, whichever
 * thread creates the first model. */
static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

/* OpenBLAS (its pthread build) starts a pool thread when the library
 * loads, one per CPU the process may run on, unless OPENBLAS_NUM_THREADS
 * says otherwise; here it is never of use (above). Worse, once a process
 * has had a second thread, glibc takes the arena lock in every malloc and
 * free that misses its per-thread cache, for good, and so does a
 * simulation's forked child: SimGrid allocates per message, and that lock
 * was about a tenth of a large simulation's CPU time (issue 21). The
 * variable cannot be set in time from here (libc's own initialiser resets
 * the environment after the executable's preinit functions run), so the
 * preinit function lets the process run on one CPU only while the
 * libraries initialise, and this executable's constructor, which runs after
 * theirs, gives the CPUs back. A process told OPENBLAS_NUM_THREADS is left
 * alone. */
static cpu_set_t blas_cpus;
static int blas_narrowed;

static void blas_init_on_one_cpu(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    if (getenv("OPENBLAS_NUM_THREADS") ||
        sched_getaffinity(0, sizeof blas_cpus, &blas_cpus) != 0 || CPU_COUNT(&blas_cpus) < 2)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &blas_cpus)) {
            CPU_SET(c, &one);
            break;
        }
    blas_narrowed = sched_setaffinity(0, sizeof one, &one) == 0;
}
__attribute__((section(".preinit_array"), used)) static void (*const blas_preinit)(int, char **, char **) =
    blas_init_on_one_cpu;

__attribute__((constructor)) static void blas_cpus_back(void)
{
    if (blas_narrowed)
        sched_setaffinity(0, sizeof blas_cpus, &blas_cpus);
    blas_narrowed = 0;
}

#define EVAL_CHUNK 512 /* examples per forward call when evaluating */

struct ml_model {
    ml_model_kind kind;
    size_t d;
    int classes;
    size_t nout;                          /* outputs of the last layer */
    int L;                                /* weight layers */
    size_t width[ML_MLP_MAX_HIDDEN + 2];  /* n_0 = d .. n_L = nout */
    size_t w_off[ML_MLP_MAX_HIDDEN + 2];  /* index 1..L */
    size_t b_off[ML_MLP_MAX_HIDDEN + 2];
    size_t P;
    double l2;
    float *inv_freq;                      /* d, or NULL: all 1 */
    /* scratch, sized for cap_batch examples */
    size_t cap_batch;
    float *act[ML_MLP_MAX_HIDDEN + 2];    /* act[0] = dense input B x d; act[l] B x n_l */
    float *delta[ML_MLP_MAX_HIDDEN + 2];  /* B x n_l */
    int32_t *labels;                      /* B: the batch's labels */
    /* sparse gradients of a batch of several, allocated on first use */
    float *acc;                           /* 2d: binary models' (gradient, examples) per feature */
    uint32_t *pos;                        /* d: softmax's slot + 1 of each feature */
    /* each feature's L2 factor (l2 / B) / f_j of a sparse gradient, for
     * batches of reg_batch (0: not made yet): one float product per
     * feature made once, the same bits as making it per nonzero */
    float *reg;
    size_t reg_batch;
    /* ml_model_stream_freq: inv_freq of each nonzero of the set whose col
     * array is row_freq_col (row_freq_nnz nonzeros), or NULL */
    float *row_freq;
    const uint32_t *row_freq_col;
    size_t row_freq_nnz;
};

/* y[k] = a x[k] + y[k], four at a time (GCC's vector extension: the -O2
 * build does not vectorise loops that need a remainder). Each element is
 * one multiply and one add, as in the plain loop, so the same bits. */
typedef float ml_v4 __attribute__((vector_size(16)));

static void axpy_inplace(float a, const float *restrict x, float *restrict y, size_t n)
{
    ml_v4 a4 = {a, a, a, a}, xv, yv;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        memcpy(&xv, x + k, sizeof xv);
        memcpy(&yv, y + k, sizeof yv);
        yv = a4 * xv + yv;
        memcpy(y + k, &yv, sizeof yv);
    }
    for (; k < n; k++)
        y[k] = a * x[k] + y[k];
}

/* y[k] += x[k], four at a time. */
static void add_inplace(const float *restrict x, float *restrict y, size_t n)
{
    ml_v4 xv, yv;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        memcpy(&xv, x + k, sizeof xv);
        memcpy(&yv, y + k, sizeof yv);
        yv = yv + xv;
        memcpy(y + k, &yv, sizeof yv);
    }
    for (; k < n; k++)
        y[k] += x[k];
}

/* The ReLU in place, x > 0 ? x : +0 (NaN and -0 give +0), with a mask and
 * no branch: the signs of fresh activations are a coin toss, and a
 * mispredicted branch per element cost more than the layer's additions. */
typedef int32_t ml_v4i __attribute__((vector_size(16)));

static void relu_inplace(float *x, size_t n)
{
    const ml_v4 zero = {0, 0, 0, 0};
    ml_v4 v;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        memcpy(&v, x + k, sizeof v);
        v = (ml_v4)((ml_v4i)v & (v > zero));
        memcpy(x + k, &v, sizeof v);
    }
    for (; k < n; k++)
        x[k] = x[k] > 0 ? x[k] : 0;
}

/* ---- gradients ---- */

int ml_grad_init(ml_grad *g, size_t nparams)
{
    memset(g, 0, sizeof *g);
    g->n = nparams;
    g->dense = calloc(nparams ? nparams : 1, sizeof *g->dense);
    return g->dense ? 0 : -1;
}

void ml_grad_free(ml_grad *g)
{
    free(g->dense);
    free(g->index);
    free(g->value);
    memset(g, 0, sizeof *g);
}

void ml_grad_to_dense(const ml_grad *g, float *out)
{
    if (!g->sparse) {
        memcpy(out, g->dense, g->n * sizeof *out);
        return;
    }
    memset(out, 0, g->n * sizeof *out);
    for (size_t k = 0; k < g->nnz; k++)
        out[g->index[k]] += g->value[k];
}

static int grad_reserve(ml_grad *g, size_t need)
{
    if (need <= g->cap)
        return 0;
    size_t cap = g->cap;
    if (ml_grow((void **)&g->index, &cap, need, sizeof *g->index) < 0)
        return -1;
    cap = g->cap;
    if (ml_grow((void **)&g->value, &cap, need, sizeof *g->value) < 0)
        return -1;
    g->cap = cap;
    return 0;
}

/* ---- creation ---- */

static int parse_mlp(const char *s, ml_model *m, char *err, size_t errlen)
{
    const char *p = s;
    int h = 0;
    while (*p) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > (1L << 20) || (*end && *end != ','))
            return ml_err(err, errlen, "model 'mlp:%s': expected hidden widths like mlp:256,128", s);
        if (h == ML_MLP_MAX_HIDDEN)
            return ml_err(err, errlen, "model 'mlp:%s': at most %d hidden layers", s,
                          ML_MLP_MAX_HIDDEN);
        m->width[++h] = (size_t)w;
        p = *end ? end + 1 : end;
    }
    if (h == 0)
        return ml_err(err, errlen, "model 'mlp:': expected hidden widths like mlp:256,128");
    m->L = h + 1;
    return 0;
}

int ml_model_create(const char *spec, size_t d, int classes, double l2, ml_model **out,
                    char *err, size_t errlen)
{
    static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
    ml_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return ml_err(err, errlen, "model: out of memory");
    pthread_once(&blas_once, blas_single_thread);
    if (d == 0 || d > UINT32_MAX) {
        ml_err(err, errlen, "model: %zu input features (expected 1..2^32-1)", d);
        goto fail;
    }
    if (!(l2 >= 0) || !isfinite(l2)) {
        ml_err(err, errlen, "model: l2 must be a finite number >= 0");
        goto fail;
    }
    m->d = d;
    m->classes = classes;
    m->l2 = l2;
    m->L = 1;
    if (strcmp(spec, "logreg") == 0 || strcmp(spec, "svm") == 0) {
        m->kind = spec[0] == 'l' ? ML_MODEL_LOGREG : ML_MODEL_SVM;
        if (classes != 2) {
            ml_err(err, errlen, "model %s is binary but the data has %d classes (use softmax or mlp)",
                   spec, classes);
            goto fail;
        }
        m->nout = 1;
    } else if (strcmp(spec, "softmax") == 0 || strncmp(spec, "mlp:", 4) == 0) {
        m->kind = spec[0] == 's' ? ML_MODEL_SOFTMAX : ML_MODEL_MLP;
        if (classes < 2) {
            ml_err(err, errlen, "model %s needs at least 2 classes, the data has %d", spec, classes);
            goto fail;
        }
        m->nout = (size_t)classes;
        if (m->kind == ML_MODEL_MLP && parse_mlp(spec + 4, m, err, errlen) < 0)
            goto fail;
    } else {
        ml_err(err, errlen, "unknown model '%s' (expected logreg, softmax, svm or mlp:H1,H2,...)", spec);
        goto fail;
    }
    m->width[0] = d;
    m->width[m->L] = m->nout;
    size_t off = 0;
    for (int l = 1; l <= m->L; l++) {
        size_t wn = ml_mul_size(m->width[l - 1], m->width[l]);
        if (!wn || off + wn + m->width[l] < off) {
            ml_err(err, errlen, "model %s: too many parameters", spec);
            goto fail;
        }
        m->w_off[l] = off;
        m->b_off[l] = off + wn;
        off += wn + m->width[l];
    }
    m->P = off;
    *out = m;
    return 0;
fail:
    ml_model_free(m);
    return -1;
}

void ml_model_free(ml_model *m)
{
    if (!m)
        return;
    for (int l = 0; l <= ML_MLP_MAX_HIDDEN + 1; l++) {
        free(m->act[l]);
        free(m->delta[l]);
    }
    free(m->inv_freq);
    free(m->labels);
    free(m->acc);
    free(m->row_freq);
    free(m->pos);
    free(m->reg);
    m->reg = NULL;
    free(m);
}

ml_model_kind ml_model_kind_of(const ml_model *m) { return m->kind; }
size_t ml_model_nparams(const ml_model *m) { return m->P; }
size_t ml_model_inputs(const ml_model *m) { return m->d; }
int ml_model_classes(const ml_model *m) { return m->classes; }
double ml_model_l2(const ml_model *m) { return m->l2; }
int ml_model_layers(const ml_model *m) { return m->L; }

void ml_model_layer(const ml_model *m, int l, size_t *n_in, size_t *n_out, size_t *w_offset,
                    size_t *b_offset)
{
    *n_in = m->width[l - 1];
    *n_out = m->width[l];
    *w_offset = m->w_off[l];
    *b_offset = m->b_off[l];
}

void ml_model_init_params(const ml_model *m, float *params, uint64_t seed)
{
    memset(params, 0, m->P * sizeof *params);
    if (m->kind != ML_MODEL_MLP)
        return;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    for (int l = 1; l <= m->L; l++) {
        double limit = sqrt(6.0 / (double)m->width[l - 1]);
        size_t wn = m->width[l - 1] * m->width[l];
        for (size_t k = 0; k < wn; k++)
            params[m->w_off[l] + k] = (float)((2 * gsl_rng_uniform(rng) - 1) * limit);
    }
    gsl_rng_free(rng);
}

int ml_model_set_freq(ml_model *m, const ml_dataset *train, char *err, size_t errlen)
{
    free(m->row_freq);
    m->row_freq = NULL;
    if (!train->sparse || train->n == 0) {
        free(m->inv_freq);
        m->inv_freq = NULL;
        m->reg_batch = 0;
        return 0;
    }
    size_t *count = calloc(m->d, sizeof *count);
    float *inv = malloc(m->d * sizeof *inv);
    if (!count || !inv) {
        free(count);
        free(inv);
        return ml_err(err, errlen, "model: out of memory for feature frequencies");
    }
    size_t z = train->row_ptr[train->n];
    for (size_t k = 0; k < z; k++)
        if (train->col[k] < m->d)
            count[train->col[k]]++;
    for (size_t j = 0; j < m->d; j++)
        inv[j] = count[j] ? (float)((double)train->n / (double)count[j]) : 1.0f;
    free(count);
    free(m->inv_freq);
    m->inv_freq = inv;
    m->reg_batch = 0;
    return 0;
}

int ml_model_stream_freq(ml_model *m, const ml_dataset *train, char *err, size_t errlen)
{
    free(m->row_freq);
    m->row_freq = NULL;
    if (!m->inv_freq || !train->sparse || m->nout != 1)
        return 0; /* no frequencies, or no fused sparse step to read them */
    size_t z = train->row_ptr[train->n];
    if (!(m->row_freq = malloc((z ? z : 1) * sizeof *m->row_freq)))
        return ml_err(err, errlen, "model: out of memory for %zu nonzeros' frequencies", z);
    for (size_t k = 0; k < z; k++)
        m->row_freq[k] = train->col[k] < m->d ? m->inv_freq[train->col[k]] : 1.0f;
    m->row_freq_col = train->col;
    m->row_freq_nnz = z;
    return 0;
}

/* ---- flops ---- */

double ml_model_flops(const ml_model *m, size_t batch, size_t nnz, int with_grad, int sparse_grad)
{
    double B = (double)batch, Z = (double)nnz, K = (double)m->nout, P = (double)m->P;
    if (m->kind != ML_MODEL_MLP) {
        double f = m->kind == ML_MODEL_SOFTMAX ? 2 * Z * K + 4 * B * K : 2 * Z + 2 * B;
        if (!with_grad)
            return f;
        f += m->kind == ML_MODEL_SOFTMAX ? 2 * Z * K + 2 * B * K : 2 * Z + 2 * B;
        return f + (sparse_grad ? 3 * (Z + B) * K : 2 * P);
    }
    double f = 3 * B * K;
    for (int l = 1; l <= m->L; l++) {
        double nin = (double)m->width[l - 1], nl = (double)m->width[l];
        f += 2 * B * nin * nl + B * nl + (l < m->L ? B * nl : 0);
    }
    if (!with_grad)
        return f;
    f += B * K + 2 * P;
    for (int l = 1; l <= m->L; l++) {
        double nin = (double)m->width[l - 1], nl = (double)m->width[l];
        f += 2 * B * nin * nl + B * nl + (l >= 2 ? 2 * B * nin * nl : 0) + (l < m->L ? B * nl : 0);
    }
    return f;
}

/* ---- the MLP pieces ---- */

double ml_dense_forward(const float *in, size_t batch, size_t n_in, const float *W, size_t ldw,
                        const float *b, size_t n_out, int relu, float *out)
{
    for (size_t i = 0; i < batch; i++)
        memcpy(out + i * n_out, b, n_out * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)n_out, (int)n_in,
                1.0f, in, (int)n_in, W, (int)ldw, 1.0f, out, (int)n_out);
    double flops = 2.0 * batch * n_in * n_out + (double)batch * n_out;
    if (relu) {
        relu_inplace(out, batch * n_out);
        flops += (double)batch * n_out;
    }
    return flops;
}

double ml_dense_backward(const float *in, size_t batch, size_t n_in, const float *W, size_t ldw,
                         size_t n_out, const float *dout, float *gW, float *gb, float *din)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_in, (int)n_out, (int)batch, 1.0f,
                in, (int)n_in, dout, (int)n_out, 0.0f, gW, (int)ldw);
    memset(gb, 0, n_out * sizeof *gb);
    for (size_t i = 0; i < batch; i++)
        add_inplace(dout + i * n_out, gb, n_out);
    double flops = 2.0 * batch * n_in * n_out + (double)batch * n_out;
    if (din) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)n_in, (int)n_out,
                    1.0f, dout, (int)n_out, W, (int)ldw, 0.0f, din, (int)n_in);
        flops += 2.0 * batch * n_in * n_out;
    }
    return flops;
}

double ml_relu_backward(const float *act, size_t count, float *delta)
{
    /* delta = 0 where act <= 0 (not where act is NaN), masked as above */
    const ml_v4 zero = {0, 0, 0, 0};
    ml_v4 a, d;
    size_t k = 0;
    for (; k + 4 <= count; k += 4) {
        memcpy(&a, act + k, sizeof a);
        memcpy(&d, delta + k, sizeof d);
        d = (ml_v4)((ml_v4i)d & ~(a <= zero));
        memcpy(delta + k, &d, sizeof d);
    }
    for (; k < count; k++)
        if (act[k] <= 0)
            delta[k] = 0;
    return (double)count;
}

/* A derivative as a float, with magnitudes below FLT_MIN flushed to zero:
 * a confident model's derivatives underflow, and denormal floats make every
 * multiply that touches them ~100 times slower (the change is < 1e-38). */
static inline float flush_tiny(double v)
{
    return fabs(v) < FLT_MIN ? 0.0f : (float)v;
}

double ml_softmax_xent(const float *logits, size_t batch, size_t k, const int32_t *y,
                       float scale, float *delta, double *loss_sum, size_t *correct)
{
    for (size_t i = 0; i < batch; i++) {
        const float *z = logits + i * k;
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (z[c] > z[best])
                best = c;
        double sum = 0;
        for (size_t c = 0; c < k; c++)
            sum += exp((double)z[c] - z[best]);
        size_t yi = (size_t)y[i];
        *loss_sum += log(sum) - ((double)z[yi] - z[best]);
        *correct += best == yi;
        if (delta)
            for (size_t c = 0; c < k; c++)
                delta[i * k + c] =
                    flush_tiny((exp((double)z[c] - z[best]) / sum - (c == yi)) * scale);
    }
    return 3.0 * batch * k + (delta ? (double)batch * k : 0);
}

/* ---- shared steps ---- */

static int check_data(const ml_model *m, const ml_dataset *ds, const size_t *idx, size_t count,
                      char *err, size_t errlen)
{
    if (ds->d > m->d)
        return ml_err(err, errlen, "model: the data has %zu features, the model takes %zu", ds->d,
                      m->d);
    for (size_t i = 0; i < count; i++) {
        size_t r = idx ? idx[i] : i;
        if (r >= ds->n)
            return ml_err(err, errlen, "model: example %zu of a set of %zu", r, ds->n);
        if (ds->y[r] < 0 || ds->y[r] >= m->classes)
            return ml_err(err, errlen, "model: example %zu has label %d, the model has %d classes",
                          r, ds->y[r], m->classes);
    }
    return 0;
}

/* What every gradient call checks first: the gradient's size, a batch,
 * and the data (check_data). */
static int check_grad_args(const ml_model *m, const ml_grad *g, const ml_dataset *ds,
                           const size_t *idx, size_t batch, char *err, size_t errlen)
{
    if (g->n != m->P)
        return ml_err(err, errlen, "model: gradient of %zu parameters for a model of %zu", g->n,
                      m->P);
    if (batch == 0)
        return ml_err(err, errlen, "model: empty batch");
    return check_data(m, ds, idx, batch, err, errlen) < 0 ? -1 : 0;
}

/* Room for batch examples in the activations (and the dense input when
 * need_x). */
static int scratch_reserve(ml_model *m, size_t batch, int need_x)
{
    if (batch > m->cap_batch) {
        for (int l = 1; l <= m->L; l++) {
            float *a = realloc(m->act[l], batch * m->width[l] * sizeof *a);
            if (a)
                m->act[l] = a;
            float *dl = realloc(m->delta[l], batch * m->width[l] * sizeof *dl);
            if (dl)
                m->delta[l] = dl;
            if (!a || !dl)
                return -1;
        }
        int32_t *y = realloc(m->labels, batch * sizeof *y);
        if (!y)
            return -1;
        m->labels = y;
        free(m->act[0]);
        free(m->delta[0]);
        m->act[0] = m->delta[0] = NULL;
        m->cap_batch = batch;
    }
    if (need_x && !m->act[0]) {
        m->act[0] = malloc(m->cap_batch * m->d * sizeof *m->act[0]);
        if (!m->act[0])
            return -1;
    }
    return 0;
}

/* Rows idx[0..B) of ds as a dense B x d matrix in act[0]. */
static void gather_dense(ml_model *m, const ml_dataset *ds, const size_t *idx, size_t batch)
{
    float *x = m->act[0];
    size_t d = m->d;
    if (!ds->sparse && ds->d == d) {
        for (size_t i = 0; i < batch; i++)
            memcpy(x + i * d, ds->x + (idx ? idx[i] : i) * d, d * sizeof *x);
        return;
    }
    memset(x, 0, batch * d * sizeof *x);
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i;
        if (!ds->sparse) {
            memcpy(x + i * d, ds->x + r * ds->d, ds->d * sizeof *x);
            continue;
        }
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++)
            x[i * d + ds->col[k]] = ds->val[k];
    }
}

static size_t batch_nnz(const ml_dataset *ds, const size_t *idx, size_t batch)
{
    if (!ds->sparse)
        return batch * ds->d;
    size_t z = 0;
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i;
        z += ds->row_ptr[r + 1] - ds->row_ptr[r];
    }
    return z;
}

/* ---- the binary models' margin on sparse data ----
 * A row's dot product with the weights, sum_k val_k w_{col_k}, in four
 * partial sums (element k goes into sum k mod 4), combined as
 * (s0 + s1) + (s2 + s3); a margin adds its bias to that, last. One sum
 * would be one chain of dependent adds, which runs at the adder's latency
 * and which each SGD example waits for; four chains run at the rate of the
 * loads, and starting from 0 rather than from the bias, they need nothing
 * the previous example's update wrote except the weights themselves.
 * Every binary model's margin on sparse data is made here (training,
 * evaluation, Hogwild!, the fused and two-call steps), so they agree. */
static inline __attribute__((always_inline)) float
sparse_dot(const float *restrict val, const uint32_t *restrict col, size_t n, const float *w)
{
    ml_v4 s4 = {0, 0, 0, 0}, x;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) { /* lane t holds sum t */
        ml_v4 wv = {w[col[k]], w[col[k + 1]], w[col[k + 2]], w[col[k + 3]]};
        memcpy(&x, val + k, sizeof x);
        s4 += x * wv;
    }
    float s0 = s4[0], s1 = s4[1], s2 = s4[2], s3 = s4[3];
    if (k < n)
        s0 += val[k] * w[col[k]];
    if (k + 1 < n)
        s1 += val[k + 1] * w[col[k + 1]];
    if (k + 2 < n)
        s2 += val[k + 2] * w[col[k + 2]];
    return (s0 + s1) + (s2 + s3);
}

/* sparse_dot, also writing each nonzero's L2 part u[k] = reg_j w_j (j =
 * col[k]) from the weight it reads, and j into gi[k] unless gi is NULL:
 * the loop waits on its loads, and the products and stores ride along.
 * reg_j is reg[j], or, when q is not NULL, rq q[k] (q: the row's
 * inverse frequencies, ml_model_stream_freq): the same product reg[j] was
 * made of, read in order instead of gathered. */
static inline __attribute__((always_inline)) float
sparse_dot_reg(const float *restrict val, const uint32_t *restrict col, size_t n, const float *w,
               const float *restrict reg, const float *restrict q, float rq, float *restrict u,
               uint32_t *restrict gi)
{
    ml_v4 s4 = {0, 0, 0, 0}, rq4 = {rq, rq, rq, rq}, x, rv;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) { /* lane t holds sum t */
        uint32_t j0 = col[k], j1 = col[k + 1], j2 = col[k + 2], j3 = col[k + 3];
        ml_v4 wv = {w[j0], w[j1], w[j2], w[j3]};
        memcpy(&x, val + k, sizeof x);
        s4 += x * wv;
        if (q) {
            memcpy(&rv, q + k, sizeof rv);
            rv = rq4 * rv;
        } else {
            rv = (ml_v4){reg[j0], reg[j1], reg[j2], reg[j3]};
        }
        rv *= wv;
        memcpy(u + k, &rv, sizeof rv);
        if (gi)
            memcpy(gi + k, col + k, 4 * sizeof *gi);
    }
    float s0 = s4[0], s1 = s4[1], s2 = s4[2], s3 = s4[3];
    for (size_t t = k; t < n; t++) { /* at most 3: element t into sum t - k */
        uint32_t j = col[t];
        float wt = w[j], p = val[t] * wt;
        if (t == k)
            s0 += p;
        else if (t == k + 1)
            s1 += p;
        else
            s2 += p;
        u[t] = (q ? rq * q[t] : reg[j]) * wt;
        if (gi)
            gi[t] = j;
    }
    return (s0 + s1) + (s2 + s3);
}

/* Linear models: logits[B][nout] of the batch. */
static void linear_logits(ml_model *m, const float *params, const ml_dataset *ds,
                          const size_t *idx, size_t batch, float *logits)
{
    size_t K = m->nout;
    const float *b = params + m->b_off[1];
    if (!ds->sparse) {
        gather_dense(m, ds, idx, batch);
        for (size_t i = 0; i < batch; i++)
            memcpy(logits + i * K, b, K * sizeof *logits);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)K, (int)m->d,
                    1.0f, m->act[0], (int)m->d, params, (int)K, 1.0f, logits, (int)K);
        return;
    }
    const uint32_t *col = ds->col;
    const float *val = ds->val;
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i, end = ds->row_ptr[r + 1];
        if (K == 1) { /* the binary models: one sparse dot product */
            size_t begin = ds->row_ptr[r];
            logits[i] = sparse_dot(val + begin, col + begin, end - begin, params) + b[0];
            continue;
        }
        float *restrict z = logits + i * K;
        memcpy(z, b, K * sizeof *z);
        for (size_t k = ds->row_ptr[r]; k < end; k++) {
            const float *restrict w = params + (size_t)col[k] * K;
            float v = val[k];
            for (size_t c = 0; c < K; c++)
                z[c] += v * w[c];
        }
    }
}

/* One example's binary loss on its margin z: adds the loss to *loss_sum
 * (when not NULL) and returns dLoss/dz * scale. */
static inline float binary_delta(ml_model_kind kind, float z, int32_t y, float scale,
                                 double *loss_sum)
{
    float s = y ? 1.0f : -1.0f, t = s * z, dz;
    if (kind == ML_MODEL_LOGREG) {
        /* log(1 + e^-t) and dLoss/dz = -s / (1 + e^t), stable both
         * ways from one exponential e = e^-|t| (in float: the margin
         * already is one) */
        float e = expf(-fabsf(t));
        if (loss_sum)
            *loss_sum += (t > 0 ? 0 : -t) + log1pf(e);
        dz = -s * (t > 0 ? e / (1.0f + e) : 1.0f / (1.0f + e));
    } else {
        if (loss_sum)
            *loss_sum += t < 1 ? 1 - t : 0;
        dz = t < 1 ? -s : 0;
    }
    return flush_tiny(dz * scale);
}

/* Binary losses on margins z = logits[i]: adds the summed loss and the
 * number right; when delta is not NULL writes dLoss/dz * scale. */
static void binary_loss(const ml_model *m, const float *logits, size_t batch, const int32_t *y,
                        float scale, float *delta, double *loss_sum, size_t *correct)
{
    for (size_t i = 0; i < batch; i++) {
        float dl = binary_delta(m->kind, logits[i], y[i], scale, loss_sum);
        *correct += (logits[i] > 0) == (y[i] != 0);
        if (delta)
            delta[i] = dl;
    }
}

/* Loss (summed) and number right over a batch of logits. */
static void batch_loss(const ml_model *m, const float *logits, size_t batch, const int32_t *y,
                       float scale, float *delta, double *loss_sum, size_t *correct)
{
    if (m->nout == 1)
        binary_loss(m, logits, batch, y, scale, delta, loss_sum, correct);
    else
        ml_softmax_xent(logits, batch, m->nout, y, scale, delta, loss_sum, correct);
}

/* Labels of the batch, in batch order, into a scratch array. */
static int32_t *batch_labels(const ml_dataset *ds, const size_t *idx, size_t batch, int32_t *buf)
{
    for (size_t i = 0; i < batch; i++)
        buf[i] = ds->y[idx ? idx[i] : i];
    return buf;
}

/* Append the bias entries (in every example: frequency 1) after the first
 * slots features of a sparse gradient, and close it. */
static void sparse_bias(const ml_model *m, const float *params, size_t batch, const float *delta,
                        ml_grad *g, size_t slots)
{
    size_t K = m->nout;
    const float *b = params + m->b_off[1];
    for (size_t c = 0; c < K; c++) {
        float sum = 0;
        for (size_t i = 0; i < batch; i++)
            sum += delta[i * K + c];
        g->index[slots * K + c] = (uint32_t)(m->b_off[1] + c);
        g->value[slots * K + c] = sum + (float)m->l2 * b[c];
    }
    g->nnz = (slots + 1) * K;
    g->sparse = 1;
}

/* Each feature's L2 factor reg_j = (l2 / batch) / f_j (just l2 / batch
 * without frequencies) for a sparse gradient of a batch of that size:
 * the float product each nonzero used to make, made once per feature
 * (the same bits). NULL when out of memory. */
static const float *sparse_reg(ml_model *m, size_t batch)
{
    if (m->reg_batch == batch)
        return m->reg;
    if (!m->reg && !(m->reg = malloc(m->d * sizeof *m->reg)))
        return NULL;
    float reg = (float)(m->l2 / (double)batch);
    for (size_t j = 0; j < m->d; j++)
        m->reg[j] = reg * (m->inv_freq ? m->inv_freq[j] : 1.0f);
    m->reg_batch = batch;
    return m->reg;
}

/* The binary models on one sparse example, Hogwild!'s step: margin, loss
 * and gradient in one call, one pass over the row for the margin (which
 * leaves reg_j w_j in gv) and one for the gradient (a CSR row has distinct
 * features: nothing to merge). The arithmetic, and so every bit, is the
 * general path's (linear_logits, binary_loss, linear_grad_sparse,
 * sparse_bias). */
static int binary_sparse_one(ml_model *m, const float *params, const ml_dataset *ds, size_t r,
                             const int32_t *y, float scale, float *logits, float *delta,
                             ml_grad *g, double *loss_sum, size_t *correct)
{
    size_t begin = ds->row_ptr[r], n = ds->row_ptr[r + 1] - begin;
    const float *rj = sparse_reg(m, 1);
    if (!rj || grad_reserve(g, n + 1) < 0)
        return -1;
    const uint32_t *restrict col = ds->col + begin;
    const float *restrict val = ds->val + begin;
    size_t bi = m->b_off[1];
    float *restrict gv = g->value;
    logits[0] = sparse_dot_reg(val, col, n, params, rj, NULL, 0, gv, g->index) + params[bi];
    binary_loss(m, logits, 1, y, scale, delta, loss_sum, correct);
    float dl = delta[0], sum = 0;
    axpy_inplace(dl, val, gv, n);
    sum += dl;
    g->index[n] = (uint32_t)bi;
    gv[n] = sum + (float)m->l2 * params[bi];
    g->nnz = n + 1;
    g->sparse = 1;
    return 0;
}

/* The binary models on a sparse batch of several: margin, loss and
 * gradient row by row while the row's weights are in cache, merging
 * repeated features in two passes with no branch on "first time this
 * feature" (which features repeat is data: mispredicting it costs more
 * than the work). Pass 1 adds each nonzero into a dense (gradient,
 * examples) pair per feature; pass 2 walks the batch again and emits each
 * feature whose pair is still set, with its L2 part once per example,
 * count * (l2 / B) / f_j * w_j, clearing the pair. */
static int binary_sparse_batch(ml_model *m, const float *params, const ml_dataset *ds,
                               const size_t *idx, size_t batch, const int32_t *y, float scale,
                               float *logits, float *delta, ml_grad *g, double *loss_sum,
                               size_t *correct)
{
    size_t slots = 0;
    if (grad_reserve(g, batch_nnz(ds, idx, batch) + 1) < 0)
        return -1;
    if (!m->acc && !(m->acc = calloc(2 * m->d, sizeof *m->acc)))
        return -1;
    float *restrict acc = m->acc;
    const uint32_t *col = ds->col;
    const float *val = ds->val;
    const float *rjs = sparse_reg(m, batch);
    if (!rjs)
        return -1;
    float bias = params[m->b_off[1]];
    /* ---- the margins first, then the losses in row order ---- */
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i, begin = ds->row_ptr[r];
        logits[i] = sparse_dot(val + begin, col + begin, ds->row_ptr[r + 1] - begin, params) + bias;
    }
    binary_loss(m, logits, batch, y, scale, delta, loss_sum, correct);
    /* ---- pass 1 ---- */
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i, end = ds->row_ptr[r + 1];
        float dl = delta[i];
        for (size_t k = ds->row_ptr[r]; k < end; k++) {
            acc[2 * (size_t)col[k]] += val[k] * dl;
            acc[2 * (size_t)col[k] + 1] += 1;
        }
    }
    /* ---- pass 2 ---- */
    uint32_t *restrict gi = g->index;
    float *restrict gv = g->value;
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i;
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++) {
            uint32_t j = col[k];
            float c = acc[2 * (size_t)j + 1];
            gi[slots] = j; /* kept only when c != 0 */
            gv[slots] = acc[2 * (size_t)j] + c * rjs[j] * params[j];
            slots += c != 0;
            acc[2 * (size_t)j] = acc[2 * (size_t)j + 1] = 0;
        }
    }
    sparse_bias(m, params, batch, delta, g, slots);
    return 0;
}

/* ---- the binary models' plain SGD step on sparse data, fused ----
 * ml_model_sgd_step's fast path. One example: the arithmetic of
 * binary_sparse_one followed by ml_optim_step_sparse (w_j -= lr g_j),
 * operation for operation, so the same bits, with each coordinate's
 * update made where its gradient is instead of writing the (index, value)
 * pairs out and reading them back. A batch of several: one step per
 * nonzero instead of one per feature (binary_sgd_batch). */

/* One example: the margin's loop is the bare sparse dot product; then the
 * bias, the one weight every next margin ends with, then each feature's
 * w_j - lr (dz x_j + reg_j w_j), reg_j w_j made again from the same two
 * floats (a row's features are distinct: w_j has not changed since). */
static void binary_sgd_one(ml_model *m, float *restrict params, const ml_dataset *ds, size_t r,
                           int32_t y, float lr, const float *restrict rj,
                           const float *restrict qs, float rq)
{
    size_t begin = ds->row_ptr[r], n = ds->row_ptr[r + 1] - begin, bi = m->b_off[1];
    const uint32_t *restrict col = ds->col + begin;
    const float *restrict val = ds->val + begin, *restrict q = qs ? qs + begin : NULL;
    float z = sparse_dot(val, col, n, params) + params[bi], sum = 0;
    float dl = binary_delta(m->kind, z, y, 1.0f, NULL);
    sum += dl; /* sparse_bias's sum over one example (0 + dl: -0 becomes +0) */
    params[bi] -= lr * (sum + (float)m->l2 * params[bi]);
    ml_v4 lr4 = {lr, lr, lr, lr}, dl4 = {dl, dl, dl, dl}, rq4 = {rq, rq, rq, rq};
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        uint32_t j0 = col[k], j1 = col[k + 1], j2 = col[k + 2], j3 = col[k + 3];
        ml_v4 x, rw, w = {params[j0], params[j1], params[j2], params[j3]};
        if (q) {
            memcpy(&rw, q + k, sizeof rw);
            rw = rq4 * rw;
        } else {
            rw = (ml_v4){rj[j0], rj[j1], rj[j2], rj[j3]};
        }
        memcpy(&x, val + k, sizeof x);
        w = w - lr4 * (dl4 * x + rw * w);
        params[j0] = w[0];
        params[j1] = w[1];
        params[j2] = w[2];
        params[j3] = w[3];
    }
    for (; k < n; k++) {
        uint32_t j = col[k];
        float w = params[j];
        params[j] = w - lr * (dl * val[k] + (q ? rq * q[k] : rj[j]) * w);
    }
}

/* A batch of several, with nothing merged: the margins from the weights
 * the batch starts at, keeping each nonzero's L2 part u = reg_j w_j beside
 * it; then, nonzero by nonzero in batch order, w_j -= lr (dz_i x_ij + u).
 * A feature in c of the rows takes c such steps, which add up to the batch
 * gradient's sum_i dz_i x_ij + c reg_j w_j: the step of
 * binary_sparse_batch's merged gradient, the same adds in another order
 * (so the same step up to rounding, not the same bits), without its dense
 * arrays of d floats and the passes that find the repeats. u has room for
 * the batch's nonzeros. */
static void binary_sgd_batch(ml_model *m, float *restrict params, const ml_dataset *ds,
                             const size_t *idx, size_t batch, const int32_t *y, float scale,
                             float lr, const float *restrict rjs, const float *restrict qs,
                             float rq, float *restrict logits, float *restrict u)
{
    const uint32_t *col = ds->col;
    const float *val = ds->val;
    size_t bi = m->b_off[1];
    float bias = params[bi], sum = 0;
    ml_v4 lr4 = {lr, lr, lr, lr};
    /* ---- margins, and each nonzero's L2 part ---- */
    for (size_t i = 0, at = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i, begin = ds->row_ptr[r], n = ds->row_ptr[r + 1] - begin;
        logits[i] = sparse_dot_reg(val + begin, col + begin, n, params, rjs,
                                   qs ? qs + begin : NULL, rq, u + at, NULL) + bias;
        at += n;
    }
    /* ---- losses ---- */
    for (size_t i = 0; i < batch; i++)
        logits[i] = binary_delta(m->kind, logits[i], y[i], scale, NULL);
    /* ---- one step per nonzero, then the bias's ---- */
    for (size_t i = 0, at = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i, begin = ds->row_ptr[r], n = ds->row_ptr[r + 1] - begin;
        const uint32_t *restrict c = col + begin;
        const float *restrict v = val + begin, *restrict ui = u + at;
        float dl = logits[i];
        sum += dl;
        ml_v4 dl4 = {dl, dl, dl, dl}, x, uv;
        size_t k = 0;
        for (; k + 4 <= n; k += 4) { /* a row's features are distinct */
            uint32_t j0 = c[k], j1 = c[k + 1], j2 = c[k + 2], j3 = c[k + 3];
            ml_v4 wv = {params[j0], params[j1], params[j2], params[j3]};
            memcpy(&x, v + k, sizeof x);
            memcpy(&uv, ui + k, sizeof uv);
            wv -= lr4 * (dl4 * x + uv);
            params[j0] = wv[0];
            params[j1] = wv[1];
            params[j2] = wv[2];
            params[j3] = wv[3];
        }
        for (; k < n; k++) {
            uint32_t j = c[k];
            params[j] -= lr * (dl * v[k] + ui[k]);
        }
        at += n;
    }
    params[bi] -= lr * (sum + (float)m->l2 * bias);
}

/* Sparse gradient of softmax from delta[B][K] (see model.h), repeated
 * features merged through pos[] (the binary models have their own above). */
static int linear_grad_sparse(ml_model *m, const float *params, const ml_dataset *ds,
                              const size_t *idx, size_t batch, const float *delta, ml_grad *g)
{
    size_t K = m->nout, slots = 0;
    size_t z = batch_nnz(ds, idx, batch);
    if (grad_reserve(g, (z + 1) * K) < 0)
        return -1;
    if (!m->pos && !(m->pos = calloc(m->d, sizeof *m->pos)))
        return -1;
    const float *rjs = sparse_reg(m, batch);
    if (!rjs)
        return -1;
    const uint32_t *col = ds->col;
    const float *val = ds->val;
    uint32_t *restrict gi = g->index;
    float *restrict gv = g->value;
    for (size_t i = 0; i < batch; i++) {
        size_t r = idx ? idx[i] : i;
        const float *dl = delta + i * K;
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++) {
            uint32_t j = col[k];
            if (!m->pos[j]) {
                m->pos[j] = (uint32_t)++slots;
                for (size_t c = 0; c < K; c++) {
                    gi[(slots - 1) * K + c] = (uint32_t)(j * K + c);
                    gv[(slots - 1) * K + c] = 0;
                }
            }
            float *restrict out = gv + (m->pos[j] - 1) * K;
            const float *w = params + (size_t)j * K;
            float v = val[k], rj = rjs[j];
            for (size_t c = 0; c < K; c++)
                out[c] += v * dl[c] + rj * w[c];
        }
    }
    for (size_t s = 0; s < slots; s++)
        m->pos[gi[s * K] / K] = 0;
    sparse_bias(m, params, batch, delta, g, slots);
    return 0;
}

/* Dense gradient of a linear model from delta[B][K], without the L2 part. */
static void linear_grad_dense(ml_model *m, const ml_dataset *ds, const size_t *idx,
                              size_t batch, const float *delta, float *gd)
{
    size_t K = m->nout;
    float *gb = gd + m->b_off[1];
    if (!ds->sparse) {
        /* act[0] still holds the batch from linear_logits */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m->d, (int)K, (int)batch, 1.0f,
                    m->act[0], (int)m->d, delta, (int)K, 0.0f, gd, (int)K);
    } else {
        memset(gd, 0, m->d * K * sizeof *gd);
        for (size_t i = 0; i < batch; i++) {
            size_t r = idx ? idx[i] : i;
            for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++) {
                float *gw = gd + (size_t)ds->col[k] * K;
                for (size_t c = 0; c < K; c++)
                    gw[c] += ds->val[k] * delta[i * K + c];
            }
        }
    }
    memset(gb, 0, K * sizeof *gb);
    for (size_t i = 0; i < batch; i++)
        for (size_t c = 0; c < K; c++)
            gb[c] += delta[i * K + c];
}

/* MLP forward over the batch into act[1..L] (act[L] = logits). */
static void mlp_forward(ml_model *m, const float *params, const ml_dataset *ds, const size_t *idx,
                        size_t batch)
{
    gather_dense(m, ds, idx, batch);
    for (int l = 1; l <= m->L; l++)
        ml_dense_forward(m->act[l - 1], batch, m->width[l - 1], params + m->w_off[l], m->width[l],
                         params + m->b_off[l], m->width[l], l < m->L, m->act[l]);
}

/* ---- the public calls ---- */

int ml_model_loss_grad(ml_model *m, const float *params, const ml_dataset *ds,
                       const size_t *idx, size_t batch, ml_grad *g, double *loss,
                       double *flops, char *err, size_t errlen)
{
    if (check_grad_args(m, g, ds, idx, batch, err, errlen) < 0)
        return -1;
    int mlp = m->kind == ML_MODEL_MLP;
    if (scratch_reserve(m, batch, mlp || !ds->sparse) < 0)
        goto nomem;
    const int32_t *y = batch_labels(ds, idx, batch, m->labels);
    double loss_sum = 0;
    size_t correct = 0;
    float scale = 1.0f / (float)batch;
    float *logits = m->act[m->L], *delta = m->delta[m->L];
    g->sparse = 0;
    g->nnz = 0;
    if (mlp) {
        mlp_forward(m, params, ds, idx, batch);
        ml_softmax_xent(logits, batch, m->nout, y, scale, delta, &loss_sum, &correct);
        for (int l = m->L; l >= 1; l--) {
            size_t nin = m->width[l - 1], nl = m->width[l];
            ml_dense_backward(m->act[l - 1], batch, nin, params + m->w_off[l], nl, nl,
                              m->delta[l], g->dense + m->w_off[l], g->dense + m->b_off[l],
                              l > 1 ? m->delta[l - 1] : NULL);
            if (l > 1)
                ml_relu_backward(m->act[l - 1], batch * nin, m->delta[l - 1]);
        }
    } else {
        /* a binary model's loss is one more libm call per example: made
         * only when asked for */
        double *binary_sum = loss || m->nout > 1 ? &loss_sum : NULL;
        if (ds->sparse && !g->dense_only && m->nout == 1) {
            if ((batch == 1 ? binary_sparse_one(m, params, ds, idx ? idx[0] : 0, y, scale, logits,
                                                delta, g, binary_sum, &correct)
                            : binary_sparse_batch(m, params, ds, idx, batch, y, scale, logits,
                                                  delta, g, binary_sum, &correct)) < 0)
                goto nomem;
            goto done;
        }
        linear_logits(m, params, ds, idx, batch, logits);
        batch_loss(m, logits, batch, y, scale, delta, binary_sum, &correct);
        if (ds->sparse && !g->dense_only) {
            if (linear_grad_sparse(m, params, ds, idx, batch, delta, g) < 0)
                goto nomem;
        } else {
            linear_grad_dense(m, ds, idx, batch, delta, g->dense);
        }
    }
done:
    if (!g->sparse)
        axpy_inplace((float)m->l2, params, g->dense, m->P); /* (l2 w) + g: the same sum */
    if (loss)
        *loss = loss_sum / (double)batch;
    *flops = ml_model_flops(m, batch, mlp ? batch * m->d : batch_nnz(ds, idx, batch), 1, g->sparse);
    return 0;
nomem:
    return ml_err(err, errlen, "model: out of memory for a batch of %zu", batch);
}

int ml_model_sgd_step(ml_model *m, float *params, const ml_dataset *ds, const size_t *idx,
                      size_t batch, float lr, ml_grad *g, double *flops, char *err, size_t errlen)
{
    if (!(ds->sparse && !g->dense_only && m->nout == 1)) {
        /* the general path: the gradient, then ml_optim_step(_sparse)'s loops */
        if (ml_model_loss_grad(m, params, ds, idx, batch, g, NULL, flops, err, errlen) < 0)
            return -1;
        if (g->sparse)
            for (size_t k = 0; k < g->nnz; k++)
                params[g->index[k]] -= lr * g->value[k];
        else
            for (size_t k = 0; k < m->P; k++)
                params[k] -= lr * g->dense[k];
        *flops += 2.0 * (double)(g->sparse ? g->nnz : m->P);
        return 0;
    }
    if (check_grad_args(m, g, ds, idx, batch, err, errlen) < 0)
        return -1;
    if (scratch_reserve(m, batch, 0) < 0)
        goto nomem;
    size_t z = batch_nnz(ds, idx, batch);
    const float *rj = sparse_reg(m, batch);
    if (!rj)
        goto nomem;
    /* sparse_reg's factor, (l2 / B) x 1 / f_j, made per nonzero from q */
    const float *q = m->row_freq && m->row_freq_col == ds->col && m->row_freq_nnz == ds->row_ptr[ds->n]
                         ? m->row_freq
                         : NULL;
    float rq = (float)(m->l2 / (double)batch);
    if (batch == 1) {
        size_t r = idx ? idx[0] : 0;
        binary_sgd_one(m, params, ds, r, ds->y[r], lr, rj, q, rq);
    } else {
        const int32_t *y = batch_labels(ds, idx, batch, m->labels);
        if (grad_reserve(g, z) < 0)
            goto nomem;
        binary_sgd_batch(m, params, ds, idx, batch, y, 1.0f / (float)batch, lr, rj, q, rq,
                         m->act[m->L], g->value);
    }
    *flops = ml_model_flops(m, batch, z, 1, 1) + 2.0 * (double)(z + 1);
    return 0;
nomem:
    return ml_err(err, errlen, "model: out of memory for a batch of %zu", batch);
}

int ml_model_loss_grad_layers(ml_model *m, const float *params, const ml_dataset *ds,
                              const size_t *idx, size_t batch, ml_grad *g, double *loss,
                              ml_grad_ready_fn ready, void *ctx, char *err, size_t errlen)
{
    if (!g->dense_only)
        return ml_err(err, errlen, "model: a layer-wise gradient is dense (set dense_only)");
    if (m->kind != ML_MODEL_MLP) {
        double flops;
        if (ml_model_loss_grad(m, params, ds, idx, batch, g, loss, &flops, err, errlen) < 0)
            return -1;
        return ready(ctx, 0, m->P, flops) ? 1 : 0;
    }
    if (check_grad_args(m, g, ds, idx, batch, err, errlen) < 0)
        return -1;
    if (scratch_reserve(m, batch, 1) < 0)
        return ml_err(err, errlen, "model: out of memory for a batch of %zu", batch);
    const int32_t *y = batch_labels(ds, idx, batch, m->labels);
    double loss_sum = 0, B = (double)batch;
    size_t correct = 0;
    g->sparse = 0;
    g->nnz = 0;
    /* Layer l's share of ml_model_flops: its gradient, the delta passed
     * down and the ReLU under it, its L2 part; layer L also takes the
     * forward and the loss, so the calls' flops add up to the total. */
    double f[ML_MLP_MAX_HIDDEN + 2], rest = ml_model_flops(m, batch, batch * m->d, 1, 0);
    for (int l = m->L; l >= 1; l--) {
        double nin = (double)m->width[l - 1], nl = (double)m->width[l];
        f[l] = 2 * B * nin * nl + B * nl + (l > 1 ? 2 * B * nin * nl + B * nin : 0) +
               2 * (nin + 1) * nl;
        if (l < m->L)
            rest -= f[l];
    }
    f[m->L] = rest;
    mlp_forward(m, params, ds, idx, batch);
    ml_softmax_xent(m->act[m->L], batch, m->nout, y, 1.0f / (float)batch, m->delta[m->L],
                    &loss_sum, &correct);
    *loss = loss_sum / B;
    float l2 = (float)m->l2;
    for (int l = m->L; l >= 1; l--) {
        size_t nin = m->width[l - 1], nl = m->width[l];
        ml_dense_backward(m->act[l - 1], batch, nin, params + m->w_off[l], nl, nl, m->delta[l],
                          g->dense + m->w_off[l], g->dense + m->b_off[l],
                          l > 1 ? m->delta[l - 1] : NULL);
        if (l > 1)
            ml_relu_backward(m->act[l - 1], batch * nin, m->delta[l - 1]);
        /* the same per-element L2 term as ml_model_loss_grad adds at its end */
        size_t first = m->w_off[l], count = m->b_off[l] + nl - first;
        axpy_inplace(l2, params + first, g->dense + first, count);
        if (ready(ctx, first, count, f[l]))
            return 1;
    }
    return 0;
}

int ml_model_evaluate(ml_model *m, const float *params, const ml_dataset *ds,
                      const size_t *idx, size_t count, double *loss, double *accuracy,
                      int32_t *pred, double *flops, char *err, size_t errlen)
{
    int32_t y[EVAL_CHUNK];
    int mlp = m->kind == ML_MODEL_MLP;
    if (check_data(m, ds, idx, count, err, errlen) < 0)
        return -1;
    if (scratch_reserve(m, EVAL_CHUNK, mlp || !ds->sparse) < 0)
        return ml_err(err, errlen, "model: out of memory for evaluation");
    double loss_sum = 0, f = 0;
    size_t correct = 0;
    for (size_t at = 0; at < count; at += EVAL_CHUNK) {
        size_t b = count - at < EVAL_CHUNK ? count - at : EVAL_CHUNK;
        size_t ibuf[EVAL_CHUNK];
        for (size_t i = 0; i < b; i++)
            ibuf[i] = idx ? idx[at + i] : at + i;
        batch_labels(ds, ibuf, b, y);
        if (mlp)
            mlp_forward(m, params, ds, ibuf, b);
        else
            linear_logits(m, params, ds, ibuf, b, m->act[m->L]);
        const float *logits = m->act[m->L];
        batch_loss(m, logits, b, y, 1.0f, NULL, &loss_sum, &correct);
        if (pred) {
            for (size_t i = 0; i < b; i++) {
                const float *z = logits + i * m->nout;
                size_t best = 0;
                for (size_t c = 1; c < m->nout; c++)
                    if (z[c] > z[best])
                        best = c;
                pred[at + i] = m->nout == 1 ? z[0] > 0 : (int32_t)best;
            }
        }
        f += ml_model_flops(m, b, mlp ? b * m->d : batch_nnz(ds, ibuf, b), 0, 0);
    }
    /* no examples, no measurement (not a perfect or a zero score) */
    *loss = count ? loss_sum / (double)count : NAN;
    *accuracy = count ? (double)correct / (double)count : NAN;
    if (flops)
        *flops = f;
    return 0;
}

int ml_model_objective(ml_model *m, const float *params, const ml_dataset *ds,
                       double *objective, double *flops, char *err, size_t errlen)
{
    double loss, acc, f;
    if (ml_model_evaluate(m, params, ds, NULL, ds->n, &loss, &acc, NULL, &f, err, errlen) < 0)
        return -1;
    double norm2 = 0;
    for (size_t k = 0; k < m->P; k++)
        norm2 += (double)params[k] * params[k];
    *objective = loss + 0.5 * m->l2 * norm2;
    if (flops)
        *flops = f + 2.0 * (double)m->P;
    return 0;
}

/* ---- the Hessian's diagonal, for preconditioning ---- */

int ml_model_hessian_diag(ml_model *m, const float *params, const ml_dataset *ds,
                          const size_t *idx, size_t count, float *diag, double *flops, char *err,
                          size_t errlen)
{
    if (m->kind != ML_MODEL_LOGREG && m->kind != ML_MODEL_SOFTMAX)
        return ml_err(err, errlen, "model: the Hessian's diagonal is for logreg and softmax");
    if (check_data(m, ds, idx, count, err, errlen) < 0)
        return -1;
    if (scratch_reserve(m, EVAL_CHUNK, !ds->sparse) < 0)
        return ml_err(err, errlen, "model: out of memory for the Hessian's diagonal");
    size_t K = m->nout, d = m->d;
    float *bias = diag + m->b_off[1];
    double f = 0;
    float *c = m->act[m->L]; /* logits, then each output's curvature p (1 - p) */
    memset(diag, 0, m->P * sizeof *diag);
    for (size_t at = 0; at < count; at += EVAL_CHUNK) {
        size_t b = count - at < EVAL_CHUNK ? count - at : EVAL_CHUNK;
        size_t ibuf[EVAL_CHUNK];
        for (size_t i = 0; i < b; i++)
            ibuf[i] = idx ? idx[at + i] : at + i;
        linear_logits(m, params, ds, ibuf, b, c);
        for (size_t i = 0; i < b; i++) {
            float *z = c + i * K;
            if (K == 1) {
                float p = 1.0f / (1.0f + expf(-z[0]));
                z[0] = p * (1.0f - p);
            } else {
                float top = z[0], s = 0;
                for (size_t k = 1; k < K; k++)
                    top = z[k] > top ? z[k] : top;
                for (size_t k = 0; k < K; k++)
                    s += z[k] = expf(z[k] - top);
                for (size_t k = 0; k < K; k++) {
                    float p = z[k] / s;
                    z[k] = p * (1.0f - p);
                }
            }
            for (size_t k = 0; k < K; k++)
                bias[k] += z[k];
            if (ds->sparse) {
                size_t r = ibuf[i];
                for (size_t e = ds->row_ptr[r]; e < ds->row_ptr[r + 1]; e++) {
                    float v2 = ds->val[e] * ds->val[e];
                    float *h = diag + (size_t)ds->col[e] * K;
                    for (size_t k = 0; k < K; k++)
                        h[k] += v2 * z[k];
                }
            } else {
                const float *x = m->act[0] + i * d;
                for (size_t j = 0; j < d; j++) {
                    float v2 = x[j] * x[j];
                    for (size_t k = 0; k < K; k++)
                        diag[j * K + k] += v2 * z[k];
                }
            }
        }
        size_t z = batch_nnz(ds, ibuf, b);
        f += ml_model_flops(m, b, z, 0, 0) + 3.0 * (double)(z + b) * (double)K;
    }
    float inv = count ? 1.0f / (float)count : 0.0f;
    for (size_t j = 0; j < m->P; j++)
        diag[j] *= inv;
    if (flops)
        *flops = f + (double)m->P;
    return 0;
}
