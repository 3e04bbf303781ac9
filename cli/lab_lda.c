/* lab_lda.c -- the checker of lab 12: a student's collapsed Gibbs draw of
 * one token's topic (plugin_lda_resample, algorithms/plugin.h), run inside
 * distlab's own topic model on a parameter server (algorithms/lda.c, with
 * the draw handed over through lda_opts.resample).
 *
 * First the draw alone, on a table of counts and a grid of u: the topic it
 * returns against the conditional's, and the three count arrays it leaves
 * (the token out, then back in with its new topic). Where its topics are
 * those of a known mistake (the token left in the counts, n_k + beta for
 * n_k + V beta, u not scaled by the total) the report says which. Then
 * whole runs of `run lda` on a small synthetic corpus, each against the
 * same run with distlab's own draw, bit for bit (every count, every
 * sweep's log-likelihood): one worker (the serial sampler), BSP with three
 * workers and two servers, async, and BSP on real sockets.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/lda.h"
#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define KMAX 8

typedef struct lda_ctx {
    lda_resample_fn fn;
    int quick;
} lda_ctx;

/* ---- the draw alone ---- */

typedef enum { REF = 0, LEFT_IN, NK_BETA, U_UNSCALED, VARIANTS } variant;

static const char *const variant_says[VARIANTS] = {
    "",
    "these are the topics the conditional gives with the token left in the counts: take it out of "
    "ndk, nwk and nk first (the 'rest' in p(z = k | rest))",
    "these are the topics of (n_k + beta) in the denominator: it is n_k + V beta (Vbeta), the "
    "topic's tokens plus the prior over all V words",
    "these are the topics of comparing the cumulative weights with u itself: u is in [0, 1), the "
    "weights are not normalised, so compare with u times their total",
};

static int draw(variant v, int old, int K, const int32_t *ndk, const int32_t *nwk, const int64_t *nk,
                double alpha, double beta, double Vbeta, double u)
{
    double p[KMAX], total = 0;
    int out = v == LEFT_IN ? 0 : 1;
    for (int k = 0; k < K; k++) {
        int in = k == old ? out : 0;
        double den = v == NK_BETA ? (double)(nk[k] - in) + beta : (double)(nk[k] - in) + Vbeta;
        total += ((double)(ndk[k] - in) + alpha) * ((double)(nwk[k] - in) + beta) / den;
        p[k] = total;
    }
    double x = v == U_UNSCALED ? u : u * total;
    for (int k = 0; k < K; k++)
        if (p[k] > x)
            return k;
    return K - 1;
}

typedef struct table_case {
    int K, old;
    int32_t ndk[KMAX], nwk[KMAX];
    int64_t nk[KMAX];
    double alpha, beta, Vbeta;
    const char *what;
} table_case;

static const table_case cases[] = {
    {4, 2, {1, 0, 3, 5}, {0, 2, 1, 0}, {40, 55, 33, 61}, 0.1, 0.01, 5.0, "4 topics, a word seen once in its topic"},
    {4, 0, {6, 1, 1, 1}, {9, 0, 0, 1}, {20, 20, 20, 20}, 0.5, 0.1, 20.0, "a topic the document and the word favour"},
    {5, 4, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 1}, {10, 3, 7, 2, 1}, 0.1, 0.01, 1.0, "the token alone in its topic"},
    {3, 1, {2, 2, 2}, {3, 3, 3}, {100, 10, 1000}, 1.0, 1.0, 50.0, "equal counts, totals that differ"},
    {8, 6, {0, 3, 0, 0, 2, 0, 4, 1}, {1, 0, 0, 2, 0, 0, 3, 0}, {90, 80, 70, 60, 50, 40, 30, 20},
     0.05, 0.02, 2.4, "8 topics, sparse counts"},
    {1, 0, {3}, {2}, {9}, 0.1, 0.01, 1.0, "one topic: always 0"},
};

/* The grid's i-th u of n, from 0 to just below 1. */
static void u_at(int i, int n, double *u)
{
    *u = i == n - 1 ? 1.0 - 0x1.0p-53 : (double)i / (double)(n - 1) * 0.999;
}

