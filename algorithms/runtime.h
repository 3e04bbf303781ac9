/* runtime.h -- the one door between an algorithm and the world.
 *
 * Every algorithm in distlab is written against this header and nothing
 * else: it sees ranks, messages, a clock and compute cost. The same code
 * then runs on the SimGrid backend (sim/: simulated cluster, simulated
 * clock) or on the TCP backend (real/: threads or processes, wall clock).
 * No file under algorithms/ may include a SimGrid, socket or pthread header.
 *
 * Semantics, the same on both backends (tests/test_conformance.c checks
 * them on each):
 *   - Messages between one (source, destination) pair are delivered in the
 *     order they were sent. A receive matches the first message whose
 *     source and tag match; RT_ANY_SOURCE and RT_ANY_TAG match anything.
 *   - rt_send is buffered: it copies the payload (or hands it to the
 *     kernel) and returns without waiting for the matching receive, so two
 *     ranks sending to each other at once never deadlock.
 *   - rt_isend borrows the caller's buffer until its request completes,
 *     and the request completes no later than when the message has been
 *     received (in simulation: exactly then, so a rank that sends to
 *     several peers one after another, waiting on each, pays for each
 *     transfer in turn, as a tree broadcast should). As in MPI, post the
 *     receives a peer's sends depend on before waiting on your own sends
 *     (rt_sendrecv does this for you).
 *   - A payload pointer of NULL with len > 0 is a size-only message: it
 *     costs len bytes on the wire but carries no data (timing-only what-if
 *     runs). A NULL receive buffer discards what arrives.
 *   - Every call that can fail returns RT_OK or a negative RT_E* code and
 *     leaves a readable message in rt_error(). Library code never exits.
 *
 * Ownership: an rt is created and destroyed by the backend; algorithms only
 * borrow it. Requests are owned by the runtime and freed when they complete
 * in rt_wait/rt_waitall/rt_waitany (the caller's handle is set to NULL).
 */
#ifndef DISTLAB_RUNTIME_H
#define DISTLAB_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt rt;                 /* one rank's view of the job */
typedef struct rt_request rt_request; /* an outstanding isend or irecv */

enum {
    RT_ANY_SOURCE = -1,
    RT_ANY_TAG = -1,
    RT_TAG_MAX = (1 << 30) - 1, /* tags are 0..RT_TAG_MAX; larger are reserved */
};

/* Return codes. RT_OK is zero; every error is negative. */
enum {
    RT_OK = 0,
    RT_EINVAL = -1,   /* bad argument: rank out of range, negative tag ... */
    RT_ETRUNC = -2,   /* message longer than the receive buffer */
    RT_ETIMEOUT = -3, /* nothing arrived within the job's timeout */
    RT_EPEER = -4,    /* the peer died or closed its connection */
    RT_EPROTO = -5,   /* a malformed frame arrived */
    RT_ENOMEM = -6,
    RT_EIO = -7,      /* any other system error */
    RT_EKILLED = -8,  /* this rank was made to fail (--kill-rank, --fail): the
                         cause of what fails after it; its peers see RT_EPEER */
    RT_EINPUT = -9,   /* the rank refused the job's input (a damaged checkpoint,
                         one of another run): bad input, the command line's
                         exit 2, and the cause of what fails after it */
};

typedef struct rt_status {
    int source;   /* rank that sent the message */
    int tag;
    size_t bytes; /* length of the message as sent */
} rt_status;

/* ---- who and when ---- */
int rt_rank(const rt *r);
int rt_size(const rt *r);
double rt_now(rt *r); /* seconds since the job started: simulated or wall */
/* Nonzero when payloads carry only their size (sim --payload size-only):
 * the algorithm should skip the math it cannot do but still charge it. */
int rt_size_only(const rt *r);

/* ---- point-to-point ---- */
int rt_send(rt *r, int dst, int tag, const void *buf, size_t len);
int rt_recv(rt *r, int src, int tag, void *buf, size_t cap, rt_status *st);
int rt_isend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req);
int rt_irecv(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req);
/* Send to dst and receive from src at once (the step of every ring). */
int rt_sendrecv(rt *r, int dst, int stag, const void *sbuf, size_t slen,
                int src, int rtag, void *rbuf, size_t rcap, rt_status *st);

