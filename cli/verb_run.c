/* verb_run.c -- `distlab run ALGO`: train a model with one algorithm and
 * write the run records (see run.h for how an algorithm plugs in). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"
#include "core/progress.h"
#include "core/units.h"
#include "plots/figures.h"
#include "sim/sim_platform.h"

static const run_algo *const algos[] = {
    &run_algo_serial,
    &run_algo_allreduce,
    &run_algo_ps,
    &run_algo_hogwild,
    &run_algo_psgd,
    &run_algo_distbelief,
    &run_algo_allreduce_lbfgs,
    &run_algo_lda,
    &run_algo_ray_ps,
    NULL,
};

static const cli_opt run_opts[] = {
    {"workers", "N", "ranks computing gradients (default: the algorithm's)"},
    {"out", "DIR", "where the run records and figures go (default runs/ALGO-BACKEND)"},
    {"quiet", NULL, "no progress line, and a one-line report"},
    {"no-figures", NULL, "do not draw loss.png and timeline.png"},
    {"stragglers", "FRACTION", "this fraction of the ranks (of the workers, in ps), drawn from --seed, computes slower"},
    {"slowdown", "X", "stragglers compute X times slower, 1 to 1e6 (default 4)"},
    {"checkpoint-every", "EPOCHS", "save every rank's state into OUT/checkpoint every EPOCHS epochs "
                                   "(allreduce, serial, psgd, ps under bsp, distbelief model-parallel)"},
    {"resume", "DIR", "go on from the last checkpoint every rank saved in DIR/checkpoint, with the "
                      "options it was made with: the same model bits as a run never stopped"},
    {"kill-rank", "RANK:STEP", "that rank fails as it begins its STEP-th step (from 0): in sim its host goes "
                               "down, on real sockets its process exits (threads: its connections close)"},
    {NULL, NULL, NULL},
};

const run_algo *run_algo_find(const char *name)
{
    for (int i = 0; algos[i]; i++)
        if (strcmp(name, algos[i]->algo->name) == 0)
            return algos[i];
    return NULL;
}

const run_algo *run_algo_at(int i) { return algos[i]; }


static int is_option_of(const cli_opt *table, const char *key)
{
    for (const cli_opt *o = table; o && o->name; o++)
        if (strcmp(o->name, key) == 0)
            return 1;
    return 0;
}

/* One of the algorithm's own options (its descriptor's, or the command
 * line's for it)? Those are not ML options, even where a name is shared. */
static int is_own_option(const run_algo *algo, const char *key)
{
    for (const train_opt *o = algo->algo->opts; o && o->name; o++)
        if (strcmp(o->name, key) == 0)
            return 1;
    return is_option_of(algo->opts, key);
}

/* One table: the algorithm's options (first, so its help text wins), the
 * command line's for it, run's own, the ML options. */
int run_algo_options(const run_algo *algo, cli_opt *out, int cap)
{
    int n = 0;
    for (const train_opt *o = algo->algo->opts; o && o->name && n < cap - 1; o++)
        out[n++] = (cli_opt){o->name, o->arg, o->help};
    for (const cli_opt *o = algo->opts; o && o->name && n < cap - 1; o++)
        out[n++] = *o;
    if (algo->main) { /* it parses its command itself */
        out[n] = (cli_opt){NULL, NULL, NULL};
        return n;
    }
    for (const cli_opt *o = run_opts; o->name && n < cap - 1; o++)
        if (!is_own_option(algo, o->name))
            out[n++] = *o;
    for (const ml_opt *o = ml_opts; o->name && n < cap - 1; o++)
        out[n++] = (cli_opt){o->name, o->arg, o->help};
    out[n] = (cli_opt){NULL, NULL, NULL};
    return n;
}

int run_algo_accepts(const run_algo *algo, const char *opt)
{
    cli_opt table[RUN_MAX_OPTS];
    run_algo_options(algo, table, RUN_MAX_OPTS);
    return is_option_of(table, opt) || is_option_of(cli_job_opts, opt);
}

