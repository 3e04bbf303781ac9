/* test_lda.c -- LDA on the parameter server (algorithms/lda.c).
 *
 *   - one worker is the serial sampler of ml/lda.h, bit for bit: the same
 *     final counts (whatever the number of servers), and the same
 *     log-likelihood as the serial state's, added in the same order;
 *   - a synthetic corpus's topics are recovered, by bsp and by async with
 *     4 workers: the mean total-variation distance of each true topic to
 *     its learned partner (lda_topic_distance: pairs matched greedily,
 *     closest first) after 60 sweeps is below 0.15 and below a fifth of
 *     what it is after one sweep (above 0.5; 0.74 here, near the random
 *     start), and the log-likelihood per token rises;
 *   - bsp with a fixed seed gives the same counts and the same
 *     log-likelihood at every sweep in sim, on threads and on processes
 *     (every point finite); async on threads leaves valid counts;
 *   - bad options are refused with a message;
 *   - `distlab run lda` writes the records (metrics.csv with the
 *     log-likelihood per token rising, summary.json, topics.txt with each
 *     topic's words, model.csv whose counts add up to the corpus's tokens)
 *     and refuses bad options with exit status 2 and what was wrong;
 *     --kill-rank stops a run with an error naming the rank; compare and
 *     sweep run lda:bsp and lda:async.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algorithms/lda.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"
#include "tests/util_files.h"

static void load(ml_corpus *c, const char *spec)
{
    char err[512];
    ml_corpus_opts o = {.dataset = spec, .seed = 5};
    if (ml_corpus_load(&o, c, err, sizeof err) != 0)
        fail_msg("%s: %s", spec, err);
}

typedef struct run {
    job_result res;
    lda_out *out;
} run;

static void run_lda(run *o, const lda_opts *opt, int W, const job_backend *backend, const void *settings)
{
    job_config cfg = job_config_default();
    cfg.ranks = opt->servers + W;
    cfg.backend = backend;
    cfg.settings = settings;
    cfg.timeout_s = 60;
    cfg.result_bytes = lda_out_bytes(opt->corpus, opt->topics);
    if (job_run(&cfg, lda_rank, (void *)opt, &o->res) != 0)
        fail_msg("lda %s, %d servers, %d workers on %s: %s", lda_consistency_name(opt->consistency),
                 opt->servers, W, backend->name, o->res.error);
    o->out = job_result_slot(&o->res, 0);
    assert_int_equal(o->out->npoints, opt->sweeps + 1);
}

/* The final counts of a run as a table. */
static void counts_of(const lda_out *o, lda_counts *c)
{
    assert_int_equal(lda_counts_init(c, o->V, o->K), 0);
    const lda_entry *e = lda_out_entries((lda_out *)o);
    for (size_t i = 0; i < o->nnz; i++)
        assert_int_equal(lda_counts_add(c, e[i].word, e[i].topic, e[i].count), 0);
}

static void assert_same_runs(const run *a, const run *b, const char *what)
{
    assert_int_equal(a->out->nnz, b->out->nnz);
    if (memcmp(lda_out_entries(a->out), lda_out_entries(b->out), a->out->nnz * sizeof(lda_entry)) != 0)
        fail_msg("%s: the final counts differ", what);
    for (int t = 0; t < a->out->npoints; t++) {
        double x = a->out->points[t].loglik, y = b->out->points[t].loglik;
        if (!isfinite(x) || memcmp(&x, &y, sizeof x) != 0)
            fail_msg("%s: sweep %d: log-likelihood %.17g vs %.17g", what, t, x, y);
    }
}

/* ---- one worker is the serial sampler ---- */

