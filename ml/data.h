/* data.h -- training data: readers, synthetic generators, splits, scaling
 * and sharding across ranks.
 *
 * Every algorithm trains on an ml_dataset. It is either dense (n x d floats,
 * row-major: Fashion-MNIST, synth-dense) or sparse CSR (row_ptr/col/val:
 * LIBSVM files, synth-sparse), and carries one integer label per example in
 * 0..classes-1. Binary problems use labels 0 and 1 (a LIBSVM -1 becomes 0);
 * the binary models map them to -1/+1 themselves.
 *
 * Readers take a caller's error buffer and never exit or print: a malformed
 * file is refused with its name, the line (or byte offset) and what was
 * wrong. gzip'd files are read through zlib (gzopen reads plain files too).
 *
 * Shapes: n = examples, d = features, Z = stored nonzeros (sparse).
 * Ownership: a dataset owns its arrays; ml_dataset_free releases them.
 */
#ifndef DISTLAB_ML_DATA_H
#define DISTLAB_ML_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_dataset {
    size_t n;          /* examples */
    size_t d;          /* features */
    int classes;       /* labels are 0..classes-1; 2 for binary problems */
    int sparse;        /* 1: CSR below; 0: dense x */
    float *x;          /* dense: n*d, row-major */
    size_t *row_ptr;   /* sparse: n+1 offsets into col/val */
    uint32_t *col;     /* sparse: 0-based feature index, ascending per row */
    float *val;        /* sparse: values */
    int32_t *y;        /* n labels */
} ml_dataset;

void ml_dataset_free(ml_dataset *ds);
/* Stored nonzeros: Z for sparse, n*d for dense. */
size_t ml_dataset_nnz(const ml_dataset *ds);

/* ---- readers ---- */

/* ---- limits ----
 * A 9 MB gzip can inflate to gigabytes, and one LIBSVM index of 4294967295
 * makes every model allocate weights for four billion features. So the
 * readers refuse, before they allocate, a data file whose uncompressed
 * size is past input_bytes (an IDX file as soon as its header announces
 * it), a synthetic set whose examples would take more than input_bytes
 * (n x d x 4 dense, n x nnz x 8 sparse), and a dataset with more than
 * `features` features; the message says
 * the file, the line or byte, the limit and how to raise it. A user
 * raises them with the environment:
 *   DISTLAB_DATA_LIMIT=SIZE     default 1GiB (units as --bytes: 8GiB, 2TB)
 *   DISTLAB_MAX_FEATURES=N      default 16777216 (2^24)
 */
#define ML_DEFAULT_INPUT_BYTES ((size_t)1 << 30)
#define ML_DEFAULT_FEATURES ((size_t)1 << 24)

typedef struct ml_limits {
    size_t input_bytes; /* uncompressed bytes of one data file */
    size_t features;    /* features (the dimension d) of a dataset */
} ml_limits;

/* The limits now in force: the defaults, or the environment's. Returns 0,
 * or -1 with a message when a variable is set to something that is not a
 * limit. */
int ml_limits_get(ml_limits *l, char *err, size_t errlen);

/* LIBSVM/SVMlight text, plain or gzip'd:
 *   label [qid:N] index:value index:value ... [# comment]
 * Indices are 1-based and strictly increasing within a line; blank and
 * comment-only lines are skipped. Labels are integers: a file whose labels
 * lie in {-1,+1} is binary (-1 -> 0); otherwise labels are class ids
 * 0..K-1 used as given (a 1..K file gets K+1 classes, class 0 empty), so a
 * train and a test file map their labels the same way.
 * dim: 0 infers d from the largest index; otherwise any index above dim is
 * an error and d = dim. max_examples: 0 reads all, else stops after that
 * many examples. Returns 0, or -1 with "FILE:LINE: what" in err. */
int ml_libsvm_load(const char *path, size_t dim, size_t max_examples, ml_dataset *out,
                   char *err, size_t errlen);
/* The same parser on a buffer in memory (need not be NUL-terminated);
 * name is what error messages call it. The fuzz target drives this. */
int ml_libsvm_parse(const char *buf, size_t len, const char *name, size_t dim,
                    size_t max_examples, ml_dataset *out, char *err, size_t errlen);

/* Write ds as LIBSVM text (1-based indices; binary labels as -1/+1, class
 * ids otherwise) -- to hand a set to another tool (liblinear). Dense sets
 * write their nonzero values. */
int ml_libsvm_write(const ml_dataset *ds, const char *path, char *err, size_t errlen);

/* MNIST-style IDX pair, plain or gzip'd: an unsigned-byte images file
 * (magic 0x00000803, n x rows x cols) and a labels file (0x00000801, n).
 * Pixels become floats in [0,1] (value / 255). max_examples as above.
 * Errors give the file, the byte offset and what was wrong (bad magic,
 * truncated data, trailing bytes, count mismatch, a truncated gzip). */
