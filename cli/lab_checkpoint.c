/* lab_checkpoint.c -- lab 10's second checker: a synchronous trainer's
 * checkpoint, the student's plugin_checkpoint_save and _load
 * (algorithms/plugin.h), after lab_faults.c's checks of the rule.
 *
 * The trainer is one rank's SGD with momentum on a shard of 64 examples
 * of a linear regression, one example a step, each pass over the shard in
 * an order shuffled from the seed and the pass alone, and a clock that
 * advances by what each example costs -- small enough to run in
 * microseconds, and with every part of the state a resumed run needs:
 * the step, where the data order is (pass, pos), the clock, the weights
 * and the momentum buffer. What must hold, as for distlab's own
 * checkpoints (algorithms/train.c): a run stopped after any step and
 * resumed from its file ends with the bits and the clock of a run never
 * stopped; a file that is not a whole checkpoint of this model is refused
 * and changes nothing; a save that fails leaves the checkpoint before it.
 *
 * Each check runs in a child process (lab_isolated), in a folder of its
 * own under the checker's temporary folder.
 */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define CK_N 8        /* the model's weights */
#define CK_BIG_N 16   /* another model, for the file of another size */
#define CK_SHARD 64   /* examples in the rank's shard */
#define CK_STEPS 150  /* the run never stopped: two passes and a bit */
#define CK_SEED 0x6c61623130ull
static const float ck_lr = 0.05f, ck_mu = 0.9f;

typedef struct ck_ctx {
    plugin_checkpoint_save_fn *save;
    plugin_checkpoint_load_fn *load;
    const char *dir; /* the checker's temporary folder */
} ck_ctx;

/* One rank of the trainer: its state, with the arrays it points at. */
typedef struct ck_run {
    plugin_train_state s;
    float w[CK_BIG_N], v[CK_BIG_N];
} ck_run;

/* ---- the trainer ---- */

static uint64_t ck_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Example i of the shard: features x (n of them) and its label. */
static float ck_example(size_t i, size_t n, float *x)
{
    uint64_t g = CK_SEED + 0x9e3779b97f4a7c15ull * (i + 1);
    float y = 0.3f;
    for (size_t k = 0; k < n; k++) {
        x[k] = (float)(ck_next(&g) >> 40) / (float)(1 << 24) - 0.5f;
        y += (float)(k % 3 + 1) * 0.25f * x[k];
    }
    return y;
}

