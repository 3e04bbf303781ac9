/* real.h -- what the files of the real backend share.
 *
 * The real backend runs algorithms/runtime.h over TCP: every rank holds one
 * connection to every other rank (and one to itself) and moves frames
 * (frame.h) over them. Its files each have one job:
 *
 *   frame.c    the wire header: encode, decode, check
 *   net.c      socket setup: listen, connect, accept, options
 *   mesh.c     connecting a rank to all the others, and hanging up
 *   engine.c   matching and progress: the point-to-point half of rt_ops
 *   shared.c   rt_shared: one mapping per name, for threads or processes
 *   launch.c   real_job_run: ranks as threads or processes; the clock
 *   real_backend.c  the backend's table and settings (real_backend.h), and
 *              its policy: spin before sleeping, bind ranks to cores
 *
 * Ownership: the launcher allocates the real_job and one real_rank per
 * rank; a rank's connections, queues and requests belong to its own
 * thread or process and are never touched by another.
 */
#ifndef DISTLAB_REAL_H
#define DISTLAB_REAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/job.h"
#include "core/rt_core.h"
#include "real/real_backend.h"
#include "real/frame.h"
#include "real/net.h"

/* Runtime tags above the barrier's: a rank of a hosts job reports to rank
 * 0 at the end (launch.c); a halt says the sender stopped after an error
 * and sends nothing more but its report (its connections stay open for
 * that); "alive" says a rank waiting for a long time is there (engine.c,
 * say_alive); a goodbye ends a rank's stream; a hello opens a connection
 * and is never valid later. */
#define REAL_TAG_REPORT (RT_TAG_BARRIER + 1)
#define REAL_TAG_HALT (RT_TAG_BARRIER + 2)
#define REAL_TAG_REFUSE (RT_TAG_BARRIER + 3) /* your hello is another job's */
#define REAL_TAG_ALIVE (RT_TAG_BARRIER + 4)
#define REAL_TAG_BYE (RT_TAG_BARRIER + 5)
#define REAL_TAG_HELLO (RT_TAG_BARRIER + 6)

/* A circular doubly linked list with a sentinel head. */
typedef struct rlink {
    struct rlink *prev, *next;
} rlink;

static inline void rlist_init(rlink *h) { h->prev = h->next = h; }
static inline int rlist_empty(const rlink *h) { return h->next == h; }
static inline void rlist_push(rlink *h, rlink *e)
{
    e->prev = h->prev;
    e->next = h;
    h->prev->next = e;
    h->prev = e;
}
static inline void rlist_del(rlink *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = e;
}
#define RLIST_ENTRY(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* A named shared mapping (threads: the job's registry; procs: a rank's
 * cache of what it has mapped). */
typedef struct real_shm {
    struct real_shm *next;
    char *name;
    size_t bytes;
    void *ptr;            /* the mapping (NULL in a procs launcher's list) */
    int fd;               /* procs launcher: the memory file it hands out */
} real_shm;

/* One job: fixed before the ranks start, then read-only except under lock. */
typedef struct real_job {
    const job_config *cfg;
    job_result *res;
    job_main fn;
    void *arg;
    int size;
    int procs;           /* ranks are processes (else threads) */
    int hosts;           /* this process runs one rank of a hosts job */
    double t0;           /* net_clock_s() when the job started */
    double timeout_s;
    double spin_s;       /* poll without sleeping this long before blocking */
    int bind;            /* each rank bound to a core (real_binds) */
    uint64_t token;      /* carried by every hello: rejects strangers */
    int *listen_fd;      /* per rank, made before any rank starts */
    net_addr *addr;      /* per rank: where its listener is */
    pthread_mutex_t lock;
    real_shm *shm;       /* threads: every named mapping of the job;
                          * procs: the launcher's memory files, by name */
    double *beat;        /* procs: per rank, when it last showed life
                          * (net_clock_s), in a mapping the launcher reads */
} real_job;

enum { REQ_NONE = 0, REQ_POSTED, REQ_OUTQ, REQ_FILLING };

typedef struct real_req {
    rt_request base;      /* first, so the core can read it */
    rlink link;           /* in the posted queue or a peer's send queue */
    int where;            /* REQ_* */
    int peer;             /* send: destination; receive: source (or any) */
    int from;             /* receive being filled: the rank it comes from */
    int tag;
    /* send: header, then len payload bytes from sbuf (NULL: zeros) */
    unsigned char hdr[REAL_FRAME_HEADER_BYTES];
    const char *sbuf;     /* payload byte i is at sbuf[i - sbuf_off] */
    size_t sbuf_off;      /* nonzero when sbuf is a copy of the unsent tail */
    size_t len, sent;     /* sent counts header and payload bytes */
    char *owned;          /* that copy, when the caller's buffer is gone */
    int orphan;           /* released while queued: freed once written */
    /* receive */
    char *rbuf;
    size_t cap;
    double active_s;      /* last time bytes moved for this request */
    char msg[256];        /* why it completed with an error */
} real_req;

/* A message that arrived before its receive was posted. */
typedef struct real_msg {
    rlink link;
    int src, tag;
    size_t len;
    char *data;
    int complete;         /* all len bytes are in data */
} real_msg;

