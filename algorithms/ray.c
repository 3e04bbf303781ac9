/* ray.c -- Ray's programming model: tasks, futures, actors (ray.h).
 *
 * This file is the worker and the API a program sees; ray_raylet.c is the
 * node underneath (store, scheduler, messages). A call that must wait
 * (get, wait) turns the node's loop until what it waits for is here,
 * running other tasks meanwhile, so nested tasks and tasks that block in
 * get cannot deadlock a node. An actor whose method is blocked is busy:
 * its next method waits, which is what keeps methods one at a time.
 *
 * Reference: Moritz, Nishihara et al., "Ray: A Distributed Framework for
 * Emerging AI Applications", OSDI 2018; Wang et al., "Ownership: a
 * distributed futures system for fine-grained tasks", NSDI 2021.
 */
#include "algorithms/ray_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ray_config ray_config_default(void)
{
    return (ray_config){
        .inline_bytes = 100 * 1024,
        .cpus_per_node = 1,
        .spread_threshold = 0.5,
        .locality = 1,
        .spillback = 1,
        .task_overhead_s = 0,
        .max_retries = 3,
    };
}

rt *ray_rt(ray *ry) { return ry->r; }
void *ray_program_arg(ray *ry) { return ry->prog->arg; }
int ray_node(const ray *ry) { return ry->me; }
int ray_nodes(const ray *ry) { return ry->p; }
const ray_stats *ray_node_stats(const ray *ry) { return &ry->st; }
int ray_node_dead(const ray *ry, int node)
{
    return node >= 0 && node < ry->p && ry->dead[node];
}

/* ---- the worker: running one task or method ---- */

void ray_task_label(const ray *ry, int kind, int fn, int cls, char *buf, size_t len)
{
    const ray_program *p = ry->prog;
    if (kind == TASK_FN && fn >= 0 && fn < p->nfunctions)
        snprintf(buf, len, "task '%s'", p->functions[fn].name);
    else if (kind == TASK_CREATE && cls >= 0 && cls < p->nclasses)
        snprintf(buf, len, "actor '%s' constructor", p->classes[cls].name);
    else if (kind == TASK_CALL && cls >= 0 && cls < p->nclasses && fn >= 0 &&
             fn < p->classes[cls].nmethods)
        snprintf(buf, len, "actor '%s' method '%s'", p->classes[cls].name,
                 p->classes[cls].methods[fn].name);
    else
        snprintf(buf, len, "a put object");
}

int ray_span_id(const ray_program *prog, int kind, int fn, int cls)
{
    if (kind == TASK_FN)
        return 1 + fn;
    int id = 1 + prog->nfunctions;
    for (int c = 0; c < cls; c++)
        id += 1 + prog->classes[c].nmethods;
    return kind == TASK_CREATE ? id : id + 1 + fn;
}

int ray_span_count(const ray_program *prog)
{
    return ray_span_id(prog, TASK_CREATE, 0, prog->nclasses);
}

int ray_span_name(const ray_program *prog, int id, char *buf, size_t len)
{
    if (id == RAY_SPAN_TRANSFER) {
        snprintf(buf, len, "object transfer");
        return 0;
    }
    if (id >= 1 && id <= prog->nfunctions) {
        snprintf(buf, len, "%s", prog->functions[id - 1].name);
        return 0;
    }
    for (int c = 0; c < prog->nclasses; c++) {
        const ray_class *k = &prog->classes[c];
        int first = ray_span_id(prog, TASK_CREATE, 0, c);
        if (id == first) {
            snprintf(buf, len, "%s.__init__", k->name);
            return 0;
        }
        if (id > first && id <= first + k->nmethods) {
            snprintf(buf, len, "%s.%s", k->name, k->methods[id - first - 1].name);
            return 0;
        }
    }
    return -1;
}

static const char *task_name(const ray *ry, const ray_task *t, const ray_actor_rec *a,
                             char *buf, size_t len)
{
    ray_task_label(ry, t->kind, t->fn, a ? a->cls : -1, buf, len);
    return buf;
}

