/* sim.c -- runtime.h on SimGrid: one actor per rank, simulated time.
 *
 * How messages map onto SimGrid:
 *   - Each (source, destination) pair has its own mailbox, "src>dst", so
 *     SimGrid's FIFO order per mailbox is exactly MPI's ordering guarantee
 *     per pair. Tags are matched here: a receiving rank keeps at most one
 *     get posted per source, files what arrives in an arrival queue, and
 *     matches posted receives against it in order.
 *   - The bytes move when the receiver asks for them: a transfer starts
 *     once a receive from that source is posted, as in MPI's rendezvous
 *     protocol for large messages. So a receiver's link is never flooded by
 *     messages it has not asked for yet, and a collective's rounds take
 *     exactly the time of its textbook cost formula.
 *   - rt_send (bsend here) copies its payload and completes at once, like
 *     MPI_Bsend, so two ranks sending to each other never wait for one
 *     another. rt_isend completes when its transfer does, so a rank that
 *     sends to several peers in turn pays for each transfer in turn.
 *   - An any-source receive posts a get on every source's mailbox, so
 *     whichever message really completes first wins: the simulated times
 *     stay exact, not only the order.
 *   - The payload is a sim_msg carrying a private copy of the data (or no
 *     data at all for size-only messages); the receiver copies it out and
 *     gives it back. Messages and requests are reused from free lists, so
 *     a size-only message costs no malloc at all.
 *   - A rank keeps a sim_peer for each peer it has talked to (found through
 *     a small hash table), not arrays over all ranks: a ring's rank holds
 *     two, and the job's state grows with the messages' pattern, not as
 *     the square of its size.
 *   - A failure (--fail RANK@TIME) is made to look as it does on real
 *     sockets; see "failures" below. --degrade changes a link's bandwidth
 *     for a while, through SimGrid.
 * A simulation runs in a child process made by sim_backend.c; everything
 * here is process-global state of that child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <simgrid/mailbox.h>
#include <simgrid/semaphore.h>
#include <xbt/dynar.h>

#include "core/job_internal.h"
#include "core/rt_core.h"
#include "sim/net_analytic.h"
#include "sim/sim_backend.h"
#include "sim/sim_platform.h"
#include "sim/sim_put.h"
#include "sim/sim_timer.h"
#include "sim/sim_waitfor.h"

typedef struct sim_msg {
    int src, tag;
    int death;  /* a failed rank's last word (see "failures" below) */
    size_t len;
    void *data; /* NULL for size-only messages */
    struct sim_req *sreq; /* analytic: the isend waiting on it, or NULL */
    double sent_at;       /* the sender's clock at the send (rank_now) */
    long long order;      /* analytic: its flow's place among one instant's (an_enqueue) */
    struct sim_msg *next;
} sim_msg;

typedef struct sim_req {
    rt_request h;
    void *buf;        /* receive buffer */
    sg_comm_t comm;   /* isend: the transfer, until it completes */
    sim_msg *amsg;    /* analytic isend: its message, until it is received */
    struct sim_req *next; /* posted-receive list */
} sim_req;

/* What a rank keeps about one peer, made when they first exchange a
 * message. It never moves once made: SimGrid stores a get's payload
 * pointer in got while the get is outstanding. */
typedef struct sim_peer {
    int rank;
    /* --net analytic: the pair rank -> owner, kept by the receiver; what
     * a message's end touches first, in one cache line */
    int owner;            /* the rank whose record this is */
    int armed;            /* a receive from it is posted (SimGrid: a get) */
    int hold;             /* its last transfer ended and nothing re-armed it */
    int in_held;          /* it sits in the owner's held list */
    int nposted;          /* the owner's posted receives naming this source */
    sim_msg *flowing;     /* the transfer under way, or NULL */
    sim_msg *done_msg;    /* a transfer that ended, for the owner to file */
    sim_msg *queue, *queue_tail; /* sent, not started: the pair's FIFO */
    double armed_at;      /* the owner's clock (rank_now) when it armed the pair */
    int *route;           /* link ids from rank's host to owner's, made lazily */
    int nroute;           /* -1: not read yet */
    int route_few[4];     /* route's room for a short one (a cluster's is 2) */
    double route_lat;
    /* SimGrid's comms (the other nets) */
    int active_at;        /* where it sits in the rank's active list, or -1 */
    sg_mailbox_t in;      /* "rank>me", made lazily */
    sg_mailbox_t out;     /* "me>rank", made lazily */
    sg_comm_t get;        /* the posted get from it, or NULL */
    const void *get_key;  /* its key in sim_waitfor's watch (sim_comm_watch) */
    void *got;            /* where that get stores its sim_msg */
} sim_peer;

typedef struct sim_rank {
    /* What a message touches comes first, beside rt's own per-message
     * fields: at 16,384 ranks every line of a rank's record that a step
     * of a ring reads is a cache miss. */
    struct an_waiter *waiters; /* analytic: its actors suspended in a wait (the rank, its companion) */
    double ahead;         /* its own clock, when it runs ahead of SimGrid's (exec_flops) */
    long long nsent;      /* its analytic messages so far, for their order */
    long long nsent_async; /* the same, its async companions' (one at a time: rt_async_post) */
    int companions;       /* its companions started and not yet joined (sim_spawn, sim_join) */
    sim_peer *last_peer;  /* the one peer_of found last */
    sim_req *posted, *posted_tail;    /* unmatched receives, post order */
    sim_msg *arrived, *arrived_tail;  /* unmatched messages, arrival order */
    sim_peer **ready;     /* analytic: pairs whose transfer ended, in that order */
    int nready, cap_ready;
    int sends_out;        /* its analytic isends not yet complete */
    int owed_recvs;       /* messages received, their overhead not yet charged */
    int woken;            /* its last wait was slept through (sim_config.woken_model_factor) */
    double first_sent;    /* in its wait under way: the earliest send of the messages it got
                           * (S.track_sleep; INFINITY: none yet) */
    int dead;             /* its host went down (--fail) at dead_at */
    int killed;           /* ... made to by a call of its own (sim_rank_fail: --kill-rank) */
    int any_armed;        /* analytic: an any-source receive armed every pair to it */
    int nposted_any;      /* posted any-source receives */
    int host;             /* index into the job's host list */
    struct sim_death *heard; /* the failed ranks whose last word came */
    sim_peer *ready_few[2]; /* ready's first room, in this line (a ring needs one) */
    rt r;
    sg_actor_t actor;
    sim_peer **peers;     /* open addressing by rank: cap_peers slots (a power of 2) */
    int npeers, cap_peers;
    sim_peer **active;    /* the peers with a get posted, nactive of them */
    int nactive, cap_active;
    sg_comm_t *comms;     /* scratch for wait-any, when few does not do */
    int *who;             /* what each entry of comms is */
    int ncomms;
    sg_comm_t few_comms[4]; /* the usual case, beside the rest of the rank */
    int few_who[4];
    int status;
    int finished;
    sim_peer **held;      /* analytic: pairs that had hold set, each once, for the next
                           * any-source arm (at most one entry per peer) */
    int nheld, cap_held;
    double dead_at;
    sg_comm_t *orphans;   /* sends given up on while in flight, still referenced (sim_release) */
    int norphans, cap_orphans;
} sim_rank;

/* A failed peer, as a rank heard of it: receives from it fail from then
 * on, and the first any-source receive fails once (reported). */
typedef struct sim_death {
    int src;
    int reported;
    struct sim_death *next;
} sim_death;

typedef struct shared_block {
    int host;
    char *name;
    size_t bytes;
    void *mem;
    struct shared_block *next;
} shared_block;

static struct {
    const job_config *cfg;
    job_main fn;
    void *arg;
    job_result *res;
    int nranks;
    sim_rank *ranks;
    sg_host_t *hosts;
    size_t nhosts;
    shared_block *shared;
    sim_msg *free_msgs;   /* given back, for reuse (the actors share one thread) */
    sim_req *free_reqs;
    /* --net analytic: the flow model and the actor that keeps its time */
    int analytic;
    na_net *net;
    sim_timer *net_timer; /* when the model's next event is handled */
    double net_wake_at;   /* its date, INFINITY when none is set */
    int nfinished;        /* ranks whose function returned */
    int cpu_timer;        /* computations may be timers (exec_flops) */
    int run_ahead;        /* ranks may run ahead of SimGrid's clock (exec_flops) */
    int track_sleep;      /* whether a wait was slept through matters (note_woken) */
    uint64_t nran_ahead;  /* the computations that did (job_result.ran_ahead) */
    int *host_actors;     /* per host: the actors that may compute there */
    double *host_speed;   /* per host: one core's flop/s (fixed when cpu_timer) */
    int net_failed;
    int undeclared_fail;  /* the first rank that called sim_rank_fail without ranks_may_fail, or -1 */
    sim_peer **ended;     /* the pairs whose transfer ended now (an_note_done) */
    size_t nended, cap_ended;
    const void **woken;   /* the waiters resumed since the last net_tick, in order (woken_note) */
    size_t nwoken, cap_woken;
} S;

static sim_rank *me(rt *r) { return (sim_rank *)((char *)r - offsetof(sim_rank, r)); }

/* ---- free lists ---- */

static sim_msg *msg_new(void)
{
    sim_msg *m = S.free_msgs;
    if (!m)
        return calloc(1, sizeof *m);
    S.free_msgs = m->next;
    memset(m, 0, sizeof *m);
    return m;
}

/* Give back a message and its data (NULL: nothing). */
static void msg_free(sim_msg *m)
{
    if (!m)
        return;
    free(m->data);
    m->data = NULL;
    m->next = S.free_msgs;
    S.free_msgs = m;
}

static sim_req *req_new(void)
{
    sim_req *q = S.free_reqs;
    if (!q)
        return calloc(1, sizeof *q);
    S.free_reqs = q->next;
    memset(q, 0, sizeof *q);
    return q;
}

static void req_free(sim_req *q)
{
    if (!q)
        return;
    q->next = S.free_reqs;
    S.free_reqs = q;
}

static void free_lists(void)
{
    while (S.free_msgs) {
        sim_msg *m = S.free_msgs;
        S.free_msgs = m->next;
        free(m);
    }
    while (S.free_reqs) {
        sim_req *q = S.free_reqs;
        S.free_reqs = q->next;
        free(q);
    }
}

/* ---- peers ---- */

static unsigned peer_hash(int rank, int cap) { return ((unsigned)rank * 2654435761u) & (unsigned)(cap - 1); }

