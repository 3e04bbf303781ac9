/* verb_ray_bench.c -- `distlab ray-bench MODE`: the shapes of the Ray
 * paper's system figures (Moritz et al., OSDI 2018, section 5.1) on
 * distlab's Ray model (algorithms/ray.h), simulated or on real sockets.
 *
 *   latency     submit-to-get of an empty task run on the driver's node
 *               and on another node, beside a plain rt_send/rt_recv round
 *               trip on the same two ranks (the floor the task pays on)
 *   throughput  empty tasks per second against nodes: every node's own
 *               spawner task submits its share locally and gets them, as
 *               in the paper's scalability test; linear while each node's
 *               scheduler keeps up
 *   locality    a task whose input (1 KB to 100 MB) sits in another
 *               node's store, placed by locality (it runs where the input
 *               is) or without (it runs on the driver's node and fetches)
 *   allreduce   a ring allreduce made of actors (algorithms/ray_allreduce.c)
 *               against distlab's own ring of messages (allreduce_ring.c)
 *               on the same cluster: time and bytes on the wire, for each
 *               size and each per-task overhead (the paper's added
 *               scheduler delay)
 *
 * Each writes MODE.csv and MODE.png under --out, and a run folder per job
 * under --out/MODE/ (events.csv, summary.json with Ray's span names, as
 * `run ray-ps` writes), so `distlab timeline` and `trace` show any of its
 * runs; --no-events writes none.
 *
 * Timing only (--payload size-only, simulation): allreduce's vectors and
 * chunks and locality's inputs are size-only (ray.h: a NULL value; the
 * message ring sends NULL buffers), so they cost their size on the wire
 * and take no memory, while Ray's control messages keep their bytes: the
 * job itself runs with data. allreduce does so by default in simulation,
 * where its default sizes are the paper's 100 MB and 1 GB on 16 nodes.
 * latency and throughput move no payload and refuse it.
 *
 * --fail N@TIME (simulation, throughput and locality): a job whose only
 * failed ranks are the ones --fail named, with the driver's finished,
 * counts: Ray went on without them, lost objects rebuilt by lineage, and
 * the CSV says how many; the run folders' ray_* totals include what the
 * dead nodes did up to their deaths (ray.h: ray_stats_keep). The driver's node (0) may not die, and latency
 * and allreduce, which cannot go on without a rank, refuse it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "algorithms/collectives.h"
#include "algorithms/ray.h"
#include "algorithms/ray_allreduce.h"
#include "cli/cli.h"
#include "core/records.h"
#include "core/units.h"
#include "plots/plot.h"

#define MAX_POINTS 32

typedef struct bench_arg {
    int mode;           /* 0 latency, 1 throughput, 2 locality, 3 allreduce */
    int actors;         /* allreduce: the actor ring (else the message ring) */
    size_t floats;      /* allreduce: each member's vector */
    long reps;          /* latency: round trips; locality: trials per size */
    long tasks;         /* throughput: tasks in all */
    size_t bytes;       /* locality: this input's size */
    int hybrid;         /* throughput: tasks placed by the hybrid policy, not locally */
    int size_only;      /* allreduce, locality: bulk values are only their size */
    ray_config cfg;
} bench_arg;

typedef struct bench_slot {
    double plain_rtt_s, local_rtt_s, remote_rtt_s;
    double seconds;     /* throughput: first submit to last get; locality: per task */
    double tasks;
    double wrong;       /* allreduce: elements not the exact sum */
    double wire_bytes;  /* the job's bytes sent, every message */
    double ray[RAY_NSTATS]; /* Ray's counts, summed over the nodes (ray.h) */
    double kept[RAY_NSTATS + 1]; /* a node that died: its own, up to its death */
    int nodes_lost;     /* nodes --fail took down while the driver went on */
} bench_slot;

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- remote functions ---- */

static int f_empty(ray *ry, int nargs, const ray_arg *a)
{
    (void)ry;
    (void)nargs;
    (void)a;
    return RT_OK;
}

/* spawn(n, hybrid): n empty tasks on this node (or where the hybrid
 * policy puts them), getting each, at most WINDOW outstanding */
static int f_spawn(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    long n;
    int hybrid;
    memcpy(&n, a[0].data, sizeof n);
    memcpy(&hybrid, a[1].data, sizeof hybrid);
    ray_ref *refs = malloc((size_t)(n > 0 ? n : 1) * sizeof *refs);
    if (!refs)
        return ray_raise(ry, "no memory for %ld references", n);
    ray_task_opts here = {.cpus = 1, .node = ray_node(ry)};
    int rc = RT_OK;
    const void *d;
    size_t b;
    /* at most WINDOW in flight: thousands of messages queued between one
     * pair of simulated hosts make SimGrid's matching slow (quadratic) */
    enum { WINDOW = 256 };
    long got = 0;
    for (long i = 0; i < n && !rc; i++) {
        rc = ray_submit(ry, "empty", 0, NULL, hybrid ? NULL : &here, &refs[i]);
        if (!rc && i - got >= WINDOW) {
            rc = ray_get(ry, refs[got], &d, &b);
            ray_release(ry, refs[got++]);
        }
    }
    for (; got < n && !rc; got++) {
        rc = ray_get(ry, refs[got], &d, &b);
        ray_release(ry, refs[got]);
    }
    free(refs);
    return rc;
}

