/* lda.c -- LDA by collapsed Gibbs sampling on a sharded parameter server.
 * reference: Smola & Narayanamurthy, "An Architecture for Parallel Topic
 * Models", VLDB 2010 (workers sample against a local copy of the counts
 * while a synchronisation loop sends count deltas to the servers and
 * brings fresh counts back); Li et al., "Scaling Distributed Machine
 * Learning with the Parameter Server", OSDI 2014 (its LDA experiment);
 * Griffiths & Steyvers 2004 (the sampler, ml/lda.h).
 *
 * Ranks 0..S-1 are servers: server s keeps the word-topic counts of words
 * [s V / S, (s+1) V / S) and their topic totals (its part of n_k), sparse
 * (lda_counts: memory grows with the nonzeros). Ranks S..S+W-1 are
 * workers: worker i keeps the topics z of documents [i D / W, (i+1) D / W)
 * and a local copy of the counts of the words its documents contain (and
 * of n_k), and samples against it (ml/lda.h), recording every change in a
 * delta table D.
 *
 * The local copy of server s's words is always R_s + D_s: the last counts
 * s sent back, plus the worker's changes since it last pushed to s. An
 * exchange with s pushes D_s (then clears it) and asks for the counts of
 * the worker's words; when the reply comes, R_s becomes the reply, which
 * already holds the pushed changes, so the copy is again R_s + D_s. Its
 * counts never go negative: they are the other workers' counts at some
 * moment plus this worker's own current ones.
 *
 *   start    each worker draws its topics at random (its own seed), sends
 *            each server the list of its words there, and pushes the
 *            initial counts as the end of sweep 0
 *   bsp      a sweep samples all the worker's documents; then it pushes
 *            D_s to every server, marked "end of sweep t", and waits for
 *            the replies. A server answers the end-of-sweep pushes only
 *            when all W of sweep t are in, so every worker starts sweep
 *            t+1 from the same counts: everyone's sweep t.
 *   async    a sweep samples its documents in C chunks; after each chunk
 *            but the last the worker waits for the reply of its previous
 *            exchange with the next server (round robin; by then it has
 *            usually arrived), and starts a new one, which proceeds while
 *            the next chunk is sampled. At the end of a sweep it does the
 *            same with every server, marked "end of sweep t". Servers
 *            answer at once: no worker ever waits for another, and the
 *            counts a worker samples against are as fresh as its last
 *            exchange with each server (Smola & Narayanamurthy's
 *            synchronisation thread; here a rank is one thread, so the
 *            exchange runs beside the sampling as messages in flight).
 *
 * The log-likelihood log p(w, z) at sweep t is computed in parts from
 * the state that sweep left: each worker's documents' part from its
 * topics at the end of its sweep t, each server's words' part (and its
 * n_k) when the last end-of-sweep-t push is in; at the end every rank
 * sends its parts to server 0, which adds them in one fixed order (the
 * topics' part, then servers, then workers; lda_ps_word_part sums a
 * server's words in word-then-topic order). Under bsp this is exactly the
 * joint likelihood of everyone's sweep t, the same on every backend;
 * under async a server's counts may already hold some of sweep t+1 from a
 * fast worker, so a point mixes states a little (never NaN: the counts
 * stay nonnegative). The last point is exact for both. Evaluation runs
 * aside (rt_aside_begin/end): it costs training no time. A point's time
 * is the latest server's work clock for it.
 *
 * Wire (all little-endian as the host; one lda_entry = word u32, topic
 * i32, count i32):
 *   words  worker -> server, once: its words in the server's range, u32, ascending
 *   push   worker -> server: int32 {sweep, flags (1 = end of sweep), n, 0},
 *          then n entries of D_s
 *   reply  server -> worker: int32 {n, 0, 0, 0}, the server's part of n_k
 *          (K int64), then n entries: the rows of the worker's words that
 *          changed since its last reply (the server stamps each row with
 *          the count of pushes it had applied when the row last changed),
 *          word by word; a row that is now empty is sent as {w, -1, 0}.
 *          A row not sent is the same as in the last reply, so R_s holds.
 * Cost per exchange of a worker with server s: 2 alpha + (16 + 12 d)
 * beta + (16 + 8K + 12 r) beta, d = nonzeros of the delta, r = nonzeros
 * of its words' changed rows there (at most K per word). A bsp sweep
 * costs each worker 6 K n_i flops / speed of sampling (n_i its tokens), then waits
 * for the slowest worker and the servers' replies; async never waits for
 * another worker but sends C - 1 + S exchanges per sweep instead of S.
 * Servers charge 8 flops per entry applied or sent, workers 8 per entry
 * applied.
 *
 * Failures: a server waits for every worker's end of each sweep, so a rank
 * that dies stops the job under both consistencies, with the error of the
 * receive that saw it (lda_opts.crash injects one: --kill-rank).
 */