static void peer_insert(sim_peer **tab, int cap, sim_peer *p)
{
    unsigned h = peer_hash(p->rank, cap);
    while (tab[h])
        h = (h + 1) & (unsigned)(cap - 1);
    tab[h] = p;
}

/* The rank's record of peer rank, made on first use; NULL when out of
 * memory. */
static sim_peer *peer_of(sim_rank *s, int rank)
{
    /* a message's sender, its receive's posting and its filing ask one
     * rank for the same peer in turn: at thousands of ranks the table's
     * slot was a cache miss each time */
    if (s->last_peer && s->last_peer->rank == rank)
        return s->last_peer;
    if (s->cap_peers) {
        for (unsigned h = peer_hash(rank, s->cap_peers);; h = (h + 1) & (unsigned)(s->cap_peers - 1)) {
            sim_peer *p = s->peers[h];
            if (!p)
                break;
            if (p->rank == rank)
                return s->last_peer = p;
        }
    }
    if (2 * (s->npeers + 1) > s->cap_peers) { /* keep it at most half full */
        int cap = s->cap_peers ? 2 * s->cap_peers : 8;
        sim_peer **tab = calloc((size_t)cap, sizeof *tab);
        if (!tab)
            return NULL;
        for (int i = 0; i < s->cap_peers; i++)
            if (s->peers[i])
                peer_insert(tab, cap, s->peers[i]);
        free(s->peers);
        s->peers = tab;
        s->cap_peers = cap;
    }
    sim_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->rank = rank;
    p->active_at = -1;
    p->owner = s->r.rank;
    p->nroute = -1;
    peer_insert(s->peers, s->cap_peers, p);
    s->npeers++;
    return s->last_peer = p;
}

/* A receive joins (+1) or leaves (-1) the posted list: the counts that let
 * --net analytic's wait re-arm a filed pair without walking the list. */
static void posted_count(sim_rank *s, const sim_req *q, int delta)
{
    if (q->h.peer == RT_ANY_SOURCE) {
        s->nposted_any += delta;
        return;
    }
    sim_peer *p = peer_of(s, q->h.peer);
    if (p)
        p->nposted += delta;
}

/* ---- mailboxes ---- */

static sg_mailbox_t pair_mailbox(int src, int dst)
{
    char name[48];
    snprintf(name, sizeof name, "%d>%d", src, dst);
    return sg_mailbox_by_name(name);
}

/* The mailbox to dst; NULL when out of memory. */
static sg_mailbox_t out_mailbox(sim_rank *s, int dst)
{
    sim_peer *p = peer_of(s, dst);
    if (!p)
        return NULL;
    if (!p->out)
        p->out = pair_mailbox(s->r.rank, dst);
    return p->out;
}

/* Have a get outstanding from src; -1 when out of memory. */
static int post_get(sim_rank *s, int src)
{
    sim_peer *p = peer_of(s, src);
    if (!p)
        return -1;
    if (p->get)
        return 0;
    if (s->nactive == s->cap_active) {
        int cap = s->cap_active ? 2 * s->cap_active : 4;
        sim_peer **a = realloc(s->active, (size_t)cap * sizeof *a);
        if (!a)
            return -1;
        s->active = a;
        s->cap_active = cap;
    }
    if (!p->in)
        p->in = pair_mailbox(src, s->r.rank);
    p->get = sg_mailbox_get_async(p->in, &p->got);
    p->get_key = sim_comm_watch(p->get);
    p->active_at = s->nactive;
    s->active[s->nactive++] = p;
    return 0;
}

/* The get from p completed (and was released by the wait): take its
 * message. */
static sim_msg *retire_get(sim_rank *s, sim_peer *p)
{
    int at = p->active_at;
    sim_peer *last = s->active[--s->nactive];
    s->active[at] = last;
    last->active_at = at;
    p->active_at = -1;
    sim_comm_unwatch(p->get_key);
    p->get = NULL;
    p->get_key = NULL;
    sim_msg *m = p->got;
    p->got = NULL;
    return m;
}

/* Make sure every posted receive has a get outstanding on each mailbox it
 * could be satisfied from; -1 when out of memory. */
static int post_gets_for(sim_rank *s, const sim_req *q)
{
    if (q->h.peer != RT_ANY_SOURCE)
        return post_get(s, q->h.peer);
    for (int src = 0; src < s->r.size; src++)
        if (post_get(s, src) != 0)
            return -1;
    return 0;
}

/* ---- matching ---- */

static void complete_recv(sim_rank *s, sim_req *q, sim_msg *m)
{
    q->h.status = (rt_status){.source = m->src, .tag = m->tag, .bytes = m->len};
    q->h.error = RT_OK;
    if (m->len > q->h.bytes) {
        q->h.error = rt_seterr(&s->r, RT_ETRUNC, "recv: %zu-byte message from rank %d (tag %d) "
                               "does not fit the %zu-byte buffer", m->len, m->src, m->tag, q->h.bytes);
    } else if (q->buf && m->data) {
        memcpy(q->buf, m->data, m->len);
    }
    q->h.done = 1;
    s->owed_recvs++;
    msg_free(m);
}

/* The rank's own clock: SimGrid's, or later while the rank runs ahead. */
static double rank_now(const sim_rank *s)
{
    double now = sim_clock();
    return s->ahead > now ? s->ahead : now;
}

static void exec_resume(void *arg) { sg_actor_resume(arg); }

/* Suspend the calling actor until the simulated date; -1 when out of
 * memory (nothing waited). */
static int wait_until(double date)
{
    sg_actor_t self = sg_actor_self();
    sim_timer *t = sim_timer_at(date, exec_resume, self);
    if (!t)
        return -1;
    sg_actor_suspend(self);
    return 0;
}

/* Bring a rank that runs ahead back to SimGrid's clock: before it does
 * anything that others could see at the wrong time. */
static void catch_up(sim_rank *s)
{
    if (s->ahead > sim_clock() && wait_until(s->ahead) != 0)
        sg_actor_sleep_until(s->ahead);
    s->ahead = 0;
}

/* A computation of flops on the calling actor's host. Under --net
 * analytic, when that actor is the only one that can compute there
 * (S.host_actors counts the host's ranks and live companions) and no
 * host's speed can change (no speed or state profile), SimGrid's CPU
 * model would give it one core, alone, for flops / speed seconds (one
 * core's speed, whatever the host's count), so no SimGrid activity is
 * needed (a 512-rank ring allreduce spent a third of its time in
 * sg_actor_execute):
 *   - the rank runs ahead: only its own clock moves (s->ahead), and
 *     SimGrid's catches up at its next wait (an_progress_for), which it
 *     would have suspended for anyway. What it does meanwhile carries its
 *     own time: a send's flow starts at the sender's clock, an armed pair
 *     at the receiver's (an_try_start); nothing is filed before its time
 *     (an_suspend). It runs ahead only while no isend of its own is
 *     under way (one that ends before its clock would be seen late by a
 *     wait-any's scan) and it never posted an any-source receive (every
 *     pair's arming would move); --fail, --degrade and a job whose
 *     ranks may fail (sim_config.ranks_may_fail: --kill-rank) turn it off;
 *   - otherwise a kernel timer resumes the suspended actor at the date.
 * Otherwise, as under the other nets, sg_actor_execute. Which of the three
 * changes what a run costs, not what it gives ("Tie order" below;
 * $DISTLAB_ANALYTIC_CLOCK picks a slower one: analytic_clock). */
static void exec_flops(sim_rank *s, double flops)
{
    if (S.cpu_timer && S.host_actors[s->host] == 1) {
        double end = rank_now(s) + flops / S.host_speed[s->host];
        if (S.run_ahead && s->sends_out == 0 && !s->any_armed) {
            s->ahead = end;
            S.nran_ahead++;
            return;
        }
        if (wait_until(end) == 0) {
            s->ahead = 0;
            return;
        }
    }
    catch_up(s);
    sg_actor_execute(flops);
}

/* The runtime's own time (sim_config's overheads): busy on this rank's
 * core for `seconds`, as a computation would be. */
static void busy(sim_rank *s, double seconds)
{
    if (seconds > 0)
        exec_flops(s, seconds * sg_host_get_speed(S.hosts[s->host]));
}

/* What the messages received since the last call cost their receiver. */
static void charge_recvs(sim_rank *s)
{
    const sim_config *sim = sim_settings(S.cfg);
    if (s->owed_recvs && sim->recv_overhead_s > 0 && !s->dead)
        busy(s, sim->recv_overhead_s * s->owed_recvs);
    s->owed_recvs = 0;
}

static void hear_death(sim_rank *s, int src);
static int own_actor(const sim_rank *s);
static struct sim_death *heard_of(const sim_rank *s, int src);

/* A message arrived: give it to the first posted receive it matches, or
 * queue it. */
static void deliver(sim_rank *s, sim_msg *m)
{
    if (S.track_sleep && m->sent_at < s->first_sent && own_actor(s))
        s->first_sent = m->sent_at;
    if (m->death) {
        if (!heard_of(s, m->src)) /* a transfer from it may have failed first (lose_peer) */
            hear_death(s, m->src);
        msg_free(m);
        return;
    }
    sim_req **pp = &s->posted, *prev = NULL;
    for (sim_req *q = s->posted; q; prev = q, pp = &q->next, q = q->next) {
        if (rt_matches(q->h.peer, q->h.tag, m->src, m->tag)) {
            *pp = q->next;
            if (s->posted_tail == q)
                s->posted_tail = prev;
            posted_count(s, q, -1);
            complete_recv(s, q, m);
            return;
        }
    }
    m->next = NULL;
    if (s->arrived_tail)
        s->arrived_tail->next = m;
    else
        s->arrived = m;
    s->arrived_tail = m;
}

/* ---- --net analytic: transfers in distlab's own flow model ----
 *
 * The same rendezvous as with SimGrid's comms, kept by hand: each pair
 * src -> dst has, in dst's record of src, a FIFO of messages sent and not
 * started, and an "armed" flag standing for SimGrid's posted get (one at a
 * time: set by a receive that could take the pair's next message, used up
 * when a transfer starts). A transfer starts when the pair has a message
 * and is armed, as a SimGrid comm starts when its put and its get meet; an
 * any-source receive arms every pair to its rank (any_armed) except those
 * whose transfer ended since (hold), as posting a get on every mailbox
 * does. The transfer is a flow of net_analytic.c; a kernel timer at the
 * model's next event (net_tick, in SimGrid's maestro) hands each ended
 * transfer to its receiver (the pair joins the receiver's ready list, and
 * the receiver is resumed) and to its sender (an isend completes). A
 * waiting rank suspends itself, with a deadline timer for rt_waitany_for,
 * and files the ready pairs' messages in the order they ended.
 *
 * Tie order. Ranks resumed at one simulated instant run in an order that
 * depends on how each was woken (a kernel timer, SimGrid's CPU model, a
 * transfer's end; a rank that ran ahead is not resumed at all), so the
 * order in which flows are started says nothing. Each flow carries its
 * order instead, (sender, the sender's count of messages: an_enqueue),
 * and the flow model handles one instant's events, and hands over its
 * ended flows, in that order: what a rank files at one instant, and so
 * an asynchronous server's order of updates, is the same however the
 * ranks were woken (test_analytic runs it each way, with
 * $DISTLAB_ANALYTIC_CLOCK). Only the timing differs from SimGrid's
 * comms; matching, payloads and failures are the code above and below. */