typedef struct real_peer {
    int rfd, wfd;         /* one socket, except to self; -1 once closed */
    int error;            /* 0 while the peer is there, else an RT_E* code */
    int torn;             /* a frame was left half written: no goodbye */
    double active_s;      /* last time messages moved on this connection
                           * (alive frames do not count: progress) */
    double heard_s;       /* last time bytes came from the peer, alive
                           * frames too (liveness) */
    double said_s;        /* last time bytes went to it */
    int silent;           /* a wait on it timed out, and nothing came from
                           * it for the timeout (not even an alive frame:
                           * it is stopped or stuck, not waiting itself);
                           * a rank that failed does not wait on it again
                           * (real_engine_give_up) */
    int reported;         /* its end was reported to an any-source receive */
    int halted;           /* it sent a halt: only its report may still come */
    char why[256];        /* how it ended */
    rlink outq;           /* sends to it, oldest first */
    /* incoming: a staging buffer for headers and small payloads */
    unsigned char *ibuf;
    size_t ilo, ihi;
    int in_payload;       /* reading a payload (else a header) */
    int in_tag;
    size_t in_len, in_got;
    char *in_dst;         /* where payload bytes go (NULL: dropped) */
    size_t in_cap;        /* ... up to this many */
    real_req *in_req;     /* the posted receive being filled, or */
    real_msg *in_msg;     /* the unexpected message being filled */
} real_peer;

typedef struct real_rank {
    rt rt;
    real_job *job;
    real_peer *peers;     /* indexed by rank; peers[rank] is the self loop */
    int live_peers;       /* other ranks not yet ended */
    int heard_halt;       /* a receive failed because its peer halted */
    int failed;           /* its function returned an error: it is ending */
    rlink posted;         /* posted receives, oldest first */
    rlink unexpected;     /* unmatched arrivals, in arrival order */
    struct pollfd *pfds;  /* scratch for progress */
    int *pfd_peer;
    double last_call_s;   /* end of the latest runtime call (stragglers) */
    real_shm *maps;       /* procs: what this rank has mapped */
    int launcher_fd;      /* procs: its socket to the launcher, which hands
                           * out rt_shared's memory files; else -1 */
    /* never touched: the ranks of a threads job lie side by side in one
     * array, and without it this rank's last_call_s (written by every
     * rt_compute) shared a cache line with the next rank's rt.ops and
     * rt.rank (read by every runtime call): false sharing on every
     * Hogwild! update. A cache line's worth keeps the tails apart. */
    char pad_next_rank[64];
} real_rank;

/* engine.c */
int real_engine_init(real_rank *rk);
void real_engine_fini(real_rank *rk);
int real_isend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req);
int real_bsend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req);
int real_irecv(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req);
int real_progress(rt *r, int n, rt_request **reqs);
int real_progress_for(rt *r, int n, rt_request **reqs, double timeout_s);
void real_release(rt *r, rt_request *req);
/* At a rank's end: drop the sends it never waited for, then write out the
 * ones it handed over (buffered sends), within the job's timeout. */
void real_engine_flush(real_rank *rk);
/* The first half of the flush: drop the receives and unbuffered sends the
 * rank never waited for (their buffers may be gone); a connection with a
 * frame half written is torn and sends nothing more. */
void real_engine_abandon(real_rank *rk);
/* A rank that failed waits no longer on a peer it has heard nothing from
 * for the timeout when a wait of its own timed out on that peer (silent)
 * or, with quiet_too, whatever it waited for (but rank 0 of a hosts job,
 * which may still be reading this rank's report). Their connections
 * close; returns how many it gave up. */
int real_engine_give_up(real_rank *rk, int quiet_too);
/* Tell every other rank this one stopped after an error (a halt frame):
 * their receives from it fail at once, and its report can still go. */
void real_engine_halt(real_rank *rk);
/* Close the connection to p and fail everything that waits on it; the
 * message says what happened to the connection (the callers' messages add
 * "recv from rank p: " and the like). */
void real_peer_fail(real_rank *rk, int p, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* mesh.c */
int real_mesh_open(real_rank *rk);
void real_mesh_close(real_rank *rk);

/* shared.c */
void *real_shared(rt *r, const char *name, size_t bytes);
/* The launcher of a procs job: answer one rt_shared request that came on
 * a rank's socket fd (its memory file, made on the first request for a
 * name). Returns 0, or 1 when the socket says the rank is gone. */
int real_shared_serve(real_job *job, int fd);
void real_shared_rank_fini(real_rank *rk);
void real_shared_job_fini(real_job *job);

/* launch.c: real_backend.run; mark the end of a runtime call (for
 * stragglers' slowdown); and tell the launcher of a procs job this rank
 * is alive (real_mark does too). Every wait of the backend beats at least
 * once per --timeout; the launcher kills a rank silent for twice that. */
int real_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);
void real_mark(real_rank *rk);
void real_beat(real_rank *rk);

/* For tests: the socket that carries frames from r to peer, and a crash
 * in miniature (every connection closed without a goodbye). */
int real_peer_fd(rt *r, int peer);
void real_abort_connections(rt *r);

#endif