#include "algorithms/lda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/train.h"

enum { TAG_WORDS = 7100, TAG_PUSH, TAG_PULL, TAG_REPORT, TAG_MODEL };
enum { PUSH_END = 1 };
enum { HEAD_BYTES = 16 };

const char *lda_consistency_name(lda_consistency c) { return c == LDA_ASYNC ? "async" : "bsp"; }

/* --kill-rank: the hook, as train_step_begin calls it. */
static int step_begin(rt *r, const lda_opts *o, long step)
{
    if (!o->crash || !o->crash(o->crash_ctx, r, step))
        return RT_OK;
    return rt_fail(r, RT_EKILLED, "made to fail at its step %ld (--kill-rank)", step);
}

/* ---- the result slot ---- */

/* Nonzeros of any table of counts: at most one per token, and K per word. */
static size_t nnz_bound(const ml_corpus *c, int K)
{
    size_t vk = c->V * (size_t)K;
    return vk < c->ntokens ? vk : c->ntokens;
}

size_t lda_out_bytes(const ml_corpus *c, int K)
{
    return sizeof(lda_out) + (size_t)K * sizeof(int64_t) + nnz_bound(c, K) * sizeof(lda_entry);
}

int64_t *lda_out_nk(lda_out *o) { return (int64_t *)(o + 1); }

lda_entry *lda_out_entries(lda_out *o) { return (lda_entry *)(lda_out_nk(o) + o->K); }

/* ---- likelihood in a fixed order ---- */

static int by_topic(const void *a, const void *b)
{
    const lda_entry *x = a, *y = b;
    return (x->topic > y->topic) - (x->topic < y->topic);
}

/* Word w's row, sorted by topic, into out (K long); returns its length. */
static uint32_t row_sorted(const lda_counts *c, uint32_t w, lda_entry *out)
{
    uint32_t n = c->len[w];
    for (uint32_t i = 0; i < n; i++)
        out[i] = (lda_entry){w, c->topic[w][i], c->count[w][i]};
    qsort(out, n, sizeof *out, by_topic);
    return n;
}

double lda_ps_word_part(const lda_counts *c, size_t w0, size_t w1, double beta)
{
    lda_entry *row = malloc((size_t)c->K * sizeof *row);
    if (!row)
        return NAN;
    double ll = 0, lg_beta = lda_lgamma(beta);
    for (size_t w = w0; w < w1; w++) {
        uint32_t n = row_sorted(c, (uint32_t)w, row);
        for (uint32_t i = 0; i < n; i++)
            ll += lda_lgamma(row[i].count + beta) - lg_beta;
    }
    free(row);
    return ll;
}

double lda_ps_topic_part(const int64_t *nk, int K, size_t V, double beta)
{
    double ll = 0, Vbeta = (double)V * beta;
    for (int k = 0; k < K; k++)
        ll += lda_lgamma(Vbeta) - lda_lgamma((double)nk[k] + Vbeta);
    return ll;
}

int lda_check(const lda_opts *o, int ranks, char *err, size_t errlen)
{
    const ml_corpus *c = o->corpus;
    int W = ranks - o->servers;
    if (!c || c->ndocs == 0 || c->V == 0)
        snprintf(err, errlen, "lda: the corpus is empty");
    else if (o->topics < 1 || o->topics > 65535)
        snprintf(err, errlen, "lda: --topics must be 1 to 65535, not %d", o->topics);
    else if (!(o->alpha > 0) || !isfinite(o->alpha) || !(o->beta > 0) || !isfinite(o->beta))
        snprintf(err, errlen, "lda: --alpha and --beta must be positive numbers (got %g and %g)",
                 o->alpha, o->beta);
    else if (o->sweeps < 1 || o->sweeps > LDA_MAX_SWEEPS)
        snprintf(err, errlen, "lda: --sweeps must be 1 to %d, not %d", LDA_MAX_SWEEPS, o->sweeps);
    else if (o->servers < 1 || W < 1)
        snprintf(err, errlen, "lda: needs at least one server and one worker (%d ranks, %d servers)",
                 ranks, o->servers);
    else if ((size_t)o->servers > c->V)
        snprintf(err, errlen, "lda: %d servers for a vocabulary of %zu words: at most one server per word",
                 o->servers, c->V);
    else if ((size_t)W > c->ndocs)
        snprintf(err, errlen, "lda: %d workers for %zu documents: at most one worker per document",
                 W, c->ndocs);
    else if (o->chunks < 0)
        snprintf(err, errlen, "lda: --chunks must be positive, not %d", o->chunks);
    else
        return 0;
    return -1;
}

