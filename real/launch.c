/* launch.c -- real_job_run: the ranks of a real job, as threads or
 * processes of this machine, or -- hosts -- the one rank this process runs
 * of a job spread over machines.
 *
 * Threads and procs: before any rank starts, the launcher opens every
 * rank's listening socket (port 0: the kernel picks), so every rank knows
 * where every other one listens, and takes the clock's origin, so rt_now
 * means the same in every rank. Then:
 *   - threads: one thread per rank in this process; each rank still talks
 *     to the others only over its loopback TCP connections;
 *   - procs: one forked process per rank; a child dies with its launcher
 *     (PR_SET_PDEATHSIG), resets its signal handlers, runs its rank,
 *     writes its events to a memory file (memfd) the launcher made for it
 *     -- nothing on disk can outlive the run -- and leaves with _exit. The
 *     parent reaps the children in the order they end (each holds the
 *     write end of a pipe the parent watches), so the first rank that died
 *     is the one the job's error names. Meanwhile it watches each rank's
 *     heartbeat (real_beat, in a shared mapping): a rank silent for twice
 *     --timeout plus 1 s -- stopped, or hung outside every wait, since
 *     every wait of the backend beats at least once per quarter --timeout
 *     -- is killed and named, and once the job has failed, one silent for
 *     half of it (see kill_stuck), so the launcher ends whatever its
 *     children do.
 * Hosts: this process's one rank listens on its own --peers address, takes
 * its clock's origin after a barrier, and at the end reports to rank 0,
 * which gathers every rank's result, status and events (see "one rank of a
 * job spread over machines" below).
 *
 * Time on this backend is the wall clock: rt_compute charges nothing, as
 * the math really ran. A straggler (slowdown s > 1) is modelled as a
 * machine s times slower at everything between runtime calls: rt_compute
 * sleeps (s - 1) times the wall time since the rank's previous runtime
 * call (a send, receive, wait, compute or shared lookup; rt_now does not
 * count).
 */
#define _GNU_SOURCE
#include "real/real.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/job_internal.h"

void real_beat(real_rank *rk)
{
    if (rk->job->beat) {
        double now = net_clock_s();
        __atomic_store(&rk->job->beat[rk->rt.rank], &now, __ATOMIC_RELAXED);
    }
}

void real_mark(real_rank *rk)
{
    /* the mark is read only by a straggler's rt_compute and the event log,
     * the beat only by the procs watchdog: with none of them, no clock read
     * (every rt_compute marks: two per Hogwild! update) */
    if (rk->rt.slowdown <= 1 && !rk->rt.record_events && !rk->job->beat)
        return;
    /* atomic: a rank's async job (a thread of its own) marks it too */
    double now = net_clock_s();
    __atomic_store(&rk->last_call_s, &now, __ATOMIC_RELAXED);
    if (rk->job->beat)
        __atomic_store(&rk->job->beat[rk->rt.rank], &now, __ATOMIC_RELAXED);
}

static double real_now(rt *r)
{
    real_rank *rk = r->backend_data;
    return net_clock_s() - rk->job->t0;
}

static int real_compute(rt *r, int kind, double flops)
{
    real_rank *rk = r->backend_data;
    (void)kind;
    (void)flops; /* the math already took its time */
    if (r->slowdown > 1) {
        /* in pieces, each followed by a beat: a long sleep is not a hang */
        double last;
        __atomic_load(&rk->last_call_s, &last, __ATOMIC_RELAXED);
        double until = net_clock_s() + (r->slowdown - 1) * (net_clock_s() - last);
        for (double left; (left = until - net_clock_s()) > 0;) {
            double piece_s = left < rk->job->timeout_s / 2 ? left : rk->job->timeout_s / 2;
            struct timespec ts = {.tv_sec = (time_t)piece_s,
                                  .tv_nsec = (long)((piece_s - (double)(time_t)piece_s) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            real_beat(rk);
        }
    }
    real_mark(rk);
    return RT_OK;
}

/* The math rt_compute charges ran between the previous runtime call and
 * this one: that is the interval the event log shows. */
static double real_compute_began(rt *r)
{
    real_rank *rk = r->backend_data;
    double last;
    __atomic_load(&rk->last_call_s, &last, __ATOMIC_RELAXED);
    return last - rk->job->t0;
}

/* An async job's companion: a thread of the rank's process. */
typedef struct real_companion {
    void (*fn)(void *);
    void *arg;
    pthread_t th;
} real_companion;

static void *companion_thread(void *p)
{
    real_companion *c = p;
    c->fn(c->arg);
    return NULL;
}

static int real_spawn(rt *r, void (*fn)(void *), void *arg, void **handle)
{
    real_companion *c = calloc(1, sizeof *c);
    if (!c)
        return rt_seterr(r, RT_ENOMEM, "async post: out of memory");
    c->fn = fn;
    c->arg = arg;
    int rc = pthread_create(&c->th, NULL, companion_thread, c);
    if (rc != 0) {
        free(c);
        return rt_seterr(r, RT_EIO, "async post: cannot start a thread: %s", strerror(rc));
    }
    *handle = c;
    return RT_OK;
}

static void real_join(rt *r, void *handle)
{
    (void)r;
    real_companion *c = handle;
    pthread_join(c->th, NULL);
    free(c);
}

static const rt_ops real_ops = {
    .isend = real_isend,
    .bsend = real_bsend,
    .irecv = real_irecv,
    .progress = real_progress,
    .progress_for = real_progress_for,
    .release = real_release,
    .now = real_now,
    .compute = real_compute,
    .shared = real_shared,
    .compute_began = real_compute_began,
    .spawn = real_spawn,
    .join = real_join,
};

static void rank_init(real_job *job, real_rank *rk, int rank)
{
    const job_config *cfg = job->cfg;
    memset(rk, 0, sizeof *rk);
    rk->job = job;
    rk->launcher_fd = -1;
    rt_init(&rk->rt, &real_ops, "real", rank, job->size, 0, cfg->record_events, rk);
    double s = cfg->slowdown ? cfg->slowdown[rank] : 1;
    rk->rt.slowdown = s > 1 ? s : 1;
    rk->rt.slot = job_result_slot(job->res, rank);
}

/* Bind the calling thread (a rank) to the slot-th of the cores this
 * process may use, wrapping around; see real_binds and real_core_slot. */
static void bind_rank(int slot)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return;
    int k = slot % CPU_COUNT(&allowed);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed) && k-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            sched_setaffinity(0, sizeof one, &one); /* 0: this thread only */
            return;
        }
}

