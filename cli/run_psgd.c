/* run_psgd.c -- `distlab run psgd`: parallelized SGD and local SGD
 * (algorithms/psgd.c): workers train on their own shards and average
 * their models every --average-every H local steps, or once at the end.
 *
 * Besides the shared records, summary.json gets the averaging rounds and
 * the bytes they sent (averaging_bytes), apart from the bytes of the
 * observer allreduces that only served evaluation (observer_bytes): every
 * allreduce of the run moves the same P floats with the same algorithm,
 * so the job's bytes_sent splits exactly in proportion to their counts.
 * mean_local_final_test_loss is the test loss of each worker's own final
 * model (before the last average), averaged over the workers: what one
 * worker trained on its 1/W share achieves, to compare with the averaged
 * model's test_loss in the last row of metrics.csv.
 */
#include <stdio.h>
#include <string.h>

#include "algorithms/psgd.h"
#include "cli/run.h"

static psgd_opts opts;

static int configure_psgd(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    opts = (psgd_opts){.algo = ALLREDUCE_RING, .eval = PSGD_EVAL_AVERAGE};
    char err[256];
    const char *every = cli_get(a, "average-every");
    if (every && psgd_parse_every(every, &opts.average_every_steps, err, sizeof err) != 0) {
        fprintf(stderr, "distlab run psgd: --average-every: %s\n", err);
        return -1;
    }
    if (run_get_allreduce(ctx, &opts.algo, &opts.coll))
        return -1;
    const char *eval = cli_get(a, "eval");
    if (eval && strcmp(eval, "average") == 0)
        opts.eval = PSGD_EVAL_AVERAGE;
    else if (eval && strcmp(eval, "local") == 0)
        opts.eval = PSGD_EVAL_LOCAL;
    else if (eval) {
        fprintf(stderr, "distlab run psgd: --eval: expected 'average' or 'local', not '%s'\n", eval);
        return -1;
    }
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    const train_out *out = job_result_slot(res, ctx->setup.reporter);
    double rounds = out->stats[PSGD_STAT_ROUNDS], observer = out->stats[PSGD_STAT_OBSERVE];
    double per_allreduce = rounds + observer > 0 ? (double)res->bytes_sent / (rounds + observer) : 0;
    char every[32] = "end";
    if (opts.average_every_steps)
        snprintf(every, sizeof every, "%ld", opts.average_every_steps);
    records_set_str(rec, "average_every", every);
    records_set_str(rec, "allreduce", allreduce_algo_name(opts.algo));
    records_set_str(rec, "eval", opts.eval == PSGD_EVAL_LOCAL ? "local" : "average");
    records_set_num(rec, "averaging_bytes", rounds * per_allreduce);
    records_set_num(rec, "observer_bytes", observer * per_allreduce);
    /* each worker left its own final model's scores in its own slot */
    double loss = 0, accuracy = 0;
    for (int i = 0; i < res->ranks; i++) {
        const train_out *o = job_result_slot(res, i);
        loss += o->stats[PSGD_STAT_LOCAL_LOSS] / res->ranks;
        accuracy += o->stats[PSGD_STAT_LOCAL_ACCURACY] / res->ranks;
    }
    records_set_num(rec, "mean_local_final_test_loss", loss);
    records_set_num(rec, "mean_local_final_test_accuracy", accuracy);
}

const run_algo run_algo_psgd = {
    .algo = &psgd_algo,
    .configure = configure_psgd,
    .summarize = summarize,
};
