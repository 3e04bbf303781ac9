/* ray_raylet.c -- the node under Ray's programming model: object store,
 * scheduler and the messages between nodes.
 *
 * Every rank is a node: a raylet (this file) and one worker (the rank's
 * own thread of control, which runs the tasks in ray.c's frames). A node
 * is an event loop over one any-source control receive plus the bodies of
 * objects in flight; it runs tasks when the program is blocked (the serve
 * loop, a get, a wait), so a task that blocks in get lets the node run
 * others, as Ray starts another worker when one blocks.
 *
 * Protocol (control messages are one header, argument descriptors and a
 * payload, sent buffered; every header carries the sender's load):
 *   TASK        submitter -> node: run fn(args), result ref owned by owner
 *   RESULT      node -> owner: the value inline (<= inline_bytes), or
 *               "it is in my store, N bytes", or the error
 *   RESOLVE     node -> owner: where is ref? answered by VALUE once known
 *   FETCH       node -> holder: send me ref; FETCH_REPLY then the body on
 *               RAY_TAG_DATA (a real transfer of its size)
 *   FREE        owner -> holder -> copies: the object is no longer needed
 *   SHUTDOWN, BYE   the end: rank 0 says stop, then every pair says bye,
 *               so no message is left in flight when a rank returns
 *   BORROW      borrower -> lender -> owner: node N holds ref (kind +1),
 *               sent to the node whose task handed it the reference, which
 *               forwards it to the owner unless it is the owner, ahead of
 *               its own release; borrower -> owner: N has let it go (-1).
 *               The owner counts each node's messages and frees nothing
 *               while any node's count is not zero
 *   ACTOR_MOVED, ACTOR_DEAD   an actor's creator -> every node: after its
 *               node died, the actor lives on node N now, or not at all
 *
 * Failures (a node's receives fail with RT_EPEER, the source named): the
 * node that learns of a death rebuilds what it owns (node_died): a plain
 * task in flight there is sent again, a plain task's result whose primary
 * copy was there is computed again from the task kept for it (its
 * lineage: the TASK message, and references on its arguments, held while
 * the result is alive), at most max_retries times; an actor it created
 * there is started again elsewhere from its constructor, if max_restarts
 * allows, and every node told where. Calls in flight to a dead actor's
 * node fail; calls made while it restarts wait at their caller.
 *
 * Cost: a remote task is two control messages (TASK, RESULT) plus, per
 * large argument not already on the node, a FETCH round trip and the
 * body's transfer; a small future argument not known to the submitter at
 * submission costs a RESOLVE round trip to its owner.
 *
 * Scheduling (Ray's hybrid policy, Ray docs "Scheduling"; Moritz et al.
 * 2018 section 4.2.2): the submitter runs a task locally while its node
 * is less than spread_threshold busy, else sends it to the least loaded
 * node it knows of (loads travel on every message, and each submission
 * counts against its target at once); a task whose large inputs mostly
 * sit on one node goes there. A node that receives a task while full
 * spills it, once, to a node it believes free.
 */
#include "algorithms/ray_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    M_TASK = 1, M_RESULT, M_RESOLVE, M_VALUE, M_FETCH, M_FETCH_REPLY, M_FREE, M_SHUTDOWN, M_BYE,
    M_ACTOR_MOVED, M_ACTOR_DEAD, M_BORROW
};

#define RAY_MAX_ARGS 64

typedef struct msg {
    uint32_t type;
    int32_t from;
    double load;        /* sender's queued + running cpus */
    int32_t kind;       /* TASK: TASK_*; RESULT, VALUE, FETCH_REPLY: OBJ_* */
    int32_t fn, cls, loc, owner, nargs, spilled;
    int32_t size_only;  /* FETCH_REPLY: the body is only a size (no data) */
    uint64_t ref;
    uint64_t actor;
    uint64_t bytes;     /* the value's size */
    double cpus;
} msg;

typedef struct wire_arg {
    uint64_t ref, bytes;
    int32_t loc, inl;   /* inl: bytes of value follow in the payload */
} wire_arg;

static int handle_task(ray *ry, char *buf, size_t len);
static void owner_complete(ray *ry, ray_obj *o, int state, int loc, size_t bytes,
                           const void *payload, size_t plen);
static void handle_actor_news(ray *ry, const msg *h, const char *payload, size_t plen);
static int hold_call(ray *ry, ray_actor_loc *l, ray_ref ret, char *buf, size_t len);
static void call_route(ray *ry, ray_actor_loc *l);

int raylet_fail(ray *ry, int code, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return rt_fail(ry->r, code, "ray node %d: %s", ry->me, buf);
}

/* ---- the object table: open addressing on the reference ---- */

static size_t hash_ref(ray_ref ref)
{
    ref ^= ref >> 33;
    ref *= 0xff51afd7ed558ccdULL;
    ref ^= ref >> 33;
    return (size_t)ref;
}

static ray_obj **map_find(ray_map *m, ray_ref ref)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash_ref(ref) & mask;; i = (i + 1) & mask)
        if (!m->slot[i] || m->slot[i]->ref == ref)
            return &m->slot[i];
}