static int hosts_start(real_rank *rk);
static void hosts_report(real_rank *rk, int status);

/* One rank from connection to hang-up; returns what the rank returned. */
static int rank_run(real_rank *rk)
{
    real_job *job = rk->job;
    real_beat(rk);
    if (job->bind)
        bind_rank(real_core_slot(job->cfg, rk->rt.rank));
    int status = real_engine_init(rk);
    if (status == RT_OK)
        status = real_mesh_open(rk);
    if (status == RT_OK && job->hosts)
        status = hosts_start(rk);
    if (status == RT_OK) {
        real_mark(rk);
        struct timespec cpu0, cpu1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
        status = job->fn(&rk->rt, job->arg);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
        int64_t cpu_ns = (int64_t)(cpu1.tv_sec - cpu0.tv_sec) * 1000000000 +
                         (cpu1.tv_nsec - cpu0.tv_nsec);
        __atomic_fetch_add(&((job_shared *)job->res->shared)->cpu_ns, (uint64_t)cpu_ns,
                           __ATOMIC_RELAXED);
        int drained = rt_async_drain(&rk->rt); /* jobs the rank left posted */
        if (status == RT_OK)
            status = drained;
        rk->failed = status != RT_OK;
        if (job->hosts)
            hosts_report(rk, status);
        real_mesh_close(rk);
    }
    real_engine_fini(rk);
    real_shared_rank_fini(rk);
    return status;
}

/* ---- one rank of a job spread over machines (hosts) ---- */

/* Only processes given the same peer list join one another: the list,
 * hashed (FNV-1a), is the job's token. It names the job; it is no secret. */
static uint64_t peers_token(const char *peers)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)peers; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* Read the first `limit` entries of a peer list into addr (cap
 * entries), checking each: HOST:PORT, none empty, no address twice (two
 * ranks cannot listen on one). Entry `me`'s host and port go to myhost
 * and *port. Returns how many entries the list has, or -1 with err. */
static int peers_read(const char *peers, int limit, net_addr *addr, int me, char *myhost, size_t hostlen,
                      int *port, char *err, size_t errlen)
{
    int n = 0;
    char host[256], item[300], why[200];
    for (const char *s = peers; *s;) {
        size_t len = strcspn(s, ",");
        if (n < limit) {
            if (len == 0 || len >= sizeof item) {
                snprintf(err, errlen, "--peers: entry %d is %s", n + 1, len ? "too long" : "empty");
                return -1;
            }
            memcpy(item, s, len);
            item[len] = '\0';
            int p;
            if (net_parse_addr(item, &addr[n], host, sizeof host, &p, why, sizeof why) != 0) {
                snprintf(err, errlen, "--peers: entry %d: %s", n + 1, why);
                return -1;
            }
            /* say so now, not after --timeout spent waiting for the second */
            for (int k = 0; k < n; k++)
                if (addr[k].len == addr[n].len && memcmp(&addr[k].sa, &addr[n].sa, addr[n].len) == 0) {
                    char at[80];
                    snprintf(err, errlen, "--peers: entries %d and %d are both %s (one address per rank)",
                             k + 1, n + 1, net_addr_str(&addr[n], at, sizeof at));
                    return -1;
                }
            if (n == me) {
                snprintf(myhost, hostlen, "%s", host);
                *port = p;
            }
        }
        n++;
        s += len;
        if (*s == ',')
            s++;
    }
    if (n == 0 || peers[strlen(peers) - 1] == ',') {
        snprintf(err, errlen, "--peers: entry %d is empty", n + 1);
        return -1;
    }
    return n;
}

int real_peers_check(const char *peers, char *err, size_t errlen)
{
    int entries = 1, port = 0;
    char host[256];
    for (const char *c = peers; *c; c++)
        entries += *c == ',';
    net_addr *addr = calloc((size_t)entries, sizeof *addr);
    if (!addr) {
        snprintf(err, errlen, "--peers: no memory for %d entries", entries);
        return -1;
    }
    int n = peers_read(peers, entries, addr, -1, host, sizeof host, &port, err, errlen);
    free(addr);
    return n;
}

