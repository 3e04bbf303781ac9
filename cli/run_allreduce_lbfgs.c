/* run_allreduce_lbfgs.c -- `distlab run allreduce-lbfgs`: Agarwal et al.'s
 * hybrid learner (algorithms/allreduce_lbfgs.c): online AdaGrad passes,
 * a weighted average through allreduce, then L-BFGS over allreduce.
 *
 * --epochs counts passes over the data (online passes plus L-BFGS
 * evaluations); the online passes always use AdaGrad (the paper's
 * adaptive steps) with --lr as its constant rate, so --optimizer other
 * than adagrad, --schedule and --momentum are refused. Points are
 * recorded after every online pass and every L-BFGS iteration, whatever
 * --eval-every says. summary.json gets the settings, the passes and
 * iterations made, liblbfgs' status and the backups speculation ran.
 */
#include <stdio.h>
#include <string.h>

#include "algorithms/allreduce_lbfgs.h"
#include "cli/run.h"

static alb_opts opts;

static const char *const on_off[] = {"off", "on", NULL};

static int configure(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run allreduce-lbfgs";
    long warm = 1, spares = 0, m = 10;
    int spec = 0, pre = 1;
    opts = alb_opts_default();
    if (cli_get_int(a, verb, "warmstart", 0, 1L << 30, &warm) ||
        cli_get_choice(a, verb, "speculative", on_off, &spec) ||
        cli_get_choice(a, verb, "precondition", on_off, &pre) ||
        cli_get_int(a, verb, "spares", 0, 4096, &spares) ||
        cli_get_int(a, verb, "lbfgs-m", 1, 1000, &m) ||
        cli_get_double(a, verb, "lbfgs-epsilon", &opts.lbfgs_epsilon))
        return -1;
    if (run_get_allreduce(ctx, &opts.algo, &opts.coll))
        return -1;
    if (!cli_get(a, "allreduce"))
        opts.algo = ALLREDUCE_TREE; /* the paper's spanning tree */
    if (cli_get(a, "spares") && !spec) {
        fprintf(stderr, "distlab run allreduce-lbfgs: --spares runs backups, which needs "
                "--speculative on\n");
        return -1;
    }
    const char *optimizer = cli_get(a, "optimizer");
    if (optimizer && strcmp(optimizer, "adagrad") != 0) {
        fprintf(stderr, "distlab run allreduce-lbfgs: --optimizer %s: the online passes use "
                "AdaGrad, as the paper's do (--lr is its rate)\n", optimizer);
        return -1;
    }
    ctx->ml.optimizer = ML_OPTIM_ADAGRAD;
    const char *schedule = cli_get(a, "schedule");
    if ((schedule && strcmp(schedule, "constant") != 0) || ctx->ml.momentum != 0) {
        fprintf(stderr, "distlab run allreduce-lbfgs: AdaGrad at the constant rate --lr makes "
                "the online passes; --schedule and --momentum do not apply\n");
        return -1;
    }
    opts.warmstart = warm;
    opts.speculative = spec;
    opts.precondition = pre;
    opts.spares = (int)spares;
    opts.lbfgs_m = (int)m;
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)ctx;
    (void)res; /* the stats (passes, evaluations, backups) verb_run writes itself */
    records_set_int(rec, "warmstart", opts.warmstart);
    records_set_str(rec, "speculative", opts.speculative ? "on" : "off");
    if (opts.speculative)
        records_set_int(rec, "spares", opts.spares);
    records_set_str(rec, "allreduce", allreduce_algo_name(opts.algo));
    records_set_str(rec, "precondition", opts.precondition ? "on" : "off");
    records_set_int(rec, "lbfgs_m", opts.lbfgs_m);
    records_set_num(rec, "lbfgs_epsilon", opts.lbfgs_epsilon);
}

const run_algo run_algo_allreduce_lbfgs = {
    .algo = &alb_algo,
    .configure = configure,
    .summarize = summarize,
};