/* SimGrid 3.32 completes a zero-byte transfer in half the route latency; a
 * real message always carries at least a header, so it costs at least one
 * byte: alpha + beta. */
static double loglog(const double *x, const double *y, int n, double at);

/* What a message of len bytes weighs on the links: its size, or that
 * times the measured scale at its size (sim_config.nmsg). */
static long wire_bytes(size_t len)
{
    const sim_config *sim = sim_settings(S.cfg);
    if (len && sim->nmsg > 0)
        return (long)fmax(1, round((double)len * loglog(sim->msg_bytes, sim->msg_scale, sim->nmsg, (double)len)));
    return len ? (long)len : 1;
}

/* An actor of a rank suspended in a wait, until an_wake or its deadline
 * resumes it. Suspending costs SimGrid no activity (a semaphore's acquire
 * allocates one), and the resume comes from the maestro (net_tick), so it
 * is no simcall. */
typedef struct an_waiter {
    sg_actor_t actor;
    int woken, timed_out;
    sim_timer *deadline;  /* the timer of a timed wait, until it fires */
    double not_before;    /* a rank that runs ahead: its own clock */
    sim_timer *catch_up;  /* the timer at not_before, until it fires */
    struct an_waiter *next;
    size_t woken_at;      /* its place in S.woken, once resumed */
} an_waiter;

/* SimGrid runs the actors resumed at one instant in the order they were
 * resumed, each switching straight to the next. A rank's actor comes
 * back to frames on its own stack (SimGrid's context switch, the wait
 * it was in) that thousands of other actors ran since: each line is a
 * cache miss, one after another, about a third of the misses of a
 * 16,384-rank ring. So the resume order is noted (S.woken: where each
 * waiter sits on its stack), and each actor, once back, asks for the
 * stack lines of the one two places after it; only a hint, it changes
 * nothing but when the loads come, and a stale address costs nothing. */
enum { WAKE_AHEAD = 2, STACK_BELOW = 1536, STACK_ABOVE = 512 };

static void woken_note(an_waiter *w)
{
    if (S.nwoken == S.cap_woken) {
        size_t cap = S.cap_woken ? 2 * S.cap_woken : 256;
        const void **a = realloc(S.woken, cap * sizeof *a);
        if (!a)
            return; /* no hint then */
        S.woken = a;
        S.cap_woken = cap;
    }
    w->woken_at = S.nwoken;
    S.woken[S.nwoken++] = w;
}

static void woken_prefetch(const an_waiter *w)
{
    size_t next = w->woken_at + WAKE_AHEAD;
    if (w->woken_at == SIZE_MAX || next >= S.nwoken)
        return;
    /* Addresses around another actor's waiter, on its stack: made as
     * integers, since a pointer may not step outside its own object. */
    uintptr_t at = (uintptr_t)S.woken[next];
    for (uintptr_t a = at - STACK_BELOW; a < at + STACK_ABOVE; a += 64)
        __builtin_prefetch((const void *)a, 1);
}

static void an_caught_up(void *arg);
static void an_resume(an_waiter *w)
{
    if (w->woken)
        return;
    if (sim_clock() < w->not_before) { /* it wakes at its own time */
        if (w->catch_up)
            return;
        if ((w->catch_up = sim_timer_at(w->not_before, an_caught_up, w)))
            return;
        S.net_failed = 1; /* it wakes now and reports it */
    }
    w->woken = 1;
    woken_note(w);
    sg_actor_resume(w->actor);
}

static void an_caught_up(void *arg)
{
    an_waiter *w = arg;
    w->catch_up = NULL; /* fired: SimGrid frees it */
    w->not_before = -INFINITY;
    an_resume(w);
}

/* Wake whichever actors of s wait (the rank, or its async companion). */
static void an_wake(sim_rank *s)
{
    for (an_waiter *w = s->waiters; w; w = w->next)
        an_resume(w);
}

static void an_deadline(void *arg)
{
    an_waiter *w = arg;
    w->deadline = NULL; /* fired: SimGrid frees it */
    w->timed_out = !w->woken;
    w->not_before = -INFINITY; /* a deadline is never before the rank's clock */
    an_resume(w);
}

/* Suspend the calling actor of s until a transfer of s ends or (deadline
 * >= 0) the simulated clock reaches deadline. A rank that runs ahead is
 * resumed no earlier than its own clock (then at once when ready: what
 * it may file is there already). 1 when the deadline came first, -1
 * when out of memory. */
static int an_suspend(sim_rank *s, double deadline, int ready)
{
    double now = sim_clock();
    an_waiter w = {.actor = s->companions ? sg_actor_self() : s->actor, .next = s->waiters,
                   .not_before = s->ahead > now ? s->ahead : -INFINITY, .woken_at = SIZE_MAX};
    if (ready && w.not_before > now && !(w.catch_up = sim_timer_at(w.not_before, an_caught_up, &w)))
        return -1;
    if (deadline >= 0 && !(w.deadline = sim_timer_at(deadline, an_deadline, &w))) {
        if (w.catch_up)
            sim_timer_cancel(w.catch_up);
        return -1;
    }
    s->waiters = &w;
    sg_actor_suspend(w.actor);
    woken_prefetch(&w);
    an_waiter **pp = &s->waiters;
    while (*pp != &w)
        pp = &(*pp)->next;
    *pp = w.next;
    if (w.deadline)
        sim_timer_cancel(w.deadline);
    if (w.catch_up)
        sim_timer_cancel(w.catch_up);
    if (s->ahead <= sim_clock())
        s->ahead = 0;
    return w.timed_out;
}

/* The model's next event is handled at net_wake_at: move that earlier
 * when an event comes before it. */
static void net_tick(void *arg);
static void an_poke(double t)
{
    if (!(t < S.net_wake_at))
        return;
    if (S.net_timer)
        sim_timer_cancel(S.net_timer);
    S.net_wake_at = t;
    if (!(S.net_timer = sim_timer_at(t, net_tick, NULL))) {
        S.net_wake_at = INFINITY;
        S.net_failed = 1;
    }
}

/* The model's id of a SimGrid link, made on first use; -1 when out of
 * memory. */
static int an_link(sg_link_t l)
{
    intptr_t id = (intptr_t)sg_link_get_data(l);
    if (id > 0)
        return (int)id - 1;
    int made = na_link_add(S.net, sg_link_get_bandwidth(l), sg_link_is_shared(l));
    if (made >= 0)
        sg_link_set_data(l, (void *)(intptr_t)(made + 1));
    return made;
}

/* p's route (from p->rank's host to its owner's), read from SimGrid once;
 * -1 when out of memory. */
static int an_route(sim_peer *p)
{
    if (p->nroute >= 0)
        return 0;
    sg_host_t from = S.hosts[S.ranks[p->rank].host], to = S.hosts[S.ranks[p->owner].host];
    xbt_dynar_t links = xbt_dynar_new(sizeof(sg_link_t), NULL);
    sg_host_get_route(from, to, links);
    int n = (int)xbt_dynar_length(links), rc = 0;
    int few = n <= (int)(sizeof p->route_few / sizeof *p->route_few);
    p->route = few ? p->route_few : malloc((size_t)n * sizeof *p->route);
    if (!p->route)
        rc = -1;
    for (int i = 0; i < n && rc == 0; i++)
        if ((p->route[i] = an_link(xbt_dynar_get_as(links, i, sg_link_t))) < 0)
            rc = -1;
    xbt_dynar_free(&links);
    if (rc != 0) {
        if (!few)
            free(p->route);
        p->route = NULL;
        return -1;
    }
    p->nroute = n;
    p->route_lat = sg_host_get_route_latency(from, to);
    return 0;
}

/* Start the pair's next transfer if it has one and may: armed, or any-source
 * armed and not held, or its owner is dead (what is sent to a dead rank is
 * swallowed). */
static void an_try_start(sim_peer *p)
{
    sim_rank *dst = &S.ranks[p->owner];
    if (p->flowing || p->done_msg || !p->queue)
        return;
    if (!(p->armed || (dst->any_armed && !p->hold) || dst->dead))
        return;
    if (an_route(p) != 0) {
        S.net_failed = 1;
        return;
    }
    sim_msg *m = p->queue;
    p->queue = m->next;
    if (!p->queue)
        p->queue_tail = NULL;
    m->next = NULL;
    /* it starts when both the send and the arming have happened, each at
     * its rank's clock (a rank may run ahead: exec_flops) */
    double now = sim_clock(), start = m->sent_at > now ? m->sent_at : now;
    if (!((dst->any_armed && !p->hold) || dst->dead) && p->armed_at > start)
        start = p->armed_at;
    p->armed = 0; /* the get is used up */
    /* CM02 shares a link among flows in inverse proportion to their
     * routes' latencies (its RTT-unfairness); 1 on a latency-free route */
    double weight = p->route_lat > 0 ? 1 / p->route_lat : 1;
    if (!na_flow_start(S.net, p->route, p->nroute, p->route_lat, (double)wire_bytes(m->len), weight, start,
                       m->order, p)) {
        S.net_failed = 1;
        m->next = p->queue; /* back where it was: it never starts */
        p->queue = m;
        if (!p->queue_tail)
            p->queue_tail = m;
        return;
    }
    p->flowing = m;
    an_poke(start + p->route_lat);
}

/* A message on the pair src -> dst's FIFO; -1 when out of memory. Its
 * flow's order among the events of one instant is (sender, the sender's
 * count of messages): what the sender did, not when SimGrid ran it. A
 * rank and its async companion (companion: sent by it) send at one
 * instant in the order SimGrid runs the two: each counts its own, the
 * companion's after the rank's. */
