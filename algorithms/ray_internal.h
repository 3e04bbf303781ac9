/* ray_internal.h -- what ray.c (the programming model) and ray_raylet.c
 * (the node underneath: object store, scheduler, messages) share.
 *
 * One table per node holds every object the node knows about, keyed by
 * reference: the objects it owns (it submitted the task or put the value),
 * values in its store (primary copies it made, copies it fetched), and
 * values it resolved for a task's arguments or a get.
 */
#ifndef DISTLAB_RAY_INTERNAL_H
#define DISTLAB_RAY_INTERNAL_H

#include "algorithms/ray.h"

#define RAY_TAG_CTRL 0x5241 /* control messages: tasks, results, requests */
#define RAY_TAG_DATA 0x5242 /* object bodies, after a FETCH_REPLY header */
#define RAY_TAG_STATS 0x5250 /* each node's counts to rank 0, after ray_main */

enum { OBJ_PENDING, OBJ_READY, OBJ_ERROR };

typedef struct ray_obj {
    ray_ref ref;
    int owned;          /* this node owns it: counts refs, answers RESOLVE */
    int state;          /* OBJ_* as far as this node knows */
    int loc;            /* node whose store holds the value, -1: inline */
    size_t bytes;
    void *data;         /* the value when it is here */
    int here;           /* the value (or the error) is on this node */
    int gets;           /* not owned: a ray_get holds a pin */
    int in_store;       /* data is a store object (primary or copy) */
    int primary;        /* this node made it: it serves FETCHes */
    char *error;        /* OBJ_ERROR: the message */
    int refs;           /* owner: handles + submitted tasks that need it */
    int *bcount;        /* owner: per node, its borrows as the messages so
                           far add up (a node's -1 may come before the +1
                           its lender forwarded) */
    int borrowers;      /* owner: nodes whose bcount is not zero */
    int borrowed;       /* not owned: this node's ray_borrow handles */
    int pins;           /* local uses of data: waiting args, gets, sends */
    int asked;          /* a RESOLVE or FETCH for it is out */
    double fetch_s;     /* when the FETCH went out (its span's start) */
    int freed;          /* the owner freed it: delete when unpinned */
    int *nodes;         /* owner: nodes waiting for a VALUE; primary: copies */
    int nnodes, capnodes;
    ray_ref *deps;      /* owner: the arguments its task holds refs on */
    int ndeps;
    /* owner: where its task went and how to run it again (lineage) */
    int exec;           /* the node the task was sent to, -1: none/unknown */
    int task_kind;      /* TASK_* of the task that makes it, -1: a put */
    int task_fn, task_cls; /* its function or method, and class */
    uint64_t actor;     /* TASK_CALL: the actor */
    int pinned;         /* the node the submitter asked for, or -1 */
    int retries;        /* runs again so far */
    int max_retries;    /* TASK_CALL: the actor's max_task_retries */
    int retry;          /* TASK_CALL: to be sent again (node_died) */
    char *spec;         /* TASK_FN: the TASK message, kept while the value
                           may need rebuilding */
    size_t spec_len;
} ray_obj;

typedef struct ray_targ {
    ray_ref ref;        /* 0: inline value in data */
    int loc;            /* where the submitter knew the value to be, or -1 */
    size_t bytes;
    void *data;         /* inline copy (owned) or the object's data */
    ray_obj *obj;       /* pinned object, once resolved */
    int ready;
} ray_targ;

enum { TASK_FN, TASK_CREATE, TASK_CALL };

typedef struct ray_task {
    int kind;           /* TASK_* */
    int fn;             /* function, method or class index */
    ray_ref ret;        /* result object */
    int owner;          /* node that owns ret */
    uint64_t actor;     /* TASK_CREATE, TASK_CALL */
    double cpus;
    int spilled;        /* forwarded once already */
    int nargs, pending; /* arguments, and those not yet here */
    ray_targ *args;
    char *error;        /* an argument's error: the task fails with it */
    struct ray_task *next;
} ray_task;

typedef struct ray_actor_rec {
    uint64_t id;
    int cls;
    void *state;
    int constructed, busy;
    char *error;        /* the constructor failed: every call fails */
    ray_task *head, *tail; /* calls in arrival order, the creation first */
    struct ray_actor_rec *next;
} ray_actor_rec;

/* A running task: where ray_return and ray_raise put their results. */
typedef struct ray_frame {
    void *result;
    size_t bytes;
    char error[400];
    int raised;
    int lender;         /* the node that submitted the running task */
    struct ray_frame *up;
} ray_frame;

typedef struct ray_io {  /* an outstanding request beside the control receive */
    int is_send;
    ray_obj *obj;        /* send: the pinned object; recv: where it goes */
    void *buf;           /* recv: the body */
    ray_ref ref;
    size_t bytes;
    int from;
} ray_io;

