/* train.h -- the ML options every `distlab run ALGO` shares, loading the
 * problem they describe, and the serial trainer (plain minibatch SGD).
 *
 * A verb passes each ML option it sees to ml_config_set (which answers 1
 * for keys that are not ML options, so the verb can try its own table
 * next), then calls ml_problem_load to get the train and test sets and a
 * model shaped by them. ml_train_serial is the ML core's own trainer:
 * plain minibatch SGD on one rank through ml_model_sgd_step (a sparse
 * batch of several stepped per nonzero, so not the bits of the gradient
 * and the optimizer), what bench/ml.sh times and the liblinear and
 * Fashion-MNIST checks train. `distlab run serial` is not this trainer:
 * it is allreduce SGD at one worker (algorithms/sgd_allreduce.c, a dense
 * gradient and step), the baseline the distributed runs are compared with.
 *
 * ml_opts has the layout of cli_opt in cli/cli.h ({name, arg, help},
 * NULL-terminated) so a verb can hand it to cli_parse by a cast, without
 * ml/ depending on cli/.
 */
#ifndef DISTLAB_ML_TRAIN_H
#define DISTLAB_ML_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ml/data.h"
#include "ml/model.h"
#include "ml/optim.h"

typedef struct ml_opt {
    const char *name; /* without the leading "--" */
    const char *arg;  /* the argument's name for --help */
    const char *help;
} ml_opt;

extern const ml_opt ml_opts[];

typedef struct ml_config {
    char dataset[256];        /* --dataset NAME; "" when --data is used */
    char data[1024];          /* --data FILE (LIBSVM, or IDX images[,labels]) */
    char test_data[1024];     /* --test-data FILE; "" = hold out test_fraction */
    char model[128];          /* logreg | softmax | svm | mlp:H1,H2,... */
    long epochs;
    size_t batch;
    double lr;
    double momentum;
    double l2;
    ml_optim_kind optimizer;
    char schedule[128];       /* see ml_schedule_parse */
    uint64_t seed;
    double eval_every_epochs; /* evaluation period, in epochs (fractions allowed) */
    size_t train_size;        /* 0 = every training example */
    size_t test_size;         /* 0 = every test example */
    double test_fraction;     /* held out when there is no test set */
    ml_scale_kind scale;
} ml_config;

/* Defaults: dataset fashion-mnist, model softmax, 10 epochs, batch 64,
 * lr 0.1, momentum 0, l2 1e-4, sgd, constant schedule, seed 1, evaluate
 * every epoch, test fraction 0.2, no scaling. */
void ml_config_default(ml_config *c);
/* Set one option by its name (no "--"). Returns 0, -1 with a message that
 * says what was expected, or 1 when key is not an ML option. */
int ml_config_set(ml_config *c, const char *key, const char *value, char *err, size_t errlen);
/* One line with every setting, for logs and summary.json. */
void ml_config_describe(const ml_config *c, char *buf, size_t len);

/* What a run trains on: the two sets, and a model shaped by them (inputs,
 * classes, feature frequencies). */
typedef struct ml_problem {
    ml_dataset train;
    ml_dataset test;
    ml_model *model;
} ml_problem;

int ml_problem_load(const ml_config *c, ml_problem *p, char *err, size_t errlen);
void ml_problem_free(ml_problem *p);

typedef struct ml_eval_point {
    double time_s;        /* training wall seconds so far, evaluation excluded */
    double epoch;         /* epochs done (fractional) */
    long step;            /* minibatch steps done */
    double train_loss;    /* regularised objective on the whole training set */
    double test_loss;     /* mean data loss on the test set */
    double test_accuracy; /* fraction of test examples predicted right */
} ml_eval_point;

/* Called at step 0, every eval_every_epochs and at the end; a nonzero
 * return stops training early (not an error). */
typedef int (*ml_eval_fn)(const ml_eval_point *pt, void *arg);

typedef struct ml_train_result {
    ml_eval_point last;   /* the final evaluation */
    double train_flops;   /* flops of loss_grad and optimizer steps */
    size_t nparams;
    float *params;        /* final parameters (malloc'd; ml_train_result_free) */
} ml_train_result;

void ml_train_result_free(ml_train_result *r);

/* Minibatch SGD (or Adagrad) for c->epochs epochs on one rank: every epoch
 * visits the training set in a fresh order drawn from the seed, in batches
 * of c->batch (the last one smaller). Same config, same bits out. */
int ml_train_serial(const ml_config *c, ml_eval_fn cb, void *arg, ml_train_result *res,
                    char *err, size_t errlen);

#endif