static void run_task(ray *ry, ray_task *t, ray_actor_rec *a)
{
    if (ry->cfg.task_overhead_s > 0)
        raylet_pause(ry, ry->cfg.task_overhead_s);
    char name[160], err[1024] = "";
    task_name(ry, t, a, name, sizeof name);
    ray_arg args[64];
    for (int i = 0; i < t->nargs; i++)
        args[i] = (ray_arg){t->args[i].data, t->args[i].bytes};
    ray_frame f = {.up = ry->frame, .lender = t->owner};
    int rc = RT_OK;
    double t0 = rt_now(ry->r);
    if (t->error) {
        snprintf(err, sizeof err, "%s", t->error); /* an argument's error, as it was */
    } else if (a && a->error) {
        snprintf(err, sizeof err, "%s", a->error);
    } else {
        ry->frame = &f;
        if (t->kind == TASK_FN) {
            ry->running_cpus += t->cpus;
            rc = ry->prog->functions[t->fn].fn(ry, t->nargs, args);
            ry->running_cpus -= t->cpus;
            ry->st.tasks_run++;
        } else if (t->kind == TASK_CREATE) {
            const ray_class *c = &ry->prog->classes[a->cls];
            a->state = calloc(1, c->state_bytes ? c->state_bytes : 1);
            a->busy = 1;
            rc = a->state ? (c->init ? c->init(ry, a->state, t->nargs, args) : RT_OK)
                          : ray_raise(ry, "out of memory for %zu bytes of state", c->state_bytes);
            a->busy = 0;
            ry->st.actors_created++;
        } else {
            a->busy = 1;
            rc = ry->prog->classes[a->cls].methods[t->fn].fn(ry, a->state, t->nargs, args);
            a->busy = 0;
            ry->st.actor_calls++;
        }
        ry->frame = f.up;
        rt_span(ry->r, ray_span_id(ry->prog, t->kind, t->fn, a ? a->cls : -1), t0, rt_now(ry->r), 0, -1);
        if (rc && f.raised)
            snprintf(err, sizeof err, "%s on rank %d: %s", name, ry->me, f.error);
        else if (rc)
            snprintf(err, sizeof err, "%s on rank %d: returned %d (%s): %s", name, ry->me, rc,
                     rt_strerror(rc), rt_error(ry->r));
    }
    if (t->kind == TASK_CREATE) {
        if (err[0])
            a->error = strdup(err);
        else
            a->constructed = 1;
    }
    if (err[0]) {
        ry->st.tasks_failed++;
        raylet_complete(ry, t->ret, t->owner, OBJ_ERROR, err, strlen(err));
    } else {
        raylet_complete(ry, t->ret, t->owner, OBJ_READY, f.result, f.bytes);
    }
    free(f.result);
    raylet_task_free(ry, t);
}

int raylet_run_one(ray *ry)
{
    for (ray_actor_rec *a = ry->actors; a; a = a->next) {
        ray_task *t = a->head;
        if (a->busy || !t || t->pending)
            continue;
        if (!a->constructed && !a->error && t->kind != TASK_CREATE)
            continue; /* its creation has not arrived yet */
        a->head = t->next;
        if (!a->head)
            a->tail = NULL;
        run_task(ry, t, a);
        return 1;
    }
    ray_task *t = ry->ready_head;
    if (!t)
        return 0;
    ry->ready_head = t->next;
    if (!ry->ready_head)
        ry->ready_tail = NULL;
    ry->queued_cpus -= t->cpus;
    run_task(ry, t, NULL);
    return 1;
}

int ray_return(ray *ry, const void *data, size_t bytes)
{
    ray_frame *f = ry->frame;
    if (!f)
        return raylet_fail(ry, RT_EINVAL, "ray_return outside a task");
    void *copy = NULL; /* a size-only value for the store stays NULL */
    if (data || bytes <= ry->cfg.inline_bytes) {
        copy = data ? malloc(bytes ? bytes : 1) : calloc(1, bytes ? bytes : 1);
        if (!copy)
            return raylet_fail(ry, RT_ENOMEM, "ray_return: no memory for %zu bytes", bytes);
        if (data && bytes)
            memcpy(copy, data, bytes);
    }
    free(f->result);
    f->result = copy;
    f->bytes = bytes;
    return RT_OK;
}

int ray_raise(ray *ry, const char *fmt, ...)
{
    ray_frame *f = ry->frame;
    if (!f)
        return raylet_fail(ry, RT_EINVAL, "ray_raise outside a task");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    f->raised = 1;
    return RAY_ETASK;
}

int ray_sleep(ray *ry, double seconds)
{
    if (!(seconds >= 0 && seconds <= 1e9))
        return raylet_fail(ry, RT_EINVAL, "ray_sleep: %g s is not in 0..1e9", seconds);
    return raylet_pause(ry, seconds);
}