static int map_grow(ray_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    ray_obj **old = m->slot;
    size_t oldcap = m->cap;
    m->slot = calloc(cap, sizeof *m->slot);
    if (!m->slot) {
        m->slot = old;
        return RT_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            *map_find(m, old[i]->ref) = old[i];
    free(old);
    return RT_OK;
}

/* Remove by re-inserting the rest of the cluster (no tombstones). */
static void map_remove(ray_map *m, ray_ref ref)
{
    ray_obj **s = map_find(m, ref);
    if (!*s)
        return;
    *s = NULL;
    m->n--;
    size_t mask = m->cap - 1;
    for (size_t i = ((size_t)(s - m->slot) + 1) & mask; m->slot[i]; i = (i + 1) & mask) {
        ray_obj *o = m->slot[i];
        m->slot[i] = NULL;
        *map_find(m, o->ref) = o;
    }
}

ray_obj *raylet_obj(ray *ry, ray_ref ref)
{
    return ry->objs.cap ? *map_find(&ry->objs, ref) : NULL;
}

ray_obj *raylet_obj_add(ray *ry, ray_ref ref)
{
    if ((ry->objs.n + 1) * 2 > ry->objs.cap && map_grow(&ry->objs))
        return NULL;
    ray_obj **s = map_find(&ry->objs, ref);
    if (*s)
        return *s;
    ray_obj *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->ref = ref;
    o->loc = -1;
    o->exec = -1;
    o->pinned = -1;
    o->task_kind = -1;
    o->owned = raylet_ref_owner(ref) == ry->me;
    *s = o;
    ry->objs.n++;
    return o;
}

ray_ref raylet_new_ref(ray *ry)
{
    return ((uint64_t)(ry->me + 1) << 40) | ++ry->next_seq;
}

int raylet_ref_owner(ray_ref ref)
{
    return (int)(ref >> 40) - 1;
}

static int add_node(ray_obj *o, int node)
{
    for (int i = 0; i < o->nnodes; i++)
        if (o->nodes[i] == node)
            return RT_OK;
    if (o->nnodes == o->capnodes) {
        int cap = o->capnodes ? 2 * o->capnodes : 4;
        int *n = realloc(o->nodes, (size_t)cap * sizeof *n);
        if (!n)
            return RT_ENOMEM;
        o->nodes = n;
        o->capnodes = cap;
    }
    o->nodes[o->nnodes++] = node;
    return RT_OK;
}

/* ---- sending ---- */

static double my_load(const ray *ry)
{
    return ry->running_cpus + ry->queued_cpus;
}

/* Send header + two payload parts as one buffered control message. After
 * BYE a node sends nothing more: its peers have stopped listening. */
static int send_ctrl(ray *ry, int dst, msg *h, const void *a, size_t na, const void *b, size_t nb)
{
    if ((ry->bye_sent && h->type != M_BYE) || ry->dead[dst])
        return RT_OK; /* nobody listens any more */
    h->from = ry->me;
    h->load = my_load(ry);
    size_t len = sizeof *h + na + nb;
    char stackbuf[1024];
    char *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return raylet_fail(ry, RT_ENOMEM, "no memory for a %zu-byte message", len);
    memcpy(buf, h, sizeof *h);
    if (na)
        memcpy(buf + sizeof *h, a, na);
    if (nb)
        memcpy(buf + sizeof *h + na, b, nb);
    int rc = rt_send(ry->r, dst, RAY_TAG_CTRL, buf, len);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* A TASK message, whole, to the node that runs it (this one: at once). */
static int dispatch(ray *ry, int target, char *buf, size_t len)
{
    if (target == ry->me)
        return handle_task(ry, buf, len);
    msg h;
    memcpy(&h, buf, sizeof h);
    return send_ctrl(ry, target, &h, buf + sizeof h, len - sizeof h, NULL, 0);
}

/* This node's record of an actor, made (living on node) if new. */
static ray_actor_loc *loc_get(ray *ry, uint64_t id, int node)
{
    for (ray_actor_loc *l = ry->actor_locs; l; l = l->next)
        if (l->id == id)
            return l;
    ray_actor_loc *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->id = id;
    l->node = node;
    l->next = ry->actor_locs;
    ry->actor_locs = l;
    return l;
}

static int io_add(ray *ry, rt_request *q, ray_io io)
{
    if (ry->nio == ry->capio) {
        int cap = 2 * ry->capio;
        rt_request **rq = realloc(ry->reqs, (size_t)cap * sizeof *rq);
        if (rq)
            ry->reqs = rq;
        ray_io *ni = rq ? realloc(ry->io, (size_t)cap * sizeof *ni) : NULL;
        if (!ni)
            return raylet_fail(ry, RT_ENOMEM, "no memory for outstanding transfers");
        ry->io = ni;
        ry->capio = cap;
    }
    ry->reqs[ry->nio] = q;
    ry->io[ry->nio++] = io;
    return RT_OK;
}

static int send_value_msg(ray *ry, int dst, int type, const ray_obj *o)
{
    msg h = {.type = (uint32_t)type, .ref = o->ref, .kind = o->state, .loc = o->loc,
             .bytes = o->bytes};
    if (o->state == OBJ_ERROR)
        return send_ctrl(ry, dst, &h, o->error, strlen(o->error) + 1, NULL, 0);
    if (o->loc < 0) {
        ry->st.bytes_inline += o->bytes;
        return send_ctrl(ry, dst, &h, o->data, o->bytes, NULL, 0);
    }
    return send_ctrl(ry, dst, &h, NULL, 0, NULL, 0);
}

/* ---- the store ---- */

static void store_account(ray *ry, ray_obj *o)
{
    o->in_store = 1;
    ry->st.store_bytes += o->bytes;
    if (ry->st.store_bytes > ry->st.store_peak_bytes)
        ry->st.store_peak_bytes = ry->st.store_bytes;
}

static void obj_delete(ray *ry, ray_obj *o)
{
    if (o->in_store) {
        ry->st.store_bytes -= o->bytes;
        ry->st.objects_freed++;
    }
    map_remove(&ry->objs, o->ref);
    free(o->data);
    free(o->error);
    free(o->nodes);
    free(o->deps);
    free(o->spec);
    free(o->bcount);
    free(o);
}

/* A primary copy going away takes its copies with it. */
static void free_copies(ray *ry, ray_obj *o)
{
    if (!o->primary)
        return;
    msg h = {.type = M_FREE, .ref = o->ref};
    for (int i = 0; i < o->nnodes; i++)
        if (o->nodes[i] != ry->me)
            send_ctrl(ry, o->nodes[i], &h, NULL, 0, NULL, 0);
    o->nnodes = 0;
}

void raylet_obj_maybe_drop(ray *ry, ray_obj *o)
{
    if (o->pins > 0)
        return;
    if (o->owned) {
        if (o->refs > 0 || o->borrowers > 0 || o->state == OBJ_PENDING)
            return;
        if (o->loc >= 0 && o->loc != ry->me) { /* the primary is elsewhere */
            msg h = {.type = M_FREE, .ref = o->ref};
            send_ctrl(ry, o->loc, &h, NULL, 0, NULL, 0);
        }
        free_copies(ry, o);
        ray_ref *deps = o->deps; /* held for its lineage: let them go too */
        int ndeps = o->ndeps;
        o->deps = NULL;
        obj_delete(ry, o);
        for (int i = 0; i < ndeps; i++)
            raylet_decref(ry, deps[i]);
        free(deps);
        return;
    }
    if (o->borrowed > 0)
        return;
    if (!o->in_store || o->freed)
        obj_delete(ry, o);
}

int raylet_borrow_msg(ray *ry, int dst, ray_ref ref, int delta, int who)
{
    msg h = {.type = M_BORROW, .ref = ref, .kind = delta, .loc = who};
    return send_ctrl(ry, dst, &h, NULL, 0, NULL, 0);
}

/* The owner: node who's borrows of o change by delta. */
static void borrow_count(ray *ry, ray_obj *o, int who, int delta)
{
    if (!o->bcount && !(o->bcount = calloc((size_t)ry->p, sizeof *o->bcount)))
        return; /* out of memory: the object may be freed early */
    int before = o->bcount[who];
    o->bcount[who] += delta;
    o->borrowers += (before == 0) - (o->bcount[who] == 0);
    raylet_obj_maybe_drop(ry, o);
}

static void handle_borrow(ray *ry, const msg *h)
{
    if (h->loc < 0 || h->loc >= ry->p)
        return;
    ray_obj *o = raylet_obj(ry, h->ref);
    if (o && o->owned) {
        borrow_count(ry, o, h->loc, h->kind > 0 ? 1 : -1);
        return;
    }
    /* a lender that is not the owner: on to the owner, ahead of the
     * release of its own hold (which waits for the task's result) */
    int owner = raylet_ref_owner(h->ref);
    if (owner >= 0 && owner < ry->p && owner != ry->me)
        raylet_borrow_msg(ry, owner, h->ref, h->kind, h->loc);
}

int raylet_put_local(ray *ry, ray_obj *o, const void *data, size_t bytes)
{
    void *copy = NULL; /* a size-only value for the store stays NULL */
    if (data || bytes <= ry->cfg.inline_bytes) {
        copy = data ? malloc(bytes ? bytes : 1) : calloc(1, bytes ? bytes : 1);
        if (!copy)
            return raylet_fail(ry, RT_ENOMEM, "object store: no memory for %zu bytes", bytes);
        if (data && bytes)
            memcpy(copy, data, bytes);
    }
    free(o->data);
    o->data = copy;
    o->bytes = bytes;
    o->state = OBJ_READY;
    o->here = 1;
    if (bytes > ry->cfg.inline_bytes) {
        o->loc = ry->me;
        o->primary = 1;
        store_account(ry, o);
        ry->st.objects_stored++;
    } else {
        o->loc = -1;
        ry->st.objects_inline++;
    }
    return RT_OK;
}

void raylet_decref(ray *ry, ray_ref ref)
{
    ray_obj *o = raylet_obj(ry, ref);
    if (o && o->owned && o->refs > 0) {
        o->refs--;
        raylet_obj_maybe_drop(ry, o);
    } else if (o && !o->owned && o->borrowed > 0) { /* a hold of a reference this node lent on */
        if (--o->borrowed == 0)
            raylet_borrow_msg(ry, raylet_ref_owner(ref), ref, -1, ry->me);
        raylet_obj_maybe_drop(ry, o);
    }
}

/* The owner learns its object's fate: keep it, tell whoever waits, let
 * go of the arguments its task held. */
static void owner_complete(ray *ry, ray_obj *o, int state, int loc, size_t bytes,
                           const void *payload, size_t plen)
{
    if (o->state != OBJ_PENDING)
        return;
    o->state = state;
    o->bytes = bytes;
    if (state == OBJ_ERROR) {
        o->error = strndup(payload, plen);
        o->here = 1;
    } else if (loc < 0) {
        o->loc = -1;
        free(o->data);
        o->data = malloc(bytes ? bytes : 1);
        if (o->data && bytes)
            memcpy(o->data, payload, bytes);
        o->here = o->data != NULL;
        if (!o->data) {
            o->state = OBJ_ERROR;
            o->error = strdup("out of memory for an inline value");
        }
    } else {
        o->loc = loc;
        o->here = loc == ry->me;
    }
    o->exec = -1;
    /* A plain task's result in another node's store may have to be made
     * again: keep the task and its arguments while the result lives. */
    if (!(state == OBJ_READY && o->task_kind == TASK_FN && o->spec && loc >= 0 && loc != ry->me)) {
        for (int i = 0; i < o->ndeps; i++)
            raylet_decref(ry, o->deps[i]);
        o->ndeps = 0;
        free(o->spec);
        o->spec = NULL;
    }
    for (int i = 0; i < o->nnodes; i++)
        send_value_msg(ry, o->nodes[i], M_VALUE, o);
    o->nnodes = 0;
    raylet_on_arrival(ry);
    raylet_obj_maybe_drop(ry, o);
}

/* ---- getting a value onto this node ---- */

static int ask(ray *ry, ray_obj *o, int type, int dst)
{
    msg h = {.type = (uint32_t)type, .ref = o->ref};
    o->asked = 1;
    o->fetch_s = rt_now(ry->r);
    return send_ctrl(ry, dst, &h, NULL, 0, NULL, 0);
}

int raylet_want(ray *ry, ray_obj *o, int loc_hint)
{
    if (o->here || o->asked)
        return RT_OK;
    if (o->state == OBJ_READY && o->loc >= 0 && o->loc != ry->me) {
        if (!ry->dead[o->loc])
            return ask(ry, o, M_FETCH, o->loc);
        if (!o->owned) { /* its store died: ask the owner again */
            o->state = OBJ_PENDING;
            o->loc = -1;
        }
    }
    if (o->owned) /* its task is still running (or again): the RESULT will come */
        return RT_OK;
    int owner = raylet_ref_owner(o->ref);
    if (owner >= 0 && owner < ry->p && ry->dead[owner]) {
        char err[200];
        snprintf(err, sizeof err, "object %llx: its owner, node %d, died (an object does not "
                 "outlive its owner)", (unsigned long long)o->ref, owner);
        free(o->error);
        o->error = strdup(err);
        o->state = OBJ_ERROR;
        o->here = 1;
        return RT_OK;
    }
    if (loc_hint >= 0 && loc_hint != ry->me && !ry->dead[loc_hint]) {
        o->loc = loc_hint;
        o->state = OBJ_READY;
        return ask(ry, o, M_FETCH, loc_hint);
    }
    return ask(ry, o, M_RESOLVE, raylet_ref_owner(o->ref));
}

/* Does every argument of t have its value here? Pins what it finds. */
static void task_resolve(ray *ry, ray_task *t)
{
    for (int i = 0; i < t->nargs; i++) {
        ray_targ *a = &t->args[i];
        if (a->ready)
            continue;
        if (!a->obj) {
            a->obj = raylet_obj(ry, a->ref);
            if (!a->obj)
                a->obj = raylet_obj_add(ry, a->ref);
            if (!a->obj) {
                if (!t->error)
                    t->error = strdup("out of memory resolving an argument");
                a->ready = 1;
                t->pending--;
                continue;
            }
            a->obj->pins++;
        }
        ray_obj *o = a->obj;
        if (!o->here)
            raylet_want(ry, o, a->loc);
        if (!o->here)
            continue;
        if (o->state == OBJ_ERROR && !t->error)
            t->error = strdup(o->error);
        a->data = o->data;
        a->bytes = o->bytes;
        a->ready = 1;
        t->pending--;
    }
}

static void ready_push(ray *ry, ray_task *t)
{
    t->next = NULL;
    if (ry->ready_tail)
        ry->ready_tail->next = t;
    else
        ry->ready_head = t;
    ry->ready_tail = t;
}

void raylet_on_arrival(ray *ry)
{
    for (ray_task **pp = &ry->waiting; *pp;) {
        ray_task *t = *pp;
        task_resolve(ry, t);
        if (t->pending == 0) {
            *pp = t->next;
            ry->nwaiting--;
            ready_push(ry, t);
        } else {
            pp = &t->next;
        }
    }
    for (ray_actor_rec *a = ry->actors; a; a = a->next)
        for (ray_task *t = a->head; t; t = t->next)
            if (t->pending)
                task_resolve(ry, t);
}

/* ---- tasks arriving ---- */

static ray_actor_rec *actor_find(ray *ry, uint64_t id, int cls)
{
    for (ray_actor_rec *a = ry->actors; a; a = a->next)
        if (a->id == id)
            return a;
    ray_actor_rec *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->id = id;
    a->cls = cls;
    a->next = ry->actors;
    ry->actors = a;
    return a;
}

void raylet_task_free(ray *ry, ray_task *t)
{
    for (int i = 0; i < t->nargs; i++) {
        ray_targ *a = &t->args[i];
        if (a->obj) {
            a->obj->pins--;
            raylet_obj_maybe_drop(ry, a->obj);
        } else if (!a->ref) {
            free(a->data);
        }
    }
    free(t->args);
    free(t->error);
    free(t);
}

/* The least loaded node this node knows of, other than `not`, starting
 * the scan after the last choice so that ties spread. */
static int least_loaded(ray *ry, int not, double below)
{
    int best = -1;
    for (int k = 1; k <= ry->p; k++) {
        int n = (ry->rr + k) % ry->p;
        if (n == not)
            continue;
        if (ry->load[n] < below && (best < 0 || ry->load[n] < ry->load[best]))
            best = n;
    }
    if (best >= 0)
        ry->rr = best;
    return best;
}

static int handle_task(ray *ry, char *buf, size_t len)
{
    msg *h = (msg *)buf;
    int n = h->nargs;
    if (n < 0 || n > RAY_MAX_ARGS || len < sizeof *h + (size_t)n * sizeof(wire_arg))
        return raylet_fail(ry, RT_EPROTO, "malformed task from node %d", h->from);
    /* a busy node passes a plain task on, once, to a node it thinks free */
    if (h->kind == TASK_FN && h->from != ry->me && !h->spilled && ry->cfg.spillback &&
        my_load(ry) + h->cpus > ry->cfg.cpus_per_node) {
        int to = least_loaded(ry, ry->me, ry->cfg.cpus_per_node - h->cpus + 1e-9);
        if (to >= 0) {
            msg fwd = *h;
            fwd.spilled = 1;
            ry->load[to] += h->cpus;
            ry->st.tasks_spilled++;
            return send_ctrl(ry, to, &fwd, buf + sizeof *h, len - sizeof *h, NULL, 0);
        }
    }
    ray_task *t = calloc(1, sizeof *t);
    if (!t || (n && !(t->args = calloc((size_t)n, sizeof *t->args)))) {
        free(t);
        return raylet_fail(ry, RT_ENOMEM, "no memory for a task");
    }
    t->kind = h->kind;
    t->fn = h->fn;
    t->ret = h->ref;
    t->owner = h->owner;
    t->actor = h->actor;
    t->cpus = h->cpus;
    t->nargs = n;
    const wire_arg *wa = (const wire_arg *)(buf + sizeof *h);
    size_t off = sizeof *h + (size_t)n * sizeof *wa;
    for (int i = 0; i < n; i++) {
        ray_targ *a = &t->args[i];
        a->loc = wa[i].loc;
        if (wa[i].inl) {
            if (off + wa[i].bytes > len) {
                raylet_task_free(ry, t);
                return raylet_fail(ry, RT_EPROTO, "malformed task from node %d", h->from);
            }
            a->bytes = wa[i].bytes;
            a->data = malloc(a->bytes ? a->bytes : 1);
            if (!a->data) {
                raylet_task_free(ry, t);
                return raylet_fail(ry, RT_ENOMEM, "no memory for an argument");
            }
            memcpy(a->data, buf + off, a->bytes);
            off += a->bytes;
            a->ready = 1;
        } else {
            a->ref = wa[i].ref;
            t->pending++;
        }
    }
    task_resolve(ry, t);
    if (t->kind == TASK_FN) {
        ry->queued_cpus += t->cpus;
        if (t->pending) {
            t->next = ry->waiting;
            ry->waiting = t;
            ry->nwaiting++;
        } else {
            ready_push(ry, t);
        }
        return RT_OK;
    }
    ray_actor_rec *a = actor_find(ry, t->actor, h->cls);
    if (!a) {
        raylet_task_free(ry, t);
        return raylet_fail(ry, RT_ENOMEM, "no memory for an actor");
    }
    if (t->kind == TASK_CREATE) { /* calls from others may have come first */
        t->next = a->head;
        a->head = t;
        if (!a->tail)
            a->tail = t;
    } else {
        t->next = NULL;
        if (a->tail)
            a->tail->next = t;
        else
            a->head = t;
        a->tail = t;
    }
    return RT_OK;
}

/* ---- the other messages ---- */

static void handle_result(ray *ry, const msg *h, const char *payload, size_t plen)
{
    ray_obj *o = raylet_obj(ry, h->ref);
    if (!o) { /* nobody wants it any more: free its primary at once */
        if (h->kind == OBJ_READY && h->loc >= 0 && h->loc != ry->me) {
            msg f = {.type = M_FREE, .ref = h->ref};
            send_ctrl(ry, h->loc, &f, NULL, 0, NULL, 0);
        }
        return;
    }
    if (o->state != OBJ_PENDING) { /* a second run's (a task sent again): drop its copy */
        if (h->kind == OBJ_READY && h->loc >= 0 && h->loc != o->loc && h->loc != ry->me) {
            msg f = {.type = M_FREE, .ref = h->ref};
            send_ctrl(ry, h->loc, &f, NULL, 0, NULL, 0);
        }
        return;
    }
    owner_complete(ry, o, h->kind, h->loc, h->bytes, payload, plen);
}

static void handle_resolve(ray *ry, const msg *h)
{
    ray_obj *o = raylet_obj(ry, h->ref);
    if (!o || !o->owned) {
        ray_obj gone = {.ref = h->ref, .state = OBJ_ERROR,
                        .error = "the object was freed by its owner (a reference inside a value is "
                                 "counted only when passed with ray_val_refs and kept with "
                                 "ray_borrow)"};
        send_value_msg(ry, h->from, M_VALUE, &gone);
        return;
    }
    if (o->state == OBJ_PENDING)
        add_node(o, h->from);
    else
        send_value_msg(ry, h->from, M_VALUE, o);
}

static void handle_value(ray *ry, const msg *h, const char *payload, size_t plen)
{
    ray_obj *o = raylet_obj(ry, h->ref);
    if (!o)
        return;
    o->asked = 0;
    if (h->kind == OBJ_ERROR) {
        o->state = OBJ_ERROR;
        free(o->error);
        o->error = strndup(payload, plen);
        o->here = 1;
    } else if (h->loc < 0) {
        o->state = OBJ_READY;
        o->loc = -1;
        free(o->data);
        o->data = malloc(h->bytes ? h->bytes : 1);
        if (o->data) {
            memcpy(o->data, payload, h->bytes);
            o->bytes = h->bytes;
            o->here = 1;
        }
    } else {
        o->state = OBJ_READY;
        o->loc = h->loc;
        o->bytes = h->bytes;
        raylet_want(ry, o, -1);
    }
    raylet_on_arrival(ry);
}

static int handle_fetch(ray *ry, const msg *h)
{
    /* after BYE the reply would not be sent (send_ctrl), and a body sent
     * without it would wait for a receive nobody posts while its peer
     * exits (in simulation, a link failure) */
    if (ry->dead[h->from] || ry->bye_sent)
        return RT_OK;
    ray_obj *o = raylet_obj(ry, h->ref);
    if (!o || !o->here || o->state != OBJ_READY || o->freed || !o->in_store) {
        ray_obj lost = {.ref = h->ref, .state = OBJ_ERROR,
                        .error = "the object is no longer in the store it was made in"};
        return send_value_msg(ry, h->from, M_FETCH_REPLY, &lost);
    }
    msg r = {.type = M_FETCH_REPLY, .ref = o->ref, .kind = OBJ_READY, .loc = ry->me,
             .bytes = o->bytes, .size_only = o->data == NULL};
    int rc = send_ctrl(ry, h->from, &r, NULL, 0, NULL, 0);
    rt_request *q = NULL;
    if (!rc)
        rc = rt_isend(ry->r, h->from, RAY_TAG_DATA, o->data, o->bytes, &q);
    if (!rc)
        rc = io_add(ry, q, (ray_io){.is_send = 1, .obj = o, .ref = o->ref, .bytes = o->bytes});
    if (!rc) {
        o->pins++;
        if (o->primary)
            add_node(o, h->from);
    }
    return rc;
}

static int handle_fetch_reply(ray *ry, const msg *h, const char *payload, size_t plen)
{
    ray_obj *o = raylet_obj(ry, h->ref);
    if (h->kind == OBJ_ERROR) {
        if (o) {
            o->asked = 0;
            o->state = OBJ_ERROR;
            free(o->error);
            o->error = strndup(payload, plen);
            o->here = 1;
            raylet_on_arrival(ry);
        }
        return RT_OK;
    }
    /* the body follows on the data tag whether or not it is still wanted;
     * a size-only one is received into nothing (runtime.h) */
    void *body = h->size_only ? NULL : malloc(h->bytes ? h->bytes : 1);
    if (!body && !h->size_only)
        return raylet_fail(ry, RT_ENOMEM, "no memory to fetch %llu bytes",
                           (unsigned long long)h->bytes);
    rt_request *q = NULL;
    int rc = rt_irecv(ry->r, h->from, RAY_TAG_DATA, body, h->bytes, &q);
    if (!rc)
        rc = io_add(ry, q, (ray_io){.buf = body, .ref = h->ref, .bytes = h->bytes, .from = h->from});
    if (rc)
        free(body);
    return rc;
}

static void body_arrived(ray *ry, ray_io *io)
{
    ray_obj *o = raylet_obj(ry, io->ref);
    if (!o || o->here) {
        free(io->buf);
        return;
    }
    o->asked = 0;
    free(o->data);
    o->data = io->buf;
    o->bytes = io->bytes;
    o->here = 1;
    o->state = OBJ_READY;
    o->loc = io->from;
    store_account(ry, o);
    ry->st.objects_fetched++;
    ry->st.bytes_fetched += io->bytes;
    rt_span(ry->r, RAY_SPAN_TRANSFER, o->fetch_s, rt_now(ry->r), io->bytes, io->from);
    raylet_on_arrival(ry);
}

static void handle_free(ray *ry, const msg *h)
{
    ray_obj *o = raylet_obj(ry, h->ref);
    if (!o || o->owned)
        return;
    free_copies(ry, o);
    o->freed = 1;
    raylet_obj_maybe_drop(ry, o);
}

static int handle_ctrl(ray *ry, char *buf, size_t len)
{
    if (len < sizeof(msg))
        return raylet_fail(ry, RT_EPROTO, "a %zu-byte control message is too short", len);
    msg *h = (msg *)buf;
    if (h->from < 0 || h->from >= ry->p)
        return raylet_fail(ry, RT_EPROTO, "control message from node %d", h->from);
    ry->load[h->from] = h->load;
    const char *payload = buf + sizeof *h;
    size_t plen = len - sizeof *h;
    switch (h->type) {
    case M_TASK: return handle_task(ry, buf, len);
    case M_RESULT: handle_result(ry, h, payload, plen); return RT_OK;
    case M_RESOLVE: handle_resolve(ry, h); return RT_OK;
    case M_VALUE: handle_value(ry, h, payload, plen); return RT_OK;
    case M_FETCH: return handle_fetch(ry, h);
    case M_FETCH_REPLY: return handle_fetch_reply(ry, h, payload, plen);
    case M_FREE: handle_free(ry, h); return RT_OK;
    case M_SHUTDOWN: ry->shutdown = 1; return RT_OK;
    case M_BYE: ry->byes += !ry->bye[h->from]; ry->bye[h->from] = 1; return RT_OK;
    case M_BORROW: handle_borrow(ry, h); return RT_OK;
    case M_ACTOR_MOVED:
    case M_ACTOR_DEAD: handle_actor_news(ry, h, payload, plen); return RT_OK;
    default: return raylet_fail(ry, RT_EPROTO, "unknown message type %u from node %d", h->type, h->from);
    }
}

/* ---- submitting ---- */

/* Actors hold no cpus between calls (Ray's default), so they are spread
 * round robin over the nodes, starting with the next one. */
int raylet_node_for_actor(ray *ry)
{
    for (int k = 0; k < ry->p; k++) {
        ry->actor_rr = (ry->actor_rr + 1) % ry->p;
        if (!ry->dead[ry->actor_rr])
            break;
    }
    return ry->actor_rr;
}

/* Where a plain task goes: its large inputs' node, else hybrid. */
static int place(ray *ry, int nargs, const wire_arg *wa, double cpus)
{
    if (ry->cfg.locality) {
        uint64_t best_bytes = 0;
        int best = -1;
        for (int i = 0; i < nargs; i++) {
            if (wa[i].inl || wa[i].loc < 0 || wa[i].bytes <= ry->cfg.inline_bytes)
                continue;
            uint64_t b = 0; /* every argument on that node */
            for (int j = 0; j < nargs; j++)
                if (!wa[j].inl && wa[j].loc == wa[i].loc)
                    b += wa[j].bytes;
            if (b > best_bytes) {
                best_bytes = b;
                best = wa[i].loc;
            }
        }
        if (best >= 0)
            return best;
    }
    double cap = ry->cfg.cpus_per_node;
    ry->load[ry->me] = my_load(ry);
    (void)cpus;
    if (my_load(ry) < ry->cfg.spread_threshold * cap)
        return ry->me;
    int n = least_loaded(ry, -1, 1e300);
    return n >= 0 ? n : ry->me;
}

int raylet_submit(ray *ry, int kind, int fn, int cls, uint64_t actor, int node, double cpus,
                  int nargs, const ray_in *args, ray_ref ret, int max_restarts)
{
    if (nargs < 0 || nargs > RAY_MAX_ARGS)
        return raylet_fail(ry, RT_EINVAL, "a task takes 0 to %d arguments, not %d", RAY_MAX_ARGS, nargs);
    wire_arg wa[RAY_MAX_ARGS];
    const void *inl[RAY_MAX_ARGS];
    ray_obj *ro = raylet_obj(ry, ret);
    ray_ref deps[2 * RAY_MAX_ARGS];
    int ndeps = 0, nborrowed = 0;
    for (int i = 0; i < nargs; i++) /* references inside values: held like futures */
        for (int k = 0; k < args[i].nrefs; k++) {
            ray_obj *b = raylet_obj(ry, args[i].refs[k]);
            if (!b || (!b->owned && b->borrowed <= 0))
                return raylet_fail(ry, RT_EINVAL, "argument %d carries reference %llx, which "
                                   "this node neither owns nor borrows (ray_borrow): only they "
                                   "can lend a reference", i, (unsigned long long)args[i].refs[k]);
            if (++nborrowed > RAY_MAX_ARGS)
                return raylet_fail(ry, RT_EINVAL, "at most %d references inside a task's values",
                                   RAY_MAX_ARGS);
        }
    for (int i = 0; i < nargs; i++)
        for (int k = 0; k < args[i].nrefs; k++) {
            ray_obj *b = raylet_obj(ry, args[i].refs[k]);
            if (b->owned)
                b->refs++;
            else
                b->borrowed++; /* this node's hold until the task is done */
            deps[ndeps++] = args[i].refs[k];
        }
    size_t budget = ry->ctrl_cap - sizeof(msg) - (size_t)nargs * sizeof(wire_arg), used = 0;
    int rc = RT_OK;
    for (int i = 0; i < nargs; i++) {
        const ray_in *in = &args[i];
        ray_ref ref = in->ref;
        wa[i] = (wire_arg){.ref = ref, .bytes = in->bytes, .loc = -1};
        inl[i] = NULL;
        if (!ref) {
            if (in->bytes <= ry->cfg.inline_bytes && used + in->bytes <= budget) {
                wa[i].inl = 1;
                inl[i] = in->data;
                used += in->bytes;
                continue;
            }
            /* too big to travel with the task: into the store, as ray.put */
            ref = raylet_new_ref(ry);
            ray_obj *po = raylet_obj_add(ry, ref);
            if (!po)
                return raylet_fail(ry, RT_ENOMEM, "no memory for an argument");
            po->refs = 1; /* our handle, dropped once the task holds it */
            if ((rc = raylet_put_local(ry, po, in->data, in->bytes)))
                return rc;
            wa[i].ref = ref;
        }
        ray_obj *o = raylet_obj(ry, ref);
        if (o && o->owned) {
            o->refs++;
            deps[ndeps++] = ref;
            if (o->state == OBJ_READY && o->loc < 0 && o->here && used + o->bytes <= budget) {
                wa[i].inl = 1; /* a small value the submitter has: send it along */
                wa[i].bytes = o->bytes;
                inl[i] = o->data;
                used += o->bytes;
            } else if (o->state == OBJ_READY) {
                wa[i].loc = o->loc;
                wa[i].bytes = o->bytes;
            }
        } else if (o) {
            wa[i].loc = o->here && o->in_store ? ry->me : o->loc;
            wa[i].bytes = o->bytes;
        }
    }
    if (ro && ndeps) {
        ro->deps = malloc((size_t)ndeps * sizeof *ro->deps);
        if (ro->deps) {
            memcpy(ro->deps, deps, (size_t)ndeps * sizeof *deps);
            ro->ndeps = ndeps;
        }
    }
    /* args given as values were put with a handle of ours: the task's dep
     * holds them now */
    for (int i = 0; i < nargs; i++)
        if (!args[i].ref && !wa[i].inl)
            raylet_decref(ry, wa[i].ref);
    int target = node;
    if (kind == TASK_FN && (node < 0 || ry->dead[node]))
        target = place(ry, nargs, wa, cpus);
    ray_actor_loc *l = NULL;
    if (kind != TASK_FN) {
        if (!(l = loc_get(ry, actor, node)))
            return raylet_fail(ry, RT_ENOMEM, "no memory for an actor's record");
        if (kind == TASK_CALL) {
            call_route(ry, l);
            target = l->node;
        }
    }
    msg h = {.type = M_TASK, .kind = kind, .fn = fn, .ref = ret, .owner = ry->me,
             .actor = actor, .cpus = cpus, .nargs = nargs, .loc = -1,
             .cls = cls, .spilled = node >= 0};
    size_t len = sizeof h + (size_t)nargs * sizeof(wire_arg) + used;
    char *buf = malloc(len);
    if (!buf)
        return raylet_fail(ry, RT_ENOMEM, "no memory for a task");
    size_t off = sizeof h + (size_t)nargs * sizeof(wire_arg);
    memcpy(buf + sizeof h, wa, (size_t)nargs * sizeof(wire_arg));
    for (int i = 0; i < nargs; i++)
        if (wa[i].inl) {
            if (wa[i].bytes && inl[i])
                memcpy(buf + off, inl[i], wa[i].bytes);
            else if (wa[i].bytes) /* a small size-only value travels as zeros */
                memset(buf + off, 0, wa[i].bytes);
            off += wa[i].bytes;
        }
    h.from = ry->me;
    h.load = my_load(ry);
    memcpy(buf, &h, sizeof h);
    if (ro) {
        ro->exec = target;
        ro->task_kind = kind;
        ro->task_fn = fn;
        ro->task_cls = cls;
        ro->actor = actor;
        ro->pinned = node;
        ro->max_retries = kind == TASK_CALL ? max_restarts : 0;
        /* its lineage; a call kept to be sent again if its actor dies */
        if ((kind == TASK_FN || (kind == TASK_CALL && max_restarts != 0)) && (ro->spec = malloc(len))) {
            memcpy(ro->spec, buf, len);
            ro->spec_len = len;
        }
    }
    if (kind == TASK_CREATE) { /* how to start it again */
        l->owned = 1;
        l->cls = cls;
        l->max_restarts = max_restarts;
        l->node = target;
        free(l->spec);
        l->spec = buf;
        l->spec_len = len;
        return dispatch(ry, target, buf, len);
    }
    if (kind == TASK_CALL && l->state != ACT_ALIVE) {
        if (ro)
            ro->exec = -1;
        if (l->state == ACT_RESTARTING)
            return hold_call(ry, l, ret, buf, len);
        free(buf);
        if (ro)
            owner_complete(ry, ro, OBJ_ERROR, -1, 0, l->error, strlen(l->error));
        return RT_OK;
    }
    if (kind == TASK_FN)
        ry->load[target] += cpus;
    rc = dispatch(ry, target, buf, len);
    free(buf);
    return rc;
}

/* ---- failures: a node died ---- */

static int hold_call(ray *ry, ray_actor_loc *l, ray_ref ret, char *buf, size_t len)
{
    ray_pending_call *c = calloc(1, sizeof *c);
    if (!c) {
        free(buf);
        return raylet_fail(ry, RT_ENOMEM, "no memory to hold a call");
    }
    *c = (ray_pending_call){.ret = ret, .buf = buf, .len = len};
    if (l->held_tail)
        l->held_tail->next = c;
    else
        l->held = c;
    l->held_tail = c;
    return RT_OK;
}

/* The actor is gone for good: calls held for it fail with why. */
static void bury(ray *ry, ray_actor_loc *l, const char *why)
{
    l->state = ACT_DEAD;
    free(l->error);
    l->error = strdup(why);
    for (ray_pending_call *c = l->held, *next; c; c = next) {
        next = c->next;
        ray_obj *o = raylet_obj(ry, c->ret);
        if (o && o->owned && o->state == OBJ_PENDING)
            owner_complete(ry, o, OBJ_ERROR, -1, 0, why, strlen(why));
        free(c->buf);
        free(c);
    }
    l->held = l->held_tail = NULL;
}

/* The actor lives on l->node (again): send what was held, in order. */
static void unhold(ray *ry, ray_actor_loc *l)
{
    for (ray_pending_call *c = l->held, *next; c; c = next) {
        next = c->next;
        ray_obj *o = raylet_obj(ry, c->ret);
        if (o)
            o->exec = l->node;
        dispatch(ry, l->node, c->buf, c->len);
        free(c->buf);
        free(c);
    }
    l->held = l->held_tail = NULL;
}

/* Before a call: if the actor's node is known dead, its creator will say
 * where it went (or that it is gone); until then calls wait. */
static void call_route(ray *ry, ray_actor_loc *l)
{
    if (l->state != ACT_ALIVE || !ry->dead[l->node])
        return;
    int owner = raylet_ref_owner(l->id);
    if (owner >= 0 && owner < ry->p && ry->dead[owner]) {
        char why[200];
        snprintf(why, sizeof why, "actor %llx: its owner, node %d, died", (unsigned long long)l->id,
                 owner);
        bury(ry, l, why);
    } else {
        l->state = ACT_RESTARTING;
    }
}

static void broadcast(ray *ry, msg *h, const void *payload, size_t plen)
{
    for (int q = 0; q < ry->p; q++)
        if (q != ry->me)
            send_ctrl(ry, q, h, payload, plen, NULL, 0);
}

/* An actor this node created died with node x: start it again elsewhere
 * from its constructor, or declare it dead. */
static void restart_actor(ray *ry, ray_actor_loc *l, int x)
{
    const char *cname = ry->prog->classes[l->cls].name;
    if (l->max_restarts >= 0 && l->restarts >= l->max_restarts) {
        char why[300];
        snprintf(why, sizeof why, "actor '%s' died with node %d and has no restarts left "
                 "(max_restarts %d)", cname, x, l->max_restarts);
        bury(ry, l, why);
        msg h = {.type = M_ACTOR_DEAD, .actor = l->id};
        broadcast(ry, &h, why, strlen(why) + 1);
        return;
    }
    l->restarts++;
    ry->st.actor_restarts++;
    l->node = raylet_node_for_actor(ry);
    l->state = ACT_ALIVE;
    msg *c = (msg *)l->spec;
    c->ref = 0; /* nobody waits for a restart; a failing constructor fails the calls */
    dispatch(ry, l->node, l->spec, l->spec_len);
    msg h = {.type = M_ACTOR_MOVED, .actor = l->id, .loc = l->node, .fn = l->restarts};
    broadcast(ry, &h, NULL, 0);
    unhold(ry, l);
}

static void handle_actor_news(ray *ry, const msg *h, const char *payload, size_t plen)
{
    ray_actor_loc *l = loc_get(ry, h->actor, h->type == M_ACTOR_MOVED ? h->loc : 0);
    if (!l || l->owned || l->state == ACT_DEAD)
        return;
    if (h->type == M_ACTOR_DEAD) {
        char why[400];
        snprintf(why, sizeof why, "%.*s", (int)strnlen(payload, plen), payload);
        bury(ry, l, why);
    } else if (h->fn >= l->restarts && h->loc >= 0 && h->loc < ry->p) {
        l->restarts = h->fn;
        l->node = h->loc;
        l->state = ACT_ALIVE;
        unhold(ry, l);
    }
}

/* Send an owned task again (its node died while it ran, or its result
 * was lost with a store): its arguments as they are now, placed anew. */
static void resend(ray *ry, ray_obj *o)
{
    msg *h = (msg *)o->spec;
    wire_arg *wa = (wire_arg *)(o->spec + sizeof *h);
    for (int i = 0; i < h->nargs; i++) {
        if (wa[i].inl)
            continue;
        ray_obj *d = raylet_obj(ry, wa[i].ref);
        int loc = d && d->state == OBJ_READY ? (d->here && d->in_store ? ry->me : d->loc) : -1;
        wa[i].loc = loc >= 0 && !ry->dead[loc] ? loc : -1;
    }
    int target = o->pinned >= 0 && !ry->dead[o->pinned] ? o->pinned
                                                         : place(ry, h->nargs, wa, h->cpus);
    h->spilled = target == o->pinned;
    o->exec = target;
    ry->load[target] += h->cpus;
    dispatch(ry, target, o->spec, o->spec_len);
}

/* An owned object can no longer be had: its value is this error. */
static void owned_fail(ray *ry, ray_obj *o, const char *why)
{
    o->state = OBJ_PENDING;
    o->here = 0;
    owner_complete(ry, o, OBJ_ERROR, -1, 0, why, strlen(why));
}

static void obj_lost(ray *ry, ray_obj *o, int x)
{
    char name[200], why[600];
    if (!o->owned) {
        int owner = raylet_ref_owner(o->ref);
        if (owner == x || o->loc == x) {
            o->asked = 0;
            if (o->here && o->in_store) { /* its primary is gone: drop this copy once unused */
                o->freed = 1;
                raylet_obj_maybe_drop(ry, o);
            } else if (!o->here && o->state != OBJ_ERROR) { /* ask again (raylet_want) */
                o->state = OBJ_PENDING;
                o->loc = -1;
            }
        }
        return;
    }
    int running = o->state == OBJ_PENDING && o->exec == x;
    int stored = o->state == OBJ_READY && o->loc == x;
    if (!running && !stored)
        return;
    o->asked = 0;
    if (stored && o->here && o->in_store) { /* this node's copy becomes the primary */
        o->loc = ry->me;
        o->primary = 1;
        return;
    }
    ray_task_label(ry, o->task_kind, o->task_fn, o->task_cls, name, sizeof name);
    if (o->task_kind == TASK_FN && o->spec) {
        if (ry->cfg.max_retries >= 0 && o->retries >= ry->cfg.max_retries) {
            snprintf(why, sizeof why, "%s (object %llx): %s node %d died, and its max_retries "
                     "(%d) are used up", name, (unsigned long long)o->ref,
                     running ? "it was running when its" : "its result was lost when", x,
                     ry->cfg.max_retries);
            owned_fail(ry, o, why);
            return;
        }
        o->retries++;
        if (stored)
            ry->st.reconstructions++;
        else
            ry->st.tasks_retried++;
        o->state = OBJ_PENDING;
        o->here = 0;
        o->loc = -1;
        resend(ry, o);
        return;
    }
    if (o->task_kind == TASK_CALL && running && o->spec &&
        (o->max_retries < 0 || o->retries < o->max_retries)) {
        ry->st.calls_lost++;
        o->retries++;
        o->retry = 1; /* node_died holds it for the restarted actor, in order */
        return;
    }
    if (o->task_kind == TASK_CALL && running) {
        ry->st.calls_lost++;
        if (o->spec)
            snprintf(why, sizeof why, "%s: its node %d died before the call returned, and its "
                     "max_task_retries (%d) are used up", name, x, o->max_retries);
        else
            snprintf(why, sizeof why, "%s: its node %d died before the call returned (calls in "
                     "flight are not retried: Ray's max_task_retries 0)", name, x);
    } else if (o->task_kind == TASK_CALL) {
        snprintf(why, sizeof why, "%s (object %llx): its result was lost with node %d (results "
                 "of actor methods are not rebuilt)", name, (unsigned long long)o->ref, x);
    } else {
        snprintf(why, sizeof why, "%s (object %llx) was lost with node %d and cannot be rebuilt",
                 name, (unsigned long long)o->ref, x);
    }
    owned_fail(ry, o, why);
}

static int by_ref(const void *a, const void *b)
{
    ray_ref x = *(const ray_ref *)a, y = *(const ray_ref *)b;
    return (x > y) - (x < y);
}

/* A call whose actor's node died goes again to the restarted actor: at
 * once when this node already knows where it lives now, else held for
 * its creator's restart_actor or ACTOR_MOVED, ahead of the calls held
 * already (which were made later). */
static void retry_call(ray *ry, ray_obj *o)
{
    o->retry = 0;
    ray_actor_loc *l = loc_get(ry, o->actor, -1);
    char *buf = l ? malloc(o->spec_len) : NULL;
    if (!buf) {
        owned_fail(ry, o, "out of memory holding a call to send again");
        return;
    }
    memcpy(buf, o->spec, o->spec_len);
    ry->st.calls_retried++;
    if (l->state == ACT_DEAD) {
        free(buf);
        owned_fail(ry, o, l->error);
        return;
    }
    if (l->state == ACT_ALIVE && l->node >= 0 && !ry->dead[l->node]) {
        o->exec = l->node;
        dispatch(ry, l->node, buf, o->spec_len);
        free(buf);
        return;
    }
    ray_pending_call *c = calloc(1, sizeof *c);
    if (!c) {
        free(buf);
        owned_fail(ry, o, "out of memory holding a call to send again");
        return;
    }
    *c = (ray_pending_call){.ret = o->ref, .buf = buf, .len = o->spec_len, .next = l->held};
    l->held = c;
    if (!l->held_tail)
        l->held_tail = c;
    l->state = ACT_RESTARTING;
    o->exec = -1;
}

/* Node x died: note it, rebuild what this node owns, move its actors. */
static void node_died(ray *ry, int x)
{
    if (x < 0 || x >= ry->p || x == ry->me || ry->dead[x])
        return;
    ry->dead[x] = 1;
    ry->load[x] = INFINITY; /* never chosen again */
    ry->st.nodes_lost++;
    /* the references first: rebuilding adds to the table */
    size_t n = 0;
    ray_ref *refs = malloc((ry->objs.n + 1) * sizeof *refs);
    for (size_t i = 0; refs && i < ry->objs.cap; i++)
        if (ry->objs.slot[i])
            refs[n++] = ry->objs.slot[i]->ref;
    for (size_t i = 0; i < n; i++) {
        ray_obj *o = raylet_obj(ry, refs[i]);
        if (o)
            obj_lost(ry, o, x);
    }
    /* calls to send again wait for their actor's restart, in the order
     * they were made (a caller's references count up) */
    size_t nretry = 0;
    for (size_t i = 0; i < n; i++) {
        ray_obj *o = raylet_obj(ry, refs[i]);
        if (o && o->retry)
            refs[nretry++] = refs[i];
    }
    if (nretry)
        qsort(refs, nretry, sizeof *refs, by_ref);
    for (size_t i = nretry; i-- > 0;) /* each goes to the front: the last first */
        retry_call(ry, raylet_obj(ry, refs[i]));
    for (size_t i = 0; i < n; i++) { /* a dead node borrows nothing */
        ray_obj *o = raylet_obj(ry, refs[i]);
        if (o && o->owned && o->bcount && o->bcount[x])
            borrow_count(ry, o, x, -o->bcount[x]);
    }
    free(refs);
    for (ray_actor_loc *l = ry->actor_locs; l; l = l->next) {
        if (l->state == ACT_DEAD)
            continue;
        if (l->owned && l->node == x) {
            restart_actor(ry, l, x);
        } else if (!l->owned && raylet_ref_owner(l->id) == x) {
            char why[200];
            snprintf(why, sizeof why, "actor %llx: its owner, node %d, died",
                     (unsigned long long)l->id, x);
            bury(ry, l, why);
        } else if (!l->owned && l->node == x) {
            l->state = ACT_RESTARTING;
        }
    }
    raylet_on_arrival(ry);
}

/* ---- the loop ---- */

int raylet_step(ray *ry, int may_run, double timeout_s)
{
    if (ry->failed)
        return ry->failed;
    if (may_run && !ry->shutdown && raylet_run_one(ry))
        return ry->failed;
    int idx = -1, rc;
    rt_status st;
    if (timeout_s < 0)
        rc = rt_waitany(ry->r, ry->nio, ry->reqs, &idx, &st);
    else
        rc = rt_waitany_for(ry->r, ry->nio, ry->reqs, timeout_s, &idx, &st);
    if (rc == RT_EPEER && idx >= 0 && st.source >= 0 && st.source < ry->p && st.source != ry->me) {
        /* a peer died: what this node waited on from it will not come */
        if (idx == 0) {
            rc = rt_irecv(ry->r, RT_ANY_SOURCE, RAY_TAG_CTRL, ry->ctrl, ry->ctrl_cap, &ry->reqs[0]);
            if (rc)
                return ry->failed = rc;
        } else {
            ray_io io = ry->io[idx];
            ry->nio--;
            ry->reqs[idx] = ry->reqs[ry->nio];
            ry->io[idx] = ry->io[ry->nio];
            ray_obj *o = raylet_obj(ry, io.ref);
            if (!io.is_send) {
                free(io.buf);
                if (o)
                    o->asked = 0;
            } else if (o) {
                o->pins--;
                raylet_obj_maybe_drop(ry, o);
            }
        }
        node_died(ry, st.source);
        return RT_OK;
    }
    if (rc)
        return ry->failed = rc;
    if (idx < 0)
        return RT_OK;
    if (idx == 0) {
        size_t len = st.bytes;
        char small[2048];
        char *copy = len <= sizeof small ? small : malloc(len);
        if (!copy)
            return ry->failed = raylet_fail(ry, RT_ENOMEM, "no memory for a message");
        memcpy(copy, ry->ctrl, len);
        rc = rt_irecv(ry->r, RT_ANY_SOURCE, RAY_TAG_CTRL, ry->ctrl, ry->ctrl_cap, &ry->reqs[0]);
        if (!rc)
            rc = handle_ctrl(ry, copy, len);
        if (copy != small)
            free(copy);
        if (rc)
            ry->failed = rc;
        return rc;
    }
    ray_io io = ry->io[idx];
    ry->nio--;
    ry->reqs[idx] = ry->reqs[ry->nio];
    ry->io[idx] = ry->io[ry->nio];
    if (io.is_send) {
        ray_obj *o = raylet_obj(ry, io.ref);
        if (o) {
            o->pins--;
            raylet_obj_maybe_drop(ry, o);
        }
    } else {
        body_arrived(ry, &io);
    }
    return RT_OK;
}

int raylet_pause(ray *ry, double seconds)
{
    double end = rt_now(ry->r) + seconds;
    while (!ry->shutdown) {
        double left = end - rt_now(ry->r);
        if (left <= 0)
            break;
        int rc = raylet_step(ry, 0, left);
        if (rc)
            return rc;
    }
    return RT_OK;
}

int raylet_shutdown(ray *ry)
{
    msg h = {.type = M_SHUTDOWN};
    if (ry->me == 0 && !ry->bye_sent)
        for (int q = 1; q < ry->p; q++)
            send_ctrl(ry, q, &h, NULL, 0, NULL, 0);
    ry->shutdown = 1;
    if (!ry->bye_sent) {
        msg b = {.type = M_BYE};
        for (int q = 0; q < ry->p; q++)
            if (q != ry->me)
                send_ctrl(ry, q, &b, NULL, 0, NULL, 0);
        ry->bye_sent = 1;
    }
    for (;;) {
        int waiting = ry->nio > 1;
        for (int q = 0; q < ry->p && !waiting; q++)
            waiting = q != ry->me && !ry->bye[q] && !ry->dead[q];
        if (!waiting)
            break;
        int rc = raylet_step(ry, 0, -1);
        if (rc)
            return rc;
    }
    return RT_OK;
}

int raylet_init(ray *ry, rt *r, const ray_program *prog)
{
    memset(ry, 0, sizeof *ry);
    ry->r = r;
    ry->prog = prog;
    ry->cfg = prog->cfg;
    ry->me = rt_rank(r);
    ry->p = rt_size(r);
    ry->rr = ry->me;
    ry->actor_rr = ry->me;
    const ray_config *c = &ry->cfg;
    if (c->inline_bytes > ((size_t)64 << 20) || !(c->cpus_per_node > 0 && c->cpus_per_node <= 1e6) ||
        !(c->spread_threshold >= 0 && c->spread_threshold <= 1) ||
        !(c->task_overhead_s >= 0 && c->task_overhead_s <= 1e3) || c->max_retries < -1)
        return rt_fail(r, RT_EINVAL,
                       "ray: inline_bytes %zu (at most 64 MiB), cpus_per_node %g (0..1e6], "
                       "spread_threshold %g [0, 1], task_overhead_s %g [0, 1000], max_retries "
                       "%d (-1: no limit, or more)", c->inline_bytes, c->cpus_per_node,
                       c->spread_threshold, c->task_overhead_s, c->max_retries);
    if (rt_size_only(r)) /* else every node would read empty control messages */
        return rt_fail(r, RT_EINVAL,
                       "ray: the job's messages carry only their size (--payload size-only), "
                       "and Ray's control messages need their bytes; give the large values "
                       "as size-only objects instead (NULL data, ray.h)");
    ry->ctrl_cap = 4096 + RAY_MAX_ARGS * sizeof(wire_arg) + 4 * c->inline_bytes;
    ry->capio = 16;
    ry->load = calloc((size_t)ry->p, sizeof *ry->load);
    ry->dead = calloc((size_t)ry->p, 1);
    ry->bye = calloc((size_t)ry->p, 1);
    ry->reqs = calloc((size_t)ry->capio, sizeof *ry->reqs);
    ry->io = calloc((size_t)ry->capio, sizeof *ry->io);
    ry->ctrl = malloc(ry->ctrl_cap);
    if (!ry->load || !ry->dead || !ry->bye || !ry->reqs || !ry->io || !ry->ctrl) {
        raylet_fini(ry);
        return rt_fail(r, RT_ENOMEM, "ray: out of memory");
    }
    ry->nio = 1;
    int rc = rt_irecv(r, RT_ANY_SOURCE, RAY_TAG_CTRL, ry->ctrl, ry->ctrl_cap, &ry->reqs[0]);
    if (rc)
        raylet_fini(ry);
    return rc;
}

static void task_list_free(ray *ry, ray_task *t)
{
    while (t) {
        ray_task *next = t->next;
        raylet_task_free(ry, t);
        t = next;
    }
}

void raylet_fini(ray *ry)
{
    task_list_free(ry, ry->ready_head);
    task_list_free(ry, ry->waiting);
    while (ry->actors) {
        ray_actor_rec *a = ry->actors;
        ry->actors = a->next;
        task_list_free(ry, a->head);
        if (a->state && a->constructed && ry->prog->classes[a->cls].fini)
            ry->prog->classes[a->cls].fini(a->state);
        free(a->state);
        free(a->error);
        free(a);
    }
    while (ry->actor_locs) {
        ray_actor_loc *l = ry->actor_locs;
        ry->actor_locs = l->next;
        for (ray_pending_call *c = l->held, *next; c; c = next) {
            next = c->next;
            free(c->buf);
            free(c);
        }
        free(l->error);
        free(l->spec);
        free(l);
    }
    for (int i = 1; i < ry->nio; i++)
        if (!ry->io[i].is_send)
            free(ry->io[i].buf);
    for (size_t i = 0; i < ry->objs.cap; i++) {
        ray_obj *o = ry->objs.slot[i];
        if (o) {
            free(o->data);
            free(o->error);
            free(o->nodes);
            free(o->deps);
            free(o->spec);
            free(o);
        }
    }
    free(ry->objs.slot);
    free(ry->load);
    free(ry->dead);
    free(ry->bye);
    free(ry->reqs);
    free(ry->io);
    free(ry->ctrl);
    ry->objs.slot = NULL;
    ry->load = NULL;
    ry->dead = ry->bye = NULL;
    ry->reqs = NULL;
    ry->io = NULL;
    ry->ctrl = NULL;
}

/* ---- a task's result ---- */

void raylet_complete(ray *ry, ray_ref ret, int owner, int state, const void *data, size_t bytes)
{
    if (!ret)
        return;
    if (state == OBJ_READY && bytes > ry->cfg.inline_bytes) {
        /* a large value stays here; its owner learns where it is */
        ray_obj *o = raylet_obj_add(ry, ret);
        void *copy = o && data ? malloc(bytes) : NULL; /* size-only: none */
        if (!o || (data && !copy)) {
            static const char oom[] = "out of memory storing a result";
            raylet_complete(ry, ret, owner, OBJ_ERROR, oom, sizeof oom - 1);
            return;
        }
        if (data)
            memcpy(copy, data, bytes);
        free(o->data);
        o->data = copy;
        o->primary = 1;
        o->bytes = bytes;
        store_account(ry, o);
        ry->st.objects_stored++;
        if (owner == ry->me) {
            owner_complete(ry, o, OBJ_READY, ry->me, bytes, NULL, 0);
            return;
        }
        o->state = OBJ_READY;
        o->loc = ry->me;
        o->here = 1;
        msg h = {.type = M_RESULT, .ref = ret, .kind = OBJ_READY, .loc = ry->me, .bytes = bytes};
        send_ctrl(ry, owner, &h, NULL, 0, NULL, 0);
        raylet_on_arrival(ry);
        return;
    }
    if (state == OBJ_READY)
        ry->st.objects_inline++;
    if (owner == ry->me) {
        ray_obj *o = raylet_obj(ry, ret);
        if (o)
            owner_complete(ry, o, state, -1, bytes, data, bytes);
        return;
    }
    msg h = {.type = M_RESULT, .ref = ret, .kind = state, .loc = -1, .bytes = bytes};
    if (state == OBJ_READY)
        ry->st.bytes_inline += bytes;
    send_ctrl(ry, owner, &h, data, bytes, NULL, 0);
}