static int an_enqueue(int src, int dst, sim_msg *m, int companion)
{
    sim_peer *p = peer_of(&S.ranks[dst], src);
    if (!p)
        return -1;
    sim_rank *s = &S.ranks[src];
    m->order = (long long)src << 40 | (companion ? 1LL << 39 | s->nsent_async++ : s->nsent++);
    m->next = NULL;
    if (p->queue_tail)
        p->queue_tail->next = m;
    else
        p->queue = m;
    p->queue_tail = m;
    an_try_start(p);
    return 0;
}

/* p at the end of *arr; few: the array's first room, inside the rank
 * (NULL: none), which is never freed. -1 when out of memory. */
static int an_push(sim_peer ***arr, int *n, int *cap, sim_peer *p, sim_peer **few)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 8;
        sim_peer **a = *arr == few ? malloc((size_t)c * sizeof *a) : realloc(*arr, (size_t)c * sizeof *a);
        if (!a)
            return -1;
        if (*arr == few)
            memcpy(a, few, (size_t)*n * sizeof *a);
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* A transfer ended: its sender's isend completes, its receiver gets it. */
static void an_flow_done(sim_peer *p)
{
    sim_msg *m = p->flowing;
    sim_rank *dst = &S.ranks[p->owner];
    p->flowing = NULL;
    if (m->sreq) { /* an isend is complete when its message is received */
        S.ranks[m->src].sends_out--;
        m->sreq->h.done = 1;
        m->sreq->amsg = NULL;
        m->sreq = NULL;
        an_wake(&S.ranks[m->src]);
    }
    if (dst->dead) { /* swallowed */
        msg_free(m);
        an_try_start(p);
        return;
    }
    p->done_msg = m;
    p->hold = 1;
    if (an_push(&dst->ready, &dst->nready, &dst->cap_ready, p, dst->ready_few) != 0)
        S.net_failed = 1;
    /* a pair goes on the list once: a ring's pairs, re-armed by receives
     * from them, would otherwise add an entry per message (2p per rank) */
    if (!p->in_held) {
        if (an_push(&dst->held, &dst->nheld, &dst->cap_held, p, NULL) != 0)
            S.net_failed = 1;
        else
            p->in_held = 1;
    }
    an_wake(dst);
}

/* A receive from src is posted: arm the pair, as post_get does. */
static int an_arm(sim_rank *s, int src)
{
    sim_peer *p = peer_of(s, src);
    if (!p)
        return -1;
    if (p->flowing || p->done_msg) /* its get is still out */
        return 0;
    p->armed = 1;
    p->armed_at = rank_now(s);
    p->hold = 0;
    an_try_start(p);
    return 0;
}

/* An any-source receive is posted: every pair not under way is armed. */
static void an_arm_any(sim_rank *s)
{
    if (!s->any_armed) {
        s->any_armed = 1;
        for (int k = 0; k < s->cap_peers; k++)
            if (s->peers[k] && !s->peers[k]->flowing && !s->peers[k]->done_msg) {
                s->peers[k]->hold = 0;
                an_try_start(s->peers[k]);
            }
    }
    for (int i = 0; i < s->nheld; i++) {
        sim_peer *p = s->held[i];
        if (p->hold && !p->flowing && !p->done_msg) {
            p->hold = 0;
            an_try_start(p);
        }
    }
    /* keep the ones whose message is still to be filed */
    int k = 0;
    for (int i = 0; i < s->nheld; i++)
        if (s->held[i]->hold)
            s->held[k++] = s->held[i];
        else
            s->held[i]->in_held = 0;
    s->nheld = k;
}

static int an_post_for(sim_rank *s, const sim_req *q)
{
    if (q->h.peer != RT_ANY_SOURCE)
        return an_arm(s, q->h.peer);
    an_arm_any(s);
    return 0;
}

/* The model's clock: a kernel timer (sim_timer.h) at its next event,
 * which runs in SimGrid's maestro, so that neither the model nor the
 * wake-ups it makes cost an actor switch. It handles what is due and
 * sets itself again for the next event. */
/* net_analytic's done callback: the pair is handled once the model is
 * through with the instant (an_flows_done). */
static void an_note_done(void *user, void *ctx)
{
    (void)ctx;
    if (S.nended == S.cap_ended) {
        size_t cap = S.cap_ended ? 2 * S.cap_ended : 64;
        sim_peer **a = realloc(S.ended, cap * sizeof *a);
        if (!a) {
            S.net_failed = 1;
            return;
        }
        S.ended = a;
        S.cap_ended = cap;
    }
    S.ended[S.nended++] = user;
}

/* The transfers of one instant ended, in the model's order: a ring's
 * step ends p of them at once, each touching its pair, message, and
 * both ranks' records, which at thousands of ranks are all cache misses
 * one after another. Asking for the next ones' memory ahead of time
 * (a hint only: it changes nothing but when the loads come) lets those
 * misses overlap. */
static void an_flows_done(void)
{
    enum { AHEAD = 8 };
    size_t n = S.nended;
    S.nended = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(S.ended[i + AHEAD], 1);
        if (i + AHEAD / 2 < n) {
            const sim_peer *q = S.ended[i + AHEAD / 2];
            __builtin_prefetch(q->flowing, 1);
            __builtin_prefetch(&S.ranks[q->owner], 1);
            __builtin_prefetch(&S.ranks[q->rank], 1);
        }
        if (i + 2 < n) {
            const sim_peer *q = S.ended[i + 2];
            __builtin_prefetch(S.ranks[q->owner].waiters, 1);
            __builtin_prefetch(S.ranks[q->rank].waiters, 1);
            if (q->flowing)
                __builtin_prefetch(q->flowing->sreq, 1);
        }
        an_flow_done(S.ended[i]);
    }
}

static void net_tick(void *arg)
{
    (void)arg;
    S.net_timer = NULL; /* fired: SimGrid frees it */
    S.net_wake_at = INFINITY;
    S.nwoken = 0; /* those resumed before ran since (SimGrid runs timers first) */
    for (;;) {
        double now = sim_clock();
        if (na_advance(S.net, now, an_note_done, NULL) < 0)
            S.net_failed = 1;
        an_flows_done();
        double t = na_next(S.net);
        if (t > now) {
            an_poke(t);
            return;
        }
    }
}

/* The last rank ended: what the model still has under way (a message no
 * one will receive, one swallowed by a dead rank) must not run the clock
 * on. */
static void net_stop(void)
{
    if (S.net_timer)
        sim_timer_cancel(S.net_timer);
    S.net_timer = NULL;
    S.net_wake_at = -INFINITY; /* no more pokes */
}

/* ---- failures ----
 *
 * --fail RANK@TIME: at TIME the rank's host goes down. SimGrid can turn a
 * host off, but a peer waiting on a get that no message will ever match is
 * then never told, and the transfers under way fail inside SimGrid's waits.
 * So a failure is made to look as it does on real sockets instead: an
 * actor on the failed rank's host marks it dead, sends every other rank a
 * last word (one byte, behind whatever the rank had already sent: the
 * reset of a closed TCP connection), and from then on swallows what the
 * others send it (a send to a dead peer may well succeed, as write() does
 * until the reset comes). The dead rank's own calls fail from then on, so
 * it sends nothing more. A rank that hears a last word fails its receives
 * from that rank, now and later, and its first any-source receive once,
 * with the dead rank as the source (real/engine.c's fail_receives). */

static int dead_error(rt *r)
{
    if (me(r)->killed)
        return rt_seterr(r, RT_EKILLED, "rank %d failed: made to fail at %g simulated seconds", r->rank,
                         me(r)->dead_at);
    return rt_seterr(r, RT_EKILLED, "rank %d failed: its host went down at %g simulated seconds (--fail)",
                     r->rank, me(r)->dead_at);
}

static void fail_recv(sim_rank *s, sim_req *q, int src)
{
    q->h.status = (rt_status){.source = src, .tag = RT_ANY_TAG, .bytes = 0};
    if (S.ranks[src].dead)
        q->h.error = rt_seterr(&s->r, RT_EPEER, "recv from rank %d: its host went down at %g simulated "
                               "seconds", src, S.ranks[src].dead_at);
    else /* lose_peer: it stopped with a transfer in flight */
        q->h.error = rt_seterr(&s->r, RT_EPEER, "recv from rank %d: it stopped mid-message (its own error "
                               "comes first)", src);
    q->h.done = 1;
}

static sim_death *heard_of(const sim_rank *s, int src)
{
    for (sim_death *d = s->heard; d; d = d->next)
        if (d->src == src)
            return d;
    return NULL;
}

/* A receive of src's about to be posted: the dead peer it can no longer
 * come from (-1: none). */
static int dead_source(sim_rank *s, int src)
{
    for (sim_death *d = s->heard; d; d = d->next) {
        if (d->src == src)
            return src;
        if (src == RT_ANY_SOURCE && !d->reported) {
            d->reported = 1;
            return d->src;
        }
    }
    return -1;
}

/* src's last word came: fail the receives waiting on it. */
static void hear_death(sim_rank *s, int src)
{
    sim_death *d = calloc(1, sizeof *d);
    if (!d) /* it will be heard of as a deadlock instead */
        return;
    d->src = src;
    d->next = s->heard;
    s->heard = d;
    sim_req *prev = NULL;
    for (sim_req *q = s->posted; q;) {
        sim_req *next = q->next;
        int fails = q->h.peer == src || (q->h.peer == RT_ANY_SOURCE && !d->reported);
        if (fails) {
            d->reported |= q->h.peer == RT_ANY_SOURCE;
            if (prev)
                prev->next = next;
            else
                s->posted = next;
            if (s->posted_tail == q)
                s->posted_tail = prev;
            posted_count(s, q, -1);
            fail_recv(s, q, src);
        } else {
            prev = q;
        }
        q = next;
    }
}

/* Why a transfer to or from rank src failed under SimGrid (its actor
 * ended with the transfer in flight): its host went down, or it stopped
 * on an error of its own, which the job reports first. */
static const char *lost_why(int src)
{
    static char why[160];
    if (S.ranks[src].dead)
        snprintf(why, sizeof why, "its host went down at %g simulated seconds, mid-message", S.ranks[src].dead_at);
    else
        snprintf(why, sizeof why, "it stopped mid-message (its own error comes first)");
    return why;
}

/* A get from src failed (its sending actor ended under it): src is gone,
 * as if its last word had come. */
static void lose_peer(sim_rank *s, int src)
{
    if (!heard_of(s, src))
        hear_death(s, src);
}