/* ---- the driver's and tasks' calls ---- */

static int find_function(ray *ry, const char *name)
{
    for (int i = 0; i < ry->prog->nfunctions; i++)
        if (!strcmp(ry->prog->functions[i].name, name))
            return i;
    return -1;
}

static int check_opts(ray *ry, const char *what, const ray_task_opts *o, double *cpus, int *node)
{
    *cpus = o ? o->cpus : 1;
    *node = o ? o->node : -1;
    if (o && o->max_restarts < -1)
        return raylet_fail(ry, RT_EINVAL, "%s: max_restarts %d is not -1 (no limit) or more",
                           what, o->max_restarts);
    if (o && o->max_task_retries < -1)
        return raylet_fail(ry, RT_EINVAL, "%s: max_task_retries %d is not -1 (no limit) or more",
                           what, o->max_task_retries);
    if (!(*cpus >= 0 && *cpus <= ry->cfg.cpus_per_node))
        return raylet_fail(ry, RT_EINVAL, "%s: %g cpus asked, but a node has %g", what, *cpus,
                           ry->cfg.cpus_per_node);
    if (*node < -1 || *node >= ry->p)
        return raylet_fail(ry, RT_EINVAL, "%s: node %d is not -1 or 0..%d", what, *node, ry->p - 1);
    return RT_OK;
}

static int new_owned(ray *ry, ray_ref *out)
{
    ray_ref ref = raylet_new_ref(ry);
    ray_obj *o = raylet_obj_add(ry, ref);
    if (!o)
        return raylet_fail(ry, RT_ENOMEM, "no memory for an object");
    o->refs = 1;
    *out = ref;
    return RT_OK;
}

int ray_submit(ray *ry, const char *fn, int nargs, const ray_in *args,
               const ray_task_opts *opts, ray_ref *out)
{
    *out = 0;
    int idx = find_function(ry, fn);
    if (idx < 0)
        return raylet_fail(ry, RT_EINVAL, "ray_submit: no remote function '%s'", fn);
    double cpus;
    int node, rc;
    if ((rc = check_opts(ry, "ray_submit", opts, &cpus, &node)) || (rc = new_owned(ry, out)))
        return rc;
    ry->st.tasks_submitted++;
    return raylet_submit(ry, TASK_FN, idx, -1, 0, node, cpus, nargs, args, *out, 0);
}

int ray_put(ray *ry, const void *data, size_t bytes, ray_ref *out)
{
    int rc = new_owned(ry, out);
    return rc ? rc : raylet_put_local(ry, raylet_obj(ry, *out), data, bytes);
}

/* The object as this node knows it, asked for if it is not here. */
static ray_obj *reach(ray *ry, ray_ref ref, int pin_for_get)
{
    ray_obj *o = raylet_obj(ry, ref);
    if (!o && raylet_ref_owner(ref) == ry->me)
        return NULL; /* ours, and already freed */
    if (!o && !(o = raylet_obj_add(ry, ref)))
        return NULL;
    if (pin_for_get && !o->owned && !o->gets) {
        o->gets = 1;
        o->pins++;
    }
    raylet_want(ry, o, -1);
    return o;
}

int ray_get(ray *ry, ray_ref ref, const void **data, size_t *bytes)
{
    *data = NULL;
    *bytes = 0;
    ray_obj *o = reach(ry, ref, 1);
    if (!o)
        return raylet_fail(ry, RT_EINVAL, "ray_get: object %llx was released or never existed",
                           (unsigned long long)ref);
    while (!o->here) {
        if (ry->shutdown)
            return raylet_fail(ry, RAY_ESHUTDOWN, "ray_get: the job is ending");
        int rc = raylet_step(ry, 1, -1);
        if (rc)
            return rc;
        raylet_want(ry, o, -1);
    }
    if (o->state == OBJ_ERROR)
        return rt_fail(ry->r, RAY_ETASK, "%s", o->error);
    *data = o->data;
    *bytes = o->bytes;
    return RT_OK;
}

static int is_ready(const ray_obj *o)
{
    return o->here || (o->owned && o->state != OBJ_PENDING);
}