int ml_idx_load(const char *images_path, const char *labels_path, size_t max_examples,
                ml_dataset *out, char *err, size_t errlen);

/* ---- synthetic problems (GSL mt19937, fully determined by the seed) ---- */

/* Sparse binary, RCV1-like: each row has nnz distinct features drawn with
 * probability proportional to 1/(j+1)^alpha (a power law: a few features
 * are in most rows, most are rare), positive values scaled to unit L2 norm
 * per row; the label is the sign of a hidden Gaussian linear model plus
 * noise, flipped with probability flip. */
typedef struct ml_synth_sparse {
    size_t n, d, nnz;
    double alpha;   /* power-law exponent, default 1.0 */
    double noise;   /* std of the margin noise, default 0.1 */
    double flip;    /* label flip probability, default 0.0 */
} ml_synth_sparse;

/* Dense multiclass: a Gaussian mixture, one mean per class drawn from
 * N(0, sep^2/d I), unit-variance noise around it, labels uniform. */
typedef struct ml_synth_dense {
    size_t n, d;
    int classes;
    double sep;     /* distance scale between class means, default 3.0 */
} ml_synth_dense;

int ml_synth_sparse_make(const ml_synth_sparse *p, uint64_t seed, ml_dataset *out,
                         char *err, size_t errlen);
int ml_synth_dense_make(const ml_synth_dense *p, uint64_t seed, ml_dataset *out,
                        char *err, size_t errlen);

/* Named datasets, as --dataset takes them:
 *   fashion-mnist                 the real one, from ML_FASHION_MNIST_DIR
 *   synth-sparse:n=N,d=D,nnz=K[,alpha=A,noise=S,flip=F,test=T]
 *   synth-dense:n=N,d=D,classes=C[,sep=S,test=T]
 * Fills train and test (a synthetic test set has T examples, default N/5,
 * drawn from the same hidden model). train_max/test_max: 0 = all. */
#define ML_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
int ml_dataset_open(const char *name, uint64_t seed, size_t train_max, size_t test_max,
                    ml_dataset *train, ml_dataset *test, char *err, size_t errlen);

/* ---- splits, subsets, scaling ---- */

/* out = the examples idx[0..count) of ds, in that order (copied). */
int ml_dataset_subset(const ml_dataset *ds, const size_t *idx, size_t count,
                      ml_dataset *out, char *err, size_t errlen);
/* Shuffle with the seed (when seed != 0; 0 keeps the order), then put the
 * first n_first examples in a and the rest in b. */
int ml_dataset_split(const ml_dataset *ds, size_t n_first, uint64_t seed, ml_dataset *a,
                     ml_dataset *b, char *err, size_t errlen);
/* Make both sets have d features (the larger of the two); sparse only,
 * or dense sets whose d already agree. */
int ml_dataset_match_dims(ml_dataset *a, ml_dataset *b, char *err, size_t errlen);

typedef enum ml_scale_kind {
    ML_SCALE_NONE = 0,
    ML_SCALE_STANDARD, /* dense: zero mean, unit variance; sparse: unit second moment (no centering) */
    ML_SCALE_MAXABS,   /* each feature divided by its largest |value|: into [-1,1] */
} ml_scale_kind;

/* Per-feature affine map fitted on a training set, applied to any set:
 * x' = (x - shift) * mul. Sparse sets keep shift = 0 so zeros stay zero. */
typedef struct ml_scaler {
    size_t d;
    float *shift;
    float *mul;
} ml_scaler;

int ml_scaler_fit(ml_scaler *s, const ml_dataset *train, ml_scale_kind kind, char *err,
                  size_t errlen);
int ml_scaler_apply(const ml_scaler *s, ml_dataset *ds, char *err, size_t errlen);
void ml_scaler_free(ml_scaler *s);

/* ---- sharding across ranks ---- */

typedef enum ml_shard_kind {
    ML_SHARD_CONTIGUOUS = 0, /* rank r gets one block [r*n/P, (r+1)*n/P) */
    ML_SHARD_STRIDED,        /* rank r gets r, r+P, r+2P, ... */
} ml_shard_kind;

/* Number of examples rank r of P owns out of n (the blocks differ by at
 * most one example). */
size_t ml_shard_count(size_t n, int rank, int nranks, ml_shard_kind kind);
/* Writes rank r's example indices, ascending, into idx (room for
 * ml_shard_count entries) and returns how many. */
size_t ml_shard_indices(size_t n, int rank, int nranks, ml_shard_kind kind, size_t *idx);

#endif