static void check_table(outcome *o, const void *ctxp)
{
    const lda_ctx *c = ctxp;
    enum { GRID = 201 };
    o->ok = 1;
    int agree[VARIANTS] = {0}, cases_run = 0, wrong_counts = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const table_case *t = &cases[i];
        int bad_here = 0;
        for (int g = 0; g < GRID; g++) {
            double u, p[KMAX];
            u_at(g, GRID, &u);
            int32_t ndk[KMAX], nwk[KMAX];
            int64_t nk[KMAX];
            memcpy(ndk, t->ndk, sizeof ndk);
            memcpy(nwk, t->nwk, sizeof nwk);
            memcpy(nk, t->nk, sizeof nk);
            int got = c->fn(t->old, t->K, ndk, nwk, nk, t->alpha, t->beta, t->Vbeta, u, p);
            int want = draw(REF, t->old, t->K, t->ndk, t->nwk, t->nk, t->alpha, t->beta, t->Vbeta, u);
            for (int v = 0; v < VARIANTS; v++)
                agree[v] += got == draw(v, t->old, t->K, t->ndk, t->nwk, t->nk, t->alpha, t->beta, t->Vbeta, u);
            if (got != want && !bad_here) {
                lab_say(o, "%s (K = %d, old topic %d): u = %.4f drew topic %d, the conditional says %d",
                        t->what, t->K, t->old, u, got, want);
                bad_here = 1;
                o->ok = 0;
            }
            if (got < 0 || got >= t->K)
                continue;
            /* the counts: the token out of old, back in with got */
            for (int k = 0; k < t->K && !wrong_counts; k++) {
                int32_t d = (k == got) - (k == t->old);
                const char *name = NULL;
                long is = 0, should = 0;
                if (ndk[k] != t->ndk[k] + d)
                    name = "ndk", is = ndk[k], should = t->ndk[k] + d;
                else if (nwk[k] != t->nwk[k] + d)
                    name = "nwk", is = nwk[k], should = t->nwk[k] + d;
                else if (nk[k] != t->nk[k] + d)
                    name = "nk", is = (long)nk[k], should = (long)(t->nk[k] + d);
                if (name) {
                    lab_say(o, "%s: moving the token from topic %d to %d left %s[%d] = %ld, should be %ld: "
                            "take the token out of all three counts, and put it back with its new topic",
                            t->what, t->old, got, name, k, is, should);
                    wrong_counts = 1;
                    o->ok = 0;
                }
            }
        }
        cases_run += GRID;
    }
    if (!o->ok)
        for (int v = 1; v < VARIANTS; v++)
            if (agree[v] == cases_run && agree[REF] < cases_run)
                lab_say(o, "%s", variant_says[v]);
}

/* ---- whole runs ---- */

typedef struct lda_run {
    int servers, workers, sweeps;
    lda_consistency consistency;
    int real;
} lda_run;

/* What a run gives back, to compare bit for bit. */
typedef struct lda_result {
    int ok;
    char error[1100];
    int npoints;
    double loglik[LDA_MAX_SWEEPS + 1];
    size_t nnz;
    uint64_t counts_hash;
    double distance;
} lda_result;

static int load_corpus(outcome *o, ml_corpus *corpus)
{
    char err[512];
    ml_corpus_opts co = {.dataset = "synth-lda:docs=60,vocab=200,topics=3,len=24", .seed = 7};
    if (ml_corpus_load(&co, corpus, err, sizeof err) != 0) {
        lab_say(o, "checker: cannot make its corpus: %s", err);
        return -1;
    }
    return 0;
}

static void run_one(const ml_corpus *corpus, const lda_run *x, lda_resample_fn fn, lda_result *out)
{
    memset(out, 0, sizeof *out);
    lda_opts opt = {.corpus = corpus, .topics = 3, .alpha = 0.1, .beta = 0.05, .sweeps = x->sweeps,
                    .consistency = x->consistency, .servers = x->servers, .seed = 11, .resample = fn};
    sim_config sim = sim_config_default();
    job_config cfg = lab_job_config(x->real, &sim, x->servers + x->workers, lda_out_bytes(corpus, opt.topics));
    job_result res;
    if (job_run(&cfg, lda_rank, &opt, &res) != 0) {
        snprintf(out->error, sizeof out->error, "%s", res.error);
        job_result_free(&res);
        return;
    }
    lda_out *r = job_result_slot(&res, 0);
    out->ok = 1;
    out->npoints = r->npoints;
    for (int i = 0; i < r->npoints; i++)
        out->loglik[i] = r->points[i].loglik;
    out->nnz = r->nnz;
    out->counts_hash = fnv1a64(lda_out_nk(r), (size_t)r->K * sizeof(int64_t));
    out->counts_hash = fnv1a64_add(out->counts_hash, lda_out_entries(r), r->nnz * sizeof(lda_entry));
    lda_counts counts;
    out->distance = NAN;
    if (lda_counts_init(&counts, r->V, r->K) == 0) {
        const lda_entry *e = lda_out_entries(r);
        int fine = 1;
        for (size_t i = 0; i < r->nnz && fine; i++)
            fine = lda_counts_add(&counts, e[i].word, e[i].topic, e[i].count) == 0;
        if (fine)
            out->distance = lda_topic_distance(&counts, corpus, opt.beta);
        lda_counts_free(&counts);
    }
    job_result_free(&res);
}