/* Parse the peer list into job->addr and open this rank's listener on its
 * own entry. Returns 0, -1, or -2 when the settings do not fit the job
 * (bad input: the list's length, --rank's range). */
static int hosts_setup(real_job *job, const real_config *cfg, char *err, size_t errlen)
{
    int me = cfg->host_rank, port = 0;
    char myhost[256] = "", why[200];
    if (!cfg->peers || !*cfg->peers) {
        snprintf(err, errlen, "--launch hosts needs --peers HOST:PORT,... (one per rank)");
        return -1;
    }
    if (me < 0 || me >= job->size) {
        snprintf(err, errlen, "--rank %d: this job has ranks 0..%d", me, job->size - 1);
        return -2;
    }
    int n = peers_read(cfg->peers, job->size, job->addr, me, myhost, sizeof myhost, &port, err, errlen);
    if (n < 0)
        return -1;
    if (n != job->size) {
        snprintf(err, errlen, "--peers lists %d address%s, but this job has %d ranks", n,
                 n == 1 ? "" : "es", job->size);
        return -2;
    }
    net_addr bound;
    if (net_listen(myhost, port, job->size + 16, &job->listen_fd[me], &bound, why, sizeof why) != 0) {
        snprintf(err, errlen, "rank %d: %s", me, why);
        return -1;
    }
    job->token = peers_token(cfg->peers) ^ cfg->hosts_key;
    return 0;
}

/* Wait for one request of this rank's own and let it go; returns its
 * outcome, and the bytes a receive got in *got (when not NULL). */
static int wait_one(rt *r, rt_request *q, size_t *got)
{
    real_rank *rk = r->backend_data;
    rt_request *reqs[1] = {q};
    int rc;
    /* A rank that failed gives up on a peer it has heard nothing from
     * for the timeout -- not even that it is there (a rank 0 that waits
     * for reports says so) -- rather than wait a timeout more: a report
     * larger than the socket buffers would wait on a stopped rank 0. */
    int peer = ((real_req *)q)->peer;
    for (;;) {
        double left = rk->peers[peer].heard_s + rk->job->timeout_s - net_clock_s();
        if (rk->failed && left <= 0) {
            rk->peers[peer].silent = 1; /* nor waited for at the hang-up */
            rc = rt_seterr(r, RT_ETIMEOUT, "%s rank %d: heard nothing from it for %g s",
                           q->is_send ? "send to" : "recv from", peer, rk->job->timeout_s);
            break;
        }
        rc = real_progress_for(r, 1, reqs, rk->failed ? left : -1);
        if (rc != RT_PROGRESS_TIMEOUT)
            break;
    }
    if (rc == RT_OK && q->done)
        rc = q->error;
    else if (rc == RT_OK)
        rc = RT_EIO;
    if (got)
        *got = q->status.bytes;
    real_release(r, q);
    return rc;
}

/* One exact-size message to or from rank 0 of the report: 0 or an RT_E*. */
static int report_part(rt *r, int peer, void *buf, size_t len, int sending)
{
    rt_request *q;
    size_t got = 0;
    int rc = sending ? real_isend(r, peer, REAL_TAG_REPORT, buf, len, &q)
                     : real_irecv(r, peer, REAL_TAG_REPORT, buf, len, &q);
    if (rc == RT_OK)
        rc = wait_one(r, q, sending ? NULL : &got);
    if (rc == RT_OK && !sending && got != len)
        rc = rt_seterr(r, RT_EPROTO, "a report part of %zu bytes, expected %zu", got, len);
    return rc;
}

/* Ranks on several machines share no clock: each takes its origin when a
 * barrier after setup ends, which lines their timelines up to within a
 * message latency. Nothing of the barrier is counted or recorded. */
static int hosts_start(real_rank *rk)
{
    rt *r = &rk->rt;
    int keep = r->record_events;
    r->record_events = 0;
    int rc = rt_barrier(r);
    r->record_events = keep;
    r->bytes_sent = r->messages_sent = 0;
    rk->job->t0 = net_clock_s();
    return rc;
}

/* What a rank tells rank 0 at the end: this head; then its error text and
 * result slot; then its events, in parts of at most REPORT_PART_EVENTS
 * (a frame holds at most REAL_FRAME_MAX_LEN bytes). All as bytes: the
 * ranks run the same build of distlab, so the layouts agree. */
typedef struct report_head {
    int32_t status;
    uint32_t err_bytes;
    uint64_t nevents, bytes_sent, messages, slot_bytes;
    double ended_s;     /* when its function returned, on its clock */
    int32_t after_halt; /* it failed because another rank had */
    int32_t silent;     /* 1 + a rank a wait of its timed out on, silent
                         * since (rank 0 waits no longer for that one's
                         * report); 0: none */
} report_head;

#define REPORT_PART_EVENTS ((size_t)(64u << 20) / sizeof(rt_event))
#define REPORT_MAX_EVENTS ((uint64_t)1 << 32)