/* The distinct words of documents [d0, d1) in [w0, w1), ascending (mark
 * is V bytes of zeros, left zeroed). */
static uint32_t *doc_words(const ml_corpus *c, size_t d0, size_t d1, size_t w0, size_t w1,
                           unsigned char *mark, size_t *n)
{
    size_t count = 0;
    for (size_t t = c->doc_start[d0]; t < c->doc_start[d1]; t++) {
        uint32_t w = c->words[t];
        if (w >= w0 && w < w1 && !mark[w]) {
            mark[w] = 1;
            count++;
        }
    }
    uint32_t *out = malloc((count ? count : 1) * sizeof *out);
    size_t k = 0;
    for (size_t w = w0; w < w1; w++)
        if (mark[w]) {
            if (out)
                out[k++] = (uint32_t)w;
            mark[w] = 0;
        }
    *n = count;
    return out;
}

/* =====================================================================
 * server
 * ===================================================================== */

typedef struct server {
    rt *r;
    const lda_opts *o;
    int S, W, K, s, npoints;
    size_t w0, w1;
    lda_counts counts;
    uint64_t clock;       /* pushes applied */
    uint64_t *changed;    /* V: the clock at which each word's row last changed */
    uint64_t *seen;       /* W: the clock of each worker's last reply */
    uint32_t **words;     /* W: each worker's words here */
    size_t *nwords;
    int *ends;            /* npoints: end-of-sweep pushes received */
    unsigned char *in;    /* a push */
    size_t incap;
    unsigned char *out;   /* a reply */
    size_t outcap;
    double bytes;         /* sent */
    double *pts;          /* npoints x (3 + K): time, words' part, bytes, n_k */
} server;

static int server_reply(server *sv, int i)
{
    int32_t *head = (int32_t *)sv->out;
    int64_t *nk = (int64_t *)(sv->out + HEAD_BYTES);
    lda_entry *e = (lda_entry *)(nk + sv->K);
    size_t n = 0;
    for (size_t j = 0; j < sv->nwords[i]; j++) {
        uint32_t w = sv->words[i][j];
        if (sv->changed[w] <= sv->seen[i]) /* its copy of the row is current */
            continue;
        if (sv->counts.len[w] == 0) /* say that it is empty now */
            e[n++] = (lda_entry){w, -1, 0};
        for (uint32_t k = 0; k < sv->counts.len[w]; k++)
            e[n++] = (lda_entry){w, sv->counts.topic[w][k], sv->counts.count[w][k]};
    }
    sv->seen[i] = sv->clock;
    memset(head, 0, HEAD_BYTES);
    head[0] = (int32_t)n;
    memcpy(nk, sv->counts.nk, (size_t)sv->K * sizeof *nk);
    size_t len = HEAD_BYTES + (size_t)sv->K * sizeof *nk + n * sizeof *e;
    int rc = train_charge(sv->r, 8.0 * (double)n);
    int rs = rt_send(sv->r, sv->S + i, TAG_PULL, sv->out, len);
    sv->bytes += (double)len;
    return rs ? rs : rc;
}

static void server_point(server *sv, int t)
{
    double *p = &sv->pts[(size_t)t * (3 + sv->K)];
    p[0] = rt_work_now(sv->r);
    rt_aside_begin(sv->r);
    p[1] = lda_ps_word_part(&sv->counts, sv->w0, sv->w1, sv->o->beta);
    rt_aside_end(sv->r);
    p[2] = sv->bytes;
    for (int k = 0; k < sv->K; k++)
        p[3 + k] = (double)sv->counts.nk[k];
}