int run_pick_stragglers(const cli_args *a, const char *verb, uint64_t seed, const train_shape *sh,
                        double *slow)
{
    double frac = 0, x = 4;
    if (cli_get_double(a, verb, "stragglers", &frac) || cli_get_double(a, verb, "slowdown", &x))
        return -1;
    if (!(frac >= 0 && frac <= 1)) {
        fprintf(stderr, "distlab %s: --stragglers: a fraction in [0, 1], not %g\n", verb, frac);
        return -1;
    }
    if (!(x >= 1 && x <= RUN_SLOWDOWN_MAX)) {
        fprintf(stderr, "distlab %s: --slowdown: a factor of at least 1 and at most %g, not %g\n", verb,
                RUN_SLOWDOWN_MAX, x);
        return -1;
    }
    int p = sh->count, k = (int)(frac * p + 0.5);
    int *order = malloc((size_t)(p ? p : 1) * sizeof *order);
    if (!order)
        return -1;
    for (int i = 0; i < sh->ranks; i++)
        slow[i] = 1;
    for (int i = 0; i < p; i++)
        order[i] = i;
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + 0x5151;
    for (int i = p - 1; i > 0; i--) {
        z ^= z >> 31, z *= 0xBF58476D1CE4E5B9ull, z ^= z >> 27, z += 0x9E3779B97F4A7C15ull;
        int j = (int)(z % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < k; i++)
        slow[sh->first + order[i]] = x;
    free(order);
    return k;
}

int run_get_allreduce(const run_ctx *ctx, allreduce_algo *algo, coll_opts *coll)
{
    char verb[64];
    snprintf(verb, sizeof verb, "run %s", ctx->algo);
    const char *name = cli_get(ctx->args, "allreduce");
    *algo = ALLREDUCE_RING;
    if (name && (int)(*algo = allreduce_algo_by_name(name)) < 0) {
        fprintf(stderr, "distlab %s: --allreduce: unknown algorithm '%s' (known: %s)\n", verb,
                name, allreduce_algo_list());
        return -1;
    }
    double seg = 0;
    if (cli_get_size(ctx->args, verb, "segment", &seg))
        return -1;
    coll->segment_bytes = (size_t)seg;
    /* hierarchical: --gpus-per-node ranks to a node (on a platform file
     * or real sockets too: they say how the ranks group) */
    coll->local_size = ctx->sim.gpus_per_node;
    if (*algo == ALLREDUCE_HIERARCHICAL && ctx->workers % coll->local_size != 0) {
        fprintf(stderr, "distlab %s: --allreduce hierarchical: %d workers are not whole nodes of "
                "--gpus-per-node %d\n", verb, ctx->workers, coll->local_size);
        return -1;
    }
    return 0;
}

/* The reporter's progress, drawn on the line progress.h keeps (from the
 * rank's process: a forked child in sim; this process closes the line). */
static void show_progress(void *ctx, double epoch, int epochs, double train_loss, double time_s)
{
    progress_update(ctx, epoch, epochs, train_loss, time_s);
}

static void usage_algos(FILE *f)
{
    fprintf(f, "usage: distlab run ALGO [options]   (distlab run ALGO --help for its options)\n\nALGO:\n");
    for (int i = 0; algos[i]; i++)
        fprintf(f, "  %-16s %s\n", algos[i]->algo->name, algos[i]->algo->summary);
}

static int write_model(const char *dir, const float *params, size_t n, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%.1024s: %s", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(params, sizeof *params, n, f);
    if (fclose(f) != 0 || w != n) {
        snprintf(err, errlen, "%.1024s: write failed", path);
        return -1;
    }
    return 0;
}

/* The run's seconds: the training clock at the last evaluation point. */
static double run_seconds(const train_out *out, const job_result *res)
{
    return out->npoints ? out->points[out->npoints - 1].time_s : res->seconds;
}

/* metrics.csv, model.bin and summary.json from the reporter's slot. */
static int write_records(run_ctx *ctx, const run_algo *algo, const char *outdir,
                         const job_result *res, char *err, size_t errlen)
{
    train_out *out = job_result_slot(res, ctx->setup.reporter);
    records *rec = records_open(outdir, err, errlen);
    if (!rec)
        return -1;
    if (ctx->setup.nextra &&
        records_metric_columns(rec, ctx->setup.nextra, ctx->setup.extra_names, err, errlen) != 0)
        goto fail;
    for (int i = 0; i < out->npoints; i++) {
        const train_point *pt = &out->points[i];
        records_metric m = records_metric_empty();
        m.time_s = pt->time_s;
        m.epoch = pt->epoch;
        m.step = pt->step;
        m.train_loss = pt->train_loss;
        m.test_loss = pt->test_loss;
        m.test_accuracy = pt->test_accuracy;
        if (records_add_metric(rec, &m, ctx->setup.nextra ? pt->extra : NULL, err, errlen) != 0)
            goto fail;
    }
    if (records_add_job(rec, &ctx->cfg, res, err, errlen) != 0)
        goto fail;
    /* One number per run: "seconds" is the clock of metrics.csv at its last
     * row (evaluation, and psgd's observer allreduces, left out), the one
     * `run` prints and compare and sweep read; "job_seconds" is the whole
     * job's, the span events.csv covers. */
    records_set_num(rec, "job_seconds", res->seconds);
    records_set_num(rec, "seconds", run_seconds(out, res));
    records_set_str(rec, "algo", ctx->algo);
    records_set_int(rec, "workers", ctx->workers);
    records_set_int(rec, "ranks", ctx->cfg.ranks);
    records_set_int(rec, "global_batch", (long long)ctx->replicas * (long long)ctx->ml.batch);
    for (int i = 0; i < ctx->args->n; i++)
        records_set_setting(rec, ctx->args->key[i], ctx->args->val[i][0] ? ctx->args->val[i] : "true");
    char desc[1024];
    ml_config_describe(&ctx->ml, desc, sizeof desc);
    records_set_str(rec, "ml", desc);
    records_set_int(rec, "parameters", (long long)out->nparams);
    if (ctx->stragglers)
        records_set_int(rec, "stragglers", ctx->stragglers);
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a64(train_out_params(out), out->nparams * sizeof(float)));
    records_set_str(rec, "model_fnv1a64", hash);
    for (int i = 0; i < ctx->setup.nstats; i++)
        records_set_num(rec, ctx->setup.stat_names[i], out->stats[i]);
    if (algo->summarize)
        algo->summarize(ctx, res, rec);
    if (write_model(outdir, train_out_params(out), out->nparams, err, errlen) != 0)
        goto fail;
    return records_close(rec, err, errlen);
fail:
    records_close(rec, NULL, 0);
    return -1;
}