static void hosts_report_send(real_rank *rk, int status, double ended_s, const char *err)
{
    rt *r = &rk->rt;
    job_result *res = rk->job->res;
    report_head h = {.status = status, .err_bytes = (uint32_t)strlen(err), .nevents = r->nevents,
                     .bytes_sent = r->bytes_sent, .messages = r->messages_sent,
                     .slot_bytes = res->result_bytes, .ended_s = ended_s,
                     .after_halt = rk->heard_halt};
    for (int p = 0; p < r->size && !h.silent; p++)
        if (rk->peers[p].silent)
            h.silent = p + 1;
    size_t total = h.err_bytes + h.slot_bytes;
    char *body = malloc(total ? total : 1);
    if (!body || h.nevents > REPORT_MAX_EVENTS)
        h.status = RT_ENOMEM, h.err_bytes = 0, h.nevents = 0, total = h.slot_bytes;
    if (body) {
        memcpy(body, err, h.err_bytes);
        memcpy(body + h.err_bytes, job_result_slot(res, r->rank), h.slot_bytes);
    }
    /* a failure here leaves rank 0 to say this rank did not report */
    int rc = report_part(r, 0, &h, sizeof h, 1);
    if (rc == RT_OK)
        rc = body ? report_part(r, 0, body, total, 1) : RT_ENOMEM;
    for (uint64_t k = 0; rc == RT_OK && k < h.nevents; k += REPORT_PART_EVENTS) {
        size_t n = h.nevents - k < REPORT_PART_EVENTS ? (size_t)(h.nevents - k) : REPORT_PART_EVENTS;
        rc = report_part(r, 0, r->events + k, n * sizeof(rt_event), 1);
    }
    free(body);
}

/* What rank 0 learnt of one rank's end. */
typedef struct report_seen {
    int status, after_halt;
    int found_silent; /* it timed out on a rank that was silent, not waiting */
    int silent;       /* it never reported: found silent, given up */
    double ended_s;
    char err[600];
} report_seen;

/* The rest of rank j's report, after its head h: its slot lands in the
 * job's result, its events are appended, its status and error go to
 * *out. Returns 0, or an RT_E* with r->err saying what went wrong. */
static int report_receive(real_rank *rk, int j, const report_head *h, report_seen *out, int *no_memory)
{
    rt *r = &rk->rt;
    job_result *res = rk->job->res;
    int rc = RT_OK;
    if (h->slot_bytes != res->result_bytes || h->err_bytes >= sizeof out->err || h->nevents > REPORT_MAX_EVENTS)
        return rt_seterr(r, RT_EPROTO, "its report does not fit this job (another build of distlab?)");
    size_t total = h->err_bytes + h->slot_bytes;
    char *body = malloc(total ? total : 1);
    rt_event *ev = h->nevents ? malloc(h->nevents * sizeof *ev) : NULL;
    if (!body || (h->nevents && !ev))
        rc = rt_seterr(r, RT_ENOMEM, "no memory for its report (%llu events)", (unsigned long long)h->nevents);
    if (rc == RT_OK)
        rc = report_part(r, j, body, total, 0);
    for (uint64_t k = 0; rc == RT_OK && k < h->nevents; k += REPORT_PART_EVENTS) {
        size_t n = h->nevents - k < REPORT_PART_EVENTS ? (size_t)(h->nevents - k) : REPORT_PART_EVENTS;
        rc = report_part(r, j, ev + k, n * sizeof *ev, 0);
    }
    if (rc == RT_OK) {
        memcpy(out->err, body, h->err_bytes);
        out->err[h->err_bytes] = '\0';
        out->status = h->status;
        out->ended_s = h->ended_s;
        out->after_halt = h->after_halt;
        out->found_silent = h->silent > 0;
        memcpy(job_result_slot(res, j), body + h->err_bytes, h->slot_bytes);
        for (uint64_t k = 0; k < h->nevents; k++)
            ev[k].rank = j; /* whatever it said */
        if (job_collect_report(res, j, RT_OK, NULL, ev, h->nevents, h->bytes_sent, h->messages) != 0)
            *no_memory = j;
    }
    free(body);
    free(ev);
    return rc;
}

static void no_report(report_seen *seen, int j, int status, double now_s, const char *why)
{
    seen[j] = (report_seen){.status = status, .ended_s = now_s};
    snprintf(seen[j].err, sizeof seen[j].err, "rank %d ended without reporting to rank 0: %s", j, why);
}

/* Stop waiting for rank k's report, which rank `who` found silent, once
 * rank 0 too has heard nothing from k for --timeout: at once if so
 * already, else (*wake lowered to that time) later -- hearing from k
 * meanwhile shows it alive and moves the time on. Rank 0's own last word
 * from k may be a little later than who's, and refusing then would leave
 * rank 0 to wait out a timeout of its own. Returns 1 if it gave up. */
static int report_give_up(real_rank *rk, report_seen *seen, rt_request **pend, int k, int who, double *wake)
{
    rt *r = &rk->rt;
    char why[200];
    double due = rk->peers[k].heard_s + rk->job->timeout_s;
    if (due > net_clock_s()) {
        if (due < *wake)
            *wake = due;
        return 0;
    }
    snprintf(why, sizeof why, "rank %d heard nothing from it for %g s", who, rk->job->timeout_s);
    no_report(seen, k, RT_ETIMEOUT, real_now(r), why);
    seen[k].silent = 1;
    real_release(r, pend[k]);
    pend[k] = NULL;
    rk->peers[k].silent = 1; /* nor waited for at the hang-up */
    return 1;
}

