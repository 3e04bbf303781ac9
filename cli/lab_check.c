/* lab_check.c -- the checkers of the labs whose students write a
 * collective (labs 01 and 02: an allreduce, algorithms/plugin.h).
 *
 * The student's allreduce goes through what distlab's own pass
 * (tests/test_collectives.c), each a numbered TAP line:
 *   - right sums on many rank counts and sizes, odd ones too (integers,
 *     exact whatever the order of the additions);
 *   - every rank ends with the same bits (fractions, whose sum depends on
 *     the order), close to the sum in double precision;
 *   - the simulated time on the ideal network is the lab's cost formula;
 *   - a size-only run (NULL buffer) neither crashes nor costs otherwise;
 *   - on real sockets (threads) the same bits as in simulation;
 *   - n = 0 and one rank leave the buffer alone; nothing is written past n.
 * Each check runs in a child process of its own, in its own process group,
 * so that a crash or an endless loop in the student's code is a failed
 * check, not a dead checker. The TAP lines, the child processes and the
 * table of checkers here serve every lab's checker (lab.h).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define MAX_SIZES 16
#define GUARD 8            /* floats after the vector that must stay as they were */
#define CHECK_SECONDS 120  /* a check running longer than this has hung */

/* ---- TAP ---- */

void lab_tap_line(tap *t, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", ok ? "ok" : "not ok", ++t->n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    t->passed += ok != 0;
}

/* Every line of msg as a TAP comment. */
void lab_tap_diag(const char *msg)
{
    for (const char *s = msg; *s;) {
        const char *nl = strchr(s, '\n');
        int len = nl ? (int)(nl - s) : (int)strlen(s);
        printf("#   %.*s\n", len, s);
        s += len + (nl != NULL);
    }
}

/* ---- one check in a child process ---- */

void lab_say(outcome *o, const char *fmt, ...)
{
    size_t used = strlen(o->msg);
    if (used + 2 >= sizeof o->msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg + used, sizeof o->msg - used, fmt, ap);
    va_end(ap);
    used = strlen(o->msg);
    if (used + 1 < sizeof o->msg && (used == 0 || o->msg[used - 1] != '\n'))
        strcat(o->msg, "\n");
}

