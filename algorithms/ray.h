/* ray.h -- Ray's execution model on distlab's runtime: remote tasks,
 * futures, actors and a per-node object store.
 *
 * Every rank of the job is a Ray node (a raylet and one worker). Rank 0
 * also runs the driver, the program's main function; the other ranks
 * serve until the driver returns. The code that uses this header is
 * written once and runs on both backends, like every algorithm.
 *
 *   static int add(ray *ry, int nargs, const ray_arg *a)
 *   {
 *       double s = *(const double *)a[0].data + *(const double *)a[1].data;
 *       return ray_return(ry, &s, sizeof s);
 *   }
 *   static const ray_function fns[] = {{"add", add}};
 *   ...in the driver:
 *   ray_ref x, y;
 *   ray_submit(ry, "add", 2, (ray_in[]){ray_val(&one, 8), ray_val(&two, 8)}, NULL, &x);
 *   ray_submit(ry, "add", 2, (ray_in[]){ray_fut(x), ray_val(&one, 8)}, NULL, &y);
 *   ray_get(ry, y, &data, &bytes);          (4.0: x was resolved first)
 *
 * Semantics (tests/test_ray.c checks each on sim and on real threads):
 *   - ray_submit returns an object reference (a future) at once. A future
 *     passed as an argument is resolved before the task runs, wherever it
 *     runs; the task sees values only. Tasks may submit tasks and get them.
 *   - Whoever submits a task owns its result (Ray's ownership model): the
 *     owner knows where the value is and frees it when its own handle is
 *     released and no task it submitted still needs it, nor a borrower
 *     of a reference it passed inside a value (see ray_val_refs).
 *   - A result of at most cfg.inline_bytes (Ray's default 100 KiB) travels
 *     inline to its owner; a larger one stays in the object store of the
 *     node that made it and is fetched, with a real transfer, by a node
 *     that needs it. Arguments larger than that are put in the store first.
 *   - A value given as NULL with bytes > 0 (ray_return, ray_put, ray_val)
 *     is size-only, as a NULL payload is in runtime.h: for timing-only
 *     runs at sizes whose data would not fit in memory. Above
 *     cfg.inline_bytes it is stored, fetched and counted as its size with
 *     no data behind it (its transfer is a size-only message: simulated
 *     at full cost, zeros on real sockets), and a task or ray_get sees
 *     data NULL with its bytes. At or below it, it travels inline as that
 *     many zero bytes, so its control message costs what it would with
 *     data, and is seen as zeros. The job's own messages keep their bytes
 *     (the job runs with data, rt_size_only 0): a whole-job size-only
 *     run (--payload size-only) would drop Ray's control messages too.
 *   - An actor lives on one node; its methods run one at a time, in the
 *     order each caller submitted them (calls from one caller arrive in
 *     order, and the actor runs them in arrival order). A handle is a
 *     plain value: pass it to tasks and other actors.
 *   - A task that fails (returns nonzero, e.g. via ray_raise) makes its
 *     result an error, "task 'NAME' on rank R: MESSAGE"; ray_get of it, or
 *     of anything computed from it, returns RAY_ETASK with that message in
 *     rt_error(ray_rt(ry)).
 *   - A node that dies (a crash; --fail in simulation) loses what it held.
 *     Its owners rebuild what they can (Ray's lineage reconstruction,
 *     eager): a plain task in flight there runs again elsewhere, and a
 *     plain task's result whose only copy was in its store is recomputed
 *     by running the task again, recursively through its arguments, at
 *     most cfg.max_retries times; then, and for results of actor methods
 *     and puts, the object is an error naming the task and the node. An
 *     actor created with max_restarts is started again on another node
 *     from its constructor; calls in flight to it fail (Ray's at-most-once
 *     default, max_task_retries 0) or, created with max_task_retries, go
 *     again to the new one in the order they were made; calls made after
 *     reach the new one.
 *     Objects whose owner died are errors (no object outlives its owner);
 *     the driver's node (0) must not die.
 *   - A reference handed to a task inside a value (ray_val_refs) is
 *     borrowed: its owner keeps the object while the task runs and while
 *     any node holds it with ray_borrow, and frees it once the last
 *     borrower has released it and the owner's own handle is gone. A
 *     borrower may lend it on the same way, to any depth.
 *
 * Ownership of memory: ray_get's pointer is the runtime's, valid until
 * ray_release of that reference; arguments a task sees are valid only
 * during the call; ray_return and ray_submit copy what they are given.
 */