/* The actor of a --fail, on the failed rank's host. */
static void failure_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_rank *x = sg_actor_self_get_data();
    sg_actor_daemonize(sg_actor_self()); /* it ends with the last rank */
    if (!x->dead) { /* --fail: at its time; sim_rank_fail: dead already */
        sg_actor_sleep_until(x->dead_at);
        if (x->finished)
            return; /* it had ended: nothing left to fail */
        x->dead = 1;
    }
    int P = S.nranks, me_ = x->r.rank;
    for (int d = 0; d < P; d++) {
        if (d == me_)
            continue;
        sim_msg *m = msg_new();
        if (!m)
            continue;
        m->src = me_;
        m->death = 1;
        if (S.analytic) {
            if (an_enqueue(me_, d, m, 0) != 0)
                msg_free(m);
        } else {
            sg_comm_detach(sg_mailbox_put_init(pair_mailbox(me_, d), m, 1), NULL);
        }
    }
    if (S.analytic) { /* what waits to be sent to it starts, and is swallowed */
        for (int k = 0; k < x->cap_peers; k++)
            if (x->peers[k])
                an_try_start(x->peers[k]);
        return;
    }
    sg_comm_t *gets = calloc((size_t)P, sizeof *gets);
    void **got = calloc((size_t)P, sizeof *got);
    int *from = calloc((size_t)P, sizeof *from), k = 0;
    if (!gets || !got || !from)
        return; /* sends to it then never end: a deadlock, reported */
    for (int d = 0; d < P; d++)
        if (d != me_) {
            from[k] = d;
            gets[k] = sg_mailbox_get_async(pair_mailbox(d, me_), &got[k]);
            k++;
        }
    while (k > 0) { /* killed in the wait when the job ends: see sim_waitfor.h */
        int failed;
        ssize_t i = sim_comm_wait_any_for(gets, (size_t)k, -1, &failed);
        if (i < 0)
            break;
        msg_free(failed ? NULL : got[i]); /* failed: its sender's companion ended under it */
        got[i] = NULL;
        gets[i] = sg_mailbox_get_async(pair_mailbox(from[i], me_), &got[i]);
    }
}

static void start_failure(sim_rank *x)
{
    sg_actor_t a = sg_actor_init("failure", S.hosts[x->host]);
    sg_actor_set_data(a, x);
    sg_actor_start(a, failure_actor, 0, NULL);
}

void sim_rank_fail(rt *r)
{
    sim_rank *x = me(r);
    if (x->dead)
        return;
    if (!sim_settings(S.cfg)->ranks_may_fail && S.undeclared_fail < 0)
        S.undeclared_fail = r->rank; /* its ranks may have run ahead of its death */
    catch_up(x); /* it dies at its own time */
    x->dead = x->killed = 1;
    x->dead_at = sim_clock();
    start_failure(x);
}

/* The actor of the --degrade windows: each link's bandwidth, at each time
 * a window opens or closes, is its own times every open window's factor. */
typedef struct degraded {
    sg_link_t link;
    double bandwidth; /* its own */
    const sim_fault *f;
} degraded;
static degraded degrades[SIM_MAX_FAULTS];
static int ndegrades;

static int by_time(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void degrade_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sg_actor_daemonize(sg_actor_self());
    double t[2 * SIM_MAX_FAULTS];
    int nt = 0;
    for (int i = 0; i < ndegrades; i++) {
        t[nt++] = degrades[i].f->at_s;
        t[nt++] = degrades[i].f->until_s;
    }
    qsort(t, (size_t)nt, sizeof *t, by_time);
    for (int k = 0; k < nt; k++) {
        if (k > 0 && t[k] == t[k - 1])
            continue;
        sg_actor_sleep_until(t[k]);
        for (int i = 0; i < ndegrades; i++) {
            double bw = degrades[i].bandwidth;
            for (int j = 0; j < ndegrades; j++)
                if (degrades[j].link == degrades[i].link && degrades[j].f->at_s <= t[k] &&
                    t[k] < degrades[j].f->until_s)
                    bw *= degrades[j].f->factor;
            sg_link_set_bandwidth(degrades[i].link, bw);
            int id = S.analytic ? an_link(degrades[i].link) : -1;
            if (id >= 0) {
                na_link_set_bandwidth(S.net, id, bw, sim_clock());
                an_poke(sim_clock());
            }
        }
    }
}

/* Start the actors of the job's failures; -1 with the job failed when one
 * names a rank or a link the job does not have. */
static int start_faults(const sim_config *sim, job_result *res)
{
    ndegrades = 0;
    for (int i = 0; i < sim->nfaults; i++) {
        const sim_fault *f = &sim->faults[i];
        if (f->kind == SIM_FAULT_FAIL) {
            if (f->rank < 0 || f->rank >= S.nranks) {
                job_refuse(res, "--fail %d@%gs: the job has ranks 0 to %d", f->rank, f->at_s, S.nranks - 1);
                return -1;
            }
            sim_rank *x = &S.ranks[f->rank];
            if (x->dead_at > 0 && x->dead_at <= f->at_s)
                continue; /* it fails earlier already */
            x->dead_at = f->at_s;
            continue;
        }
        sg_link_t *links = sg_link_list();
        size_t nl = sg_link_count();
        sg_link_t found = NULL;
        char some[200] = "";
        for (size_t l = 0; l < nl; l++) {
            const char *name = sg_link_get_name(links[l]);
            if (strcmp(name, f->link) == 0)
                found = links[l];
            if (l < 4)
                snprintf(some + strlen(some), sizeof some - strlen(some), "%s%s", l ? ", " : "", name);
        }
        free(links);
        if (!found) {
            job_refuse(res, "--degrade %s: the platform has no link of that name (it has %zu: %s%s)",
                     f->link, nl, some, nl > 4 ? ", ..." : "");
            return -1;
        }
        degrades[ndegrades++] = (degraded){found, sg_link_get_bandwidth(found), f};
    }
    for (int i = 0; i < S.nranks; i++) {
        sim_rank *x = &S.ranks[i];
        if (x->dead_at > 0)
            start_failure(x);
    }
    if (ndegrades > 0)
        sg_actor_start(sg_actor_init("degrade", S.hosts[0]), degrade_actor, 0, NULL);
    return 0;
}

/* ---- rt_ops ---- */

/* The message a send puts on the wire: a private copy of the payload, or
 * only its size. */
static sim_msg *make_msg(rt *r, int tag, const void *buf, size_t len)
{
    sim_msg *m = msg_new();
    if (!m)
        return NULL;
    m->src = r->rank;
    m->tag = tag;
    m->len = len;
    if (buf && len && !r->size_only) {
        m->data = malloc(len);
        if (!m->data) {
            msg_free(m);
            return NULL;
        }
        memcpy(m->data, buf, len);
    }
    return m;
}

static int send_common(rt *r, int dst, int tag, const void *buf, size_t len, int buffered,
                       rt_request **out)
{
    sim_rank *s = me(r);
    if (s->dead)
        return dead_error(r);
    if (heard_of(s, dst) && S.ranks[dst].dead)
        return rt_seterr(r, RT_EPEER, "send to rank %d: its host went down at %g simulated seconds",
                         dst, S.ranks[dst].dead_at);
    if (heard_of(s, dst)) /* lose_peer: it stopped on an error of its own */
        return rt_seterr(r, RT_EPEER, "send to rank %d: it stopped (its own error comes first)", dst);
    sim_req *q = req_new();
    sim_msg *m = make_msg(r, tag, buf, len);
    sg_mailbox_t box = S.analytic ? NULL : out_mailbox(s, dst);
    if (q && m)
        busy(s, sim_settings(S.cfg)->send_overhead_s);
    if (q && m)
        m->sent_at = rank_now(s);
    if (S.analytic && q && m) {
        q->h.status = (rt_status){.source = r->rank, .tag = tag, .bytes = len};
        if (buffered) {
            q->h.done = 1;
        } else {
            q->amsg = m;
            m->sreq = q;
            s->sends_out++;
        }
        /* which actor sends: asked of SimGrid only while a companion lives */
        if (an_enqueue(r->rank, dst, m, s->companions && sg_actor_self() != s->actor) != 0) {
            s->sends_out -= !buffered;
            req_free(q);
            msg_free(m);
            return rt_seterr(r, RT_ENOMEM, "send of %zu bytes to rank %d: out of memory", len, dst);
        }
        *out = &q->h;
        return RT_OK;
    }
    if (!q || !m || !box) {
        req_free(q);
        msg_free(m);
        return rt_seterr(r, RT_ENOMEM, "send of %zu bytes to rank %d: out of memory", len, dst);
    }
    q->h.status = (rt_status){.source = r->rank, .tag = tag, .bytes = len};
    /* a size whose exchange costs less than exchange_factor says: fewer
     * bytes, at a bounded rate (sim_config.nshare) */
    const sim_config *sim = sim_settings(S.cfg);
    double share = len && sim->nshare > 0 ? loglog(sim->share_bytes, sim->share, sim->nshare, (double)len) : 1;
    long bytes = share < 1 ? (long)fmax(1, round((double)wire_bytes(len) * share)) : wire_bytes(len);
    double bound_Bps = share < 1 ? share * sim->bandwidth_Bps : 0;
    if (buffered) {
        sg_comm_t comm = sim_put_init_bounded(box, m, bytes, bound_Bps);
        sg_comm_detach(comm, NULL); /* starts it; it completes on its own */
        q->h.done = 1;
    } else {
        q->comm = sim_put_async_bounded(box, m, bytes, bound_Bps);
    }
    *out = &q->h;
    return RT_OK;
}

static int sim_isend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **out)
{
    return send_common(r, dst, tag, buf, len, 0, out);
}

static int sim_bsend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **out)
{
    return send_common(r, dst, tag, buf, len, 1, out);
}

static int sim_irecv(rt *r, int src, int tag, void *buf, size_t cap, rt_request **out)
{
    sim_rank *s = me(r);
    if (s->dead)
        return dead_error(r);
    sim_req *q = req_new();
    if (!q)
        return rt_seterr(r, RT_ENOMEM, "recv: out of memory");
    q->h.peer = src;
    q->h.tag = tag;
    q->h.bytes = cap;
    q->buf = buf;
    *out = &q->h;
    /* an already-arrived message? */
    sim_msg *prev = NULL;
    for (sim_msg *m = s->arrived; m; prev = m, m = m->next) {
        if (rt_matches(src, tag, m->src, m->tag)) {
            if (prev)
                prev->next = m->next;
            else
                s->arrived = m->next;
            if (s->arrived_tail == m)
                s->arrived_tail = prev;
            complete_recv(s, q, m);
            charge_recvs(s);
            return RT_OK;
        }
    }
    /* what a dead peer sent first has come; nothing more will */
    int dead = s->heard ? dead_source(s, src) : -1;
    if (dead >= 0) {
        fail_recv(s, q, dead);
        return RT_OK;
    }
    if (src == RT_ANY_SOURCE)
        catch_up(s); /* it arms every pair: at SimGrid's clock */
    if ((S.analytic ? an_post_for(s, q) : post_gets_for(s, q)) != 0) { /* the gets it did post are harmless */
        req_free(q);
        *out = NULL;
        return rt_seterr(r, RT_ENOMEM, "recv: out of memory");
    }
    if (s->posted_tail)
        s->posted_tail->next = q;
    else
        s->posted = q;
    s->posted_tail = q;
    posted_count(s, q, +1);
    return RT_OK;
}