/* Run fn(o, ctx) in a child; a crash or CHECK_SECONDS of it fails. */
void lab_isolated(outcome *out, void (*fn)(outcome *o, const void *ctx), const void *ctx)
{
    outcome *o = mmap(NULL, sizeof *o, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(out, 0, sizeof *out);
    if (o == MAP_FAILED) {
        snprintf(out->msg, sizeof out->msg, "cannot map a result area: %s", strerror(errno));
        return;
    }
    memset(o, 0, sizeof *o);
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        snprintf(out->msg, sizeof out->msg, "fork: %s", strerror(errno));
        munmap(o, sizeof *o);
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* in a group of its own, a check outlived a killed `lab check`
         * (timeout(1), a grader's kill), a student's loop spinning on */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        signal(SIGPIPE, SIG_DFL);
        fn(o, ctx);
        fflush(NULL);
        _exit(0);
    }
    setpgid(pid, pid);
    int st = 0, timed_out = 0;
    struct timespec start, now, tick = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > CHECK_SECONDS) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            snprintf(o->msg, sizeof o->msg, "still running after %d s: does it wait for a message "
                     "nobody sends, or loop forever?", CHECK_SECONDS);
            o->ok = 0;
            timed_out = 1;
            break;
        }
        nanosleep(&tick, NULL);
    }
    /* the simulation's own children are gone with it; make sure */
    kill(-pid, SIGKILL);
    *out = *o;
    if (WIFSIGNALED(st) && !timed_out) { /* a timed-out one was killed here: said above */
        out->ok = 0;
        snprintf(out->msg + strlen(out->msg), sizeof out->msg - strlen(out->msg),
                 "the check died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    }
    munmap(o, sizeof *o);
}

void lab_run_cases(tap *t, const lab_case *cases, int n, const void *ctx, int loaded)
{
    for (int i = 0; i < n; i++) {
        if (!loaded) {
            lab_tap_line(t, 0, "%s (not run: nothing to run)", cases[i].what);
            continue;
        }
        outcome o;
        lab_isolated(&o, cases[i].fn, ctx);
        lab_tap_line(t, o.ok, "%s", cases[i].what);
        if (o.msg[0] && (!o.ok || cases[i].say_always))
            lab_tap_diag(o.msg);
    }
}

job_config lab_job_config(int real_sockets, sim_config *sim, int ranks, size_t result_bytes)
{
    static real_config real; /* the same for every checker's job */
    job_config cfg;
    if (real_sockets) {
        real = real_config_default();
        real.launch = REAL_LAUNCH_THREADS;
        cfg = real_job_config(&real);
        cfg.timeout_s = 30;
    } else {
        cfg = sim_job_config(sim);
    }
    cfg.ranks = ranks;
    cfg.result_bytes = result_bytes;
    cfg.record_events = 0;
    return cfg;
}

int lab_score(const tap *t, const lab_checker *lab, const char *file)
{
    printf("# score: %d/%d checks pass (lab %s, %s)\n", t->passed, t->n, lab->number, file);
    return t->passed == t->n ? 0 : 1;
}

/* ---- the allreduce, run on P ranks ---- */

typedef enum { INTEGERS, FRACTIONS } pattern;

typedef struct ar_arg {
    plugin_allreduce_fn *fn;
    pattern pat;
    int nsizes;
    size_t count[MAX_SIZES];
    int size_only;
} ar_arg;

typedef struct ar_slot {
    long wrong;                /* elements off their expected value */
    char first_wrong[200];
    long overrun, touched;     /* guard floats changed; n = 0 or p = 1 changed the vector */
    char first_bad[200];
    uint64_t hash[MAX_SIZES];  /* FNV-1a of each result's bits */
    double seconds[MAX_SIZES]; /* from the size's start to its end, this rank */
} ar_slot;

static float input(pattern pat, int rank, size_t i)
{
    if (pat == INTEGERS)
        return (float)((rank % 13 + 1) * (int)(i % 7 + 1) + (int)(i % 3));
    /* fractions in [0.5, 1.5): their float sum depends on the order */
    uint32_t x = (uint32_t)(rank * 2654435761u) ^ (uint32_t)(i * 40503u + 12345u);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return 0.5f + (float)(x & 0xffffff) / (float)0x1000000;
}

static const float guard_value = -12345.5f;

static void check_result(ar_slot *s, const ar_arg *a, const float *buf, size_t n, int p, int me)
{
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (int q = 0; q < p; q++)
            want += input(a->pat, q, i);
        int bad = a->pat == INTEGERS ? buf[i] != (float)want
                                     : !(fabs(buf[i] - want) <= 1e-5 * fabs(want));
        if (bad && s->wrong++ == 0)
            snprintf(s->first_wrong, sizeof s->first_wrong,
                     "%d ranks, n = %zu: rank %d has element %zu = %.9g, expected %.9g", p, n, me, i,
                     buf[i], want);
    }
    for (int g = 0; g < GUARD; g++)
        if (buf[n + g] != guard_value && s->overrun++ == 0)
            snprintf(s->first_bad, sizeof s->first_bad,
                     "%d ranks, n = %zu: rank %d wrote %.9g into element %zu, past the vector's end",
                     p, n, me, buf[n + g], n + g);
    if (p == 1)
        for (size_t i = 0; i < n; i++)
            if (buf[i] != input(a->pat, me, i) && s->touched++ == 0)
                snprintf(s->first_bad, sizeof s->first_bad,
                         "1 rank, n = %zu: element %zu became %.9g; with one rank the vector is "
                         "already its own sum", n, i, buf[i]);
}

static int ar_rank(rt *r, void *argp)
{
    const ar_arg *a = argp;
    ar_slot *s = job_slot(r);
    int me = rt_rank(r), p = rt_size(r), rc = RT_OK;
    size_t max = 0;
    for (int k = 0; k < a->nsizes; k++)
        max = a->count[k] > max ? a->count[k] : max;
    float *buf = a->size_only ? NULL : malloc((max + GUARD) * sizeof *buf);
    if (!a->size_only && !buf)
        return rt_fail(r, RT_ENOMEM, "checker: cannot allocate %zu floats", max);
    for (int k = 0; k < a->nsizes && !rc; k++) {
        size_t n = a->count[k];
        if (buf) {
            for (size_t i = 0; i < n; i++)
                buf[i] = input(a->pat, me, i);
            for (int g = 0; g < GUARD; g++)
                buf[n + g] = guard_value;
        }
        /* sizes after the first start together; the first starts at 0 */
        if (k > 0)
            rc = rt_barrier(r);
        double t0 = rt_now(r);
        if (!rc)
            rc = a->fn(r, buf, n, NULL);
        s->seconds[k] = rt_now(r) - t0;
        if (!rc && buf) {
            check_result(s, a, buf, n, p, me);
            s->hash[k] = fnv1a64(buf, n * sizeof *buf);
        }
    }
    free(buf);
    return rc;
}

