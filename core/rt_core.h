/* rt_core.h -- what a backend provides behind algorithms/runtime.h.
 *
 * A backend is a table of functions (as SQLite's VFS is): sim/ fills it
 * with SimGrid calls, real/ with TCP sockets. The backend-neutral parts --
 * argument checks, blocking calls built from non-blocking ones, the event
 * log, byte counters, the barrier, error messages -- live in core/rt_core.c
 * and are written once.
 *
 * A backend allocates its requests with rt_request as their first member,
 * so the core can read the common fields and record the events.
 */
#ifndef DISTLAB_RT_CORE_H
#define DISTLAB_RT_CORE_H

#include <stdarg.h>
#include <stdint.h>

#include "algorithms/runtime.h"

/* progress_for's answer when its time passed first (not an error). */
#define RT_PROGRESS_TIMEOUT 1

/* Tags above RT_TAG_MAX belong to the runtime (the barrier). */
#define RT_TAG_BARRIER (RT_TAG_MAX + 1)

struct rt_request {
    int is_send;
    int peer;         /* dst for sends; requested src for receives */
    int tag;          /* requested tag (may be RT_ANY_TAG) */
    size_t bytes;     /* send length, or receive capacity */
    double posted_s;
    int done;         /* set by the backend when complete */
    int error;        /* RT_OK or the error it completed with */
    rt_status status; /* filled by the backend on completion */
};

typedef struct rt_ops {
    /* Post a send or receive; fills *req with a backend request whose
     * header the core then initialises. Arguments are already checked. */
    int (*isend)(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req);
    int (*irecv)(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req);
    /* Optional: a buffered send for rt_send, which completes as soon as the
     * payload is copied (never waits for the receiver). NULL: rt_send uses
     * isend and waits for it, which must then never need the receiver. */
    int (*bsend)(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req);
    /* Make progress until at least one of reqs[0..n) (NULL entries skipped)
     * has done set, or the job's timeout passes. Returns RT_OK when one is
     * done, else an error code with the message set by rt_seterr. */
    int (*progress)(rt *r, int n, rt_request **reqs);
    /* Optional: progress as above, but give up after timeout_s (>= 0) of
     * the rank's clock, returning RT_PROGRESS_TIMEOUT with nothing done
     * (no error set). With every entry NULL it just lets the time pass.
     * NULL: rt_waitany_for refuses a timeout. */
    int (*progress_for)(rt *r, int n, rt_request **reqs, double timeout_s);
    /* Release a completed request. */
    void (*release)(rt *r, rt_request *req);
    double (*now)(rt *r);
    /* Charge flops of work of this kind (rt_work; arguments checked). */
    int (*compute)(rt *r, int kind, double flops);
    void *(*shared)(rt *r, const char *name, size_t bytes);
    /* Optional: when the math that rt_compute charges began (real: the end
     * of the rank's previous runtime call, as the math ran before the
     * call). NULL: at the call, which suits a backend that charges the
     * time inside compute (sim). */
    double (*compute_began)(rt *r);
    /* Optional: 0 when compute charges nothing at all for this kind (sim:
     * a shared read without a calibrated rate), so that rt_compute_as
     * neither calls it nor records an event. NULL: every kind charges. */
    int (*charges)(rt *r, int kind);
    /* Run fn(arg) beside the rank, concurrently with it (sim: another
     * actor on the rank's host; real: a thread); *handle is what join
     * takes. join waits for it to end and frees what spawn made. Both are
     * needed for rt_async_post (NULL: it fails with RT_EINVAL). */
    int (*spawn)(rt *r, void (*fn)(void *arg), void *arg, void **handle);
    void (*join)(rt *r, void *handle);
} rt_ops;

struct rt_async_job; /* rt_core.c */

struct rt {
    const rt_ops *ops;
    const char *backend; /* "sim" or "real" */
    int rank, size;
    int size_only;
    int record_events;
    /* the event log: grown by the core, read by the job after the run */
    rt_event *events;
    size_t nevents, cap_events;
    uint64_t bytes_sent, messages_sent;
    double slowdown;     /* compute takes this many times as long (>= 1) */
    void *slot;          /* the job's per-rank result slot */
    double aside_s;      /* closed rt_aside intervals, total */
    double aside_t0;     /* when the open one began */
    int aside_depth;
    struct rt_async_job *async_last; /* the latest posted job, until drained */
    char log_lock;       /* the event log, shared with a companion job */
    void *backend_data;
    char err[512];       /* last: the fields above are read per message */
};

/* Set up the common part of an rt. */
void rt_init(rt *r, const rt_ops *ops, const char *backend, int rank, int size,
             int size_only, int record_events, void *backend_data);
/* Free what the core allocated (the event log). */
void rt_fini(rt *r);

/* Record one interval; silently stops recording if memory runs out. */
void rt_record(rt *r, int kind, double start_s, double end_s, uint64_t bytes,
               int peer, int tag);

/* The backends' name for rt_fail (runtime.h): set the message, return code. */
#define rt_seterr rt_fail

/* Does a message (source, tag) satisfy a receive posted for (src, tag)? */
static inline int rt_matches(int want_src, int want_tag, int src, int tag)
{
    return (want_src == RT_ANY_SOURCE || want_src == src) &&
           (want_tag == RT_ANY_TAG ? tag <= RT_TAG_MAX : want_tag == tag);
}

/* Internal sends and receives that may use the runtime's reserved tags. */
int rt_isend_internal(rt *r, int dst, int tag, const void *buf, size_t len, int buffered,
                      rt_request **req);
int rt_irecv_internal(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req);

#endif