static void one_worker_is_the_serial_sampler(void **state)
{
    (void)state;
    ml_corpus c;
    load(&c, "synth-lda:docs=120,vocab=60,topics=4,len=30");
    const int K = 5, sweeps = 6;
    const double alpha = 0.3, beta = 0.05;
    const uint64_t seed = 11;
    lda_counts serial;
    lda_sampler s;
    char err[256];
    assert_int_equal(lda_counts_init(&serial, c.V, K), 0);
    if (lda_sampler_init(&s, &c, 0, c.ndocs, K, alpha, beta, seed, &serial, NULL, err, sizeof err))
        fail_msg("%s", err);
    for (int t = 0; t < sweeps; t++) {
        double flops;
        assert_int_equal(lda_sampler_sweep(&s, &serial, NULL, &flops), 0);
    }
    /* the serial state's likelihood, added as the reporter adds one server's and one worker's parts */
    double ll = lda_ps_topic_part(serial.nk, K, c.V, beta) + lda_ps_word_part(&serial, 0, c.V, beta) +
                lda_doc_loglik(&s);
    double ll_ml = lda_doc_loglik(&s) + lda_word_loglik(&serial, beta);
    assert_true(fabs(ll - ll_ml) < 1e-9 * fabs(ll)); /* the same sum, in another order */
    for (int S = 1; S <= 3; S++) {
        lda_opts o = {.corpus = &c, .topics = K, .alpha = alpha, .beta = beta, .sweeps = sweeps,
                      .consistency = LDA_BSP, .servers = S, .seed = seed};
        run r;
        run_lda(&r, &o, 1, &sim_backend, NULL);
        lda_counts got;
        counts_of(r.out, &got);
        assert_int_equal(got.nnz, serial.nnz);
        for (size_t w = 0; w < c.V; w++)
            for (int k = 0; k < K; k++)
                if (lda_counts_get(&got, (uint32_t)w, k) != lda_counts_get(&serial, (uint32_t)w, k))
                    fail_msg("%d servers: n(w=%zu, k=%d) = %d, serial %d", S, w, k,
                             lda_counts_get(&got, (uint32_t)w, k), lda_counts_get(&serial, (uint32_t)w, k));
        for (int k = 0; k < K; k++)
            assert_true(lda_out_nk(r.out)[k] == serial.nk[k]);
        if (S == 1) {
            double x = r.out->points[sweeps].loglik;
            if (memcmp(&x, &ll, sizeof x) != 0)
                fail_msg("log-likelihood %.17g, serial %.17g", x, ll);
        } else {
            assert_true(fabs(r.out->points[sweeps].loglik - ll) < 1e-9 * fabs(ll));
        }
        lda_counts_free(&got);
        job_result_free(&r.res);
    }
    lda_sampler_free(&s);
    lda_counts_free(&serial);
    ml_corpus_free(&c);
}

/* ---- synthetic topics are recovered ---- */

static void synthetic_topics_are_recovered(void **state)
{
    (void)state;
    ml_corpus c;
    load(&c, "synth-lda:docs=400,vocab=100,topics=5,len=40");
    for (int m = 0; m < 2; m++) {
        lda_opts o = {.corpus = &c, .topics = 5, .alpha = 0.1, .beta = 0.01, .sweeps = 60,
                      .consistency = m ? LDA_ASYNC : LDA_BSP, .servers = 2, .seed = 3};
        /* the start: the same random topics, no sweep */
        lda_opts o0 = o;
        o0.sweeps = 1;
        run r0, r;
        run_lda(&r0, &o0, 4, &sim_backend, NULL);
        run_lda(&r, &o, 4, &sim_backend, NULL);
        lda_counts start, end;
        counts_of(r0.out, &start); /* after one sweep: already a little better than random */
        counts_of(r.out, &end);
        double d0 = lda_topic_distance(&start, &c, o.beta), d = lda_topic_distance(&end, &c, o.beta);
        const lda_point *first = &r.out->points[0], *last = &r.out->points[o.sweeps];
        printf("# %s: topic distance %.3f after 1 sweep, %.3f after %d; loglik/token %.3f -> %.3f "
               "in %.4g simulated s\n", lda_consistency_name(o.consistency), d0, d, o.sweeps,
               first->loglik_per_token, last->loglik_per_token, last->time_s);
        assert_true(d0 > 0.5);
        assert_true(d < 0.15 && d < d0 / 5);
        assert_true(last->loglik_per_token > first->loglik_per_token + 0.1);
        for (int t = 0; t <= o.sweeps; t++)
            assert_true(isfinite(r.out->points[t].loglik));
        lda_counts_free(&start);
        lda_counts_free(&end);
        job_result_free(&r0.res);
        job_result_free(&r.res);
    }
    ml_corpus_free(&c);
}

/* ---- bsp: the same counts and likelihood in sim, threads and processes ---- */

