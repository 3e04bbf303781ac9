/* ps_internal.h -- what the two halves of the parameter server share:
 * ps.c (the protocol: the consistency rule, the server's handling of a
 * request, the worker's loop) and ps_support.c (allocating and freeing a
 * server and a worker, checking a request, and the reporter that
 * assembles the servers' snapshots). Not for use outside them. */
#ifndef DISTLAB_PS_INTERNAL_H
#define DISTLAB_PS_INTERNAL_H

#include <stdint.h>

#include "algorithms/keyset.h"
#include "algorithms/ps.h"

/* ---- the wire (see ps.c's header) ---- */

enum { TAG_REQ = 0x5000, TAG_REPLY };
enum { REQ_PUSH = 1, REQ_PULL = 2, REQ_DONE = 4 };
enum { STOP_NO = 0, STOP_BUDGET = 1, STOP_ABORT = 2 }; /* reply_head.stop */

typedef struct req_head {
    uint32_t flags;
    int32_t push_clock;
    int32_t pull_clock;
    int32_t examples;  /* in the pushed minibatch */
    int32_t npush;     /* key/value pairs, or -1: the whole range, values only */
    int32_t npull;     /* keys, or -1: the whole range */
} req_head;

typedef struct reply_head {
    int32_t stop;
    int32_t version;   /* updates the server had applied (mod 2^31) */
    int32_t nvals;
    int32_t checkpoint; /* bsp: the server saved its state after the last clock; save yours */
} reply_head;

_Static_assert(sizeof(req_head) == PS_REQ_HEAD_BYTES, "request header layout");
_Static_assert(sizeof(reply_head) == PS_REPLY_HEAD_BYTES, "reply header layout");

/* A request's bytes: header, push keys, push values, pull keys (push NULL
 * without a push). */
static inline size_t ps_request_bytes(const keyset *push, const keyset *pull)
{
    return sizeof(req_head) + (push ? (push->keys ? 8 : 4) * push->n : 0) +
           (pull->keys ? 4 * pull->n : 0);
}

/* What servers and workers both derive from the setup. */
typedef struct ps_shape {
    int S, W;
    size_t P;
    int sparse;       /* keys follow the minibatch (CSR data, linear model) */
    long bound;       /* staleness bound; LONG_MAX for async */
    double budget;    /* examples to process: epochs x n */
} ps_shape;

void ps_shape_of(rt *r, const train_setup *setup, const ml_model *model, ps_shape *sh);

/* ---- the server ---- */

enum { W_ACTIVE = 0, W_DONE, W_DEAD };

/* The server's view of one worker. */
typedef struct peer {
    int state;
    long clock;               /* iterations pushed (and applied) */
    long min_at_pull;         /* min clock when its last pull was answered */
    long ver_at_pull;         /* updates applied then */
    int pull_pending;         /* a filed pull, not yet answered */
    long pull_clock;
    keyset pull;              /* its keys (in pull_keys, m of them, made on first use) */
    uint32_t *pull_keys;
    double pull_since_s;
    unsigned char *held;      /* bsp: its request, held until the clock is full */
    int is_held;
    double held_s;            /* when it arrived */
    int tell_checkpoint;      /* its next reply says a checkpoint was taken */
} peer;

/* What a server keeps with each snapshot of its range; the sums cover the
 * updates since the previous one. */
typedef struct snap_meta {
    double time_s, examples, version;
    double stale_sum, delay_sum, updates;
    double stale_max; /* the largest staleness of those updates */
} snap_meta;
enum { SNAP_DOUBLES = sizeof(snap_meta) / sizeof(double) };

/* What a server reports at the end besides its snapshots. */
typedef struct server_totals {
    double stale_sum, stale_max, delay_sum, delay_max, updates;
    double lost, pull_wait_s, pulls;
} server_totals;