/* Wait until one of reqs completes: every outstanding get of this rank and
 * the transfers of the sends asked about go into one wait-any, so the
 * first transfer to finish in simulated time is the first one seen. */
/* --net analytic's progress: file the transfers that ended, or sleep on
 * suspended until one does. */
static int an_progress_for(rt *r, int n, rt_request **reqs, double timeout_s)
{
    sim_rank *s = me(r);
    double deadline = timeout_s >= 0 ? rank_now(s) + timeout_s : -1;
    for (;;) {
        if (S.net_failed)
            return rt_seterr(r, RT_ENOMEM, "wait: the network model ran out of memory");
        if (s->ahead > sim_clock()) {
            /* It runs ahead: what ends before its clock must be filed
             * with what is there now, so it sleeps until its clock (or
             * past it, until the first end after it), then goes on. */
            int ready = s->nready > 0, sends = 0;
            for (int i = 0; i < n; i++) {
                sim_req *q = (sim_req *)reqs[i];
                ready |= q && q->h.is_send && q->h.done;
                sends += q && q->h.is_send && q->amsg;
            }
            ready |= !s->posted && !sends; /* nothing to wake it: the checks below decide, at its clock */
            if (an_suspend(s, deadline, ready) < 0)
                return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
            continue;
        }
        if (s->nready) {
            int k = s->nready;
            for (int i = 0; i < s->nready; i++) {
                sim_peer *p = s->ready[i];
                sim_msg *m = p->done_msg;
                p->done_msg = NULL;
                deliver(s, m);
            }
            s->nready = 0;
            /* Only a filed pair lost its get. With one filed and no
             * any-source receive posted, arming it (when a receive names
             * it) is all the walk below would do: a parameter-server
             * worker with 100 pulls posted walked all 100 at each reply. */
            if (k == 1 && !s->nposted_any) {
                if (s->ready[0]->nposted && an_arm(s, s->ready[0]->rank) != 0)
                    return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
                return RT_OK;
            }
            for (sim_req *q = s->posted; q; q = q->next)
                if (an_post_for(s, q) != 0)
                    return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
            return RT_OK;
        }
        int sends = 0;
        for (int i = 0; i < n; i++) {
            sim_req *q = (sim_req *)reqs[i];
            if (q && q->h.is_send && q->h.done)
                return RT_OK;
            sends += q && q->h.is_send && q->amsg;
        }
        if (!s->posted && !sends) {
            if (timeout_s < 0)
                return rt_seterr(r, RT_EINVAL, "wait: nothing can complete (no receive is posted)");
        }
        int timed_out = deadline >= 0 && deadline <= sim_clock();
        if (!timed_out)
            timed_out = an_suspend(s, deadline, 0);
        if (timed_out < 0)
            return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
        if (timed_out && !s->nready)
            return RT_PROGRESS_TIMEOUT;
    }
}

/* Whether the calling actor is the rank's own, not its async companion. */
static int own_actor(const sim_rank *s)
{
    return !s->companions || sg_actor_self() == s->actor;
}

/* Whether a core of the rank's host computes nothing now (the rank itself
 * waits): SimGrid's load counts the executions under way, in flop/s. */
static int core_idle(const sim_rank *s)
{
    sg_host_t h = S.hosts[s->host];
    return sg_host_get_load(h) < (sg_host_core_count(h) - 0.5) * sg_host_get_speed(h);
}

/* Whether a rank that idled in a wait from `since` until now slept
 * through it, as the real runtime's ranks do: its own waits only, not its
 * async companion's (on real sockets another thread, whose sleep leaves
 * the rank's caches as they were). A real rank polls for its spin time
 * (sim_config.woken_after_s) from the last bytes it saw move, then sleeps
 * in the kernel -- at once, on one machine with more ranks than cores --
 * so it slept when nothing was sent to it for that long into the wait:
 * the first message it got was sent later than that (one sent before
 * kept bytes moving), or, with none, the wait itself lasted longer.
 * Then its next model work comes back to cold caches (s->woken), and the
 * message that woke it reached it sim_config.wake_s later than one that
 * found it polling would have -- where a core of its host was idle: the
 * kernel wakes a sleeper onto an idle core (on a VM, a halted virtual CPU
 * the host must start again: that is the measured cost), while with every
 * core busy it takes a running rank's turn, which the host's sharing of
 * its cores already charges. */
static void note_woken(sim_rank *s, double since)
{
    const sim_config *sim = sim_settings(S.cfg);
    if (!S.track_sleep || !own_actor(s))
        return;
    double idled = rank_now(s) - since;
    double quiet = s->first_sent < INFINITY ? s->first_sent - since : idled;
    int no_spin = sim->one_machine && S.cfg->ranks > (sim->cores > 0 ? sim->cores : 1);
    if (!(idled > 0 && (no_spin || quiet > sim->woken_after_s)))
        return;
    if (sim->woken_model_factor > 0)
        s->woken = 1;
    if (sim->wake_s > 0 && core_idle(s)) {
        catch_up(s);
        sg_actor_sleep_for(sim->wake_s);
    }
}

static int sim_progress_for(rt *r, int n, rt_request **reqs, double timeout_s)
{
    sim_rank *s = me(r);
    if (s->dead)
        return dead_error(r);
    double since = rank_now(s);
    if (S.track_sleep && own_actor(s))
        s->first_sent = INFINITY; /* what this wait gets: deliver */
    if (S.analytic) {
        int rc = an_progress_for(r, n, reqs, timeout_s);
        note_woken(s, since);
        if (rc == RT_OK)
            charge_recvs(s);
        return rc;
    }
    sg_comm_t *comms = s->few_comms;
    int *who = s->few_who; /* >= 0: the get of active[who]; < 0: send reqs[-1 - who] */
    if (s->nactive + n > 4 && s->ncomms < s->nactive + n) {
        free(s->comms);
        free(s->who);
        s->ncomms = 2 * (s->nactive + n);
        s->comms = malloc((size_t)s->ncomms * sizeof *s->comms);
        s->who = malloc((size_t)s->ncomms * sizeof *s->who);
        if (!s->comms || !s->who) {
            s->ncomms = 0;
            return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
        }
    }
    if (s->nactive + n > 4) {
        comms = s->comms;
        who = s->who;
    }
    int k = 0;
    for (int a = 0; a < s->nactive; a++) {
        comms[k] = s->active[a]->get;
        who[k++] = a;
    }
    for (int i = 0; i < n; i++) {
        sim_req *q = (sim_req *)reqs[i];
        if (q && q->h.is_send && q->comm) {
            comms[k] = q->comm;
            who[k++] = -1 - i;
        }
    }
    if (k == 0 && timeout_s >= 0) { /* a timed wait on nothing: let the time pass */
        sg_actor_sleep_for(timeout_s);
        return RT_PROGRESS_TIMEOUT;
    }
    if (k == 0)
        return rt_seterr(r, RT_EINVAL, "wait: nothing can complete (no receive is posted)");
    /* No timeout unless rt_waitany_for asks: SimGrid itself notices when
     * every actor waits on another and ends the run, which sim_job_run
     * reports as a deadlock. (A wait with a timeout costs a timer, and
     * SimGrid 3.32's sg_comm_wait_any_for loses its hold on the other
     * comms when it times out: sim_waitfor.cpp keeps them.) */
    ssize_t idx = 0;
    int failed = 0;
    if (timeout_s >= 0) { /* rt_waitany_for: SimGrid's own timed waits lose the comms */
        idx = sim_comm_wait_any_for(comms, (size_t)k, timeout_s, &failed);
        if (idx < 0)
            return RT_PROGRESS_TIMEOUT;
    } else if (k == 1) { /* the common case, without wait-any's bookkeeping */
        if (sim_comm_gone(comms[0])) {
            failed = 1;
            sg_comm_unref(comms[0]); /* as the wait would */
        } else {
            sg_error_t e = sg_comm_wait(comms[0]);
            failed = e == SG_ERROR_NETWORK || e == SG_ERROR_CANCELED;
        }
    } else {
        idx = sim_comm_wait_any_for(comms, (size_t)k, -1, &failed); /* sg_comm_wait_any aborts on a failure */
    }
    if (idx < 0)
        return rt_seterr(r, RT_EIO, "wait: SimGrid's wait-any failed");
    if (who[idx] < 0) {
        sim_req *q = (sim_req *)reqs[-1 - who[idx]];
        q->comm = NULL; /* released by the wait */
        q->h.done = 1;
        if (failed)
            q->h.error = rt_seterr(r, RT_EPEER, "send to rank %d: %s", q->h.peer, lost_why(q->h.peer));
        note_woken(s, since);
        return RT_OK;
    }
    if (failed) { /* the wait released the get; the sender is gone */
        sim_peer *from = s->active[who[idx]];
        retire_get(s, from);
        lose_peer(s, from->rank);
    } else {
        deliver(s, retire_get(s, s->active[who[idx]])); /* the wait released the get */
    }
    /* File every other get that completed while this rank was busy too:
     * wait-any reports only the lowest index among those done, so under
     * load a message could wait forever behind later ones (an any-source
     * server starved some workers). SimGrid's C API does not say when
     * each completed; they are filed in the order of the active list. */
    for (int a = 0; a < s->nactive;) {
        sim_peer *from = s->active[a];
        int lost;
        if (!sim_comm_file_done(from->get, from->get_key, &lost)) { /* an ended one is released */
            a++;
            continue;
        }
        sim_msg *m = retire_get(s, from); /* moves the last active peer to a */
        if (lost)
            lose_peer(s, from->rank);
        else
            deliver(s, m);
    }
    for (sim_req *q = s->posted; q; q = q->next)
        if (post_gets_for(s, q) != 0)
            return rt_seterr(r, RT_ENOMEM, "wait: out of memory");
    note_woken(s, since); /* after what it got: deliver */
    charge_recvs(s);
    return RT_OK;
}

static int sim_progress(rt *r, int n, rt_request **reqs)
{
    return sim_progress_for(r, n, reqs, -1);
}