int ray_wait(ray *ry, int n, const ray_ref *refs, int k, double timeout_s, int *ready,
             int *nready)
{
    *nready = 0;
    if (n < 0 || k < 0 || k > n)
        return raylet_fail(ry, RT_EINVAL, "ray_wait: k = %d of n = %d", k, n);
    ray_obj *objs[256];
    if (n > 256)
        return raylet_fail(ry, RT_EINVAL, "ray_wait: at most 256 references, not %d", n);
    for (int i = 0; i < n; i++) {
        objs[i] = reach(ry, refs[i], 0);
        if (!objs[i])
            return raylet_fail(ry, RT_EINVAL, "ray_wait: object %llx was released",
                               (unsigned long long)refs[i]);
        objs[i]->pins++;
    }
    double end = timeout_s >= 0 ? rt_now(ry->r) + timeout_s : 0;
    int rc = RT_OK, count;
    for (;;) {
        count = 0;
        for (int i = 0; i < n; i++)
            count += is_ready(objs[i]);
        if (count >= k || ry->shutdown)
            break;
        double left = timeout_s >= 0 ? end - rt_now(ry->r) : -1;
        if (timeout_s >= 0 && left <= 0)
            break;
        if ((rc = raylet_step(ry, 1, left)))
            break;
    }
    for (int i = 0; i < n; i++) {
        if (ready)
            ready[i] = is_ready(objs[i]);
        objs[i]->pins--;
        raylet_obj_maybe_drop(ry, objs[i]);
    }
    *nready = count;
    return rc;
}

void ray_release(ray *ry, ray_ref ref)
{
    ray_obj *o = raylet_obj(ry, ref);
    if (!o)
        return;
    if (o->owned) {
        raylet_decref(ry, ref);
        return;
    }
    int changed = 0;
    if (o->borrowed > 0) {
        changed = 1;
        if (--o->borrowed == 0) /* the last borrow of this node */
            raylet_borrow_msg(ry, raylet_ref_owner(ref), ref, -1, ry->me);
    }
    if (o->gets) {
        changed = 1;
        o->gets = 0;
        o->pins--;
    }
    if (changed)
        raylet_obj_maybe_drop(ry, o);
}

int ray_borrow(ray *ry, ray_ref ref)
{
    if (!ry->frame)
        return raylet_fail(ry, RT_EINVAL, "ray_borrow outside a task");
    ray_obj *o = raylet_obj(ry, ref);
    if (o && o->owned) { /* lent back to its owner: a handle of its own */
        o->refs++;
        return RT_OK;
    }
    if (!o && raylet_ref_owner(ref) == ry->me)
        return raylet_fail(ry, RT_EINVAL, "ray_borrow: object %llx was already freed",
                           (unsigned long long)ref);
    if (!o && !(o = raylet_obj_add(ry, ref)))
        return raylet_fail(ry, RT_ENOMEM, "ray_borrow: no memory");
    /* sent to the task's lender before the task's result, so the owner
     * counts it (the lender forwards it) before the lender lets go of
     * what the task held */
    if (o->borrowed++ == 0)
        return raylet_borrow_msg(ry, ry->frame->lender, ref, +1, ry->me);
    return RT_OK;
}

/* ---- actors ---- */

static int find_class(ray *ry, const char *name)
{
    for (int i = 0; i < ry->prog->nclasses; i++)
        if (!strcmp(ry->prog->classes[i].name, name))
            return i;
    return -1;
}

int ray_actor_create(ray *ry, const char *cls, int nargs, const ray_in *args,
                     const ray_task_opts *opts, ray_actor *out)
{
    memset(out, 0, sizeof *out);
    int c = find_class(ry, cls);
    if (c < 0)
        return raylet_fail(ry, RT_EINVAL, "ray_actor_create: no actor class '%s'", cls);
    double cpus;
    int node, rc;
    ray_ref ret = 0;
    if ((rc = check_opts(ry, "ray_actor_create", opts, &cpus, &node)) || (rc = new_owned(ry, &ret)))
        return rc;
    if (node < 0 || ry->dead[node])
        node = raylet_node_for_actor(ry);
    out->id = raylet_new_ref(ry);
    out->node = node;
    out->cls = c;
    out->max_task_retries = opts ? opts->max_task_retries : 0;
    rc = raylet_submit(ry, TASK_CREATE, c, c, out->id, node, 0, nargs, args, ret,
                       opts ? opts->max_restarts : 0);
    raylet_decref(ry, ret); /* nobody gets a creation; its errors reach the calls */
    return rc;
}