/* FNV-1a of a dataset's shape, labels and up to about a million of its
 * values (evenly spread): ranks of a hosts job on different machines must
 * have loaded the same data, wherever their files lie. */
static uint64_t data_digest(const ml_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ull;
#define MIX(ptr, bytes)                                                          \
    for (size_t b_ = 0; b_ < (bytes); b_++)                                      \
        h = (h ^ ((const unsigned char *)(ptr))[b_]) * 0x100000001b3ull;
    MIX(&ds->n, sizeof ds->n);
    MIX(&ds->d, sizeof ds->d);
    MIX(&ds->classes, sizeof ds->classes);
    if (ds->y)
        MIX(ds->y, ds->n * sizeof *ds->y);
    size_t nv = ml_dataset_nnz(ds), step = nv > (1u << 20) ? nv / (1u << 20) : 1;
    const float *v = ds->sparse ? ds->val : ds->x;
    for (size_t i = 0; v && i < nv; i += step)
        MIX(&v[i], sizeof v[i]);
    for (size_t i = 0; ds->sparse && ds->col && i < nv; i += step)
        MIX(&ds->col[i], sizeof ds->col[i]);
#undef MIX
    return h;
}

int verb_run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_algos(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const run_algo *algo = NULL;
    const train_algo *desc = NULL;
    if ((algo = run_algo_find(argv[1])))
        desc = algo->algo;
    if (algo && algo->main)
        return algo->main(argc, argv);
    if (!algo) {
        fprintf(stderr, "distlab run: unknown algorithm '%s'; known:", argv[1]);
        for (int i = 0; algos[i]; i++)
            fprintf(stderr, " %s", algos[i]->algo->name);
        fprintf(stderr, "\n");
        return 2;
    }
    char verb[64], usage[256];
    snprintf(verb, sizeof verb, "run %s", desc->name);
    snprintf(usage, sizeof usage, "run %s [ML options] [%s options] [job options]", desc->name, desc->name);
    cli_opt table[RUN_MAX_OPTS];
    run_algo_options(algo, table, RUN_MAX_OPTS);
    argv[1] = verb; /* so messages say "distlab run NAME: ..." */
    cli_args a;
    int code;
    if (cli_parse(argc - 1, argv + 1, usage, table, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab %s: unexpected argument '%s'\n", verb, a.pos[0]);
        return 2;
    }

    static run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.algo = desc->name;
    ctx.args = &a;
    ctx.kill_rank = -1;
    ctx.cfg = job_config_default();
    ctx.sim = sim_config_default();
    ctx.real = real_config_default();
    ml_config_default(&ctx.ml);
    char err[2048];
    for (int i = 0; i < a.n; i++) {
        if (is_own_option(algo, a.key[i]))
            continue;
        int rc = ml_config_set(&ctx.ml, a.key[i], a.val[i], err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "distlab %s: %s\n", verb, err);
            return 2;
        }
    }
    if (cli_job_config(&a, verb, &ctx.cfg, &ctx.sim, &ctx.real) ||
        cli_calibrated_speed(&a, verb, ctx.ml.model, ctx.ml.batch, &ctx.sim))
        return 2;
    if (ctx.sim.size_only) {
        fprintf(stderr, "distlab %s: --payload size-only carries no data, so no model could "
                "train; use it with `distlab collective`\n", verb);
        return 2;
    }
    long workers = desc->default_workers;
    if (cli_get_int(&a, verb, "workers", 1, 1 << 16, &workers))
        return 2;
    ctx.workers = ctx.replicas = (int)workers;
    ctx.setup.ml = &ctx.ml;
    ctx.setup.prob = &ctx.prob;
    ctx.setup.workers = ctx.workers;
    ctx.setup.quiet = cli_flag(&a, "quiet");
    if (algo->configure(&ctx) != 0)
        return 2;
    /* ---- the job's shape, columns and stragglers, as the descriptor says ---- */
    train_shape shape = train_algo_shape(desc, ctx.setup.algo, ctx.workers);
    ctx.cfg.ranks = shape.ranks;
    if (ctx.cfg.backend == &sim_backend && !ctx.sim.platform &&
        sim_platform_check_generated(&ctx.sim, ctx.cfg.ranks, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
        return 2;
    }
    if (cli_check_faults(verb, &ctx.sim, shape.ranks) || run_faults_configure(&ctx, verb))
        return 2;
    ctx.setup.reporter = shape.reporter;
    train_setup_columns(&ctx.setup, desc);
    double *slowdown = malloc((size_t)shape.ranks * sizeof *slowdown);
    int nstragglers = slowdown ? run_pick_stragglers(&a, verb, ctx.ml.seed, &shape, slowdown) : -1;
    if (nstragglers < 0) {
        free(slowdown);
        return 2;
    }
    if (nstragglers)
        ctx.cfg.slowdown = slowdown;
    ctx.stragglers = nstragglers;

    if (ml_problem_load(&ctx.ml, &ctx.prob, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
        free(slowdown);
        return 2;
    }
    if (desc->check && desc->check(&ctx.setup, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
        ml_problem_free(&ctx.prob);
        free(slowdown);
        return 2;
    }
    if (ctx.cfg.backend == &real_backend && ctx.real.launch == REAL_LAUNCH_HOSTS)
        ctx.real.hosts_key ^= data_digest(&ctx.prob.train) * 31 + data_digest(&ctx.prob.test);
    size_t nparams = ml_model_nparams(ctx.prob.model);
    ctx.cfg.result_bytes = train_out_bytes(nparams);

    const char *outdir = cli_get(&a, "out");
    char defdir[256];
    if (!outdir) {
        snprintf(defdir, sizeof defdir, "runs/%s-%s", desc->name, ctx.cfg.backend->name);
        outdir = defdir;
    }
    ctx.outdir = outdir;
    if (cli_check_out(verb, outdir) != 0) /* the run went through, then writing its records failed (exit 1) */
        return 2;

    job_result res;
    int status = 0;
    progress *line = progress_open(stderr, ctx.cfg.backend == &sim_backend ? "simulated" : "wall",
                                   ctx.setup.quiet ? PROGRESS_QUIET : 0);
    ctx.setup.progress = show_progress;
    ctx.setup.progress_ctx = line;
    int failed = job_run(&ctx.cfg, desc->rank, &ctx.setup, &res) != 0;
    progress_close(line);
    run_faults_report(&ctx, failed, verb);
    if (res.only_rank >= 0 && failed) { /* a hosts job's other rank: rank 0 tells the rest */
        fprintf(stderr, "distlab %s: %s\n", verb, res.error);
        status = cli_job_status(&res);
        goto out;
    }
    if (cli_result_elsewhere(verb, &res))
        goto out;
    if (failed) {
        if (!algo->survived || !algo->survived(&ctx, &res)) {
            fprintf(stderr, "distlab %s: %s\n", verb, res.error);
            status = cli_job_status(&res);
            goto out;
        }
        fprintf(stderr, "distlab %s: %s; training finished without it\n", verb, res.error);
    }
    if (write_records(&ctx, algo, outdir, &res, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: writing the records: %s\n", verb, err);
        status = 1;
        goto out;
    }
    if (!cli_flag(&a, "no-figures") && figures_default(outdir, err, sizeof err) != 0)
        fprintf(stderr, "distlab %s: drawing the figures: %s\n", verb, err);

    const train_out *o = job_result_slot(&res, ctx.setup.reporter);
    const train_point *last = o->npoints ? &o->points[o->npoints - 1] : NULL;
    const char *clock = ctx.cfg.backend == &sim_backend ? "simulated" : "wall";
    /* a diverged run is a result, not a failure, but not one to miss in a
     * line that prints "train loss -nan" */
    for (int i = 0; i < o->npoints; i++)
        if (!isfinite(o->points[i].train_loss)) {
            fprintf(stderr, "distlab %s: the training diverged: the train loss is %g from epoch %.4g (%.6g %s "
                    "seconds) on; a smaller --lr (now %g) usually helps\n", verb, o->points[i].train_loss,
                    o->points[i].epoch, o->points[i].time_s, clock, ctx.ml.lr);
            break;
        }
    if (cli_flag(&a, "quiet")) {
        if (last)
            printf("distlab run %s: %.4g epoch%s in %.4g %s seconds, test accuracy %.2f%%, "
                   "train loss %.4f -> %s/\n", desc->name, last->epoch, last->epoch == 1 ? "" : "s",
                   run_seconds(o, &res), clock,
                   100 * last->test_accuracy, last->train_loss, outdir);
        goto out;
    }
    char where[512];
    cli_describe_job(&ctx.cfg, &res, where, sizeof where);
    printf("distlab run %s: %d worker%s, %s\n", desc->name, ctx.workers, ctx.workers == 1 ? "" : "s",
           where);
    if (last)
        printf("  after %.4g epoch%s, %.6g %s seconds: train loss %.4f, test loss %.4f, "
               "test accuracy %.2f%%\n", last->epoch, last->epoch == 1 ? "" : "s",
               run_seconds(o, &res), clock, last->train_loss,
               last->test_loss, 100 * last->test_accuracy);
    printf("  %" PRIu64 " messages, %" PRIu64 " bytes sent\n", res.messages, res.bytes_sent);
    printf("  records in %s/\n", outdir);
out:
    job_result_free(&res);
    ml_problem_free(&ctx.prob);
    free(slowdown);
    return status;
}