/* Wait for one request; *req becomes NULL, also when it fails. st may be
 * NULL. */
int rt_wait(rt *r, rt_request **req, rt_status *st);
/* Wait for all n; NULL entries are skipped. sts may be NULL. On error the
 * remaining requests are still completed or cancelled before returning. */
int rt_waitall(rt *r, int n, rt_request **reqs, rt_status *sts);
/* Wait for the first of n to complete; *index says which (reqs[*index]
 * becomes NULL). With every entry NULL, returns RT_OK and *index = -1.
 * When waiting itself fails (a timeout, a deadlock) *index is -1 and the
 * requests stay outstanding: wait again, or let rt_waitall give them up. */
int rt_waitany(rt *r, int n, rt_request **reqs, int *index, rt_status *st);
/* rt_waitany, giving up after timeout_s seconds of the rank's clock
 * (simulated or wall): then it returns RT_OK with *index = -1 and every
 * request still outstanding. With every entry NULL it lets the time pass
 * (a sleep that keeps sends moving). The job's own timeout still holds. */
int rt_waitany_for(rt *r, int n, rt_request **reqs, double timeout_s, int *index,
                   rt_status *st);

/* ---- compute, shared memory, barrier ---- */
/* The math already ran; this charges its cost. sim: the simulated clock
 * advances by flops / host speed (shared fairly with the other ranks on the
 * host's cores). real: records the interval only, since the time passed. */
int rt_compute(rt *r, double flops);
/* What a charge is for. Flops of different work run at very different
 * rates on one core: a model's dense products reach tens of Gflop/s, an
 * element-wise pass over a vector (one or two flops per float it reads
 * and writes) a tenth of that, less once the vector leaves the cache. A
 * backend may charge each kind at its own rate: sim does when the run has
 * rates measured by `distlab calibrate` (--calibration), and otherwise
 * charges every kind at the host speed, as rt_compute; real records the
 * interval only, as rt_compute. */
typedef enum rt_work {
    RT_WORK_MODEL = 0, /* a model's forward and backward passes (rt_compute) */
    RT_WORK_VECTOR,    /* element-wise work: optimizer steps, averaging,
                        * a collective's sums */
    /* Memory that other ranks' cores write at the same time (rt_shared:
     * Hogwild!'s weights), where every cache line read or written may
     * first have to come from another core. Only a calibration prices
     * this traffic (it measures ranks reading and writing one shared
     * vector at once); without one, a read is free and a write is charged
     * as RT_WORK_VECTOR, so that the closed-form costs hold. */
    RT_WORK_SHARED_READ,  /* copying floats out of shared memory: 1 per float */
    RT_WORK_SHARED_WRITE, /* w -= lr g into shared memory: 2 per float */
    /* Copying a batch's examples out of the data set into a matrix of
     * their own (model parallelism's inputs), which a model's gradient,
     * reading the rows where they lie, does not do: 1 per float. Charged
     * only at the rate a calibration measures (gathering batches of the
     * rank's shard); free without one, so that the closed forms hold. */
    RT_WORK_GATHER,
    /* A softmax cross-entropy on logits made apart from a model's gradient
     * (model parallelism's loss on the gathered logits): 4 a logit, as
     * the model counts it. Without a calibration it is model work; under
     * one it runs at the rate calibrate measures for it, where a model's
     * rate, its products' rate, would make its exponentials nearly free. */
    RT_WORK_LOSS,
    RT_WORK_KINDS
} rt_work;
int rt_compute_as(rt *r, rt_work kind, double flops);
/* Zeroed memory shared by every rank placed on the same host, looked up by
 * name; every rank of the host gets the same bytes. NULL on error. */
void *rt_shared(rt *r, const char *name, size_t bytes);
/* Every rank of the job waits here until all have arrived. */
int rt_barrier(rt *r);

/* ---- time that is not the job's work ---- */
/* Work a rank does besides the job being measured -- evaluating a model,
 * an exchange made only so that one can be evaluated -- runs between
 * rt_aside_begin and rt_aside_end. rt_work_now is rt_now less the length
 * of every such interval so far, on the same clock: in simulation the
 * interval is as long as its messages and charged compute make it
 * (uncharged math takes no simulated time), on real sockets it is the wall
 * time it took. Everything inside is recorded and counted as usual
 * (events, bytes); only rt_work_now leaves it out. Pairs nest: only the
 * outermost counts. Both backends alike (core/rt_core.c). */