int ray_call(ray *ry, ray_actor a, const char *method, int nargs, const ray_in *args,
             ray_ref *out)
{
    *out = 0;
    if (a.cls < 0 || a.cls >= ry->prog->nclasses || a.node < 0 || a.node >= ry->p ||
        a.max_task_retries < -1)
        return raylet_fail(ry, RT_EINVAL, "ray_call: not an actor handle (class %d, node %d)",
                           a.cls, a.node);
    const ray_class *c = &ry->prog->classes[a.cls];
    int m = -1;
    for (int i = 0; i < c->nmethods; i++)
        if (!strcmp(c->methods[i].name, method))
            m = i;
    if (m < 0)
        return raylet_fail(ry, RT_EINVAL, "ray_call: actor class '%s' has no method '%s'",
                           c->name, method);
    int rc = new_owned(ry, out);
    return rc ? rc : raylet_submit(ry, TASK_CALL, m, a.cls, a.id, a.node, 0, nargs, args, *out,
                                   a.max_task_retries);
}

/* ---- what the nodes did, summed ---- */

const char *const ray_stat_names[RAY_NSTATS] = {RAY_STAT_NAMES};

void ray_stats_add(double *to, const ray_stats *st)
{
    to[RAY_STAT_TASKS] += (double)st->tasks_run;
    to[RAY_STAT_ACTOR_CALLS] += (double)st->actor_calls;
    to[RAY_STAT_OBJECTS_INLINE] += (double)st->objects_inline;
    to[RAY_STAT_OBJECTS_STORED] += (double)st->objects_stored;
    to[RAY_STAT_OBJECTS_FETCHED] += (double)st->objects_fetched;
    to[RAY_STAT_BYTES_FETCHED] += (double)st->bytes_fetched;
    to[RAY_STAT_BYTES_INLINE] += (double)st->bytes_inline;
    to[RAY_STAT_OBJECTS_FREED] += (double)st->objects_freed;
    if ((double)st->store_peak_bytes > to[RAY_STAT_STORE_PEAK])
        to[RAY_STAT_STORE_PEAK] = (double)st->store_peak_bytes;
    to[RAY_STAT_SPILLED] += (double)st->tasks_spilled;
    to[RAY_STAT_RECONSTRUCTIONS] += (double)st->reconstructions;
    to[RAY_STAT_TASKS_RETRIED] += (double)st->tasks_retried;
    to[RAY_STAT_ACTOR_RESTARTS] += (double)st->actor_restarts;
    to[RAY_STAT_CALLS_LOST] += (double)st->calls_lost;
}

void ray_stats_keep(double *kept, const ray_stats *st)
{
    memset(kept, 0, (RAY_NSTATS + 1) * sizeof *kept);
    ray_stats_add(kept, st);
    kept[RAY_NSTATS] = 1;
}

int ray_stats_add_kept(double *totals, const double *kept)
{
    if (kept[RAY_NSTATS] != 1)
        return 0;
    for (int i = 0; i < RAY_NSTATS; i++)
        if (i == RAY_STAT_STORE_PEAK)
            totals[i] = kept[i] > totals[i] ? kept[i] : totals[i];
        else
            totals[i] += kept[i];
    return 1;
}

int ray_stats_gather(rt *r, const ray_stats *st, double *totals)
{
    if (rt_rank(r) != 0)
        return rt_send(r, 0, RAY_TAG_STATS, st, sizeof *st);
    ray_stats_add(totals, st);
    int rc = RT_OK;
    for (int q = 1; q < rt_size(r) && !rc; q++) {
        ray_stats other;
        if (!(rc = rt_recv(r, q, RAY_TAG_STATS, &other, sizeof other, NULL)))
            ray_stats_add(totals, &other);
        else if (rc == RT_EPEER) /* a node that died reports nothing */
            rc = RT_OK;
    }
    return rc;
}

/* ---- a node's life ---- */

int ray_main(rt *r, const ray_program *prog, ray_stats *stats)
{
    ray ry;
    int rc = raylet_init(&ry, r, prog);
    if (rc)
        return rc;
    if (ry.me == 0) {
        rc = prog->driver(&ry, prog->arg);
        char err[512];
        snprintf(err, sizeof err, "%s", rc ? rt_error(r) : "");
        int src = raylet_shutdown(&ry);
        if (rc)
            rt_fail(r, rc, "%s", err);
        else
            rc = src;
    } else {
        while (!ry.shutdown && !(rc = raylet_step(&ry, 1, -1)))
            ;
        if (!rc)
            rc = raylet_shutdown(&ry);
    }
    if (stats)
        *stats = ry.st;
    raylet_fini(&ry);
    return rc;
}