/* Rank 0 gathers every other rank's report into the job's result, in the
 * order they come: the heads are received all at once, so a stopped rank
 * delays no other's report, and a report that names a rank found silent
 * (a wait on it timed out) ends the wait for that rank's -- a stopped
 * rank costs one --timeout, not one more. The job's error is the first
 * failure (by each rank's clock, which agree to within a message
 * latency) that did not follow from another rank's halt; a rank that
 * never reported failed when rank 0 found it gone. */
static void hosts_report_gather(real_rank *rk, int status, double ended_s, const char *err)
{
    rt *r = &rk->rt;
    job_result *res = rk->job->res;
    report_seen *seen = calloc((size_t)r->size, sizeof *seen);
    report_head *heads = calloc((size_t)r->size, sizeof *heads);
    rt_request **pend = calloc((size_t)r->size, sizeof *pend);
    int *named = calloc((size_t)r->size, sizeof *named); /* who found it silent; -1: none */
    if (!seen || !heads || !pend || !named) {
        job_fail(res, "rank 0: no memory to gather the reports of %d ranks", r->size);
        goto out;
    }
    seen[0] = (report_seen){.status = status, .after_halt = rk->heard_halt, .ended_s = ended_s};
    for (int k = 1; k < r->size; k++)
        seen[0].found_silent |= rk->peers[k].silent;
    snprintf(seen[0].err, sizeof seen[0].err, "%s", err[0] ? err : rt_strerror(status));
    int first = status != RT_OK ? 0 : -1, no_memory = -1, left = 0, failing = status != RT_OK;
    for (int j = 1; j < r->size; j++) {
        named[j] = -1;
        if (real_irecv(r, j, REAL_TAG_REPORT, &heads[j], sizeof heads[j], &pend[j]) == RT_OK)
            left++;
        else
            no_report(seen, j, RT_EIO, real_now(r), rt_error(r));
    }
    while (left > 0) {
        /* ranks found silent, by rank 0 itself or by a report; once the
         * job has failed, any rank rank 0 hears nothing from (a rank
         * that waits says it is there) */
        double wake = INFINITY;
        for (int k = 1; k < r->size; k++) {
            if (pend[k] && named[k] < 0 && (rk->peers[k].silent || failing))
                named[k] = 0;
            if (pend[k] && named[k] >= 0 && report_give_up(rk, seen, pend, k, named[k], &wake))
                left--;
        }
        if (left == 0)
            break;
        int rc = real_progress_for(r, r->size, pend, isfinite(wake) ? wake - net_clock_s() : -1);
        if (rc == RT_PROGRESS_TIMEOUT)
            continue; /* a silent rank's time is up */
        if (rc != RT_OK) { /* nothing came for --timeout */
            for (int j = 1; j < r->size; j++)
                if (pend[j]) {
                    no_report(seen, j, RT_ETIMEOUT, real_now(r), rt_error(r));
                    real_release(r, pend[j]);
                    pend[j] = NULL;
                }
            break;
        }
        for (int j = 1; j < r->size; j++) {
            if (!pend[j] || !pend[j]->done)
                continue;
            rc = pend[j]->error;
            if (rc != RT_OK)
                rt_seterr(r, rc, "%s", ((real_req *)pend[j])->msg);
            else if (pend[j]->status.bytes != sizeof heads[j])
                rc = rt_seterr(r, RT_EPROTO, "a report head of %zu bytes, expected %zu", pend[j]->status.bytes,
                               sizeof heads[j]);
            real_release(r, pend[j]);
            pend[j] = NULL;
            left--;
            if (rc == RT_OK)
                rc = report_receive(rk, j, &heads[j], &seen[j], &no_memory);
            if (rc != RT_OK) {
                no_report(seen, j, rc, real_now(r), rt_error(r));
                continue;
            }
            int quiet = heads[j].silent - 1;
            if (quiet > 0 && quiet < r->size && named[quiet] < 0)
                named[quiet] = j;
            failing |= seen[j].status != RT_OK;
        }
    }
    for (int j = 1; j < r->size; j++) {
        if (seen[j].status == RT_OK)
            continue;
        /* a rank made to fail is the cause of the rest; a failure of its
         * own beats one that followed a halt; a wait on a silent (stopped)
         * rank beats one on a rank that waited itself, whichever timed out
         * first; then the earlier */
        const report_seen *a = &seen[j], *b = first >= 0 ? &seen[first] : NULL;
        int a_killed = a->status == RT_EKILLED, b_killed = b && b->status == RT_EKILLED;
        if (!b || a_killed > b_killed ||
            (a_killed == b_killed && a->after_halt < b->after_halt) ||
            (a_killed == b_killed && a->after_halt == b->after_halt &&
             (a->found_silent > b->found_silent ||
              (a->found_silent == b->found_silent && a->ended_s < b->ended_s))))
            first = j;
    }
    if (first >= 0) {
        /* and which ranks are stuck, when that is not the error itself */
        char also[sizeof res->error] = "";
        for (int j = 1; j < r->size; j++)
            if (seen[j].silent && j != first)
                snprintf(also + strlen(also), sizeof also - strlen(also), "; %s", seen[j].err);
        job_fail(res, "%s%s", seen[first].err[0] ? seen[first].err : rt_strerror(seen[first].status), also);
        rk->failed = 1; /* the job did: rank 0 hangs up as a failed rank */
    }
    if (no_memory >= 0)
        job_fail(res, "rank 0: no memory for the events of rank %d", no_memory);
    for (int j = 1; j < r->size; j++)
        res->rank_status[j] = seen[j].status;
out:
    free(seen);
    free(heads);
    free(pend);
    free(named);
}