static void sim_release(rt *r, rt_request *req)
{
    sim_rank *s = me(r);
    sim_req *q = (sim_req *)req;
    /* A send given up on, still in flight, keeps its reference until the
     * job ends: dropping it destroyed SimGrid's comm under the transfer
     * (its ~Comm printed a backtrace, and the receiver's wait on the other
     * end crashed). The transfer goes on, or fails in the receiver's wait
     * when its actor ends (sim_comm_wait_any_for). */
    if (q->comm) { /* only on an error: a send that completed has none */
        if (s->norphans == s->cap_orphans) {
            int cap = s->cap_orphans ? 2 * s->cap_orphans : 8;
            sg_comm_t *o = realloc(s->orphans, (size_t)cap * sizeof *o);
            if (o) {
                s->orphans = o;
                s->cap_orphans = cap;
            }
        }
        if (s->norphans < s->cap_orphans)
            s->orphans[s->norphans++] = q->comm;
        else /* out of memory: drop it as before */
            sg_comm_unref(q->comm);
    }
    if (q->amsg) { /* analytic: its message goes on without it */
        q->amsg->sreq = NULL;
        s->sends_out--;
    }
    if (!q->h.is_send && !q->h.done) {
        /* a receive given up on: unlink it from the posted list */
        sim_req *prev = NULL;
        for (sim_req *p = s->posted; p; prev = p, p = p->next)
            if (p == q) {
                if (prev)
                    prev->next = q->next;
                else
                    s->posted = q->next;
                if (s->posted_tail == q)
                    s->posted_tail = prev;
                posted_count(s, q, -1);
                break;
            }
    }
    req_free(q);
}

static double sim_now(rt *r) { return rank_now(me(r)); }

/* y at `at`, between n measured points (x increasing) on log-log scales,
 * held past the ends. */
static double loglog(const double *x, const double *y, int n, double at)
{
    if (at >= x[n - 1])
        return y[n - 1];
    for (int i = 1; i < n; i++)
        if (at < x[i]) {
            if (!(at > x[i - 1]))
                return y[i - 1];
            double t = log(at / x[i - 1]) / log(x[i] / x[i - 1]);
            return exp((1 - t) * log(y[i - 1]) + t * log(y[i]));
        }
    return y[0];
}

/* The seconds a call of this many flops of vector work takes at the
 * measured rates (see sim_config.nvector). */
static double vector_seconds(const sim_config *sim, double flops)
{
    return flops / loglog(sim->vector_flops, sim->vector_flops_per_s, sim->nvector, flops);
}

/* A shared read and a gather cost only at a measured rate
 * (sim_config.nshared, gather_per_s). */
static int sim_charges(rt *r, int kind)
{
    (void)r;
    const sim_config *sim = sim_settings(S.cfg);
    return kind == RT_WORK_SHARED_READ ? sim->nshared > 0 : kind == RT_WORK_GATHER ? sim->gather_per_s > 0 : 1;
}

static int sim_compute(rt *r, int kind, double flops)
{
    sim_rank *s = me(r);
    if (s->dead)
        return dead_error(r);
    const sim_config *sim = sim_settings(S.cfg);
    if (kind == RT_WORK_LOSS && !(sim->loss_flops_per_s > 0))
        kind = RT_WORK_MODEL; /* unmeasured: model work, as before */
    if (flops > 0 && s->woken && own_actor(s)) { /* the first work after it slept: cold caches */
        s->woken = 0;
        if (kind == RT_WORK_MODEL && sim->woken_model_factor > 0)
            flops *= sim->woken_model_factor;
    }
    if (flops > 0 && (kind == RT_WORK_SHARED_READ || kind == RT_WORK_SHARED_WRITE) && sim->nshared > 0) {
        /* floats moved: one a flop read, two a flop written */
        int rd = kind == RT_WORK_SHARED_READ;
        double floats = rd ? flops : flops / 2;
        busy(me(r), floats / loglog(sim->shared_floats, rd ? sim->shared_read_per_s : sim->shared_write_per_s,
                                    sim->nshared, floats) * r->slowdown);
        return RT_OK;
    }
    if (kind == RT_WORK_LOSS) {
        if (flops > 0)
            busy(me(r), flops / sim->loss_flops_per_s * r->slowdown);
        return RT_OK;
    }
    if (kind == RT_WORK_GATHER) { /* unmeasured: free (sim_charges) */
        if (flops > 0 && sim->gather_per_s > 0)
            busy(me(r), flops / sim->gather_per_s * r->slowdown);
        return RT_OK;
    }
    if (kind == RT_WORK_SHARED_READ) /* unmeasured: free (sim_charges) */
        return RT_OK;
    if (kind == RT_WORK_SHARED_WRITE)
        kind = RT_WORK_VECTOR;
    if (flops > 0 && kind == RT_WORK_VECTOR && sim->nvector > 0)
        busy(me(r), vector_seconds(sim, flops) * r->slowdown);
    else if (flops > 0)
        exec_flops(me(r), flops * r->slowdown);
    return RT_OK;
}

static void *sim_shared(rt *r, const char *name, size_t bytes)
{
    sim_rank *s = me(r);
    catch_up(s); /* what it reads and writes there, it does at SimGrid's clock */
    for (shared_block *b = S.shared; b; b = b->next) {
        if (b->host == s->host && strcmp(b->name, name) == 0) {
            if (b->bytes != bytes) {
                rt_seterr(r, RT_EINVAL, "shared '%s': asked for %zu bytes, but it exists with %zu",
                          name, bytes, b->bytes);
                return NULL;
            }
            return b->mem;
        }
    }
    shared_block *b = calloc(1, sizeof *b);
    if (b) {
        b->mem = calloc(1, bytes);
        b->name = strdup(name);
    }
    if (!b || !b->mem || !b->name) {
        if (b) {
            free(b->mem);
            free(b->name);
        }
        free(b);
        rt_seterr(r, RT_ENOMEM, "shared '%s': cannot allocate %zu bytes", name, bytes);
        return NULL;
    }
    b->host = s->host;
    b->bytes = bytes;
    b->next = S.shared;
    S.shared = b;
    return b->mem;
}

/* An async job's companion: another actor on the rank's host, referenced
 * until joined so that joining one that already ended is safe.
 *
 * A companion whose rank failed or heard of a failure stays on as a
 * daemon when its job returns, as the rank's own actor does (linger): an
 * actor that ends takes its comms with it, and a send or get of its still
 * in flight (a push the job gave up on) then failed under the peer's
 * wait, which SimGrid turned into an abort ("Link failure", an uncaught
 * NetworkFailureException, or "Communication canceled by the receiver").
 * So the join waits for the job's end (done), not the actor's. */
typedef struct sim_companion {
    void (*fn)(void *);
    void *arg;
    sg_actor_t actor;
    int host;
    int rank;
    sg_sem_t done; /* released when fn returned */
} sim_companion;

static void companion_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_companion *c = sg_actor_self_get_data();
    c->fn(c->arg);
    const sim_rank *s = &S.ranks[c->rank];
    int stay = s->dead || s->heard || s->norphans > 0;
    sg_sem_release(c->done); /* the joiner may free c from here on */
    if (stay) {
        sg_actor_daemonize(sg_actor_self()); /* killed when the last rank ends */
        sg_actor_suspend(sg_actor_self());
    }
}

static int sim_spawn(rt *r, void (*fn)(void *), void *arg, void **handle)
{
    sim_rank *s = me(r);
    catch_up(s); /* the companion starts at the rank's clock */
    sim_companion *c = calloc(1, sizeof *c);
    if (!c)
        return rt_seterr(r, RT_ENOMEM, "async post: out of memory");
    c->fn = fn;
    c->arg = arg;
    c->rank = r->rank;
    c->done = sg_sem_init(0);
    char name[48];
    snprintf(name, sizeof name, "rank-%d-async", r->rank);
    c->actor = sg_actor_init(name, S.hosts[s->host]);
    sg_actor_set_data(c->actor, c);
    sg_actor_ref(c->actor);
    /* the rank's computations share the core from now on; before the
     * start, which may run the companion at once */
    c->host = s->host;
    S.host_actors[c->host]++;
    s->companions++;
    sg_actor_start(c->actor, companion_actor, 0, NULL);
    *handle = c;
    return RT_OK;
}

static void sim_join(rt *r, void *handle)
{
    sim_companion *c = handle;
    sg_sem_acquire(c->done); /* its job returned; the actor may stay on (companion_actor) */
    sg_sem_destroy(c->done);
    me(r)->companions--;
    S.host_actors[c->host]--;
    sg_actor_unref(c->actor);
    free(c);
}

static const rt_ops sim_ops = {
    .isend = sim_isend,
    .irecv = sim_irecv,
    .bsend = sim_bsend,
    .progress = sim_progress,
    .progress_for = sim_progress_for,
    .release = sim_release,
    .now = sim_now,
    .compute = sim_compute,
    .charges = sim_charges,
    .shared = sim_shared,
    .spawn = sim_spawn,
    .join = sim_join,
};

/* ---- the job ---- */

/* A rank that stopped on an error may leave gets posted that a peer's
 * send has already matched; an actor that ends takes its comms with it,
 * and the peer's wait then dies of a SimGrid link failure (an abort, not
 * an error). On real sockets such a send is in the kernel and the peer
 * goes on until it hears the connection close. So the rank's actor stays,
 * as a daemon that ends with the last rank, and takes in whatever its
 * posted gets were waiting for. */
static void linger(sim_rank *s)
{
    sg_actor_daemonize(sg_actor_self());
    sg_comm_t *comms = malloc((size_t)(s->nactive > 0 ? s->nactive : 1) * sizeof *comms);
    while (comms && s->nactive > 0) {
        for (int a = 0; a < s->nactive; a++)
            comms[a] = s->active[a]->get;
        int failed;
        ssize_t i = sim_comm_wait_any_for(comms, (size_t)s->nactive, -1, &failed); /* see sim_waitfor.h */
        if (i < 0)
            break;
        sim_msg *m = retire_get(s, s->active[i]);
        msg_free(failed ? NULL : m);
    }
    free(comms);
}

static void rank_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_rank *s = sg_actor_self_get_data();
    s->status = S.fn(&s->r, S.arg);
    catch_up(s); /* the job's end is no earlier than its ranks' clocks */
    int drained = rt_async_drain(&s->r); /* jobs the rank left posted */
    if (s->status == RT_OK)
        s->status = drained;
    s->finished = 1;
    if (S.analytic && ++S.nfinished == S.nranks)
        net_stop();
    if (s->status != RT_OK && !S.analytic)
        linger(s);
}