static const char *run_name(const lda_run *x, char *buf, size_t len)
{
    snprintf(buf, len, "%s, %s, %d worker%s and %d server%s, %d sweeps", x->real ? "sockets" : "sim",
             lda_consistency_name(x->consistency), x->workers, x->workers == 1 ? "" : "s", x->servers,
             x->servers == 1 ? "" : "s", x->sweeps);
    return buf;
}

/* The student's run of x against want (distlab's own draw, maybe another backend). */
static void compare(outcome *o, const lda_run *x, const lda_result *got, const lda_result *want)
{
    char name[160];
    run_name(x, name, sizeof name);
    if (!got->ok) {
        lab_say(o, "%s: %s", name, got->error);
        o->ok = 0;
        return;
    }
    if (!want->ok) {
        lab_say(o, "%s, distlab's own draw: %s", name, want->error);
        o->ok = 0;
        return;
    }
    for (int i = 0; i < got->npoints && i < want->npoints; i++)
        if (memcmp(&got->loglik[i], &want->loglik[i], sizeof(double)) != 0) {
            lab_say(o, "%s: the log-likelihood after sweep %d is %.10g, distlab's sampler's is %.10g%s", name,
                    i, got->loglik[i], want->loglik[i],
                    i == 0 ? "" : ": from that sweep on the chains differ (same u, another topic drawn, "
                                  "or counts left otherwise)");
            o->ok = 0;
            return;
        }
    if (got->counts_hash != want->counts_hash || got->nnz != want->nnz) {
        lab_say(o, "%s: the final word-topic counts differ from distlab's sampler's (%zu and %zu nonzeros)",
                name, got->nnz, want->nnz);
        o->ok = 0;
        return;
    }
    lab_say(o, "%s: log-likelihood %.1f -> %.1f, topic distance %.3f, the same bits", name, got->loglik[0],
            got->loglik[got->npoints - 1], got->distance);
}

static void against_own(outcome *o, const lda_ctx *c, const lda_run *x)
{
    ml_corpus corpus;
    if (load_corpus(o, &corpus) != 0)
        return;
    static lda_result got, want;
    lda_run own = *x;
    own.real = 0;
    run_one(&corpus, x, c->fn, &got);
    run_one(&corpus, &own, NULL, &want);
    compare(o, x, &got, &want);
    ml_corpus_free(&corpus);
}

static void check_serial(outcome *o, const void *ctxp)
{
    o->ok = 1;
    lda_run x = {.servers = 1, .workers = 1, .sweeps = 8, .consistency = LDA_BSP};
    against_own(o, ctxp, &x);
}

static void check_bsp(outcome *o, const void *ctxp)
{
    o->ok = 1;
    lda_run x = {.servers = 2, .workers = 3, .sweeps = 8, .consistency = LDA_BSP};
    against_own(o, ctxp, &x);
}

static void check_async(outcome *o, const void *ctxp)
{
    o->ok = 1;
    lda_run x = {.servers = 2, .workers = 4, .sweeps = 8, .consistency = LDA_ASYNC};
    against_own(o, ctxp, &x);
}

static void check_real(outcome *o, const void *ctxp)
{
    o->ok = 1;
    lda_run x = {.servers = 1, .workers = 2, .sweeps = 5, .consistency = LDA_BSP, .real = 1};
    against_own(o, ctxp, &x);
}

int lab_check_lda(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_table, "the draw on six tables of counts, 201 values of u each: the conditional's topic, the counts moved", 0},
        {check_serial, "one worker, bsp: distlab's serial sampler, bit for bit", 1},
        {check_bsp, "bsp, 3 workers and 2 servers: distlab's counts and likelihood, bit for bit", 1},
        {check_async, "async, 4 workers and 2 servers (sim): distlab's counts, bit for bit", 1},
        {check_real, "on real sockets (threads), bsp: the same counts as distlab's in simulation", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    static const char *const theirs[] = {"lda_sampler_sweep", "lda_sampler_sweep_docs", "lda_rank", NULL};
    lda_resample_fn fn = (lda_resample_fn)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds, defines %s and calls none of distlab's samplers", file,
                 lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    lda_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