/* make(bytes): an object of that size (only a size, timing only) */
static int f_make(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    size_t n;
    memcpy(&n, a[0].data, sizeof n);
    if (((const bench_arg *)ray_program_arg(ry))->size_only)
        return ray_return(ry, NULL, n);
    void *buf = calloc(1, n ? n : 1);
    if (!buf)
        return ray_raise(ry, "no memory for %zu bytes", n);
    int rc = ray_return(ry, buf, n);
    free(buf);
    return rc;
}

static int f_use(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    double node = ray_node(ry), bytes = (double)a[0].bytes;
    double out[2] = {node, bytes};
    return ray_return(ry, out, sizeof out);
}

static const ray_function functions[] = {
    {"empty", f_empty}, {"spawn", f_spawn}, {"make", f_make}, {"use", f_use}};

/* ---- the drivers ---- */

static int round_trip(ray *ry, int node, long reps, double *rtt)
{
    ray_task_opts o = {.cpus = 1, .node = node};
    const void *d;
    size_t b;
    int rc = RT_OK;
    rt *r = ray_rt(ry);
    double t0 = 0;
    for (long i = -1; i < reps && !rc; i++) { /* one untimed trip first */
        if (i == 0)
            t0 = rt_now(r);
        ray_ref x;
        rc = ray_submit(ry, "empty", 0, NULL, &o, &x);
        if (!rc)
            rc = ray_get(ry, x, &d, &b);
        ray_release(ry, x);
    }
    *rtt = (rt_now(r) - t0) / (double)reps;
    return rc;
}

static int drv_latency(ray *ry, void *arg)
{
    const bench_arg *ba = arg;
    bench_slot *s = rt_slot(ray_rt(ry));
    int rc = round_trip(ry, 0, ba->reps, &s->local_rtt_s);
    return rc ? rc : round_trip(ry, 1, ba->reps, &s->remote_rtt_s);
}

static int drv_throughput(ray *ry, void *arg)
{
    const bench_arg *ba = arg;
    bench_slot *s = rt_slot(ray_rt(ry));
    int p = ray_nodes(ry), rc = RT_OK;
    ray_ref *refs = calloc((size_t)p, sizeof *refs);
    if (!refs)
        return RT_ENOMEM;
    double t0 = rt_now(ray_rt(ry));
    for (int k = 0; k < p && !rc; k++) {
        long n = ba->tasks / p + (k < ba->tasks % p);
        rc = ray_submit(ry, "spawn", 2,
                        (ray_in[]){ray_val(&n, sizeof n), ray_val(&ba->hybrid, sizeof ba->hybrid)},
                        &(ray_task_opts){.cpus = 0, .node = k}, &refs[k]);
    }
    const void *d;
    size_t b;
    for (int k = 0; k < p && !rc; k++)
        rc = ray_get(ry, refs[k], &d, &b);
    s->seconds = rt_now(ray_rt(ry)) - t0;
    s->tasks = (double)ba->tasks;
    free(refs);
    return rc;
}

static int drv_locality(ray *ry, void *arg)
{
    const bench_arg *ba = arg;
    bench_slot *s = rt_slot(ray_rt(ry));
    rt *r = ray_rt(ry);
    double total = 0;
    int rc = RT_OK;
    for (long t = 0; t < ba->reps && !rc; t++) {
        ray_ref obj, use;
        rc = ray_submit(ry, "make", 1, (ray_in[]){ray_val(&ba->bytes, sizeof ba->bytes)},
                        &(ray_task_opts){.cpus = 1, .node = 1}, &obj);
        int ready, n;
        if (!rc) /* its owner learns where it is: the placement can use that */
            rc = ray_wait(ry, 1, &obj, 1, -1, &ready, &n);
        double t0 = rt_now(r);
        if (!rc)
            rc = ray_submit(ry, "use", 1, (ray_in[]){ray_fut(obj)}, NULL, &use);
        const void *d;
        size_t b;
        if (!rc)
            rc = ray_get(ry, use, &d, &b);
        total += rt_now(r) - t0;
        ray_release(ry, use);
        ray_release(ry, obj);
    }
    s->seconds = total / (double)ba->reps;
    return rc;
}

static int drv_allreduce(ray *ry, void *arg)
{
    const bench_arg *ba = arg;
    bench_slot *s = rt_slot(ray_rt(ry));
    int p = ray_nodes(ry), rc = RT_OK;
    ray_actor *m = calloc((size_t)p, sizeof *m);
    if (!m)
        return RT_ENOMEM;
    for (int i = 0; i < p && !rc; i++)
        rc = ray_actor_create(ry, "RingMember", 4,
                              (ray_in[]){ray_val(&i, sizeof i), ray_val(&p, sizeof p),
                                         ray_val(&ba->floats, sizeof ba->floats),
                                         ray_val(&ba->size_only, sizeof ba->size_only)},
                              &(ray_task_opts){.cpus = 0, .node = i}, &m[i]);
    double before;
    if (!rc) /* every member built before the clock starts */
        rc = ray_ring_check(ry, m, p, &before);
    double t0 = rt_now(ray_rt(ry));
    if (!rc)
        rc = ray_ring_allreduce(ry, m, p);
    s->seconds = rt_now(ray_rt(ry)) - t0;
    if (!rc)
        rc = ray_ring_check(ry, m, p, &s->wrong);
    free(m);
    return rc;
}