typedef struct ar_job {
    const ar_arg *arg;
    int ranks;
    const char *backend; /* "sim" or "threads" */
} ar_job;

/* Run the allreduce; 0 with every rank's slot copied into slots, or -1
 * with what went wrong said into o. */
static int ar_run(outcome *o, const ar_job *j, ar_slot *slots)
{
    sim_config sim = sim_config_default();
    sim.size_only = j->arg->size_only;
    job_config cfg = lab_job_config(strcmp(j->backend, "sim") != 0, &sim, j->ranks, sizeof(ar_slot));
    job_result res;
    int rc = job_run(&cfg, ar_rank, (void *)j->arg, &res);
    if (rc != 0)
        lab_say(o, "%s, %d ranks: %s", j->backend, j->ranks, res.error);
    else
        for (int i = 0; i < j->ranks; i++)
            slots[i] = *(ar_slot *)job_result_slot(&res, i);
    job_result_free(&res);
    return rc ? -1 : 0;
}

/* ---- the checks ---- */

typedef struct ar_ctx {
    const lab_checker *lab;
    plugin_allreduce_fn *fn;
    int quick;
} ar_ctx;

static const int sum_ranks_full[] = {1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 16, 0};
static const int sum_ranks_quick[] = {1, 2, 3, 5, 8, 0};
static const size_t sum_sizes_full[] = {0, 1, 2, 3, 5, 7, 64, 1000, 4099};
static const size_t sum_sizes_quick[] = {0, 1, 3, 7, 1000};

static void set_sizes(ar_arg *a, const size_t *sizes, int n)
{
    a->nsizes = n;
    memcpy(a->count, sizes, (size_t)n * sizeof *sizes);
}

/* Integers on many rank counts and sizes: sums (wrong), and the guards and
 * one-rank case (overrun, touched) for the bad-input check. */
static void check_sums(outcome *o, const void *ctxp)
{
    const ar_ctx *c = ctxp;
    ar_arg a = {.fn = c->fn, .pat = INTEGERS};
    if (c->quick)
        set_sizes(&a, sum_sizes_quick, sizeof sum_sizes_quick / sizeof *sum_sizes_quick);
    else
        set_sizes(&a, sum_sizes_full, sizeof sum_sizes_full / sizeof *sum_sizes_full);
    o->ok = 1;
    static ar_slot slots[16];
    for (const int *p = c->quick ? sum_ranks_quick : sum_ranks_full; *p; p++) {
        ar_job j = {&a, *p, "sim"};
        if (ar_run(o, &j, slots) != 0) {
            o->ok = 0;
            continue;
        }
        for (int i = 0; i < *p; i++)
            if (slots[i].wrong) {
                lab_say(o, "%s (%ld elements wrong on that rank, all sizes together)", slots[i].first_wrong, slots[i].wrong);
                o->ok = 0;
                break;
            }
    }
}

static void check_bad_input(outcome *o, const void *ctxp)
{
    const ar_ctx *c = ctxp;
    ar_arg a = {.fn = c->fn, .pat = FRACTIONS};
    static const size_t sizes[] = {0, 1, 5, 333};
    set_sizes(&a, sizes, 4);
    o->ok = 1;
    static ar_slot slots[8];
    static const int ranks[] = {1, 3, 4, 0};
    for (const int *p = ranks; *p; p++) {
        ar_job j = {&a, *p, "sim"};
        if (ar_run(o, &j, slots) != 0) {
            o->ok = 0;
            continue;
        }
        for (int i = 0; i < *p; i++)
            if (slots[i].overrun || slots[i].touched) {
                lab_say(o, "%s", slots[i].first_bad);
                o->ok = 0;
                break;
            }
    }
}