/* The host of a rank, hosts in the platform's (name) order. block: ranks
 * fill the hosts in order. round-robin: rank i on host i mod H; with fewer
 * ranks than hosts the ranks spread evenly over the list instead (8 ranks
 * on 16 hosts: every second host), so that every part of a platform file
 * gets ranks (both racks of platforms/two-racks.xml), not only its first.
 * A generated GPU cluster has one rank per GPU, in order, so that ranks
 * kG .. kG+G-1 share node k (what a hierarchical allreduce assumes); its
 * CPU machines, the last hosts, take the last ranks. */
static int place(const job_config *cfg, int rank, int nhosts)
{
    const sim_config *sim = sim_settings(cfg);
    if (!sim->platform && sim->gpus_per_node > 1)
        return rank >= cfg->ranks - sim->cpu_hosts ? nhosts - (cfg->ranks - rank) : rank;
    if (sim->placement == SIM_PLACE_BLOCK) {
        int per = (cfg->ranks + nhosts - 1) / nhosts;
        return rank / per;
    }
    if (cfg->ranks < nhosts)
        return (int)((long long)rank * nhosts / cfg->ranks);
    return rank % nhosts;
}

static void free_ranks(void)
{
    for (int i = 0; i < S.nranks; i++) {
        sim_rank *s = &S.ranks[i];
        rt_fini(&s->r);
        for (int k = 0; k < s->cap_peers; k++) {
            sim_peer *p = s->peers[k];
            if (!p)
                continue;
            while (p->queue) {
                sim_msg *m = p->queue;
                p->queue = m->next;
                msg_free(m);
            }
            msg_free(p->flowing);
            msg_free(p->done_msg);
            if (p->route != p->route_few)
                free(p->route);
            free(p);
        }
        if (s->ready != s->ready_few)
            free(s->ready);
        free(s->held);
        free(s->orphans); /* its comms end with the simulation's process: an unfinished one's ~Comm
                             would print a backtrace */
        free(s->peers);
        free(s->active);
        free(s->comms);
        free(s->who);
        while (s->heard) {
            sim_death *d = s->heard;
            s->heard = d->next;
            free(d);
        }
    }
    free(S.ranks);
    S.ranks = NULL;
    free(S.host_actors);
    S.host_actors = NULL;
    free(S.host_speed);
    S.host_speed = NULL;
    free_lists();
}

/* DISTLAB_ANALYTIC_CLOCK: how a rank alone on its host charges its
 * computations under --net analytic (exec_flops), for the tests that
 * check that a run's results do not depend on it: "ahead" (the default:
 * running ahead where it may), "timer" (a kernel timer, never ahead) or
 * "simgrid" (sg_actor_execute, as under the other nets); it can only turn
 * the faster ways off. Sets *timer and *ahead to what it allows; 0, or -1
 * with err said. */
static int analytic_clock(int *timer, int *ahead, char *err, size_t errlen)
{
    const char *v = getenv("DISTLAB_ANALYTIC_CLOCK");
    *timer = *ahead = 1;
    if (!v || !*v || strcmp(v, "ahead") == 0)
        return 0;
    *ahead = 0;
    if (strcmp(v, "timer") == 0)
        return 0;
    *timer = 0;
    if (strcmp(v, "simgrid") == 0)
        return 0;
    snprintf(err, errlen, "$DISTLAB_ANALYTIC_CLOCK is '%s': expected ahead, timer or simgrid", v);
    return -1;
}

int sim_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    job_shared *sh = res->shared;
    const sim_config *sim = sim_settings(cfg);
    char err[1024];
    int clock_timer = 1, clock_ahead = 1; /* read under --net analytic only, which alone uses them */
    if (sim->net == SIM_NET_ANALYTIC && analytic_clock(&clock_timer, &clock_ahead, err, sizeof err) != 0) {
        job_refuse(res, "%s", err);
        return -1;
    }
    sim_platform plat;
    if (sim_platform_setup(sim, cfg->ranks, &plat, err, sizeof err) != 0) {
        job_fail(res, "%s", err);
        return -1;
    }
    snprintf(sh->net_model, sizeof sh->net_model, "%s", plat.net_model);

    if (sim_platform_load(&plat, err, sizeof err) != 0) {
        job_fail(res, "%s", err);
        sim_platform_cleanup(&plat);
        return -1;
    }
    sim_platform_cleanup(&plat);

    S.cfg = cfg;
    S.fn = fn;
    S.arg = arg;
    S.res = res;
    S.nranks = cfg->ranks;
    S.hosts = sg_host_list();
    S.nhosts = sg_host_count();
    if (S.nhosts == 0) {
        job_fail(res, "the platform has no hosts");
        return -1;
    }
    S.ranks = calloc((size_t)cfg->ranks, sizeof *S.ranks);
    S.host_actors = calloc(S.nhosts, sizeof *S.host_actors);
    S.host_speed = malloc(S.nhosts * sizeof *S.host_speed);
    S.cpu_timer = sim->net == SIM_NET_ANALYTIC && plat.cpu_fixed && clock_timer;
    /* a failure or a link's change happens at SimGrid's clock: no rank
     * may be ahead of it then (exec_flops) */
    S.run_ahead = S.cpu_timer && sim->nfaults == 0 && !sim->ranks_may_fail && clock_ahead;
    S.track_sleep = sim->woken_model_factor > 0 || sim->wake_s > 0;
    S.nran_ahead = 0;
    S.undeclared_fail = -1;
    for (size_t h = 0; S.host_speed && h < S.nhosts; h++)
        S.host_speed[h] = sg_host_get_speed(S.hosts[h]);
    S.analytic = sim->net == SIM_NET_ANALYTIC;
    S.net = S.analytic ? na_new() : NULL;
    S.net_failed = 0;
    S.nended = 0;
    S.nwoken = 0;
    S.net_timer = NULL;
    S.net_wake_at = INFINITY;
    S.nfinished = 0;
    if (!S.ranks || !S.host_actors || !S.host_speed || (S.analytic && !S.net)) {
        job_fail(res, "out of memory for %d ranks", cfg->ranks);
        free(S.ranks);
        free(S.host_actors);
        free(S.host_speed);
        na_free(S.net);
        return -1;
    }
    for (int i = 0; i < cfg->ranks; i++) {
        sim_rank *s = &S.ranks[i];
        rt_init(&s->r, &sim_ops, "sim", i, cfg->ranks, sim->size_only, cfg->record_events, NULL);
        s->r.slowdown = cfg->slowdown && cfg->slowdown[i] > 1 ? cfg->slowdown[i] : 1.0;
        s->r.slot = job_result_slot(res, i);
        s->host = place(cfg, i, (int)S.nhosts);
        s->ready = s->ready_few;
        s->first_sent = INFINITY;
        s->cap_ready = (int)(sizeof s->ready_few / sizeof *s->ready_few);
        S.host_actors[s->host]++;
        char name[32];
        snprintf(name, sizeof name, "rank-%d", i);
        s->actor = sg_actor_init(name, S.hosts[s->host]);
        sg_actor_set_data(s->actor, s);
    }
    sim_clock_watch();
    for (int i = 0; i < cfg->ranks; i++)
        sg_actor_start(S.ranks[i].actor, rank_actor, 0, NULL);
    if (start_faults(sim, res) != 0) {
        free_ranks();
        return -1;
    }

    sim_comm_watch_reset(); /* sim_waitfor.cpp: no get watched yet */
    simgrid_run();
    sh->ran_ahead = S.nran_ahead;
    sh->seconds = sim_clock();
    for (int i = 0; i < cfg->ranks; i++) /* a deadlock: one stuck rank may have run ahead */
        if (S.ranks[i].ahead > sh->seconds)
            sh->seconds = S.ranks[i].ahead;
    if (S.net_failed)
        job_fail(res, "--net analytic: the network model ran out of memory");
    if (S.undeclared_fail >= 0)
        job_fail(res, "rank %d was made to fail (sim_rank_fail) in a job whose sim_config does not say "
                 "ranks may (ranks_may_fail): under --net analytic its ranks could run ahead of SimGrid's "
                 "clock, at which a failure happens and is heard of", S.undeclared_fail);

    /* A rank whose host went down is the cause of what failed after it;
     * then a rank that failed is the likely cause of any deadlock after
     * it: their errors come first. Then a deadlock names every rank still
     * waiting. */
    for (int i = 0; i < cfg->ranks; i++) {
        sim_rank *s = &S.ranks[i];
        if (s->dead) {
            s->finished = 1;
            s->status = RT_EKILLED;
            if (strstr(s->r.err, "--kill-rank")) /* its own words say why */
                ;
            else if (s->killed) /* its later calls' errors said the rest */
                rt_seterr(&s->r, RT_EKILLED, "made to fail at %g simulated seconds", s->dead_at);
            else
                rt_seterr(&s->r, RT_EKILLED, "its host went down at %g simulated seconds (--fail %d@%gs)",
                          s->dead_at, i, s->dead_at);
            job_fail(res, "%s", s->r.err);
        }
    }
    for (int i = 0; i < cfg->ranks; i++)
        if (S.ranks[i].finished && S.ranks[i].status != RT_OK)
            job_fail(res, "%s", S.ranks[i].r.err[0] ? S.ranks[i].r.err : rt_strerror(S.ranks[i].status));
    char stuck[400] = "";
    int nstuck = 0;
    for (int i = 0; i < cfg->ranks; i++)
        if (!S.ranks[i].finished && nstuck++ < 16)
            snprintf(stuck + strlen(stuck), sizeof stuck - strlen(stuck), "%s%d", nstuck > 1 ? ", " : "", i);
    if (nstuck)
        job_fail(res, "deadlock at %g simulated seconds: rank%s %s%s still waiting for messages "
                 "no rank would ever send", sh->seconds, nstuck > 1 ? "s" : "", stuck,
                 nstuck > 16 ? " ..." : "");
    for (int i = 0; i < cfg->ranks; i++) {
        sim_rank *s = &S.ranks[i];
        if (!s->finished) {
            s->status = RT_ETIMEOUT;
            rt_seterr(&s->r, RT_ETIMEOUT, "deadlock at %g simulated seconds: still waiting for a "
                      "message no rank would ever send", sh->seconds);
        }
        if (job_collect_rank(res, &s->r, s->status) != 0)
            job_fail(res, "out of memory while gathering events");
    }
    free_ranks();
    free(S.ended);
    S.ended = NULL;
    S.cap_ended = 0;
    free(S.woken);
    S.woken = NULL;
    S.cap_woken = 0;
    na_free(S.net);
    S.net = NULL;
    return sh->failed ? -1 : 0;
}