static void hosts_report(real_rank *rk, int status)
{
    rt *r = &rk->rt;
    char err[sizeof r->err];
    int keep = r->record_events;
    double ended_s = real_now(r);
    memcpy(err, r->err, sizeof err); /* what went wrong in the rank, not here */
    r->record_events = 0;
    /* what the function left behind may point at memory that is gone now */
    real_engine_abandon(rk);
    if (status != RT_OK)
        real_engine_halt(rk); /* whoever waits on this rank hears it now */
    /* (the halt's sends may have set r->err: the rank's own goes out) */
    if (r->rank == 0)
        hosts_report_gather(rk, status, ended_s, err);
    else if (!rk->peers[0].torn)
        hosts_report_send(rk, status, ended_s, err);
    r->record_events = keep;
    memcpy(r->err, err, sizeof err);
}

/* This process's one rank: rank 0 ends with the whole job's result, any
 * other rank with its own. */
static void run_host(real_job *job, real_rank *rk)
{
    int status = rank_run(rk);
    if (rk->rt.rank != 0)
        job->res->only_rank = rk->rt.rank;
    if (job_collect_rank(job->res, &rk->rt, status) != 0)
        job_fail(job->res, "rank %d: no memory to gather its events", rk->rt.rank);
    rt_fini(&rk->rt);
}

/* ---- threads ---- */

static void *rank_thread(void *p)
{
    real_rank *rk = p;
    real_job *job = rk->job;
    int status = rank_run(rk);
    pthread_mutex_lock(&job->lock);
    if (job_collect_rank(job->res, &rk->rt, status) != 0)
        job_fail(job->res, "rank %d: no memory to gather its events", rk->rt.rank);
    pthread_mutex_unlock(&job->lock);
    rt_fini(&rk->rt);
    return NULL;
}

static void run_threads(real_job *job, real_rank *ranks)
{
    pthread_t *th = calloc((size_t)job->size, sizeof *th);
    int started = 0;
    if (!th) {
        job_fail(job->res, "no memory for %d threads", job->size);
        return;
    }
    for (; started < job->size; started++) {
        int rc = pthread_create(&th[started], NULL, rank_thread, &ranks[started]);
        if (rc != 0) {
            job_fail(job->res, "cannot start the thread of rank %d: %s", started, strerror(rc));
            /* the ranks that did start wait for connections from the missing
             * ones until the setup deadline (--timeout), then fail; closing
             * the missing ranks' listeners refuses those that would connect */
            for (int i = started; i < job->size; i++) {
                close(job->listen_fd[i]);
                job->listen_fd[i] = -1;
            }
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
}

/* ---- processes ---- */

static void reset_signals(void)
{
    sigset_t all;
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

/* A rank process: it dies with its launcher (the kernel sends SIGKILL
 * when the launcher's thread ends; the getppid check covers a launcher
 * that died before the prctl), runs its rank, appends its events to its
 * memory file, and leaves with _exit. */
static void child_main(real_job *job, real_rank *rk, pid_t launcher, int events_fd)
{
    int me = rk->rt.rank;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != launcher)
        _exit(4);
    reset_signals();
    for (int j = 0; j < job->size; j++)
        if (j != me)
            close(job->listen_fd[j]);
    int status = rank_run(rk);
    int rc = job_collect_rank(job->res, &rk->rt, status) == 0 ? 0 : 3;
    if (rc == 0 && job_events_write_fd(job->res, events_fd) != 0)
        rc = 3;
    fflush(NULL); /* what the rank printed, which _exit would drop */
    _exit(rc);
}

/* Put the first abnormal end ahead of whatever the other ranks reported:
 * their errors (a peer that hung up) are its consequences. */
static void fail_first(real_job *job, const char *what, int *first)
{
    job_shared *sh = job->res->shared;
    char seen[sizeof sh->error] = "";
    if (!*first) {
        job_fail(job->res, "%s", what);
        return;
    }
    *first = 0;
    if (sh->failed)
        snprintf(seen, sizeof seen, "%s", sh->error);
    sh->failed = 0;
    job_fail(job->res, "%s%s%s", what, seen[0] ? "; then: " : "", seen);
}

static void child_died(real_job *job, int rank, int wstatus, int *first)
{
    char how[128], what[200];
    job->res->rank_status[rank] = RT_EIO;
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 3)
        snprintf(how, sizeof how, "could not write its events");
    else
        job_describe_exit(wstatus, how, sizeof how);
    snprintf(what, sizeof what, "rank %d %s", rank, how);
    fail_first(job, what, first);
}

/* The watchdog: kill every rank that has shown no sign of life for
 * stale_s (see real_beat), and name them in the job's error. Returns when
 * the next rank would be due, at the latest now + 1 s.
 *
 * While the job runs, stale_s is twice --timeout plus 1 s: a rank may
 * compute that long between runtime calls without a peer minding. Once a
 * rank has ended badly or reported an error the job has failed, and the
 * survivors only have to
 * notice and leave; each of them waits in the backend, which beats every
 * quarter --timeout (the alive frames), so a rank silent for half of it
 * plus 1 s is stopped or hung, and the launcher ends about one --timeout
 * after a rank stopped, as a hosts job does. */
static double kill_stuck(real_job *job, const pid_t *pid, const struct pollfd *ends, int n,
                         int *stuck, int *first)
{
    const job_shared *sh = job->res->shared;
    int failed; /* a rank ended badly, or said it failed */
    __atomic_load(&sh->failed, &failed, __ATOMIC_ACQUIRE);
    failed = failed || !*first;
    double stale_s = failed ? job->timeout_s / 2 + 1 : 2 * job->timeout_s + 1;
    double now = net_clock_s(), next = now + 1;
    char list[160] = "", what[400];
    size_t used = 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (ends[i].fd < 0 || stuck[i])
            continue;
        double beat;
        __atomic_load(&job->beat[i], &beat, __ATOMIC_RELAXED);
        if (beat + stale_s > now) {
            if (beat + stale_s < next)
                next = beat + stale_s;
            continue;
        }
        kill(pid[i], SIGKILL); /* a stopped process dies of it too */
        stuck[i] = 1;
        job->res->rank_status[i] = RT_ETIMEOUT;
        if (used < sizeof list) {
            int k = snprintf(list + used, sizeof list - used, "%s%d", count ? ", " : "", i);
            used += k > 0 ? (size_t)k : 0;
        }
        count++;
    }
    if (count) {
        snprintf(what, sizeof what,
                 "rank%s %s showed no sign of life for %g s (%s --timeout, plus 1 s: stopped or "
                 "hung?), and the launcher killed %s",
                 count > 1 ? "s" : "", list, stale_s, failed ? "half of" : "twice", count > 1 ? "them" : "it");
        fail_first(job, what, first);
    }
    return next;
}