/* distlab's ring of messages on the same ranks and vectors (none when
 * size-only: the ring sends NULL buffers and charges its sums) */
static int message_ring(rt *r, const bench_arg *ba, bench_slot *s)
{
    int p = rt_size(r), me = rt_rank(r);
    float *v = ba->size_only ? NULL : malloc((ba->floats ? ba->floats : 1) * sizeof *v);
    if (!v && !ba->size_only)
        return rt_fail(r, RT_ENOMEM, "no memory for %zu floats", ba->floats);
    for (size_t j = 0; v && j < ba->floats; j++)
        v[j] = (float)((me + (int)(j % 7)) % 7);
    int rc = rt_barrier(r);
    double t0 = rt_now(r);
    if (!rc)
        rc = allreduce_ring(r, v, ba->floats, NULL);
    if (!rc)
        rc = rt_barrier(r);
    s->seconds = rt_now(r) - t0;
    float want[7] = {0};
    for (int k = 0; k < 7; k++)
        for (int q = 0; q < p; q++)
            want[k] += (float)((q + k) % 7);
    for (size_t j = 0; v && j < ba->floats; j++)
        s->wrong += v[j] != want[j % 7];
    free(v);
    return rc;
}

/* The Ray program of a mode: every mode's functions and the ring's class,
 * so that span names are the same in every mode's records. */
static ray_program bench_program(const bench_arg *ba)
{
    static int (*const drivers[])(ray *, void *) = {drv_latency, drv_throughput, drv_locality,
                                                    drv_allreduce};
    return (ray_program){functions, 4, &ray_ring_member_class, 1, drivers[ba->mode], (void *)ba,
                         ba->cfg};
}

/* Every rank: the plain round trip first (latency), then the Ray program. */
static int bench_rank(rt *r, void *arg)
{
    const bench_arg *ba = arg;
    bench_slot *s = rt_slot(r);
    int rc = RT_OK;
    if (ba->mode == 0 && rt_rank(r) < 2) {
        char byte = 0;
        double t0 = 0;
        for (long i = -1; i < ba->reps && !rc; i++) {
            if (i == 0)
                t0 = rt_now(r);
            if (rt_rank(r) == 0) {
                rc = rt_send(r, 1, 1, &byte, 1);
                if (!rc)
                    rc = rt_recv(r, 1, 1, &byte, 1, NULL);
            } else {
                rc = rt_recv(r, 0, 1, &byte, 1, NULL);
                if (!rc)
                    rc = rt_send(r, 0, 1, &byte, 1);
            }
        }
        s->plain_rtt_s = (rt_now(r) - t0) / (double)ba->reps;
    }
    if (rc)
        return rc;
    if (ba->mode == 3 && !ba->actors)
        return message_ring(r, ba, s);
    ray_program prog = bench_program(ba);
    ray_stats st = {0};
    rc = ray_main(r, &prog, &st);
    if (rc)
        ray_stats_keep(s->kept, &st); /* run_one adds them */
    return rc ? rc : ray_stats_gather(r, &st, rt_rank(r) == 0 ? s->ray : NULL);
}