#ifndef DISTLAB_RAY_H
#define DISTLAB_RAY_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"

typedef struct ray ray;     /* one node's runtime */
typedef uint64_t ray_ref;   /* an object reference; 0 is none */

enum {
    RAY_ETASK = -100,       /* the object is a task's error (see rt_error) */
    RAY_ESHUTDOWN = -101,   /* the job is ending: the driver returned */
};

/* An argument as the task sees it. */
typedef struct ray_arg {
    const void *data;
    size_t bytes;
} ray_arg;

/* An argument as the submitter gives it: a value (copied) or a future.
 * A value may carry references (ray_ref values anywhere in its bytes),
 * named in refs so that the runtime can count them: Ray's borrowing
 * (Wang et al., NSDI 2021). The submitter must own them or hold them
 * with ray_borrow; they stay alive until the task has returned, and a
 * task that keeps one longer calls ray_borrow, then ray_release when done
 * with it. */
typedef struct ray_in {
    ray_ref ref;            /* nonzero: a future */
    const void *data;
    size_t bytes;
    const ray_ref *refs;    /* references inside the value (may be NULL) */
    int nrefs;
} ray_in;

static inline ray_in ray_val(const void *data, size_t bytes)
{
    return (ray_in){0, data, bytes, NULL, 0};
}
static inline ray_in ray_val_refs(const void *data, size_t bytes, const ray_ref *refs, int nrefs)
{
    return (ray_in){0, data, bytes, refs, nrefs};
}
static inline ray_in ray_fut(ray_ref ref)
{
    return (ray_in){ref, NULL, 0, NULL, 0};
}

typedef int (*ray_task_fn)(ray *ry, int nargs, const ray_arg *args);
/* An actor's method (or constructor) with the actor's state. */
typedef int (*ray_method_fn)(ray *ry, void *state, int nargs, const ray_arg *args);

typedef struct ray_function {
    const char *name;
    ray_task_fn fn;
} ray_function;

typedef struct ray_method {
    const char *name;
    ray_method_fn fn;
} ray_method;

typedef struct ray_class {
    const char *name;
    size_t state_bytes;     /* zeroed state the constructor fills */
    ray_method_fn init;     /* constructor: the creation's arguments */
    void (*fini)(void *state); /* NULL: nothing to free */
    const ray_method *methods;
    int nmethods;
} ray_class;

/* An actor handle: a value, copy it anywhere. */
typedef struct ray_actor {
    uint64_t id;            /* owner rank and sequence, as a ray_ref */
    int32_t node;           /* where it lives */
    int32_t cls;            /* index into the program's classes */
    int32_t max_task_retries; /* as created (ray_task_opts) */
    int32_t pad;
} ray_actor;

typedef struct ray_task_opts {
    double cpus;            /* resources the task holds while it runs (default 1) */
    int node;               /* run there; -1: the scheduler decides. A node
                               known to be dead is passed over (soft affinity) */
    int max_restarts;       /* actors: restarts after their node dies (Ray's
                               default 0: none; -1: without limit) */
    int max_task_retries;   /* actors: a call in flight when the actor's node
                               dies goes again to the restarted actor, at most
                               this many times (Ray's default 0: at most once;
                               -1: without limit). The call may then have run
                               twice, and it runs on the state the constructor
                               rebuilt */
} ray_task_opts;

/* Placement, as Ray's hybrid policy: a node takes work itself while it
 * is less than spread_threshold busy, then the least loaded node it knows
 * of; a task whose large inputs sit on one node goes there (locality).
 * A node that receives a task it cannot start spills it to a node it
 * knows to be free. */