/* Fork a child per rank, reap the children in the order they end (killing
 * any that stops showing life), then gather the events each one wrote. */
static void run_procs(real_job *job, real_rank *ranks)
{
    job_result *res = job->res;
    size_t beat_bytes = (size_t)job->size * sizeof *job->beat;
    pid_t *pid = calloc((size_t)job->size, sizeof *pid);
    struct pollfd *ends = calloc((size_t)job->size, sizeof *ends);
    int *events_fd = malloc((size_t)job->size * sizeof *events_fd);
    int *stuck = calloc((size_t)job->size, sizeof *stuck);
    int started = 0, first = 1;
    pid_t launcher = getpid();
    job->beat = mmap(NULL, beat_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (job->beat == MAP_FAILED)
        job->beat = NULL;
    if (!pid || !ends || !events_fd || !stuck || !job->beat) {
        job_fail(res, "no memory for %d processes", job->size);
        goto out;
    }
    for (int i = 0; i < job->size; i++)
        events_fd[i] = -1;
    fflush(NULL);
    for (; started < job->size; started++) {
        int fds[2];
        char name[32];
        snprintf(name, sizeof name, "distlab-events-%d", started);
        events_fd[started] = memfd_create(name, MFD_CLOEXEC);
        if (events_fd[started] < 0) {
            job_fail(res, "memory file for the events of rank %d: %s", started, strerror(errno));
            break;
        }
        /* the rank's line to the launcher: it reads EOF when the rank is
         * gone, and carries the rank's rt_shared requests */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
            job_fail(res, "socket pair for rank %d: %s", started, strerror(errno));
            break;
        }
        rank_init(job, &ranks[started], started);
        ranks[started].launcher_fd = fds[1];
        job->beat[started] = net_clock_s();
        pid[started] = fork();
        if (pid[started] == 0) {
            close(fds[0]);
            child_main(job, &ranks[started], launcher, events_fd[started]);
        }
        close(fds[1]);
        ends[started] = (struct pollfd){.fd = fds[0], .events = POLLIN};
        if (pid[started] < 0) {
            job_fail(res, "fork for rank %d: %s", started, strerror(errno));
            close(fds[0]);
            ends[started].fd = -1;
            break;
        }
    }
    for (int i = 0; i < job->size; i++) {
        close(job->listen_fd[i]);
        job->listen_fd[i] = -1;
    }
    if (started < job->size)
        for (int i = 0; i < started; i++)
            kill(pid[i], SIGKILL);

    /* Reap in the order the children end: a rank's socket reads EOF when
     * it is gone. Between ends, the watchdog, and rt_shared requests. */
    for (int left = started; left > 0;) {
        double next = kill_stuck(job, pid, ends, started, stuck, &first);
        if (poll(ends, (nfds_t)started, net_poll_ms(next)) < 0 && errno != EINTR) {
            job_fail(res, "poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < started; i++) {
            if (ends[i].fd < 0 || !ends[i].revents)
                continue;
            if (real_shared_serve(job, ends[i].fd) == 0)
                continue;
            close(ends[i].fd);
            ends[i].fd = -1;
            left--;
            int wstatus;
            while (waitpid(pid[i], &wstatus, 0) < 0 && errno == EINTR)
                ;
            /* (after a failed launch the survivors were killed on purpose,
             * and the watchdog named those it killed) */
            if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) && started == job->size && !stuck[i])
                child_died(job, i, wstatus, &first);
        }
    }
    for (int i = 0; i < started; i++) {
        if (ends[i].fd >= 0) { /* poll failed: nothing outlives the launcher */
            kill(pid[i], SIGKILL);
            close(ends[i].fd);
            waitpid(pid[i], NULL, 0);
        }
        if (res->rank_status[i] != RT_EIO && !stuck[i] && job_events_read_fd(res, events_fd[i]) != 0)
            job_fail(res, "cannot read the events of rank %d", i);
    }