void rt_aside_begin(rt *r);
void rt_aside_end(rt *r);
double rt_work_now(rt *r);

/* ---- communication that overlaps the rank's computation ---- */
/* rt_async_post starts fn(r, arg) running beside the rank's own code, as
 * a companion of the rank (sim: another SimGrid actor on the rank's host;
 * real: a thread of the rank's process), and returns at once: the rank
 * goes on computing while fn's messages move. fn uses r as the rank
 * itself does -- same rank number, same messages, same event log -- and
 * returns RT_OK or an error code. The rules:
 *   - Jobs posted by one rank run one at a time, in the order posted (a
 *     FIFO, as NCCL's stream or Horovod's background thread): job k starts
 *     when job k-1 has ended and it has been posted.
 *   - Between the first post and rt_async_drain the rank's own code makes
 *     no message calls (send, receive, wait, barrier): it computes
 *     (rt_compute, its own math), reads the clock and posts more jobs. Only
 *     the jobs communicate, so the ranks' jobs must match one another as
 *     their collectives would (the same jobs in the same order).
 *   - A job ends every request it starts (waits for it) before it returns:
 *     in simulation each job is an actor of its own, and a send or receive
 *     it left in flight would die with it (its peer sees a link failure).
 *   - rt_async_drain waits until every posted job has ended and returns the
 *     first error among them (a job after a failed one is not run), RT_OK
 *     otherwise. A rank that returns with jobs still posted is drained by
 *     the runtime, which reports their error as the rank's.
 *   - Charged compute inside a job (a collective's additions) runs on the
 *     rank's host beside the rank's own (sim: sharing its cores, as a GPU's
 *     reduction kernels share its SMs; give hosts 2 cores to keep them
 *     apart). Buffers the job uses are the caller's until drain.
 * Both backends (core/rt_core.c on the spawn and join of rt_ops). */
typedef int (*rt_async_fn)(rt *r, void *arg);
int rt_async_post(rt *r, rt_async_fn fn, void *arg);
int rt_async_drain(rt *r);

/* The rank's result slot: bytes (zeroed, as many as the job asked for)
 * that the job hands back to its caller after the run. */
void *rt_slot(rt *r);

/* ---- errors ---- */
const char *rt_error(const rt *r);    /* message of the last error */
const char *rt_strerror(int code);    /* fixed name of a code */
/* Set the rank's error message (printf-style) and return code, so an
 * algorithm can `return rt_fail(r, RT_EINVAL, "allreduce: %d", n);`. */
int rt_fail(rt *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- what the runtime records ---- */
typedef enum rt_event_kind {
    RT_EV_COMPUTE = 0, /* charged compute */
    RT_EV_SEND,        /* a send: posted at start, completed at end */
    RT_EV_RECV,        /* a receive: posted at start, matched at end */
    RT_EV_WAIT,        /* time blocked in recv/wait/barrier */
    RT_EV_KINDS,       /* how many kinds the runtime records by itself */
    RT_EV_SPAN = 16    /* a named span of the algorithm's own work (rt_span) */
} rt_event_kind;

typedef struct rt_event {
    int32_t rank;
    int32_t kind;   /* rt_event_kind */
    double start_s;
    double end_s;
    uint64_t bytes;
    int32_t peer;   /* the other rank, or -1 */
    int32_t tag;
} rt_event;

const char *rt_event_kind_name(int kind); /* "compute", "send", ..., "span" */

/* Record [start_s, end_s] of the rank's clock as a span of the
 * algorithm's own work -- a Ray task running a function, an object moving
 * between two stores -- so that timelines and traces can name it. The
 * event's tag holds `name`, an index (0..RT_TAG_MAX) into a table of
 * names that the algorithm defines, the same on every rank and backend,
 * and that its runner writes into the run records (summary.json
 * "span_names", core/records.h). An event stays a fixed size on every
 * backend, and a run's records stay byte for byte the same from one run
 * to the next. bytes and peer as for a message (0 and -1: none). A span
 * is only recorded: it moves no clock and counts no bytes. RT_EINVAL for
 * a name out of range or an end before the start. */
int rt_span(rt *r, int name, double start_s, double end_s, uint64_t bytes, int peer);

#endif