typedef struct ray_config {
    size_t inline_bytes;    /* results above this stay in the store (102400) */
    double cpus_per_node;   /* each node's resource (1) */
    double spread_threshold; /* fraction busy before spreading (0.5) */
    int locality;           /* place tasks by their inputs' location (1) */
    int spillback;          /* a busy node forwards a task once (1) */
    /* Time every task and method takes before it runs, on the node's
     * clock, while the node keeps serving messages: the per-task overhead
     * a simulation charges (real sockets have their own; 0 there). */
    double task_overhead_s;
    /* A plain task whose node dies while it runs, or whose result is lost
     * with the node that stored it, is run again at most this many times
     * (Ray's max_retries, default 3); then its result is an error. */
    int max_retries;
} ray_config;

ray_config ray_config_default(void);

/* The per-task overhead a simulation charges by default: the round trip
 * of an empty remote task on real threads less that of a plain
 * rt_send/rt_recv pair, on this project's 2-core VM (docs/ray.md). */
#define RAY_SIM_TASK_OVERHEAD_S 5e-6

typedef struct ray_program {
    const ray_function *functions;
    int nfunctions;
    const ray_class *classes;
    int nclasses;
    int (*driver)(ray *ry, void *arg); /* runs on rank 0 */
    void *arg;
    ray_config cfg;
} ray_program;

/* What one node did. */
typedef struct ray_stats {
    uint64_t tasks_submitted, tasks_run, tasks_spilled, tasks_failed;
    uint64_t actors_created, actor_calls;
    uint64_t objects_inline;     /* results and puts small enough to skip the store */
    uint64_t objects_stored;     /* values put in this node's store (primary copies) */
    uint64_t objects_fetched;    /* values fetched from another node's store */
    uint64_t bytes_fetched;
    uint64_t bytes_inline;       /* of inline values sent to another node */
    uint64_t objects_freed;      /* store objects (primary or copy) freed */
    uint64_t store_bytes, store_peak_bytes; /* now (at the end), and at most */
    uint64_t reconstructions;    /* lost results this node owned, rebuilt by lineage */
    uint64_t tasks_retried;      /* tasks run again because their node died */
    uint64_t actor_restarts;     /* actors this node created, restarted elsewhere */
    uint64_t calls_lost;         /* actor calls in flight when the actor's node died */
    uint64_t calls_retried;      /* of those, sent again to the restarted actor */
    uint64_t nodes_lost;         /* nodes this node learnt were dead */
} ray_stats;

/* The counts a run's summary.json gets (run ray-ps, ray-bench), summed
 * over the nodes, the store's peak the largest node's: one value each,
 * named by RAY_STAT_NAMES in this order. */
enum {
    RAY_STAT_TASKS, RAY_STAT_ACTOR_CALLS, RAY_STAT_OBJECTS_INLINE, RAY_STAT_OBJECTS_STORED,
    RAY_STAT_OBJECTS_FETCHED, RAY_STAT_BYTES_FETCHED, RAY_STAT_BYTES_INLINE,
    RAY_STAT_OBJECTS_FREED, RAY_STAT_STORE_PEAK, RAY_STAT_SPILLED, RAY_STAT_RECONSTRUCTIONS,
    RAY_STAT_TASKS_RETRIED, RAY_STAT_ACTOR_RESTARTS, RAY_STAT_CALLS_LOST,
    RAY_NSTATS
};
#define RAY_STAT_NAMES                                                                     \
    "ray_tasks", "ray_actor_calls", "ray_objects_inline", "ray_objects_stored",            \
        "ray_objects_fetched", "ray_bytes_fetched", "ray_bytes_inline", "ray_objects_freed", \
        "ray_store_peak_bytes", "ray_tasks_spilled", "ray_reconstructions",                \
        "ray_tasks_retried", "ray_actor_restarts", "ray_calls_lost"
extern const char *const ray_stat_names[RAY_NSTATS];
/* Add one node's counts to totals[RAY_NSTATS]. */
void ray_stats_add(double *totals, const ray_stats *st);
/* After ray_main, on every rank: each sends its counts to rank 0, which
 * adds them (its own too) to totals; a node that died sends nothing.
 * totals may be NULL off rank 0. */