out:
    if (events_fd)
        for (int i = 0; i < job->size; i++)
            if (events_fd[i] >= 0)
                close(events_fd[i]);
    if (job->beat)
        munmap(job->beat, beat_bytes);
    job->beat = NULL;
    free(pid);
    free(ends);
    free(events_fd);
    free(stuck);
}

/* ---- the job ---- */

/* Threads hold every connection of the job in one process: about size^2
 * descriptors, more than the usual soft limit of 1024 beyond ~30 ranks. */
/* Raise the soft limit on open files to the hard one, and say whether the
 * job's sockets fit: with threads one process holds both ends of every
 * connection -- P listeners and P (P + 1) sockets -- with processes each
 * holds P + 1 of its own plus the P listeners it inherited. */
static int fit_fd_limit(const job_config *cfg, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* threads: every connection's both ends; procs: a rank's own plus the
     * listeners it inherited; hosts: a rank's own */
    real_launch launch = real_settings(cfg)->launch;
    int threads = launch == REAL_LAUNCH_THREADS;
    double p = cfg->ranks;
    double need = threads ? p * (p + 2) : launch == REAL_LAUNCH_PROCS ? 2 * p + 1 : p + 2;
    if (rl.rlim_cur != RLIM_INFINITY && need + 64 > (double)rl.rlim_cur) {
        snprintf(err, errlen, "%d ranks need about %.0f open sockets in %s, but the limit is %llu%s",
                 cfg->ranks, need, threads ? "this process" : "each process",
                 (unsigned long long)rl.rlim_cur, threads ? " (try --launch procs, or fewer ranks)" : "");
        return -1;
    }
    return 0;
}

int real_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    const real_config *rc = real_settings(cfg);
    real_job job = {.cfg = cfg, .res = res, .fn = fn, .arg = arg, .size = cfg->ranks,
                    .procs = rc->launch != REAL_LAUNCH_THREADS,
                    .hosts = rc->launch == REAL_LAUNCH_HOSTS};
    const char *host = rc->listen_addr && *rc->listen_addr ? rc->listen_addr : "127.0.0.1";
    real_rank *ranks = NULL;
    char err[256];
    job.t0 = net_clock_s();
    job.timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60.0;
    job.spin_s = real_spin_s(cfg);
    job.bind = real_binds(cfg);
    if (getrandom(&job.token, sizeof job.token, GRND_NONBLOCK) != (ssize_t)sizeof job.token)
        job.token = (uint64_t)getpid() << 32 ^ (uint64_t)(job.t0 * 1e9);
    pthread_mutex_init(&job.lock, NULL);
    if (fit_fd_limit(cfg, err, sizeof err) != 0) {
        job_fail(res, "%s", err);
        pthread_mutex_destroy(&job.lock);
        return -1;
    }

    job.listen_fd = malloc((size_t)job.size * sizeof *job.listen_fd);
    job.addr = calloc((size_t)job.size, sizeof *job.addr);
    ranks = calloc((size_t)job.size, sizeof *ranks);
    if (!job.listen_fd || !job.addr || !ranks) {
        job_fail(res, "no memory for %d ranks", job.size);
        goto out;
    }
    for (int i = 0; i < job.size; i++)
        job.listen_fd[i] = -1;
    if (job.hosts) {
        int bad = hosts_setup(&job, rc, err, sizeof err);
        if (bad != 0) {
            job_fail(res, "%s", err);
            res->bad_input = bad == -2;
            goto out;
        }
        rank_init(&job, &ranks[rc->host_rank], rc->host_rank);
        run_host(&job, &ranks[rc->host_rank]);
        goto out;
    }
    for (int i = 0; i < job.size; i++) {
        if (net_listen(host, 0, job.size + 16, &job.listen_fd[i], &job.addr[i], err, sizeof err) != 0) {
            job_fail(res, "rank %d: %s", i, err);
            goto out;
        }
    }
    if (job.procs) {
        run_procs(&job, ranks);
    } else {
        for (int i = 0; i < job.size; i++)
            rank_init(&job, &ranks[i], i);
        run_threads(&job, ranks);
    }
out:
    ((job_shared *)res->shared)->seconds = net_clock_s() - job.t0;
    if (job.listen_fd)
        for (int i = 0; i < job.size; i++)
            if (job.listen_fd[i] >= 0)
                close(job.listen_fd[i]);
    real_shared_job_fini(&job);
    pthread_mutex_destroy(&job.lock);
    free(job.listen_fd);
    free(job.addr);
    free(ranks);
    return ((job_shared *)res->shared)->failed ? -1 : 0;
}
