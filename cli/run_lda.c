/* run_lda.c -- `distlab run lda`: topic models on a parameter server
 * (algorithms/lda.c), on every backend.
 *
 *   distlab run lda --dataset fortunes --topics 20 --sweeps 40 \
 *       --consistency async --servers 2 --workers 4 --out runs/lda
 *
 * Listed in verb_run.c's table like the others, but its data is a corpus
 * (ml/corpus.h), not an ml_problem, and its model a table of counts, so
 * it parses and runs the whole command itself (run_algo.main). The records are the same kind:
 * metrics.csv (time_s, epoch = sweep, train_loss = minus the
 * log-likelihood per token, and the columns loglik_per_token,
 * tokens_per_s, bytes_sent), events.csv, summary.json, the default
 * figures, plus topics.txt (each topic's most frequent words) and
 * model.csv (the final word-topic counts: word_id,word,topic,count).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/lda.h"
#include "cli/run.h"
#include "plots/figures.h"

static const train_opt lda_opts_table[] = {
    {"dataset", "NAME", "fortunes (Debian's fortune cookies, the default) or "
                        "synth-lda:docs=D,vocab=V,topics=K,len=L[,alpha=A]"},
    {"data", "FILE", "a text file, one document per line"},
    {"min-count", "N", "text: drop words seen fewer than N times (default 3)"},
    {"max-docs", "N", "text: read at most N documents (default all)"},
    {"topics", "K", "topics, 1 to 65535 (default 20)"},
    {"alpha", "A", "document-topic Dirichlet prior, > 0 (default 0.1)"},
    {"beta", "B", "topic-word Dirichlet prior, > 0 (default 0.01)"},
    {"sweeps", "N", "Gibbs sweeps over the corpus, 1 to 1000 (default 40)"},
    {"consistency", "bsp|async", "bsp: exchange counts at the end of each sweep, all together; "
                                 "async: while sampling, nobody waits (default bsp)"},
    {"chunks", "N", "async: exchanges per sweep, each with the next server (default 4 x servers)"},
    {"servers", "S", "ranks holding the word-topic counts (default 1)"},
    {"workers", "W", "ranks sampling documents (default 4)"},
    {"seed", "N", "every random choice follows from it (default 1)"},
    {"top-words", "N", "words per topic in topics.txt, 1 to 1000 (default 10)"},
    {"kill-rank", "RANK:STEP", "that rank fails as it begins its STEP-th step (a worker's sweep STEP+1; "
                               "a server's once sweep STEP is in): lda then stops with an error"},
    {"stragglers", "FRACTION", "this fraction of the workers, drawn from --seed, computes slower"},
    {"slowdown", "X", "stragglers compute X times slower, 1 to 1e6 (default 4)"},
    {"out", "DIR", "where the run records and figures go (default runs/lda-BACKEND)"},
    {"quiet", NULL, "a one-line report"},
    {"no-figures", NULL, "do not draw loss.png and timeline.png"},
    {NULL, NULL, NULL},
};

static const char *const extra_names[] = {"loglik_per_token", "tokens_per_s", "bytes_sent"};

static int by_count(const void *a, const void *b)
{
    const lda_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->word > y->word) - (x->word < y->word);
}

/* topics.txt: per topic its tokens and its top words by count. */
static int write_topics(const char *dir, lda_out *o, const ml_corpus *c, int top, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/topics.txt", dir);
    lda_entry *e = lda_out_entries(o), *mine = malloc((o->nnz ? o->nnz : 1) * sizeof *mine);
    FILE *f = mine ? fopen(path, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "%.1024s: %s", path, mine ? strerror(errno) : "out of memory");
        free(mine);
        return -1;
    }
    for (int k = 0; k < o->K; k++) {
        size_t n = 0;
        for (size_t i = 0; i < o->nnz; i++)
            if (e[i].topic == k)
                mine[n++] = e[i];
        qsort(mine, n, sizeof *mine, by_count);
        fprintf(f, "topic %d (%" PRId64 " tokens):", k, lda_out_nk(o)[k]);
        for (size_t i = 0; i < n && i < (size_t)top; i++)
            fprintf(f, " %s", c->vocab[mine[i].word]);
        fputc('\n', f);
    }
    free(mine);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%.1024s: write failed", path);
        return -1;
    }
    return 0;
}