static void check_same_bits(outcome *o, const void *ctxp)
{
    const ar_ctx *c = ctxp;
    ar_arg a = {.fn = c->fn, .pat = FRACTIONS};
    static const size_t sizes[] = {1001, 4096};
    set_sizes(&a, sizes, 2);
    o->ok = 1;
    static ar_slot slots[8];
    static const int ranks[] = {3, 6, 8, 0};
    for (const int *p = ranks; *p; p++) {
        ar_job j = {&a, *p, "sim"};
        if (ar_run(o, &j, slots) != 0) {
            o->ok = 0;
            continue;
        }
        for (int i = 0; i < *p; i++) {
            if (slots[i].wrong) {
                lab_say(o, "%s (off by more than 1e-5)", slots[i].first_wrong);
                o->ok = 0;
                break;
            }
            for (int k = 0; k < a.nsizes; k++)
                if (slots[i].hash[k] != slots[0].hash[k]) {
                    lab_say(o, "%d ranks, n = %zu: rank %d's result differs from rank 0's in its bits: "
                        "was one sum computed twice, in different orders?", *p, a.count[k], i);
                    o->ok = 0;
                    i = *p;
                    break;
                }
        }
    }
}

/* the timing checks: n divisible by every p below, so no padding */
static const int time_ranks_full[] = {2, 3, 4, 5, 7, 8, 16, 0};
static const int time_ranks_quick[] = {2, 3, 8, 0};
#define TIME_COUNT 67200

static double worst_seconds(const ar_slot *slots, int p, int k)
{
    double w = 0;
    for (int i = 0; i < p; i++)
        w = slots[i].seconds[k] > w ? slots[i].seconds[k] : w;
    return w;
}

static void check_time_in(outcome *o, const ar_ctx *c, int size_only)
{
    sim_config sim = sim_config_default();
    ar_arg a = {.fn = c->fn, .pat = INTEGERS, .size_only = size_only};
    static const size_t sizes[] = {TIME_COUNT};
    set_sizes(&a, sizes, 1);
    o->ok = 1;
    static ar_slot slots[16];
    for (const int *p = c->quick ? time_ranks_quick : time_ranks_full; *p; p++) {
        ar_job j = {&a, *p, "sim"};
        if (ar_run(o, &j, slots) != 0) {
            o->ok = 0;
            continue;
        }
        double got = worst_seconds(slots, *p, 0);
        double want = allreduce_cost_s(c->lab->cost, *p, TIME_COUNT, sim.latency_s,
                                       1 / sim.bandwidth_Bps, 1 / sim.speed_flops);
        int ok = fabs(got - want) <= 1e-6 * want + 1e-12;
        lab_say(o, "%2d ranks, %d bytes: %.9g s simulated, the formula says %.9g s%s", *p,
            4 * TIME_COUNT, got, want, ok ? "" : got < want ? "  <-- less" : "  <-- more");
        o->ok &= ok;
    }
    if (!o->ok)
        lab_say(o, "(%s; alpha %g s, beta %g s/B, gamma %g s per float added, charged with "
            "rt_compute or coll_add)", c->lab->cost == ALLREDUCE_RING
                ? "ring: 2(p-1) alpha + 2(p-1) m beta + (p-1) m gamma, m = n/p bytes"
                : "rd: log2 p' (alpha + n beta + n gamma), + 2(alpha + n beta) + n gamma when p "
                  "is not a power of two p'",
            sim.latency_s, 1 / sim.bandwidth_Bps, 1 / sim.speed_flops);
}

static void check_time(outcome *o, const void *ctx) { check_time_in(o, ctx, 0); }
static void check_size_only(outcome *o, const void *ctx) { check_time_in(o, ctx, 1); }

static void check_real(outcome *o, const void *ctxp)
{
    const ar_ctx *c = ctxp;
    ar_arg a = {.fn = c->fn, .pat = FRACTIONS};
    static const size_t sizes[] = {1001, 4099};
    set_sizes(&a, sizes, 2);
    o->ok = 1;
    static ar_slot sim_slots[8], real_slots[8];
    static const int ranks[] = {3, 4, 0};
    for (const int *p = ranks; *p; p++) {
        ar_job js = {&a, *p, "sim"}, jr = {&a, *p, "threads"};
        if (ar_run(o, &js, sim_slots) != 0 || ar_run(o, &jr, real_slots) != 0) {
            o->ok = 0;
            continue;
        }
        for (int i = 0; i < *p; i++)
            for (int k = 0; k < a.nsizes; k++)
                if (real_slots[i].hash[k] != sim_slots[i].hash[k]) {
                    lab_say(o, "%d ranks, n = %zu: rank %d ends with other bits on sockets than in "
                        "simulation: does the order of the additions depend on which message "
                        "arrives first?", *p, a.count[k], i);
                    o->ok = 0;
                    i = *p;
                    break;
                }
    }
}