/* One push from worker i: apply it; answer (async) or file it (bsp). */
static int server_push(server *sv, int i, size_t bytes)
{
    const int32_t *head = (const int32_t *)sv->in;
    if (bytes < HEAD_BYTES || (bytes - HEAD_BYTES) % sizeof(lda_entry) ||
        head[2] < 0 || (size_t)head[2] != (bytes - HEAD_BYTES) / sizeof(lda_entry))
        return rt_fail(sv->r, RT_EPROTO, "lda server %d: a malformed push of %zu bytes from worker %d",
                       sv->s, bytes, i);
    int t = head[0], end = head[1] & PUSH_END;
    if (end && (t < 0 || t >= sv->npoints || sv->ends[t] >= sv->W))
        return rt_fail(sv->r, RT_EPROTO, "lda server %d: worker %d ends sweep %d", sv->s, i, t);
    if (!end && sv->o->consistency == LDA_BSP)
        return rt_fail(sv->r, RT_EPROTO, "lda server %d: worker %d pushed mid-sweep under bsp", sv->s, i);
    const lda_entry *e = (const lda_entry *)(sv->in + HEAD_BYTES);
    sv->clock++;
    for (int32_t j = 0; j < head[2]; j++) {
        if (e[j].word < sv->w0 || e[j].word >= sv->w1 || e[j].topic < 0 || e[j].topic >= sv->K)
            return rt_fail(sv->r, RT_EPROTO, "lda server %d: worker %d pushed word %u topic %d, "
                           "outside words [%zu, %zu) and topics [0, %d)", sv->s, i, e[j].word,
                           e[j].topic, sv->w0, sv->w1, sv->K);
        if (lda_counts_add(&sv->counts, e[j].word, e[j].topic, e[j].count) != 0)
            return rt_fail(sv->r, RT_ENOMEM, "lda server %d: out of memory for the counts", sv->s);
        sv->changed[e[j].word] = sv->clock;
    }
    int rc = train_charge(sv->r, 8.0 * head[2]);
    if (end && ++sv->ends[t] == sv->W) {
        server_point(sv, t);
        int rs = t < sv->npoints - 1 ? step_begin(sv->r, sv->o, t) : RT_OK;
        if (rs != RT_OK)
            return rs;
    }
    if (sv->o->consistency == LDA_ASYNC)
        return rc ? rc : server_reply(sv, i);
    if (end && sv->ends[t] == sv->W) /* bsp: everyone's sweep t is in */
        for (int w = 0; w < sv->W && !rc; w++)
            rc = server_reply(sv, w);
    return rc;
}

/* The range's final counts, by word then topic, into e; returns how many. */
static size_t server_model(const server *sv, lda_entry *e)
{
    size_t n = 0;
    for (size_t w = sv->w0; w < sv->w1; w++)
        n += row_sorted(&sv->counts, (uint32_t)w, e + n);
    return n;
}

static void server_free(server *sv)
{
    lda_counts_free(&sv->counts);
    for (int i = 0; sv->words && i < sv->W; i++)
        free(sv->words[i]);
    free(sv->words);
    free(sv->nwords);
    free(sv->changed);
    free(sv->seen);
    free(sv->ends);
    free(sv->in);
    free(sv->out);
    free(sv->pts);
}

static int report(rt *r, const lda_opts *o, int npoints, server *sv);

static int server_run(rt *r, const lda_opts *o)
{
    const ml_corpus *c = o->corpus;
    server sv = {.r = r, .o = o, .S = o->servers, .W = rt_size(r) - o->servers, .K = o->topics,
                 .s = rt_rank(r), .npoints = o->sweeps + 1};
    int rc = RT_OK;
    train_range(c->V, sv.S, sv.s, &sv.w0, &sv.w1);
    sv.words = calloc((size_t)sv.W, sizeof *sv.words);
    sv.nwords = calloc((size_t)sv.W, sizeof *sv.nwords);
    sv.changed = calloc(c->V, sizeof *sv.changed);
    sv.seen = calloc((size_t)sv.W, sizeof *sv.seen);
    sv.ends = calloc((size_t)sv.npoints, sizeof *sv.ends);
    sv.pts = calloc((size_t)sv.npoints * (3 + sv.K), sizeof *sv.pts);
    if (!sv.words || !sv.nwords || !sv.changed || !sv.seen || !sv.ends || !sv.pts || lda_counts_init(&sv.counts, c->V, sv.K) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "lda server %d: out of memory", sv.s);
        goto out;
    }
    /* ---- each worker's words here, and the largest push and reply ---- */
    size_t range = sv.w1 - sv.w0, inmax = 0, outmax = 0;
    for (int i = 0; i < sv.W; i++) {
        sv.words[i] = malloc((range ? range : 1) * sizeof **sv.words);
        rt_status st;
        if (!sv.words[i]) {
            rc = rt_fail(r, RT_ENOMEM, "lda server %d: out of memory", sv.s);
            goto out;
        }
        if ((rc = rt_recv(r, sv.S + i, TAG_WORDS, sv.words[i], range * sizeof **sv.words, &st)) != RT_OK)
            goto out;
        sv.nwords[i] = st.bytes / sizeof **sv.words;
        size_t d0, d1;
        train_range(c->ndocs, sv.W, i, &d0, &d1);
        size_t ntok = c->doc_start[d1] - c->doc_start[d0], vk = sv.nwords[i] * (size_t)sv.K;
        size_t in = vk < 2 * ntok ? vk : 2 * ntok;
        size_t out = sv.nwords[i] + (vk < c->ntokens ? vk : c->ntokens); /* a row's head, its entries */
        inmax = in > inmax ? in : inmax;
        outmax = out > outmax ? out : outmax;
    }
    sv.incap = HEAD_BYTES + inmax * sizeof(lda_entry);
    sv.outcap = HEAD_BYTES + (size_t)sv.K * sizeof(int64_t) + outmax * sizeof(lda_entry);
    sv.in = malloc(sv.incap);
    sv.out = malloc(sv.outcap);
    if (!sv.in || !sv.out) {
        rc = rt_fail(r, RT_ENOMEM, "lda server %d: out of memory for %zu-byte messages", sv.s, sv.outcap);
        goto out;
    }
    /* ---- serve until every worker has ended its last sweep ---- */
    while (sv.ends[o->sweeps] < sv.W) {
        rt_status st;
        if ((rc = rt_recv(r, RT_ANY_SOURCE, TAG_PUSH, sv.in, sv.incap, &st)) != RT_OK)
            goto out;
        if ((rc = server_push(&sv, st.source - sv.S, st.bytes)) != RT_OK)
            goto out;
    }
    rc = report(r, o, sv.npoints, &sv);