static void bsp_is_the_same_on_every_backend(void **state)
{
    (void)state;
    ml_corpus c;
    load(&c, "synth-lda:docs=300,vocab=120,topics=6,len=25");
    lda_opts o = {.corpus = &c, .topics = 8, .alpha = 0.2, .beta = 0.02, .sweeps = 8,
                  .consistency = LDA_BSP, .servers = 2, .seed = 42};
    run sim, threads, procs;
    run_lda(&sim, &o, 3, &sim_backend, NULL);
    real_config rc = real_config_default();
    rc.launch = REAL_LAUNCH_THREADS;
    run_lda(&threads, &o, 3, &real_backend, &rc);
    assert_same_runs(&sim, &threads, "sim vs threads");
    rc.launch = REAL_LAUNCH_PROCS;
    run_lda(&procs, &o, 3, &real_backend, &rc);
    assert_same_runs(&sim, &procs, "sim vs procs");
    /* async on threads: whatever the timing, the counts are those of some
     * assignment of every token, and every point is finite */
    o.consistency = LDA_ASYNC;
    o.chunks = 5;
    run async;
    rc.launch = REAL_LAUNCH_THREADS;
    run_lda(&async, &o, 3, &real_backend, &rc);
    int64_t total = 0;
    const lda_entry *e = lda_out_entries(async.out);
    for (size_t i = 0; i < async.out->nnz; i++) {
        assert_true(e[i].count > 0 && e[i].topic >= 0 && e[i].topic < o.topics);
        total += e[i].count;
    }
    assert_true(total == (int64_t)c.ntokens);
    for (int t = 0; t <= o.sweeps; t++)
        assert_true(isfinite(async.out->points[t].loglik));
    job_result_free(&async.res);
    o.consistency = LDA_BSP;
    o.chunks = 0;
    /* and a different seed gives other counts */
    o.seed = 43;
    run other;
    run_lda(&other, &o, 3, &sim_backend, NULL);
    assert_true(other.out->nnz != sim.out->nnz ||
                memcmp(lda_out_entries(other.out), lda_out_entries(sim.out),
                       sim.out->nnz * sizeof(lda_entry)) != 0);
    job_result_free(&sim.res);
    job_result_free(&threads.res);
    job_result_free(&procs.res);
    job_result_free(&other.res);
    ml_corpus_free(&c);
}

/* ---- refusals ---- */