/* model.csv: the final counts, by word then topic. */
static int write_model(const char *dir, lda_out *o, const ml_corpus *c, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%.1024s: %s", path, strerror(errno));
        return -1;
    }
    const lda_entry *e = lda_out_entries(o);
    fprintf(f, "word_id,word,topic,count\n");
    for (size_t i = 0; i < o->nnz; i++)
        fprintf(f, "%u,%s,%d,%d\n", e[i].word, c->vocab[e[i].word], e[i].topic, e[i].count);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%.1024s: write failed", path);
        return -1;
    }
    return 0;
}

static int write_records(const char *outdir, const cli_args *a, const job_config *cfg,
                         const job_result *res, const lda_opts *o, int W, int top, int stragglers, char *err,
                         size_t errlen)
{
    lda_out *out = job_result_slot(res, 0);
    records *rec = records_open(outdir, err, errlen);
    if (!rec)
        return -1;
    if (records_metric_columns(rec, 3, extra_names, err, errlen) != 0)
        goto fail;
    for (int t = 0; t < out->npoints; t++) {
        const lda_point *p = &out->points[t];
        records_metric m = records_metric_empty();
        m.time_s = p->time_s;
        m.epoch = p->sweep;
        m.step = p->sweep;
        m.train_loss = -p->loglik_per_token;
        double extra[3] = {p->loglik_per_token, p->time_s > 0 ? p->tokens / p->time_s : NAN, p->bytes};
        if (records_add_metric(rec, &m, extra, err, errlen) != 0)
            goto fail;
    }
    if (records_add_job(rec, cfg, res, err, errlen) != 0)
        goto fail;
    const lda_point *last = &out->points[out->npoints - 1];
    const ml_corpus *c = o->corpus;
    records_set_num(rec, "job_seconds", res->seconds);
    records_set_num(rec, "seconds", last->time_s);
    records_set_str(rec, "algo", "lda");
    records_set_int(rec, "workers", W);
    records_set_int(rec, "servers", o->servers);
    records_set_int(rec, "ranks", cfg->ranks);
    if (stragglers)
        records_set_int(rec, "stragglers", stragglers);
    records_set_str(rec, "consistency", lda_consistency_name(o->consistency));
    records_set_int(rec, "topics", o->topics);
    records_set_num(rec, "alpha", o->alpha);
    records_set_num(rec, "beta", o->beta);
    records_set_int(rec, "sweeps", o->sweeps);
    records_set_num(rec, "exchanges_per_sweep", out->chunks - 1 + o->servers);
    records_set_int(rec, "documents", (long long)c->ndocs);
    records_set_int(rec, "tokens", (long long)c->ntokens);
    records_set_int(rec, "vocabulary", (long long)c->V);
    records_set_int(rec, "nonzeros", (long long)out->nnz);
    records_set_num(rec, "final_loglik_per_token", last->loglik_per_token);
    records_set_num(rec, "tokens_per_s", last->time_s > 0 ? last->tokens / last->time_s : NAN);
    for (int i = 0; i < a->n; i++)
        records_set_setting(rec, a->key[i], a->val[i][0] ? a->val[i] : "true");
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a64(lda_out_entries(out), out->nnz * sizeof(lda_entry)));
    records_set_str(rec, "model_fnv1a64", hash);
    if (c->true_K) {
        lda_counts counts;
        if (lda_counts_init(&counts, out->V, out->K) == 0) {
            const lda_entry *e = lda_out_entries(out);
            int ok = 1;
            for (size_t i = 0; i < out->nnz && ok; i++)
                ok = lda_counts_add(&counts, e[i].word, e[i].topic, e[i].count) == 0;
            if (ok)
                records_set_num(rec, "topic_distance", lda_topic_distance(&counts, c, o->beta));
            lda_counts_free(&counts);
        }
    }
    if (write_topics(outdir, out, c, top, err, errlen) != 0 ||
        write_model(outdir, out, c, err, errlen) != 0)
        goto fail;
    return records_close(rec, err, errlen);
fail:
    records_close(rec, NULL, 0);
    return -1;
}