/* "right sums on 1, 2, 3 ranks, n = 0, 1, 7 floats" for the lists in use */
static const char *sums_label(int quick)
{
    static char label[400];
    const int *ranks = quick ? sum_ranks_quick : sum_ranks_full;
    const size_t *n = quick ? sum_sizes_quick : sum_sizes_full;
    int k = quick ? (int)(sizeof sum_sizes_quick / sizeof *n) : (int)(sizeof sum_sizes_full / sizeof *n);
    int len = snprintf(label, sizeof label, "right sums on");
    for (int i = 0; ranks[i]; i++)
        len += snprintf(label + len, sizeof label - (size_t)len, " %d%s", ranks[i], ranks[i + 1] ? "," : "");
    len += snprintf(label + len, sizeof label - (size_t)len, " ranks, n =");
    for (int i = 0; i < k; i++)
        len += snprintf(label + len, sizeof label - (size_t)len, " %zu%s", n[i], i + 1 < k ? "," : "");
    snprintf(label + len, sizeof label - (size_t)len, " floats");
    return label;
}

int lab_check_allreduce(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    const lab_case checks[] = {
        {check_sums, sums_label(quick), 0}, /* names its rank counts and sizes */
        {check_same_bits, "every rank ends with the same bits, within 1e-5 of the exact sum", 0},
        {check_time, "simulated time is the cost formula, to 1e-6 (ideal network)", 1},
        {check_size_only, "size-only run (NULL buffer): no crash, and the same time", 0},
        {check_real, "on real sockets (threads) the same bits as in simulation", 0},
        {check_bad_input, "n = 0 and one rank leave the vector alone; nothing written past n floats", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    /* the point is to write it, not to call distlab's */
    static const char *const theirs[] = {"allreduce", "allreduce_ring", "allreduce_tree", "allreduce_rd",
                                         "allreduce_rabenseifner", "reduce_scatter_ring", "allgather_ring",
                                         "reduce_scatterv", "allgatherv", "reduce", "bcast", NULL};
    plugin_allreduce_fn *fn =
        (plugin_allreduce_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds, defines %s and calls none of distlab's collectives", file,
             lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    ar_ctx ctx = {lab, fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}

static const lab_checker checkers[] = {
    {"01", "the ring's reduce-scatter", PLUGIN_ALLREDUCE, ALLREDUCE_RING, lab_check_allreduce},
    {"02", "recursive doubling's exchange rounds", PLUGIN_ALLREDUCE, ALLREDUCE_RD, lab_check_allreduce},
    {"03", "the SSP condition of a parameter server", PLUGIN_SSP_READY, .check = lab_check_ssp},
    {"04", "Hogwild!'s lock-free step", PLUGIN_HOGWILD_STEP, .check = lab_check_hogwild},
    {"05", "a layer split by neurons and its boundary exchanges", PLUGIN_MP_SPLIT, .check = lab_check_mp},
    {"06", "local SGD's averaging every H steps", PLUGIN_LOCAL_AVERAGE, .check = lab_check_local_sgd},
    {"07", "the time model of a data-parallel step", PLUGIN_DP_MODEL, .check = lab_check_scaling},
    {"08", "a pingpong and the alpha-beta fit of its times", PLUGIN_ALPHA_BETA, .check = lab_check_alpha_beta},
    {"09", "the async parameter server's wait, apply and resubmit loop", PLUGIN_RAY_ASYNC_PS,
     .check = lab_check_ray_ps},
    {"10", "what a parameter server does when a worker dies, and a trainer's checkpoint save and load",
     PLUGIN_WORKER_LOST, .check = lab_check_faults},
    {"11", "the buckets and the overlapped schedule of DDP and Horovod", PLUGIN_BUCKETED_BACKWARD,
     .check = lab_check_frameworks},
    {"12", "collapsed Gibbs sampling's draw of one token's topic", PLUGIN_LDA_RESAMPLE, .check = lab_check_lda},
    {"13", "the linear scaling rule with warmup", PLUGIN_LR_SCHEDULE, .check = lab_check_lr_schedule},
};

const lab_checker *lab_checker_find(const char *number)
{
    char *end;
    long want = strtol(number, &end, 10);
    if (end == number || (*end && *end != '-'))
        return NULL;
    for (size_t i = 0; i < sizeof checkers / sizeof *checkers; i++)
        if (atol(checkers[i].number) == want)
            return &checkers[i];
    return NULL;
}