static void bad_options_are_refused(void **state)
{
    (void)state;
    ml_corpus c;
    load(&c, "synth-lda:docs=10,vocab=20,topics=2,len=5");
    char err[256];
    lda_opts good = {.corpus = &c, .topics = 4, .alpha = 0.1, .beta = 0.01, .sweeps = 5, .servers = 1};
    assert_int_equal(lda_check(&good, 3, err, sizeof err), 0);
    struct {
        lda_opts o;
        int ranks;
        const char *says;
    } cases[] = {
        {good, 1, "at least one server and one worker"},
        {good, 12, "11 workers for 10 documents"},
        {good, 3, NULL},
    };
    cases[2].o.topics = 0;
    cases[2].says = "--topics must be 1 to 65535";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(lda_check(&cases[i].o, cases[i].ranks, err, sizeof err), -1);
        if (!strstr(err, cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
    }
    lda_opts o = good;
    o.beta = NAN;
    assert_int_equal(lda_check(&o, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "--alpha and --beta must be positive"));
    o = good;
    o.sweeps = LDA_MAX_SWEEPS + 1;
    assert_int_equal(lda_check(&o, 3, err, sizeof err), -1);
    o = good;
    o.servers = 21;
    assert_int_equal(lda_check(&o, 30, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most one server per word"));
    ml_corpus_free(&c);
}

/* ---- the command line ---- */

static char *slurp(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("no %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void the_command_line(void **state)
{
    (void)state;
    if (!test_distlab()) /* the TSan build has no binary of its own */
        skip();
    char dir[256], out[8192];
    assert_int_equal(test_tmpdir(dir, sizeof dir, "lda-cli"), 0);
    const char *spec = "synth-lda:docs=200,vocab=50,topics=4,len=20";
    int st = test_distlab_run(out, sizeof out, "run lda --dataset %s --topics 4 --sweeps 10 "
                              "--consistency async --chunks 3 --servers 2 --workers 3 --out %s --no-figures",
                              spec, dir);
    if (st != 0)
        fail_msg("exit %d: %s", st, out);
    assert_non_null(strstr(out, "log-likelihood per token"));
    char *m = slurp(dir, "metrics.csv");
    assert_non_null(strstr(m, "time_s,epoch,step,train_loss,test_loss,test_accuracy,"
                              "loglik_per_token,tokens_per_s,bytes_sent\n"));
    int rows = 0;
    double first = NAN, last = NAN;
    for (char *line = strchr(m, '\n'); line && line[1]; line = strchr(line + 1, '\n'), rows++) {
        double v[9];
        if (sscanf(line + 1, "%lf,%lf,%lf,%lf,,,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[6], &v[7],
                   &v[8]) != 7)
            fail_msg("metrics row %d: %.80s", rows, line + 1);
        if (rows == 0)
            first = v[6];
        last = v[6];
    }
    assert_int_equal(rows, 11);
    assert_true(last > first + 0.1);
    char *sum = slurp(dir, "summary.json");
    assert_non_null(strstr(sum, "\"algo\": \"lda\""));
    assert_non_null(strstr(sum, "\"consistency\": \"async\""));
    assert_non_null(strstr(sum, "\"topic_distance\""));
    char *topics = slurp(dir, "topics.txt");
    assert_non_null(strstr(topics, "topic 3 ("));
    assert_non_null(strstr(topics, " w"));
    char *model = slurp(dir, "model.csv");
    assert_non_null(strstr(model, "word_id,word,topic,count\n"));
    long total = 0;
    for (char *line = strchr(model, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        unsigned w;
        char word[64];
        int k, n;
        assert_int_equal(sscanf(line + 1, "%u,%63[^,],%d,%d", &w, word, &k, &n), 4);
        assert_true(n > 0 && k >= 0 && k < 4);
        total += n;
    }
    assert_int_equal(total, 200 * 20);
    test_rmtree(dir);

    assert_int_equal(test_tmpdir(dir, sizeof dir, "lda-sweep"), 0);
    /* --kill-rank: a worker fails at its sweep 2, and the run stops, saying so */
    st = test_distlab_run(out, sizeof out, "run lda --dataset %s --topics 4 --sweeps 5 --servers 2 "
                          "--workers 2 --kill-rank 3:1 --out %s/killed --quiet", spec, dir);
    if (st != 1 || !strstr(out, "rank 3: made to fail at its step 1 (--kill-rank)"))
        fail_msg("--kill-rank 3:1: exit %d: %s", st, out);

    /* compare and sweep take lda:bsp and lda:async as run specs */
    st = test_distlab_run(out, sizeof out, "sweep --algos lda:bsp,lda:async --vary workers=1,2 "
                          "--dataset synth-lda:docs=60,vocab=30,topics=3,len=10 --topics 3 --sweeps 3 "
                          "--servers 2 --jobs 1 --out %s", dir);
    if (st != 0)
        fail_msg("sweep: exit %d: %s", st, out);
    char *csv = slurp(dir, "sweep.csv");
    assert_non_null(strstr(csv, "\nlda:bsp,1,"));
    assert_non_null(strstr(csv, "\nlda:async,2,"));
    st = test_distlab_run(out, sizeof out, "compare --algos lda:bsp,lda:async "
                          "--dataset synth-lda:docs=60,vocab=30,topics=3,len=10 --topics 3 --sweeps 3 "
                          "--servers 2 --jobs 1 --out %s/cmp", dir);
    if (st != 0)
        fail_msg("compare: exit %d: %s", st, out);
    assert_non_null(strstr(out, "loss.png"));
    test_rmtree(dir);

    const test_refusal no[] = {
        {"--alpha 0", "--alpha and --beta must be positive numbers"},
        {"--beta -1", "--alpha and --beta must be positive numbers"},
        {"--consistency ssp", "unknown value 'ssp' (expected one of: bsp, async)"},
        {"--chunks 3", "--chunks applies to --consistency async only"},
        {"--dataset fortunes --data /x", "--dataset and --data name two corpora"},
        {"--dataset synth-lda:docs=5,vocab=10,topics=2,len=4 --workers 6",
         "distlab run lda: 6 workers for 5 documents"},
        {"--topics 0", "--topics: '0' is not a whole number in 1..65535"},
        {"--sweeps 1001", "--sweeps"},
        {"--dataset wiki", "unknown corpus 'wiki'"},
        {"--data /nonexistent/docs.txt", "/nonexistent/docs.txt"},
        {"--payload size-only", "carries no counts"},
        {"--kill-rank 9:1", "--kill-rank: expected RANK:STEP, a rank from 0 to 4"},
        {"--stragglers 2", "--stragglers: a fraction in [0, 1], not 2"},
    };
    test_distlab_refuses("run lda", no, sizeof no / sizeof *no);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_worker_is_the_serial_sampler),
        cmocka_unit_test(synthetic_topics_are_recovered),
        cmocka_unit_test(bsp_is_the_same_on_every_backend),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(the_command_line),
    };
    return cmocka_run_group_tests_name("lda on a parameter server", tests, NULL, NULL);
}