static int lda_main(int argc, char **argv)
{
    const char *verb = "run lda";
    argv[1] = (char *)verb;
    cli_opt table[RUN_MAX_OPTS];
    int n = 0;
    for (const train_opt *t = lda_opts_table; t->name && n < RUN_MAX_OPTS - 1; t++)
        table[n++] = (cli_opt){t->name, t->arg, t->help};
    table[n] = (cli_opt){NULL, NULL, NULL};
    cli_args a;
    int code;
    if (cli_parse(argc - 1, argv + 1, "run lda [options] [job options]", table, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab %s: unexpected argument '%s'\n", verb, a.pos[0]);
        return 2;
    }
    lda_opts o = {.topics = 20, .alpha = 0.1, .beta = 0.01, .sweeps = 40, .servers = 1, .seed = 1};
    long topics = o.topics, sweeps = o.sweeps, servers = 1, workers = 4, chunks = 0, seed = 1;
    long min_count = 0, max_docs = 0, top = 10;
    static const char *const models[] = {"bsp", "async", NULL};
    int model = LDA_BSP;
    if (cli_get_int(&a, verb, "topics", 1, 65535, &topics) ||
        cli_get_int(&a, verb, "sweeps", 1, LDA_MAX_SWEEPS, &sweeps) ||
        cli_get_int(&a, verb, "servers", 1, 1 << 16, &servers) ||
        cli_get_int(&a, verb, "workers", 1, 1 << 16, &workers) ||
        cli_get_int(&a, verb, "chunks", 1, 1 << 20, &chunks) ||
        cli_get_int(&a, verb, "seed", 0, INT64_MAX, &seed) ||
        cli_get_int(&a, verb, "min-count", 1, 1L << 40, &min_count) ||
        cli_get_int(&a, verb, "max-docs", 1, 1L << 40, &max_docs) ||
        cli_get_int(&a, verb, "top-words", 1, 1000, &top) ||
        cli_get_double(&a, verb, "alpha", &o.alpha) || cli_get_double(&a, verb, "beta", &o.beta) ||
        cli_get_choice(&a, verb, "consistency", models, &model))
        return 2;
    if (!(o.alpha > 0) || !isfinite(o.alpha) || !(o.beta > 0) || !isfinite(o.beta)) {
        fprintf(stderr, "distlab %s: --alpha and --beta must be positive numbers, not %g and %g\n",
                verb, o.alpha, o.beta);
        return 2;
    }
    if (cli_get(&a, "chunks") && model != LDA_ASYNC) {
        fprintf(stderr, "distlab %s: --chunks applies to --consistency async only\n", verb);
        return 2;
    }
    const char *dataset = cli_get(&a, "dataset"), *file = cli_get(&a, "data");
    if (dataset && file) {
        fprintf(stderr, "distlab %s: --dataset and --data name two corpora; give one\n", verb);
        return 2;
    }
    if ((min_count || max_docs) && dataset && strncmp(dataset, "synth-lda", 9) == 0) {
        fprintf(stderr, "distlab %s: --min-count and --max-docs apply to text corpora, not %s\n", verb,
                dataset);
        return 2;
    }
    o.topics = (int)topics;
    o.sweeps = (int)sweeps;
    o.servers = (int)servers;
    o.chunks = (int)chunks;
    o.seed = (uint64_t)seed;
    o.consistency = (lda_consistency)model;

    static run_ctx ctx; /* the job's settings, as run_faults.c reads them */
    memset(&ctx, 0, sizeof ctx);
    ctx.algo = "lda";
    ctx.args = &a;
    ctx.kill_rank = -1;
    ctx.workers = (int)workers;
    ctx.cfg = job_config_default();
    ctx.sim = sim_config_default();
    ctx.real = real_config_default();
    if (cli_job_config(&a, verb, &ctx.cfg, &ctx.sim, &ctx.real))
        return 2;
    if (ctx.sim.size_only) {
        fprintf(stderr, "distlab %s: --payload size-only carries no counts, so nothing could be "
                "sampled; use it with `distlab collective`\n", verb);
        return 2;
    }
    char err[2048];
    ml_corpus corpus;
    ml_corpus_opts co = {.dataset = file ? NULL : dataset ? dataset : "fortunes", .file = file,
                         .min_count = (size_t)min_count, .max_docs = (size_t)max_docs,
                         .seed = (uint64_t)seed};
    if (ml_corpus_load(&co, &corpus, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
        return 2;
    }
    o.corpus = &corpus;
    ctx.cfg.ranks = o.servers + (int)workers;
    int status = 0;
    if (lda_check(&o, ctx.cfg.ranks, err, sizeof err) != 0) { /* err starts "lda: " */
        fprintf(stderr, "distlab run %s\n", err);
        ml_corpus_free(&corpus);
        return 2;
    }
    if (cli_check_faults(verb, &ctx.sim, ctx.cfg.ranks) || run_faults_configure(&ctx, verb)) {
        ml_corpus_free(&corpus);
        return 2;
    }
    o.crash = ctx.setup.crash;
    o.crash_ctx = ctx.setup.crash_ctx;
    train_shape shape = {.ranks = ctx.cfg.ranks, .reporter = 0, .first = o.servers, .count = (int)workers};
    double *slowdown = malloc((size_t)shape.ranks * sizeof *slowdown);
    ctx.stragglers = slowdown ? run_pick_stragglers(&a, verb, o.seed, &shape, slowdown) : -1;
    if (ctx.stragglers < 0) {
        free(slowdown);
        ml_corpus_free(&corpus);
        return 2;
    }
    if (ctx.stragglers)
        ctx.cfg.slowdown = slowdown;
    ctx.cfg.result_bytes = lda_out_bytes(&corpus, o.topics);
    if (ctx.cfg.backend == &real_backend && ctx.real.launch == REAL_LAUNCH_HOSTS)
        ctx.real.hosts_key ^= fnv1a64(corpus.words, corpus.ntokens * sizeof *corpus.words) * 31 + corpus.V;
    const char *outdir = cli_get(&a, "out");
    char defdir[256];
    if (!outdir) {
        snprintf(defdir, sizeof defdir, "runs/lda-%s", ctx.cfg.backend->name);
        outdir = defdir;
    }
    job_result res;
    int failed = job_run(&ctx.cfg, lda_rank, &o, &res) != 0;
    run_faults_report(&ctx, failed, verb);
    if (failed) {
        fprintf(stderr, "distlab %s: %s\n", verb, res.error);
        status = cli_job_status(&res);
        goto out;
    }
    if (cli_result_elsewhere(verb, &res))
        goto out;
    if (write_records(outdir, &a, &ctx.cfg, &res, &o, (int)workers, (int)top, ctx.stragglers,
                      err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: writing the records: %s\n", verb, err);
        status = 1;
        goto out;
    }
    if (!cli_flag(&a, "no-figures") && figures_default(outdir, err, sizeof err) != 0)
        fprintf(stderr, "distlab %s: drawing the figures: %s\n", verb, err);
    const lda_out *r = job_result_slot(&res, 0);
    const lda_point *first = &r->points[0], *last = &r->points[r->npoints - 1];
    const char *clock = ctx.cfg.backend == &sim_backend ? "simulated" : "wall";
    if (cli_flag(&a, "quiet")) {
        printf("distlab run lda: %d sweeps in %.4g %s seconds, log-likelihood per token %.4f -> "
               "%.4f -> %s/\n", o.sweeps, last->time_s, clock, first->loglik_per_token,
               last->loglik_per_token, outdir);
        goto out;
    }
    char where[512];
    cli_describe_job(&ctx.cfg, &res, where, sizeof where);
    printf("distlab run lda: %ld worker%s, %d server%s, %s, %s\n", workers, workers == 1 ? "" : "s",
           o.servers, o.servers == 1 ? "" : "s", lda_consistency_name(o.consistency), where);
    printf("  corpus: %zu documents, %zu tokens, %zu words; %d topics\n", corpus.ndocs,
           corpus.ntokens, corpus.V, o.topics);
    printf("  after %d sweeps, %.6g %s seconds: log-likelihood per token %.4f (start %.4f), "
           "%.4g tokens/s\n", o.sweeps, last->time_s, clock, last->loglik_per_token,
           first->loglik_per_token, last->time_s > 0 ? last->tokens / last->time_s : NAN);
    printf("  %" PRIu64 " messages, %" PRIu64 " bytes sent\n", res.messages, res.bytes_sent);
    printf("  records in %s/ (topics.txt: the top words of each topic)\n", outdir);
out:
    job_result_free(&res);
    ml_corpus_free(&corpus);
    free(slowdown);
    return status;
}

/* In the table of `distlab run` (so compare and sweep know its options);
 * it parses and runs its command itself. */
static const train_algo lda_train_algo = {
    .name = "lda",
    .summary = "topic model (collapsed Gibbs) on a parameter server, bsp or async",
    .opts = lda_opts_table,
    .default_workers = 4,
};

const run_algo run_algo_lda = {
    .algo = &lda_train_algo,
    .main = lda_main,
};