/* An actor as the nodes that call it know it: where it lives now. */
enum { ACT_ALIVE, ACT_RESTARTING, ACT_DEAD };
typedef struct ray_pending_call { /* a call held while its actor restarts */
    ray_ref ret;
    char *buf;
    size_t len;
    struct ray_pending_call *next;
} ray_pending_call;

typedef struct ray_actor_loc {
    uint64_t id;
    int node, state, restarts;
    char *error;                /* ACT_DEAD: why */
    ray_pending_call *held, *held_tail;
    /* the creator (owner) only: how to start it again */
    int owned, cls, max_restarts;
    char *spec;
    size_t spec_len;
    struct ray_actor_loc *next;
} ray_actor_loc;

typedef struct ray_map {
    ray_obj **slot;
    size_t cap, n;
} ray_map;

struct ray {
    rt *r;
    const ray_program *prog;
    ray_config cfg;
    int me, p;
    uint64_t next_seq;
    ray_map objs;
    ray_task *ready_head, *ready_tail; /* plain tasks whose arguments are here */
    ray_task *waiting;                 /* plain tasks waiting for arguments */
    int nwaiting;
    ray_actor_rec *actors;             /* actors living on this node */
    ray_actor_loc *actor_locs;         /* actors this node created or called */
    unsigned char *dead, *bye;         /* per node: learnt dead, said BYE */
    double running_cpus;               /* tasks started and not finished */
    double queued_cpus;                /* ready + waiting plain tasks */
    float *load;                       /* the load each node last reported */
    int rr;                            /* where the next spread starts */
    int actor_rr;                      /* where the last actor went */
    ray_frame *frame;
    /* control receive, then data receives and sends */
    rt_request **reqs;
    ray_io *io;
    int nio, capio;
    void *ctrl;
    size_t ctrl_cap;
    int shutdown;                      /* SHUTDOWN seen (or driver done) */
    int bye_sent, byes;
    int failed;                        /* a system error ended the node */
    ray_stats st;
};

/* ---- ray_raylet.c ---- */
int raylet_init(ray *ry, rt *r, const ray_program *prog);
void raylet_fini(ray *ry);
/* One step: run a ready task if may_run, else handle one completion
 * (waiting at most timeout_s, < 0: as long as it takes). */
int raylet_step(ray *ry, int may_run, double timeout_s);
/* Let time pass while serving messages (the modelled task overhead). */
int raylet_pause(ray *ry, double seconds);
void raylet_on_arrival(ray *ry);
int raylet_shutdown(ray *ry);

ray_obj *raylet_obj(ray *ry, ray_ref ref);          /* NULL: unknown */
ray_obj *raylet_obj_add(ray *ry, ray_ref ref);      /* NULL: out of memory */
void raylet_obj_maybe_drop(ray *ry, ray_obj *o);
ray_ref raylet_new_ref(ray *ry);
int raylet_ref_owner(ray_ref ref);
/* This node has the value (or its error); ask for it if not, once. */
int raylet_want(ray *ry, ray_obj *o, int loc_hint);
int raylet_put_local(ray *ry, ray_obj *o, const void *data, size_t bytes);
/* BORROW to dst: node `who` borrows ref (delta +1) or no longer (-1).
 * dst is ref's owner, or for a +1 the node that lent ref to who's task,
 * which forwards it to the owner. */
int raylet_borrow_msg(ray *ry, int dst, ray_ref ref, int delta, int who);
void raylet_decref(ray *ry, ray_ref ref);
/* Send a task of this node (kind, fn, args) to the node the scheduler
 * picks (or opts' node, or actor's). max_restarts: TASK_CREATE's, or a
 * TASK_CALL's max_task_retries. */
int raylet_submit(ray *ry, int kind, int fn, int cls, uint64_t actor, int node, double cpus,
                  int nargs, const ray_in *args, ray_ref ret, int max_restarts);
int raylet_node_for_actor(ray *ry);
/* A task ran: its value (or error message, bytes long) goes to its owner,
 * inline or as "in this node's store". */
void raylet_complete(ray *ry, ray_ref ret, int owner, int state, const void *data, size_t bytes);
void raylet_task_free(ray *ry, ray_task *t);
/* Run one runnable task or method, if there is one: 1 ran, 0 none. */
int raylet_run_one(ray *ry);
int raylet_fail(ray *ry, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- ray.c ---- */
/* "task 'f'", "actor 'C' method 'm'", "actor 'C' constructor" */
void ray_task_label(const ray *ry, int kind, int fn, int cls, char *buf, size_t len);
/* The span id (ray.h: ray_span_name) of a task kind and index. */
#define RAY_SPAN_TRANSFER 0
int ray_span_id(const ray_program *prog, int kind, int fn, int cls);

#endif