/* The shard's order in pass p: Fisher-Yates from the seed and p. */
static void ck_order(long pass, size_t *order)
{
    uint64_t g = CK_SEED ^ (0xbf58476d1ce4e5b9ull * (uint64_t)(pass + 1));
    for (size_t i = 0; i < CK_SHARD; i++)
        order[i] = i;
    for (size_t i = CK_SHARD - 1; i > 0; i--) {
        size_t j = (size_t)(ck_next(&g) % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void ck_start(ck_run *r, size_t n)
{
    memset(r, 0, sizeof *r);
    r->s = (plugin_train_state){.n = n, .w = r->w, .v = r->v};
}

/* A state the trainer can go on from; else a line in o saying why not. */
static int ck_sane(outcome *o, const char *when, const plugin_train_state *s)
{
    if (s->step < 0 || s->pass < 0 || s->pos >= CK_SHARD || !isfinite(s->clock_s) || s->clock_s < 0) {
        lab_say(o, "%s: step %ld, pass %ld, pos %zu, clock_s %g: not a state the trainer can go on from "
                "(a %d-example shard; the fields were those the state held before the load, or the file's "
                "bytes read into the wrong field)", when, s->step, s->pass, s->pos, s->clock_s, CK_SHARD);
        return 0;
    }
    return 1;
}

/* Train until s.step == until (the step's example, its gradient, the
 * momentum update, the data position, the clock). */
static void ck_train(ck_run *r, long until)
{
    plugin_train_state *s = &r->s;
    size_t order[CK_SHARD];
    float x[CK_BIG_N];
    ck_order(s->pass, order);
    while (s->step < until) {
        size_t i = order[s->pos];
        float y = ck_example(i, s->n, x), z = 0;
        for (size_t k = 0; k < s->n; k++)
            z += s->w[k] * x[k];
        float err = z - y;
        for (size_t k = 0; k < s->n; k++) {
            s->v[k] = ck_mu * s->v[k] + err * x[k];
            s->w[k] -= ck_lr * s->v[k];
        }
        s->clock_s += 1e-3 * (double)(1 + i % 3); /* what the example cost */
        s->step++;
        if (++s->pos == CK_SHARD) {
            s->pos = 0;
            s->pass++;
            ck_order(s->pass, order);
        }
    }
}

/* What a state holds before a load: none of it a checkpoint's value. */
static void ck_garble(ck_run *r)
{
    r->s.step = -7;
    r->s.pass = -7;
    r->s.pos = 7777;
    r->s.clock_s = -7.0;
    for (size_t k = 0; k < r->s.n; k++)
        r->w[k] = r->v[k] = 7.0f;
}

static int same_bits(const float *a, const float *b, size_t n, size_t *at)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(&a[k], &b[k], sizeof *a) != 0) {
            *at = k;
            return 0;
        }
    return 1;
}

/* Whether two states hold the same fields, bit for bit; says what differs. */
static int ck_same(outcome *o, const char *when, const plugin_train_state *got, const plugin_train_state *want)
{
    int ok = 1;
    size_t k;
    if (got->step != want->step) {
        lab_say(o, "%s: step is %ld, should be %ld", when, got->step, want->step);
        ok = 0;
    }
    if (got->pass != want->pass || got->pos != want->pos) {
        lab_say(o, "%s: the data position is pass %ld, pos %zu, should be pass %ld, pos %zu: the resumed "
                "run takes other examples than the stopped one would have", when, got->pass, got->pos,
                want->pass, want->pos);
        ok = 0;
    }
    if (memcmp(&got->clock_s, &want->clock_s, sizeof got->clock_s) != 0) {
        lab_say(o, "%s: clock_s is %.17g, should be %.17g: the resumed run's times would not go on from "
                "the checkpoint's", when, got->clock_s, want->clock_s);
        ok = 0;
    }
    if (!same_bits(got->w, want->w, want->n, &k)) {
        lab_say(o, "%s: weight %zu is %.9g, should be %.9g (bit for bit)", when, k, got->w[k], want->w[k]);
        ok = 0;
    }
    if (!same_bits(got->v, want->v, want->n, &k)) {
        lab_say(o, "%s: momentum %zu is %.9g, should be %.9g: without the optimizer's state the next step "
                "is another step", when, k, got->v[k], want->v[k]);
        ok = 0;
    }
    return ok;
}

static const char *ck_path(const ck_ctx *c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%d-%s", c->dir, (int)getpid(), name);
    return buf;
}

static const char *rc_name(int rc) { return rc == RT_OK ? "RT_OK" : rt_strerror(rc); }

/* ---- the checks ---- */

/* Save at step 70 (pass 1, pos 6), load into a state that held other
 * values: every field comes back. */
static void check_round_trip(outcome *o, const void *ctxp)
{
    const ck_ctx *c = ctxp;
    char path[512];
    ck_path(c, "round-trip.ckpt", path, sizeof path);
    ck_run a, b;
    ck_start(&a, CK_N);
    ck_train(&a, 70);
    int rc = c->save(&a.s, path);
    if (rc != RT_OK) {
        lab_say(o, "plugin_checkpoint_save at step 70 returned %d (%s), should be RT_OK", rc, rc_name(rc));
        return;
    }
    ck_start(&b, CK_N);
    ck_garble(&b);
    rc = c->load(&b.s, path);
    if (rc != RT_OK) {
        lab_say(o, "plugin_checkpoint_load of the file just saved returned %d (%s), should be RT_OK", rc,
                rc_name(rc));
        return;
    }
    if (b.s.n != CK_N || b.s.w != b.w || b.s.v != b.v) {
        lab_say(o, "plugin_checkpoint_load changed n or the w and v pointers, which are the caller's");
        return;
    }
    o->ok = ck_same(o, "loaded back (before the load the state held step -7, pos 7777, 7s)", &b.s, &a.s);
}

/* Stop after `stop`, resume from the file in a fresh state, train to the
 * end; 1 if the end is the never-stopped run's. */
static int ck_resume(outcome *o, const ck_ctx *c, const long *stops, int nstops, const ck_run *whole)
{
    char path[512], when[160];
    ck_run r;
    ck_start(&r, CK_N);
    int n = 0;
    for (int i = 0; i < nstops; i++)
        n += snprintf(when + n, sizeof when - (size_t)n, "%s%ld", i ? " and " : "stopped after step ", stops[i]);
    snprintf(when + n, sizeof when - (size_t)n, ", resumed, trained to step %d", CK_STEPS);
    for (int i = 0; i < nstops; i++) {
        ck_train(&r, stops[i]);
        int rc = c->save(&r.s, ck_path(c, "resume.ckpt", path, sizeof path));
        if (rc != RT_OK) {
            lab_say(o, "%s: plugin_checkpoint_save at step %ld returned %d (%s)", when, stops[i], rc, rc_name(rc));
            return 0;
        }
        ck_start(&r, CK_N);
        ck_garble(&r);
        rc = c->load(&r.s, path);
        if (rc != RT_OK) {
            lab_say(o, "%s: plugin_checkpoint_load of the file saved at step %ld returned %d (%s)", when,
                    stops[i], rc, rc_name(rc));
            return 0;
        }
        if (!ck_sane(o, when, &r.s))
            return 0;
    }
    ck_train(&r, CK_STEPS);
    return ck_same(o, when, &r.s, &whole->s);
}

static void check_resume(outcome *o, const void *ctxp)
{
    static const long single[] = {1, 63, 64, 70, 149};
    static const long twice[] = {40, 100};
    ck_run whole;
    ck_start(&whole, CK_N);
    ck_train(&whole, CK_STEPS);
    /* the first resume that goes wrong says how; the others are counted */
    int failed = 0, n = (int)(sizeof single / sizeof *single) + 1;
    for (int i = 0; i < n; i++) {
        outcome one = {0};
        int ok = i < n - 1 ? ck_resume(&one, ctxp, &single[i], 1, &whole) : ck_resume(&one, ctxp, twice, 2, &whole);
        if (!ok && failed++ == 0)
            lab_say(o, "%s", one.msg);
    }
    if (failed > 1)
        lab_say(o, "(and %d more of the %d resumed runs)", failed - 1, n);
    o->ok = failed == 0;
}

/* len bytes of data as the whole of path. */
static int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Loading path must fail and leave the state as it was. */
static int ck_refused(outcome *o, const ck_ctx *c, const char *path, const char *what)
{
    ck_run r, before;
    ck_start(&r, CK_N);
    ck_train(&r, 70);
    before = r;
    before.s.w = before.w;
    before.s.v = before.v;
    int rc = c->load(&r.s, path);
    if (rc == RT_OK) {
        lab_say(o, "%s: plugin_checkpoint_load returned RT_OK, should refuse it (RT_EINVAL or RT_EIO)", what);
        return 0;
    }
    outcome quiet = {0};
    if (!ck_same(&quiet, what, &r.s, &before.s)) {
        lab_say(o, "%s: refused (%s), but the state changed: a refused load must leave it as it was "
                "(read the whole file and check it before you write into the state)", what, rc_name(rc));
        return 0;
    }
    return 1;
}

static void check_refusals(outcome *o, const void *ctxp)
{
    const ck_ctx *c = ctxp;
    char good[512], bad[512], what[200];
    ck_run r;
    ck_start(&r, CK_N);
    ck_train(&r, 70);
    int rc = c->save(&r.s, ck_path(c, "good.ckpt", good, sizeof good));
    size_t len = 0;
    char *bytes = NULL;
    if (rc == RT_OK)
        cli_read_whole(good, &bytes, &len);
    if (!bytes || len == 0) {
        lab_say(o, "plugin_checkpoint_save at step 70 returned %d (%s) and wrote %s", rc, rc_name(rc),
                bytes ? "an empty file" : "no file");
        free(bytes);
        return;
    }
    int ok = 1;
    ok &= ck_refused(o, c, ck_path(c, "no-such.ckpt", bad, sizeof bad), "a file that does not exist");
    ck_path(c, "cut.ckpt", bad, sizeof bad);
    /* every length short of the whole, one check each (at most the first failure said) */
    for (size_t keep = 0; keep < len && ok; keep++) {
        snprintf(what, sizeof what, "the %zu-byte checkpoint cut short to %zu bytes", len, keep);
        ok &= write_bytes(bad, bytes, keep) == 0 && ck_refused(o, c, bad, what);
    }
    char *longer = malloc(len + 1);
    if (longer) {
        memcpy(longer, bytes, len);
        longer[len] = 0;
        snprintf(what, sizeof what, "the checkpoint with one byte more at its end (%zu bytes)", len + 1);
        ok &= write_bytes(bad, longer, len + 1) == 0 && ck_refused(o, c, bad, what);
        free(longer);
    }
    /* a checkpoint of a model of 16 weights, loaded into one of 8 */
    ck_run big;
    ck_start(&big, CK_BIG_N);
    ck_train(&big, 70);
    rc = c->save(&big.s, ck_path(c, "big.ckpt", bad, sizeof bad));
    if (rc == RT_OK)
        ok &= ck_refused(o, c, bad, "a checkpoint of a 16-weight model, loaded into an 8-weight one");
    /* the same length as a good one, other bytes: not a checkpoint */
    char *junk = malloc(len);
    if (junk) {
        for (size_t i = 0; i < len; i++)
            junk[i] = (char)(0xa5 ^ (i * 37));
        ok &= write_bytes(ck_path(c, "junk.ckpt", bad, sizeof bad), junk, len) == 0 &&
              ck_refused(o, c, bad, "a file of as many bytes that is not a checkpoint");
        free(junk);
    }
    free(bytes);
    o->ok = ok;
}

/* A save that cannot finish (the file-size limit stops its write) must
 * say so and leave the checkpoint that was there. */
static void check_whole_or_nothing(outcome *o, const void *ctxp)
{
    const ck_ctx *c = ctxp;
    char path[512];
    ck_path(c, "whole.ckpt", path, sizeof path);
    ck_run at70, at100, back;
    ck_start(&at70, CK_N);
    ck_train(&at70, 70);
    at100 = at70;
    at100.s.w = at100.w;
    at100.s.v = at100.v;
    ck_train(&at100, 100);
    int rc = c->save(&at70.s, path);
    if (rc != RT_OK) {
        lab_say(o, "plugin_checkpoint_save at step 70 returned %d (%s)", rc, rc_name(rc));
        return;
    }
    /* a 24-byte limit: no checkpoint of 8 weights and momenta fits */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, small = {24, 24};
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &small) != 0) {
        lab_say(o, "cannot set the file-size limit for the check");
        return;
    }
    rc = c->save(&at100.s, path);
    setrlimit(RLIMIT_FSIZE, &old);
    int ok = 1;
    if (rc == RT_OK) {
        lab_say(o, "the save at step 100 could write only 24 bytes, but plugin_checkpoint_save returned RT_OK: "
                "check what fwrite and fclose return");
        ok = 0;
    }
    ck_start(&back, CK_N);
    ck_garble(&back);
    rc = c->load(&back.s, path);
    if (rc != RT_OK) {
        lab_say(o, "after the failed save at step 100, the step-70 checkpoint no longer loads (%s): the save "
                "wrote over it in place; write a new file beside it, then rename it over the old one",
                rc_name(rc));
        ok = 0;
    } else {
        outcome diff = {0};
        if (!ck_same(&diff, "after the failed save at step 100, the checkpoint loaded back", &back.s, &at70.s)) {
            *strchr(diff.msg, '\n') = '\0'; /* its first difference */
            lab_say(o, "%s (compared with the step-70 checkpoint, which should still be there)", diff.msg);
            ok = 0;
        }
    }
    /* a save where no file can be made */
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/no-such-folder/x.ckpt", c->dir);
    rc = c->save(&at70.s, nowhere);
    if (rc == RT_OK) {
        lab_say(o, "plugin_checkpoint_save into a folder that does not exist returned RT_OK");
        ok = 0;
    }
    o->ok = ok;
}