out:
    server_free(&sv);
    return rc;
}

/* =====================================================================
 * worker
 * ===================================================================== */

typedef struct worker {
    rt *r;
    const lda_opts *o;
    int S, W, K, i, npoints;
    size_t d0, d1;
    lda_sampler smp;
    lda_counts local, delta; /* the copy R + D, and D */
    uint32_t **words;        /* S: its words on each server */
    size_t *nwords;
    int64_t *rnk, *flight;   /* S x K: each server's last n_k, and the n_k of the push in flight */
    rt_request **req;        /* S: the reply awaited from each server */
    unsigned char **rbuf;    /* S reply buffers */
    size_t *rcap;
    lda_entry *pbuf;         /* a push: head, then entries */
    size_t pcap;
    double bytes;
    double *pts;             /* npoints x 3: time, documents' part, bytes */
} worker;

/* Push D_s to server s (marked end of sweep t when end), clear D_s, and
 * post the receive of the reply. */
static int worker_push(worker *wk, int s, int t, int end)
{
    int32_t *head = (int32_t *)wk->pbuf;
    lda_entry *e = (lda_entry *)((unsigned char *)wk->pbuf + HEAD_BYTES);
    int64_t *fl = &wk->flight[(size_t)s * wk->K];
    memset(fl, 0, (size_t)wk->K * sizeof *fl);
    size_t n = 0;
    for (size_t j = 0; j < wk->nwords[s]; j++) {
        uint32_t w = wk->words[s][j];
        for (uint32_t k = 0; k < wk->delta.len[w]; k++) {
            e[n++] = (lda_entry){w, wk->delta.topic[w][k], wk->delta.count[w][k]};
            fl[wk->delta.topic[w][k]] += wk->delta.count[w][k];
        }
        lda_counts_clear_word(&wk->delta, w);
    }
    head[0] = t;
    head[1] = end ? PUSH_END : 0;
    head[2] = (int32_t)n;
    head[3] = 0;
    size_t len = HEAD_BYTES + n * sizeof *e;
    int rc = rt_send(wk->r, s, TAG_PUSH, wk->pbuf, len);
    wk->bytes += (double)len;
    if (rc == RT_OK)
        rc = rt_irecv(wk->r, s, TAG_PULL, wk->rbuf[s], wk->rcap[s], &wk->req[s]);
    return rc;
}

/* Wait for server s's reply, if one is awaited, and make the copy of its
 * words R_s + D_s again. */