/* ---- the verb ---- */

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1;; c++) {
        char was = *c;
        if (was != '/' && was != '\0')
            continue;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return -1;
        *c = was;
        if (!was)
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Where one job's run records go: OUT/MODE/NAME, or nowhere (--no-events). */
typedef struct bench_runs {
    const char *out, *mode;
    int on;
} bench_runs;

/* One job's run folder: its events (distlab timeline and trace read them)
 * and a summary that names Ray's spans and the job's settings. */
static int write_run(const char *dir, const job_config *cfg, const job_result *res,
                     const bench_arg *ba, const bench_slot *s, const char *mode)
{
    char err[1024], algo[64];
    records *rec = records_open(dir, err, sizeof err);
    if (!rec)
        goto fail;
    int ray = !(ba->mode == 3 && !ba->actors);
    snprintf(algo, sizeof algo, "ray-bench %s%s", mode,
             ba->mode != 3 ? "" : ray ? " (actor ring)" : " (message ring)");
    int bad = records_set_str(rec, "algo", algo) || records_set_int(rec, "workers", res->ranks) ||
              records_set_str(rec, "payload", ba->size_only ? "size-only" : "data");
    if (ray)
        bad = bad || records_set_num(rec, "task_overhead_s", ba->cfg.task_overhead_s);
    for (int i = 0; ray && i < RAY_NSTATS; i++) /* as run ray-ps writes them */
        bad = bad || records_set_num(rec, ray_stat_names[i], s->ray[i]);
    if (ba->mode == 3)
        bad = bad || records_set_int(rec, "vector_bytes", (long long)(ba->floats * sizeof(float)));
    if (ba->mode == 2)
        bad = bad || records_set_int(rec, "input_bytes", (long long)ba->bytes) ||
              records_set_str(rec, "placement", ba->cfg.locality ? "locality-aware" : "unaware");
    ray_program prog = bench_program(ba);
    int n = ray ? ray_span_count(&prog) : 0;
    char (*names)[RECORDS_SPAN_NAME_MAX + 1] = n ? calloc((size_t)n, sizeof *names) : NULL;
    const char **list = n ? calloc((size_t)n, sizeof *list) : NULL;
    for (int i = 0; names && list && i < n; i++) {
        ray_span_name(&prog, i, names[i], sizeof names[i]);
        list[i] = names[i];
    }
    bad = bad || (n && (!names || !list || records_set_span_names(rec, n, list)));
    free(list);
    free(names);
    if (bad) {
        records_close(rec, NULL, 0);
        fprintf(stderr, "distlab ray-bench: %s: out of memory\n", dir);
        return -1;
    }
    if (records_add_job(rec, cfg, res, err, sizeof err) != 0) {
        records_close(rec, NULL, 0);
        goto fail;
    }
    if (records_close(rec, err, sizeof err) == 0)
        return 0;
fail:
    fprintf(stderr, "distlab ray-bench: %s\n", err);
    return -1;
}

/* Whether --fail takes rank down (simulation). */
static int sim_fails(const job_config *cfg, int rank)
{
    const sim_config *sim = cfg->backend == &sim_backend ? cfg->settings : NULL;
    for (int i = 0; sim && i < sim->nfaults; i++)
        if (sim->faults[i].kind == SIM_FAULT_FAIL && sim->faults[i].rank == rank)
            return 1;
    return 0;
}

/* Ends a job's line: what the nodes --fail took down cost, if any. */
static void print_lost(const bench_slot *s)
{
    double rebuilt = s->ray[RAY_STAT_RECONSTRUCTIONS], retried = s->ray[RAY_STAT_TASKS_RETRIED];
    if (s->nodes_lost)
        printf(" %d node%s lost (--fail): %.0f object%s rebuilt by lineage, %.0f task%s run "
               "again", s->nodes_lost, s->nodes_lost == 1 ? "" : "s", rebuilt,
               rebuilt == 1 ? "" : "s", retried, retried == 1 ? "" : "s");
    printf("\n");
}

/* Run one job; name (printf-style) is its run folder under OUT/MODE. */
static int run_one(const bench_runs *runs, job_config *cfg, bench_arg *ba, int ranks,
                   bench_slot *out, double *wall, const char *name, ...)
    __attribute__((format(printf, 7, 8)));
static int run_one(const bench_runs *runs, job_config *cfg, bench_arg *ba, int ranks,
                   bench_slot *out, double *wall, const char *name, ...)
{
    cfg->ranks = ranks;
    cfg->result_bytes = sizeof(bench_slot);
    cfg->record_events = runs->on;
    job_result res;
    double t0 = wall_s();
    /* A node that --fail took down ends the job with its error; if only
     * such nodes failed and the driver's finished, Ray went on without
     * them (lost objects rebuilt by lineage) and the run counts. */
    int lost = 0, failed = job_run(cfg, bench_rank, ba, &res) != 0;
    for (int i = 1; failed && res.rank_status && i < ranks; i++)
        if (res.rank_status[i] != RT_OK) {
            lost++;
            if (!sim_fails(cfg, i))
                lost = -ranks;
        }
    if (failed && (lost <= 0 || res.rank_status[0] != RT_OK)) {
        fprintf(stderr, "distlab ray-bench: %s\n", res.error);
        job_result_free(&res);
        return -1;
    }
    *wall = wall_s() - t0;
    *out = *(bench_slot *)job_result_slot(&res, 0);
    /* the dead nodes' counts, up to their deaths, join the totals */
    for (int i = 1; lost > 0 && i < ranks; i++)
        if (res.rank_status[i] != RT_OK)
            ray_stats_add_kept(out->ray, ((bench_slot *)job_result_slot(&res, i))->kept);
    out->nodes_lost = lost;
    out->wire_bytes = (double)res.bytes_sent;
    int rc = 0;
    if (runs->on) {
        char dir[4400], leaf[256];
        va_list ap;
        va_start(ap, name);
        vsnprintf(leaf, sizeof leaf, name, ap);
        va_end(ap);
        snprintf(dir, sizeof dir, "%s/%s%s%s", runs->out, runs->mode, *leaf ? "/" : "", leaf);
        rc = write_run(dir, cfg, &res, ba, out, runs->mode);
    }
    job_result_free(&res);
    return rc;
}

static int parse_list(const char *verb, const char *opt, const char *list, int is_size,
                      double lo, double hi, double *v, int *n)
{
    char **item, err[256];
    int nitems = cli_split_list(verb, opt, list, &item);
    *n = 0;
    if (nitems < 0)
        return -1;
    for (int i = 0; i < nitems; i++) {
        const char *tok = item[i];
        double x;
        long whole;
        /* is_size: 0 a whole number (--nodes 2.5 ran 2 nodes), 1 a size, 2 a time */
        if (is_size == 2   ? units_time(tok, &x, err, sizeof err) != 0
            : is_size == 1 ? units_size(tok, &x, err, sizeof err) != 0
                           : (units_int(tok, 0, 1L << 30, &whole, err, sizeof err) != 0 || (x = (double)whole, 0))) {
            fprintf(stderr, "distlab %s: --%s: '%s' is not a %s\n", verb, opt, tok,
                    is_size == 2 ? "time" : is_size ? "size" : "whole number");
            free(item);
            return -1;
        }
        if (!(x >= lo && x <= hi) || *n == MAX_POINTS) { /* NaN too */
            fprintf(stderr, "distlab %s: --%s: expected up to %d values from %.10g to %.10g%s, got %.10g%s\n",
                    verb, opt, MAX_POINTS, lo, hi, is_size == 1 ? " bytes" : "", x,
                    is_size == 1 && lo == sizeof(float) ? " (a vector holds at least one float)" : "");
            free(item);
            return -1;
        }
        v[(*n)++] = x;
    }
    free(item);
    return 0;
}

static int figure(const char *path, const char *title, const char *xl, const char *yl,
                  plot_scale xs, plot_scale ys, const plot_series *s, int n)
{
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = n};
    spec.opts.title = title;
    spec.opts.x.label = xl;
    spec.opts.y.label = yl;
    spec.opts.x.scale = xs;
    spec.opts.y.scale = ys;
    char err[256];
    if (plot_lines(path, &spec, err, sizeof err) != 0) {
        fprintf(stderr, "distlab ray-bench: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* allreduce: every node count, size and overhead, the message ring and
 * the actor ring on the same cluster; the figure is the first node
 * count's. -1: a run failed (said), 1: the figure failed. */
static int bench_allreduce(FILE *f, const char *png, const bench_runs *runs, job_config *cfg,
                           bench_arg *ba, const double *nodes, int nn, const double *sizes, int ns,
                           const double *overheads, int no)
{
    const char *be = cfg->backend->name;
    const char *payload = ba->size_only ? "size-only" : "data";
    fprintf(f, "backend,nodes,bytes,task_overhead_s,ring_s,actor_ring_s,actor_over_ring,"
               "ring_wire_bytes,actor_wire_bytes,payload\n");
    if (ba->size_only)
        printf("ray-bench allreduce (%s): size-only vectors and chunks: timing only, the sums "
               "are charged and not checked\n", be);
    double x[MAX_POINTS], ring[MAX_POINTS], actor[MAX_POINTS][MAX_POINTS];
    for (int n = 0; n < nn; n++)
        for (int i = 0; i < ns; i++) {
            ba->floats = (size_t)(sizes[i] / sizeof(float));
            bench_slot r, s;
            double wall;
            ba->actors = 0;
            size_t bytes = ba->floats * sizeof(float);
            if (run_one(runs, cfg, ba, (int)nodes[n], &r, &wall, "nodes=%d,bytes=%zu,ring",
                        (int)nodes[n], bytes))
                return -1;
            for (int o = 0; o < no; o++) {
                ba->actors = 1;
                ba->cfg.task_overhead_s = overheads[o];
                if (run_one(runs, cfg, ba, (int)nodes[n], &s, &wall,
                            "nodes=%d,bytes=%zu,overhead=%g,actors", (int)nodes[n], bytes,
                            overheads[o]))
                    return -1;
                if (r.wrong || s.wrong) {
                    fprintf(stderr, "distlab ray-bench: allreduce of %.0f bytes on %d nodes: %.0f "
                            "(ring) and %.0f (actors) elements wrong\n", sizes[i], (int)nodes[n],
                            r.wrong, s.wrong);
                    return -1;
                }
                fprintf(f, "%s,%d,%zu,%g,%.9g,%.9g,%.4g,%.0f,%.0f,%s\n", be, (int)nodes[n],
                        ba->floats * sizeof(float), overheads[o], r.seconds, s.seconds,
                        s.seconds / r.seconds, r.wire_bytes, s.wire_bytes, payload);
                printf("ray-bench allreduce (%s): %d nodes, %zu bytes, overhead %g s: ring %.4g s, "
                       "actor ring %.4g s (%.2fx); bytes sent %.4g against %.4g (%.3fx), %.2f s "
                       "of wall time\n", be, (int)nodes[n], ba->floats * sizeof(float),
                       overheads[o], r.seconds, s.seconds, s.seconds / r.seconds, r.wire_bytes,
                       s.wire_bytes, s.wire_bytes / r.wire_bytes, wall);
                fflush(stdout);
                if (n == 0)
                    actor[o][i] = s.seconds;
            }
            if (n == 0) {
                x[i] = (double)(ba->floats * sizeof(float));
                ring[i] = r.seconds;
            }
        }
    plot_series ser[MAX_POINTS + 1];
    char names[MAX_POINTS][64], title[96], yl[96];
    ser[0] = (plot_series){"ring of messages (allreduce_ring.c)", x, ring, (size_t)ns, 1};
    for (int o = 0; o < no; o++) {
        snprintf(names[o], sizeof names[o], "actor ring, %g ms per task", 1e3 * overheads[o]);
        ser[1 + o] = (plot_series){names[o], x, actor[o], (size_t)ns, 1};
    }
    snprintf(title, sizeof title, "Ring allreduce, %d nodes: actors and messages", (int)nodes[0]);
    snprintf(yl, sizeof yl, "allreduce time (s, %s)", cfg->backend == &sim_backend ? "simulated" : "wall");
    return figure(png, title, "vector size (bytes)", yl, PLOT_LOG10, PLOT_LOG10, ser, 1 + no) ? 1 : 0;
}

/* allreduce with data holds every node's vector, nodes x size bytes and
 * a little more (the chunks in flight): refuse what would not fit in half
 * of this machine's memory, before running anything. */
static int too_big(const double *nodes, int nn, const double *sizes, int ns)
{
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    for (int n = 0; n < nn; n++)
        for (int i = 0; i < ns; i++)
            if (phys > 0 && nodes[n] * sizes[i] > phys / 2) {
                fprintf(stderr, "distlab ray-bench: allreduce of %g MB on %d nodes with "
                        "--payload data holds every node's vector in memory, %.3g GB, more than "
                        "half of this machine's %.3g GB: use --payload size-only (simulation's "
                        "default: the same simulated time, no memory) or smaller --sizes\n",
                        sizes[i] / 1e6, (int)nodes[n], nodes[n] * sizes[i] / 1e9, phys / 1e9);
                return 1;
            }
    return 0;
}

int verb_ray_bench(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"nodes", "N[,N...]", "throughput: node counts (default 1,2,4,8,16,32,64 in sim, 1,2 real)"},
        {"submit", "local|hybrid", "throughput: each spawner's tasks run on its node (default) "
                                      "or where the hybrid policy sends them"},
        {"tasks", "N", "throughput: empty tasks per point (default 20000 sim, 4000 real)"},
        {"reps", "N", "latency: round trips (default 1000 real, 10 sim); locality: trials (3)"},
        {"sizes", "SIZE[,SIZE...]", "locality: input sizes (default 1KB,10KB,100KB,1MB,10MB,100MB); "
                                    "allreduce: vector sizes (default 10MB,100MB,1GB sim, 1MB real); "
                                    "in sim allreduce is timing only unless --payload data"},
        {"task-overhead", "TIME", "sim: each task's overhead (default 5us, measured on threads)"},
        {"overheads", "TIME[,TIME...]", "allreduce, sim: the per-task overheads to try "
                                        "(default 5us,1ms,5ms)"},
        {"out", "DIR", "where MODE.csv and MODE.png go (default runs/ray-bench)"},
        {NULL, NULL, NULL},
    };
    const char *verb = "ray-bench";
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "ray-bench throughput|latency|locality|allreduce [options] [job options]",
                  opts, 1, &a, &code))
        return code;
    static const char *const modes[] = {"latency", "throughput", "locality", "allreduce"};
    int mode = -1;
    for (int m = 0; m < 4 && a.npos >= 1; m++)
        if (!strcmp(a.pos[0], modes[m]))
            mode = m;
    if (mode < 0) {
        fprintf(stderr, "distlab ray-bench: expected one mode, throughput, latency, locality or "
                "allreduce%s%s\n",
                a.npos ? ", got " : "", a.npos ? a.pos[0] : "");
        return 2;
    }
    if (a.npos > 1) {
        fprintf(stderr, "distlab ray-bench %s: unexpected argument '%s': one mode at a time\n",
                modes[mode], a.pos[1]);
        return 2;
    }
    /* an option another mode takes is refused, not ignored (bit m: mode m) */
    static const struct { const char *name; int modes; } own[] = {
        {"nodes", 1 << 1 | 1 << 3}, {"submit", 1 << 1}, {"tasks", 1 << 1},
        {"reps", 1 << 0 | 1 << 2}, {"sizes", 1 << 2 | 1 << 3}, {"overheads", 1 << 3}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (!cli_get(&a, own[i].name) || own[i].modes & 1 << mode)
            continue;
        char takes[64] = "";
        for (int m = 0; m < 4; m++)
            if (own[i].modes & 1 << m)
                snprintf(takes + strlen(takes), sizeof takes - strlen(takes), "%s%s",
                         *takes ? " and " : "", modes[m]);
        fprintf(stderr, "distlab ray-bench %s: --%s applies to %s only\n", modes[mode],
                own[i].name, takes);
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    cfg.ranks = 2;
    if (cli_job_config(&a, verb, &cfg, &sim, &real))
        return 2;
    int is_sim = cfg.backend == &sim_backend;
    bench_arg ba = {.mode = mode, .cfg = ray_config_default()};
    /* size-only here means the bulk values (verb comment), never the
     * job's messages: Ray's control messages need their bytes */
    if (sim.size_only && mode < 2) {
        fprintf(stderr, "distlab ray-bench %s: --payload size-only: its tasks are empty, so there "
                "is no payload to leave out, and Ray's control messages need their bytes (it "
                "applies to allreduce's chunks and locality's inputs)\n", modes[mode]);
        return 2;
    }
    ba.size_only = is_sim && (sim.size_only || (mode == 3 && !cli_get(&a, "payload")));
    sim.size_only = 0;
    double overhead = is_sim ? RAY_SIM_TASK_OVERHEAD_S : 0;
    if (cli_get(&a, "task-overhead") && !is_sim) {
        fprintf(stderr, "distlab ray-bench: --task-overhead is a simulation parameter; on real "
                "sockets the overhead is measured, not set\n");
        return 2;
    }
    if (cli_get_time(&a, verb, "task-overhead", &overhead))
        return 2;
    if (overhead > 1) {
        fprintf(stderr, "distlab ray-bench: --task-overhead: expected 0 to 1 s, got %g s\n", overhead);
        return 2;
    }
    ba.cfg.task_overhead_s = overhead;
    ba.reps = mode == 2 ? 3 : is_sim ? 10 : 1000;
    ba.tasks = is_sim ? 20000 : 4000;
    if (cli_get_int(&a, verb, "reps", 1, 1000000, &ba.reps) ||
        cli_get_int(&a, verb, "tasks", 1, 10000000, &ba.tasks))
        return 2;
    static const char *const placements[] = {"local", "hybrid", NULL};
    if (cli_get_choice(&a, verb, "submit", placements, &ba.hybrid))
        return 2;
    double nodes[MAX_POINTS], sizes[MAX_POINTS], overheads[MAX_POINTS];
    int nn = 0, ns = 0, no = 0;
    const char *def_nodes = mode == 3 ? (is_sim ? "16" : "2") : is_sim ? "1,2,4,8,16,32,64" : "1,2";
    const char *def_sizes = mode != 3 ? "1KB,10KB,100KB,1MB,10MB,100MB" : is_sim ? "10MB,100MB,1GB" : "1MB";
    if (cli_get(&a, "overheads") && !is_sim) {
        fprintf(stderr, "distlab ray-bench: --overheads is a simulation parameter; on real "
                "sockets the overhead is measured, not set\n");
        return 2;
    }
    if (parse_list(verb, "nodes", cli_get(&a, "nodes") ? cli_get(&a, "nodes") : def_nodes,
                   0, 1, 4096, nodes, &nn) ||
        parse_list(verb, "sizes", cli_get(&a, "sizes") ? cli_get(&a, "sizes") : def_sizes,
                   1, mode == 3 ? sizeof(float) : 1, 1024.0 * 1024 * 1024, sizes, &ns) ||
        (mode == 3 && is_sim &&
         parse_list(verb, "overheads", cli_get(&a, "overheads") ? cli_get(&a, "overheads")
                                       : "5us,1ms,5ms", 2, 0, 1, overheads, &no)))
        return 2;
    if (mode == 3 && !is_sim) {
        overheads[0] = 0;
        no = 1;
    }
    /* --fail: a node other than the driver's may die where Ray can go on
     * without it, its lost objects rebuilt by lineage */
    int fewest = mode == 0 ? 2 : mode == 2 ? 4 : (int)nodes[0];
    for (int i = 0; mode == 1 && i < nn; i++)
        fewest = nodes[i] < fewest ? (int)nodes[i] : fewest;
    for (int i = 0; i < sim.nfaults; i++) {
        if (sim.faults[i].kind != SIM_FAULT_FAIL)
            continue;
        if (mode == 0 || mode == 3) {
            fprintf(stderr, "distlab ray-bench %s: --fail: %s; it applies to throughput and "
                    "locality, whose lost objects and tasks lineage rebuilds\n", modes[mode],
                    mode == 0 ? "latency times the round trip to node 1 beside a plain "
                                "rt_send/rt_recv one, which cannot go on without it"
                              : "the message ring cannot go on without a rank, and a ring "
                                "member's actor restarted from its constructor has lost its "
                                "vector");
            return 2;
        }
        if (sim.faults[i].rank == 0) {
            fprintf(stderr, "distlab ray-bench %s: --fail 0@%g s: node 0 is the driver's, and Ray "
                    "does not survive its driver; expected another node, from 1 to %d\n",
                    modes[mode], sim.faults[i].at_s, fewest - 1);
            return 2;
        }
    }
    if (cli_check_faults(mode == 1 ? "ray-bench throughput (its fewest --nodes)" : verb, &sim,
                         fewest))
        return 2;
    if (mode == 3 && !ba.size_only && too_big(nodes, nn, sizes, ns))
        return 2;
    const char *outdir = cli_get(&a, "out") ? cli_get(&a, "out") : "runs/ray-bench";
    if (cli_check_out("ray-bench", outdir) != 0)
        return 2;
    if (make_dirs(outdir) != 0) {
        fprintf(stderr, "distlab ray-bench: --out %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    bench_runs runs = {outdir, modes[mode], cfg.record_events};
    char csv[4200], png[4200];
    snprintf(csv, sizeof csv, "%s/%s.csv", outdir, modes[mode]);
    snprintf(png, sizeof png, "%s/%s.png", outdir, modes[mode]);
    FILE *f = fopen(csv, "w");
    if (!f) {
        fprintf(stderr, "distlab ray-bench: %s: %s\n", csv, strerror(errno));
        return 1;
    }
    const char *clock = is_sim ? "simulated" : "wall";
    char xl[64], yl[96];
    bench_slot s;
    double wall;
    int status = 0;
    if (mode == 0) {
        if (run_one(&runs, &cfg, &ba, 2, &s, &wall, "%s", "")) {
            fclose(f);
            return 1;
        }
        fprintf(f, "backend,task_overhead_s,reps,plain_rtt_s,local_task_rtt_s,remote_task_rtt_s,"
                   "remote_over_plain\n");
        fprintf(f, "%s,%g,%ld,%.9g,%.9g,%.9g,%.4g\n", cfg.backend->name, overhead, ba.reps,
                s.plain_rtt_s, s.local_rtt_s, s.remote_rtt_s, s.remote_rtt_s / s.plain_rtt_s);
        printf("ray-bench latency (%s): plain round trip %.3g us, empty task local %.3g us, "
               "remote %.3g us (%.2fx the plain round trip)\n", cfg.backend->name,
               1e6 * s.plain_rtt_s, 1e6 * s.local_rtt_s, 1e6 * s.remote_rtt_s,
               s.remote_rtt_s / s.plain_rtt_s);
        double x[3] = {1, 2, 3}, y[3] = {1e6 * s.plain_rtt_s, 1e6 * s.local_rtt_s, 1e6 * s.remote_rtt_s};
        plot_series ser = {"1: rt_send/rt_recv, 2: empty task local, 3: remote", x, y, 3, 1};
        snprintf(yl, sizeof yl, "round trip (us, %s)", clock);
        status = figure(png, "Round trip of an empty task", "which round trip", yl, PLOT_LINEAR,
                        PLOT_LINEAR, &ser, 1);
    } else if (mode == 1) {
        fprintf(f, "backend,placement,nodes,tasks,seconds,tasks_per_s,wall_s,nodes_lost,"
                   "reconstructions,tasks_retried\n");
        double x[MAX_POINTS], y[MAX_POINTS];
        for (int i = 0; i < nn; i++) {
            if (run_one(&runs, &cfg, &ba, (int)nodes[i], &s, &wall, "nodes=%d", (int)nodes[i])) {
                fclose(f);
                return 1;
            }
            x[i] = nodes[i];
            y[i] = s.tasks / s.seconds;
            fprintf(f, "%s,%s,%d,%ld,%.9g,%.6g,%.3f,%d,%.0f,%.0f\n", cfg.backend->name,
                    placements[ba.hybrid], (int)nodes[i], ba.tasks, s.seconds, y[i], wall,
                    s.nodes_lost, s.ray[RAY_STAT_RECONSTRUCTIONS], s.ray[RAY_STAT_TASKS_RETRIED]);
            printf("ray-bench throughput (%s): %d nodes, %ld tasks in %.4g s: %.4g tasks/s "
                   "(%.2f s of wall time)", cfg.backend->name, (int)nodes[i], ba.tasks, s.seconds,
                   y[i], wall);
            print_lost(&s);
            fflush(stdout);
        }
        plot_series ser = {"empty tasks", x, y, (size_t)nn, 1};
        snprintf(yl, sizeof yl, "tasks per second (%s)", clock);
        status = figure(png, "Task throughput", "nodes", yl, PLOT_LOG2, PLOT_LOG10, &ser, 1);
    } else if (mode == 3) {
        status = bench_allreduce(f, png, &runs, &cfg, &ba, nodes, nn, sizes, ns, overheads, no);
        if (status < 0) {
            fclose(f);
            return 1;
        }
    } else {
        fprintf(f, "backend,bytes,locality_aware_s,locality_unaware_s,ratio,nodes_lost,"
                   "aware_reconstructions,unaware_reconstructions,aware_tasks_retried,"
                   "unaware_tasks_retried\n");
        double x[MAX_POINTS], ya[MAX_POINTS], yu[MAX_POINTS];
        for (int i = 0; i < ns; i++) {
            ba.bytes = (size_t)sizes[i];
            double t[2];
            bench_slot job[2];
            for (int aware = 1; aware >= 0; aware--) {
                ba.cfg.locality = aware;
                if (run_one(&runs, &cfg, &ba, 4, &s, &wall, "bytes=%zu,%s", ba.bytes,
                            aware ? "aware" : "unaware")) {
                    fclose(f);
                    return 1;
                }
                t[aware] = s.seconds;
                job[aware] = s;
            }
            x[i] = sizes[i];
            ya[i] = t[1];
            yu[i] = t[0];
            fprintf(f, "%s,%zu,%.9g,%.9g,%.4g,%d,%.0f,%.0f,%.0f,%.0f\n", cfg.backend->name,
                    ba.bytes, t[1], t[0], t[0] / t[1],
                    job[1].nodes_lost > job[0].nodes_lost ? job[1].nodes_lost : job[0].nodes_lost,
                    job[1].ray[RAY_STAT_RECONSTRUCTIONS], job[0].ray[RAY_STAT_RECONSTRUCTIONS],
                    job[1].ray[RAY_STAT_TASKS_RETRIED], job[0].ray[RAY_STAT_TASKS_RETRIED]);
            printf("ray-bench locality (%s): %zu bytes: aware %.4g s, unaware %.4g s (%.3gx)\n",
                   cfg.backend->name, ba.bytes, t[1], t[0], t[0] / t[1]);
            for (int aware = 1; aware >= 0; aware--)
                if (job[aware].nodes_lost) {
                    printf("  %s:", aware ? "aware" : "unaware");
                    print_lost(&job[aware]);
                }
            fflush(stdout);
        }
        plot_series ser[2] = {{"locality-aware", x, ya, (size_t)ns, 1},
                              {"locality-unaware", x, yu, (size_t)ns, 1}};
        snprintf(xl, sizeof xl, "input size (bytes)");
        snprintf(yl, sizeof yl, "task latency (s, %s)", clock);
        status = figure(png, "A task whose input is in another node's store", xl, yl, PLOT_LOG10,
                        PLOT_LOG10, ser, 2);
    }
    fclose(f);
    if (status)
        return 1;
    printf("wrote %s and %s\n", csv, png);
    return 0;
}