typedef struct server {
    rt *r;
    const train_setup *setup;
    ps_shape sh;
    int s;
    size_t lo, m;
    float *w;                 /* weights of keys [lo, lo + m) */
    ml_optim optim;
    ml_schedule lr;
    double examples;          /* pushed so far */
    long version;             /* updates applied */
    int active;               /* workers neither done nor dead */
    peer *peers;              /* W */
    long min_clock;           /* the smallest clock of the active workers */
    int at_min;               /* how many active workers are at it */
    long scanned_min;         /* min_clock when every filed pull was last tried */
    int scan_all;             /* pulls were filed that the next answer must try */
    int nheld;
    unsigned char *rbuf, *sbuf; /* a request, a reply */
    size_t rcap;
    train_snaps snaps;        /* of w, with a snap_meta each */
    train_schedule due;       /* in examples */
    snap_meta acc;            /* sums since the last snapshot */
    server_totals tot;
    int abort_worker;         /* bsp: the dead worker that stops the run, or -1 */
    char abort_why[256];
    train_schedule checkpoints; /* bsp: in examples, when the next is due */
    double clock_base;        /* added to rt_now: a resumed run's time goes on */
    int resuming;             /* resumed; its first pulls not all in yet */
    double resume_clock;      /* the time the checkpoint was taken */
} server;

/* A request's parts; key sets of a whole range have keys NULL. */
typedef struct request {
    const req_head *h;
    keyset push, pull;        /* push.n = 0 without a push */
    const float *push_vals;
} request;

/* Where the parts of msg lie, as its header says (reads only the header). */
request ps_request_layout(const server *sv, const unsigned char *msg);
/* Check a request's length, clocks and keys against its header and the
 * server's range: RT_OK, or RT_EPROTO with the message. */
int ps_request_check(server *sv, int w, const unsigned char *msg, size_t len);

/* Allocate sv's buffers, weights (the serial run's start) and optimizer;
 * sv->r, setup and s set. */
int ps_server_init(server *sv, ml_model *model);
void ps_server_free(server *sv);
/* Server 0: evaluate the gathered snapshots into its slot, with the stats. */
int ps_report(server *sv, ml_model *model, const train_gathered *g);

/* ---- the worker ---- */

/* A minibatch and (sparse) the sorted keys it touches. */
typedef struct minibatch {
    size_t *idx, n;
    uint32_t *keys;
    size_t nkeys;
    size_t *split;               /* keys[split[s]..split[s+1]) belong to server s */
    long pass;                   /* where the shard was before it was drawn */
    size_t pos;
} minibatch;

typedef struct worker {
    rt *r;
    const train_setup *setup;
    ps_shape sh;
    int w;
    ml_model *model;
    const ml_dataset *train;
    float *params;               /* the worker's view; only pulled keys are fresh */
    ml_grad grad;
    train_shard shard;
    minibatch mb[2];             /* this one and the next */
    keyset_rows rows;            /* sparse: collects a minibatch's keys */
    uint32_t *gkey;              /* a push, grouped by server */
    float *gval;
    size_t *gcount;              /* S + 1 group starts */
    size_t *lo, *hi;             /* each server's range */
    reply_head **rbuf;           /* one reply per server */
    rt_request **req;            /* S outstanding pulls */
    rt_status *sts;
    unsigned char *sbuf;         /* one request (rt_send copies it) */
} worker;

/* Allocate wk's buffers and shard; wk->r, setup, model, train, sh, w set.
 * Returns -1 when out of memory. */
int ps_worker_init(worker *wk);
void ps_worker_free(worker *wk);

/* ---- checkpoints (bsp; ps_checkpoint.c) ----
 * A consistent cut costs no message: under bsp, when a server has applied
 * every worker's push of clock c, every worker is waiting for its pull of
 * c+1 and nothing is in flight between them. Every server reaches that
 * point at the same count of examples, so each decides alone that a
 * checkpoint is due, saves its state (weights, optimizer state, the
 * workers' clocks, counts, snapshots and totals) as step c+1, and says so
 * in its replies; a worker that hears it saves its own (clock c+1, the
 * shard's place before it drew that clock's minibatch, its weights). On
 * resume the servers start from their state and each worker draws that
 * minibatch again and sends a pull of clock c+1 alone: the replies, and so
 * every later push, are the ones the unstopped run had. */
int ps_server_checkpoint(server *sv);
/* At the start: 0 with sv as it was saved, or nothing loaded. */
int ps_server_resume(server *sv);
int ps_worker_checkpoint(worker *wk, long clock, const minibatch *cur);
/* At the start: *clock the clock to go on from (0 for a fresh start), the
 * shard placed where it was before that clock's minibatch was drawn. */
int ps_worker_resume(worker *wk, long *clock);

#endif