static int worker_pull(worker *wk, int s)
{
    if (!wk->req[s])
        return RT_OK;
    rt_status st;
    int rc = rt_wait(wk->r, &wk->req[s], &st);
    if (rc != RT_OK)
        return rc;
    const unsigned char *buf = wk->rbuf[s];
    const int32_t *head = (const int32_t *)buf;
    size_t fixed = HEAD_BYTES + (size_t)wk->K * sizeof(int64_t);
    if (st.bytes < fixed || head[0] < 0 ||
        st.bytes != fixed + (size_t)head[0] * sizeof(lda_entry))
        return rt_fail(wk->r, RT_EPROTO, "lda worker %d: a malformed reply of %zu bytes from server %d",
                       wk->i, st.bytes, s);
    memcpy(&wk->rnk[(size_t)s * wk->K], buf + HEAD_BYTES, (size_t)wk->K * sizeof(int64_t));
    memset(&wk->flight[(size_t)s * wk->K], 0, (size_t)wk->K * sizeof(int64_t));
    /* the rows sent, one after another (an empty one as {w, -1, 0}): each
     * becomes the server's plus D's */
    const lda_entry *e = (const lda_entry *)(buf + fixed);
    for (int32_t j = 0; j < head[0];) {
        uint32_t w = e[j].word;
        if (w >= wk->local.V)
            goto malformed;
        lda_counts_clear_word(&wk->local, w);
        if (e[j].topic == -1)
            j++;
        for (; j < head[0] && e[j].word == w; j++) {
            if (e[j].topic < 0 || e[j].topic >= wk->K || e[j].count <= 0)
                goto malformed;
            if (lda_counts_add(&wk->local, w, e[j].topic, e[j].count) != 0)
                goto oom;
        }
        for (uint32_t k = 0; k < wk->delta.len[w]; k++)
            if (lda_counts_add(&wk->local, w, wk->delta.topic[w][k], wk->delta.count[w][k]) != 0)
                goto oom;
    }
    /* n_k: every server's last totals, the pushes still in flight, and D */
    for (int k = 0; k < wk->K; k++) {
        int64_t n = wk->delta.nk[k];
        for (int q = 0; q < wk->S; q++)
            n += wk->rnk[(size_t)q * wk->K + k] + wk->flight[(size_t)q * wk->K + k];
        wk->local.nk[k] = n;
    }
    return train_charge(wk->r, 8.0 * head[0]);
malformed:
    return rt_fail(wk->r, RT_EPROTO, "lda worker %d: a malformed row in the reply of server %d", wk->i, s);
oom:
    return rt_fail(wk->r, RT_ENOMEM, "lda worker %d: out of memory for the counts", wk->i);
}

/* The end of sweep t: its point, then an exchange with every server. */
static int worker_end_sweep(worker *wk, int t)
{
    double *p = &wk->pts[(size_t)t * 3];
    p[0] = rt_work_now(wk->r);
    rt_aside_begin(wk->r);
    p[1] = lda_doc_loglik(&wk->smp);
    rt_aside_end(wk->r);
    p[2] = wk->bytes;
    int rc = RT_OK;
    for (int s = 0; s < wk->S && rc == RT_OK; s++)
        if ((rc = worker_pull(wk, s)) == RT_OK)
            rc = worker_push(wk, s, t, 1);
    if (wk->o->consistency == LDA_BSP)
        for (int s = 0; s < wk->S && rc == RT_OK; s++)
            rc = worker_pull(wk, s);
    return rc;
}

static int worker_sample(worker *wk, size_t d0, size_t d1)
{
    double flops = 0;
    int rc = lda_sampler_sweep_docs(&wk->smp, d0, d1, &wk->local, &wk->delta, &flops);
    if (rc == -2)
        return rt_fail(wk->r, RT_EINVAL, "lda worker %d: the resample function drew a topic outside "
                       "0..%d", wk->i, wk->smp.K - 1);
    if (rc != 0)
        return rt_fail(wk->r, RT_ENOMEM, "lda worker %d: out of memory for the counts", wk->i);
    return train_charge(wk->r, flops);
}

static void worker_free(worker *wk)
{
    for (int s = 0; wk->req && s < wk->S; s++)
        if (wk->req[s])
            rt_wait(wk->r, &wk->req[s], NULL);
    lda_sampler_free(&wk->smp);
    lda_counts_free(&wk->local);
    lda_counts_free(&wk->delta);
    for (int s = 0; s < wk->S; s++) {
        if (wk->words)
            free(wk->words[s]);
        if (wk->rbuf)
            free(wk->rbuf[s]);
    }
    free(wk->words);
    free(wk->nwords);
    free(wk->rnk);
    free(wk->flight);
    free(wk->req);
    free(wk->rbuf);
    free(wk->rcap);
    free(wk->pbuf);
    free(wk->pts);
}