/* ---- the checker's part ---- */

static const lab_case ck_checks[] = {
    {check_round_trip, "checkpoint: saved at step 70 and loaded back, every field is the saved one: step, "
                       "data position, clock, weights, momentum", 0},
    {check_resume, "checkpoint: stopped after step 1, 63, 64, 70 or 149 (or 40, then 100) and resumed, the run "
                   "ends with the bits and the clock of the one never stopped", 0},
    {check_refusals, "checkpoint: load refuses, and leaves the state alone, a missing file, one cut short at "
                     "any byte, one a byte longer, another model's, one that is not a checkpoint", 0},
    {check_whole_or_nothing, "checkpoint: a save that cannot finish says so and leaves the checkpoint before it", 0},
};

int lab_checkpoint_checks(void) { return (int)(sizeof ck_checks / sizeof *ck_checks) + 1; }

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

void lab_check_checkpoint(tap *t, const char *file, void *loaded_symbol)
{
    ck_ctx c = {0};
    char err[4400] = "", dir[4200];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/distlab-lab10-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    static const char *const names[] = {PLUGIN_CHECKPOINT_SAVE, PLUGIN_CHECKPOINT_LOAD};
    void *sym[2] = {NULL, NULL};
    if (!loaded_symbol)
        snprintf(err, sizeof err, "not run: %s did not load", file);
    else if (cli_plugin_siblings(loaded_symbol, file, names, sym, 2, err, sizeof err) == 0) {
        c.save = (plugin_checkpoint_save_fn *)sym[0];
        c.load = (plugin_checkpoint_load_fn *)sym[1];
    }
    if (c.save && c.load && !(c.dir = mkdtemp(dir)))
        snprintf(err, sizeof err, "cannot make a temporary folder for the checkpoints (%s): %s", dir,
                 strerror(errno));
    int ready = c.save && c.load && c.dir;
    lab_tap_line(t, ready, "%s defines %s and %s", file, PLUGIN_CHECKPOINT_SAVE, PLUGIN_CHECKPOINT_LOAD);
    if (!ready)
        lab_tap_diag(err);
    lab_run_cases(t, ck_checks, (int)(sizeof ck_checks / sizeof *ck_checks), &c, ready);
    if (c.dir && nftw(c.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "distlab lab check: could not remove %s\n", c.dir);
}