int ray_stats_gather(rt *r, const ray_stats *st, double *totals);
/* A node that died keeps its counts instead, up to its death, in a
 * kept[RAY_NSTATS + 1] of its own result slot (the last: 1 once kept),
 * which outlives it (the job's result area); whoever ran the job adds
 * each dead rank's to rank 0's totals. ray_main returns on a node whose
 * simulated host went down (--fail), or that --kill-rank ended in
 * simulation or on threads, so those keep theirs; a process that ended
 * (a crash, or --kill-rank on procs and hosts) keeps nothing, and
 * ray_stats_add_kept then adds nothing and returns 0 (1 when it added). */
void ray_stats_keep(double *kept, const ray_stats *st);
int ray_stats_add_kept(double *totals, const double *kept);

/* ---- names in the run records ----
 * Every node records what it ran as spans (runtime.h: rt_span), named by
 * an index into the program's span names, the same on every node and on
 * both backends: 0 is "object transfer" (a value fetched from another
 * node's store, on the node that fetched it, from its request to the
 * body's arrival; bytes and the node it came from), then one per
 * function ("f"), then per class its constructor ("C.__init__") and its
 * methods ("C.m"), in the program's order. A task's span covers its
 * function, not the per-task overhead before it. A runner writes the
 * names into the run records (core/records.h: records_set_span_names). */
int ray_span_count(const ray_program *prog);
/* Span id's name into buf; -1 when the program has no such span. */
int ray_span_name(const ray_program *prog, int id, char *buf, size_t len);

/* Run the program on this rank: rank 0 runs the driver, every rank serves
 * as a node until the driver has returned. Returns the driver's code on
 * rank 0, RT_OK elsewhere unless the node itself failed. stats may be NULL. */
int ray_main(rt *r, const ray_program *prog, ray_stats *stats);

/* ---- tasks and objects ---- */
int ray_submit(ray *ry, const char *fn, int nargs, const ray_in *args,
               const ray_task_opts *opts, ray_ref *out);
int ray_put(ray *ry, const void *data, size_t bytes, ray_ref *out);
/* Block until the value is here; *data stays valid until ray_release. */
int ray_get(ray *ry, ray_ref ref, const void **data, size_t *bytes);
/* Block until k of the n refs are ready (a value or an error) or timeout_s
 * passes (< 0: no limit); ready[i] says which (may be NULL). *nready gets
 * how many were ready (it may exceed k). */
int ray_wait(ray *ry, int n, const ray_ref *refs, int k, double timeout_s, int *ready,
             int *nready);
/* Drop this node's handle (the owner frees the object when nothing else
 * needs it). */
void ray_release(ray *ry, ray_ref ref);
/* Inside a task handed ref in a value (ray_val_refs): keep it after the
 * task returns, as a handle of this node, until ray_release. The owner
 * counts this node as a borrower until then (or until it dies); the
 * task's submitter, if it only borrows ref itself, tells the owner. */
int ray_borrow(ray *ry, ray_ref ref);

/* ---- actors ---- */
int ray_actor_create(ray *ry, const char *cls, int nargs, const ray_in *args,
                     const ray_task_opts *opts, ray_actor *out);
int ray_call(ray *ry, ray_actor a, const char *method, int nargs, const ray_in *args,
             ray_ref *out);

/* ---- inside a task or method ---- */
/* The task's result (copied); the last call wins. Returns RT_OK. */
int ray_return(ray *ry, const void *data, size_t bytes);
/* Fail the running task with a message; returns RAY_ETASK to return. */
int ray_raise(ray *ry, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Let seconds pass on this node's clock while it keeps serving (Ray's
 * time.sleep in a task); ends early when the job ends. */
int ray_sleep(ray *ry, double seconds);

rt *ray_rt(ray *ry);
void *ray_program_arg(ray *ry); /* the program's arg, on every node */
int ray_node(const ray *ry);
int ray_nodes(const ray *ry);
int ray_node_dead(const ray *ry, int node); /* this node learnt it died */
const ray_stats *ray_node_stats(const ray *ry);

#endif