static int worker_run(rt *r, const lda_opts *o)
{
    const ml_corpus *c = o->corpus;
    worker wk = {.r = r, .o = o, .S = o->servers, .W = rt_size(r) - o->servers, .K = o->topics,
                 .i = rt_rank(r) - o->servers, .npoints = o->sweeps + 1};
    int rc = RT_OK, S = wk.S, K = wk.K;
    char err[256];
    unsigned char *mark = calloc(c->V, 1);
    train_range(c->ndocs, wk.W, wk.i, &wk.d0, &wk.d1);
    wk.words = calloc((size_t)S, sizeof *wk.words);
    wk.nwords = calloc((size_t)S, sizeof *wk.nwords);
    wk.rnk = calloc((size_t)S * K, sizeof *wk.rnk);
    wk.flight = calloc((size_t)S * K, sizeof *wk.flight);
    wk.req = calloc((size_t)S, sizeof *wk.req);
    wk.rbuf = calloc((size_t)S, sizeof *wk.rbuf);
    wk.rcap = calloc((size_t)S, sizeof *wk.rcap);
    wk.pts = calloc((size_t)wk.npoints * 3, sizeof *wk.pts);
    if (!mark || !wk.words || !wk.nwords || !wk.rnk || !wk.flight || !wk.req || !wk.rbuf ||
        !wk.rcap || !wk.pts || lda_counts_init(&wk.local, c->V, K) != 0 ||
        lda_counts_init(&wk.delta, c->V, K) != 0)
        goto oom;
    /* ---- start: random topics, and its words on each server ---- */
    uint64_t seed = o->seed ^ ((uint64_t)wk.i * 0xD1B54A32D192ED03ull);
    if (lda_sampler_init(&wk.smp, c, wk.d0, wk.d1, K, o->alpha, o->beta, seed, &wk.local, &wk.delta,
                         err, sizeof err) != 0) {
        rc = rt_fail(r, RT_EINVAL, "lda worker %d: %s", wk.i, err);
        goto out;
    }
    wk.smp.resample = o->resample;
    size_t ntok = wk.smp.ntok, pmax = 0;
    for (int s = 0; s < S; s++) {
        size_t w0, w1;
        train_range(c->V, S, s, &w0, &w1);
        wk.words[s] = doc_words(c, wk.d0, wk.d1, w0, w1, mark, &wk.nwords[s]);
        size_t vk = wk.nwords[s] * (size_t)K;
        size_t in = wk.nwords[s] + (vk < c->ntokens ? vk : c->ntokens), out = vk < 2 * ntok ? vk : 2 * ntok;
        wk.rcap[s] = HEAD_BYTES + (size_t)K * sizeof(int64_t) + in * sizeof(lda_entry);
        wk.rbuf[s] = malloc(wk.rcap[s]);
        pmax = out > pmax ? out : pmax;
        if (!wk.words[s] || !wk.rbuf[s])
            goto oom;
        size_t len = wk.nwords[s] * sizeof **wk.words;
        if ((rc = rt_send(r, s, TAG_WORDS, wk.words[s], len)) != RT_OK)
            goto out;
        wk.bytes += (double)len;
    }
    wk.pcap = HEAD_BYTES + pmax * sizeof(lda_entry);
    if (!(wk.pbuf = malloc(wk.pcap)))
        goto oom;
    if ((rc = worker_end_sweep(&wk, 0)) != RT_OK)
        goto out;
    /* ---- sweeps: sample, exchanging with the servers as the mode says ---- */
    int chunks = o->consistency == LDA_ASYNC ? (o->chunks ? o->chunks : 4 * S) : 1, next = 0;
    size_t nd = wk.d1 - wk.d0;
    for (int t = 1; t <= o->sweeps; t++) {
        if ((rc = step_begin(r, o, t - 1)) != RT_OK)
            goto out;
        for (int q = 0; q < chunks; q++) {
            size_t lo = wk.d0 + nd * (size_t)q / (size_t)chunks;
            size_t hi = wk.d0 + nd * (size_t)(q + 1) / (size_t)chunks;
            if ((rc = worker_sample(&wk, lo, hi)) != RT_OK)
                goto out;
            if (q == chunks - 1)
                break;
            int s = next++ % S;
            if ((rc = worker_pull(&wk, s)) != RT_OK || (rc = worker_push(&wk, s, t, 0)) != RT_OK)
                goto out;
        }
        if ((rc = worker_end_sweep(&wk, t)) != RT_OK)
            goto out;
    }
    for (int s = 0; s < S && rc == RT_OK; s++)
        rc = worker_pull(&wk, s);
    if (rc == RT_OK) { /* its documents' parts, to server 0 */
        size_t len = (size_t)wk.npoints * 3 * sizeof *wk.pts;
        rc = rt_send(r, 0, TAG_REPORT, wk.pts, len);
    }
    goto out;
oom:
    rc = rt_fail(r, RT_ENOMEM, "lda worker %d: out of memory", wk.i);
out:
    free(mark);
    worker_free(&wk);
    return rc;
}

/* =====================================================================
 * the report: every rank's parts to server 0
 * ===================================================================== */

/* Server 0 (sv its own state): gather the points and the model into the
 * slot. Other servers send theirs; workers send theirs from worker_run. */
static int report(rt *r, const lda_opts *o, int npoints, server *sv)
{
    const ml_corpus *c = o->corpus;
    int S = sv->S, W = sv->W, K = sv->K, rc = RT_OK;
    size_t sp = (size_t)npoints * (3 + K);
    if (sv->s != 0) {
        lda_entry *e = malloc((sv->counts.nnz ? sv->counts.nnz : 1) * sizeof *e);
        if (!e)
            return rt_fail(r, RT_ENOMEM, "lda server %d: out of memory for the model", sv->s);
        size_t n = server_model(sv, e);
        rc = rt_send(r, 0, TAG_REPORT, sv->pts, sp * sizeof *sv->pts);
        if (rc == RT_OK)
            rc = rt_send(r, 0, TAG_MODEL, e, n * sizeof *e);
        free(e);
        return rc;
    }
    lda_out *out = rt_slot(r);
    out->K = K;
    out->V = c->V;
    out->ntokens = c->ntokens;
    out->npoints = npoints;
    out->chunks = o->consistency == LDA_ASYNC ? (o->chunks ? o->chunks : 4 * S) : 1;
    int64_t *nk = lda_out_nk(out);
    lda_entry *e = lda_out_entries(out);
    size_t cap = nnz_bound(c, K), n = server_model(sv, e);
    double *spts = malloc((size_t)S * sp * sizeof *spts);
    double *wpts = malloc((size_t)W * npoints * 3 * sizeof *wpts);
    if (!spts || !wpts) {
        rc = rt_fail(r, RT_ENOMEM, "lda: out of memory for the report");
        goto done;
    }
    memcpy(spts, sv->pts, sp * sizeof *spts);
    for (int s = 1; s < S && rc == RT_OK; s++) {
        rt_status st;
        rc = rt_recv(r, s, TAG_REPORT, spts + (size_t)s * sp, sp * sizeof *spts, &st);
        if (rc == RT_OK && (rc = rt_recv(r, s, TAG_MODEL, e + n, (cap - n) * sizeof *e, &st)) == RT_OK)
            n += st.bytes / sizeof *e;
    }
    for (int i = 0; i < W && rc == RT_OK; i++)
        rc = rt_recv(r, S + i, TAG_REPORT, wpts + (size_t)i * npoints * 3,
                     (size_t)npoints * 3 * sizeof *wpts, NULL);
    if (rc != RT_OK)
        goto done;
    out->nnz = n;
    /* ---- each point: topics' part, servers' parts, workers' parts ---- */
    for (int t = 0; t < npoints; t++) {
        lda_point *p = &out->points[t];
        memset(nk, 0, (size_t)K * sizeof *nk);
        double words = 0, docs = 0, bytes = 0, time = 0;
        for (int s = 0; s < S; s++) {
            const double *q = spts + (size_t)s * sp + (size_t)t * (3 + K);
            time = q[0] > time ? q[0] : time;
            words += q[1];
            bytes += q[2];
            for (int k = 0; k < K; k++)
                nk[k] += (int64_t)q[3 + k];
        }
        for (int i = 0; i < W; i++) {
            const double *q = wpts + ((size_t)i * npoints + t) * 3;
            docs += q[1];
            bytes += q[2];
        }
        p->time_s = time;
        p->sweep = t;
        p->loglik = lda_ps_topic_part(nk, K, c->V, o->beta) + words + docs;
        p->loglik_per_token = p->loglik / (double)c->ntokens;
        p->tokens = (double)t * (double)c->ntokens;
        p->bytes = bytes;
    }
    /* nk now holds the last point's totals: the final model's */
done:
    free(spts);
    free(wpts);
    return rc;
}

int lda_rank(rt *r, void *arg)
{
    const lda_opts *o = arg;
    char err[256];
    if (lda_check(o, rt_size(r), err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "%s", err);
    return rt_rank(r) < o->servers ? server_run(r, o) : worker_run(r, o);
}
