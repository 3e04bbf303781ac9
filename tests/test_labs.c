/* test_labs.c -- the labs a teacher runs a course on: every lab with a
 * checker fails its unmodified starter and passes its solution; every lab
 * folder holds its sheet and teacher notes; a student's file runs through
 * `distlab collective --algo FILE.c` and calls its own functions, not
 * distlab's namesakes; a crashing file is a failed check, not a crash.
 *
 * Runs the binary named by $DISTLAB (make check sets it), else the one
 * next to the tests folder; skips when there is none. Checkers run with
 * --quick (fewer rank counts and sizes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/util_distlab.h"
#include "tests/util_files.h"

static char tmpdir[256], output[1 << 16], labs_dir[PATH_MAX];
static int have_binary;

#define run(...) test_distlab_run(output, sizeof output, __VA_ARGS__)
#define NEED_BINARY()     \
    do {                  \
        if (!have_binary) \
            skip();       \
    } while (0)

static int setup(void **state)
{
    (void)state;
    have_binary = test_distlab() != NULL;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(labs_dir, sizeof labs_dir, "%.*s/../../labs", PATH_MAX - 16, dirname(self));
    return test_tmpdir(tmpdir, sizeof tmpdir, "labs");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

static int exists(const char *lab, const char *file)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s/%s", labs_dir, lab, file);
    return access(path, R_OK) == 0;
}

static void put_file(char *path, size_t len, const char *name, const char *text)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

/* Every labs/NN-name/ holds a sheet; `lab list` names each, and a lab it
 * gives a checker has a starter, a solution and teacher notes. */
static void every_lab_has_its_files(void **state)
{
    (void)state;
    NEED_BINARY();
    DIR *d = opendir(labs_dir);
    if (!d)
        skip();
    assert_int_equal(run("lab list"), 0);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!(e->d_name[0] >= '0' && e->d_name[0] <= '9' && e->d_name[2] == '-'))
            continue;
        seen++;
        if (!exists(e->d_name, "README.md"))
            fail_msg("labs/%s lacks its sheet, README.md", e->d_name);
        if (!strstr(output, e->d_name))
            fail_msg("distlab lab list does not name labs/%s:\n%s", e->d_name, output);
        char line[64];
        snprintf(line, sizeof line, "lab check %.2s FILE.c", e->d_name);
        if (strstr(output, line) && (!exists(e->d_name, "starter.c") || !exists(e->d_name, "solution.c") ||
                                     !exists(e->d_name, "teacher.md")))
            fail_msg("labs/%s has a checker but lacks starter.c, solution.c or teacher.md", e->d_name);
    }
    closedir(d);
    assert_true(seen >= 4);
}

/* The heart of the issue: a checker that passed the starter would grade
 * nothing, and one that failed the solution would grade wrongly. */
static void checkers_fail_starters_and_pass_solutions(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("lab list"), 0);
    static char list[1 << 16];
    snprintf(list, sizeof list, "%s", output);
    int checked = 0;
    for (char *at = strstr(list, "lab check "); at; at = strstr(at + 1, "lab check ")) {
        char num[3] = {at[10], at[11], 0}, folder[PATH_MAX + 300];
        /* the folder whose name starts with num */
        DIR *d = opendir(labs_dir);
        assert_non_null(d);
        folder[0] = '\0';
        for (struct dirent *e; (e = readdir(d));)
            if (strncmp(e->d_name, num, 2) == 0 && e->d_name[2] == '-')
                snprintf(folder, sizeof folder, "%s/%s", labs_dir, e->d_name);
        closedir(d);
        assert_true(folder[0]);
        int st = run("lab check %s %s/starter.c --quick", num, folder);
        if (st != 1 || !strstr(output, "\nnot ok ") || !strstr(output, "# score: "))
            fail_msg("lab %s: the starter should fail its checker (exit 1, a 'not ok' line); "
                     "exit %d:\n%s", num, st, output);
        st = run("lab check %s %s/solution.c --quick", num, folder);
        if (st != 0 || strstr(output, "not ok") || !strstr(output, "# score: "))
            fail_msg("lab %s: the solution should pass its checker; exit %d:\n%s", num, st, output);
        /* the score line counts every check, all passed */
        int passed = 0, total = -1;
        const char *score = strstr(output, "# score: ");
        assert_int_equal(sscanf(score, "# score: %d/%d", &passed, &total), 2);
        assert_int_equal(passed, total);
        assert_true(total >= 5);
        checked++;
    }
    /* every lab folder has a checker, and lab list names each one */
    int folders = 0;
    DIR *d = opendir(labs_dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        folders += e->d_name[0] >= '0' && e->d_name[0] <= '9' && e->d_name[1] >= '0' && e->d_name[1] <= '9' &&
                   e->d_name[2] == '-';
    closedir(d);
    if (checked != folders || checked < 13)
        fail_msg("lab list names %d checkers for %d lab folders:\n%s", checked, folders, list);
}

/* collective --algo FILE.c: a file of one's own, timed against the
 * formula --cost names; the same file as lab 01's solution. */
static void collective_runs_a_file_of_ones_own(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("collective --algo %s/01-ring/solution.c --workers 5 --bytes 4KiB,100KiB --model",
                         labs_dir), 0);
    const char *row = strstr(output, "sim,allreduce,solution.c,5,102400,");
    if (!row)
        fail_msg("no row for the file:\n%s", output);
    /* seconds and model_seconds: the ring's formula, to the digit */
    char seconds[32], model[32];
    assert_int_equal(sscanf(row, "sim,allreduce,solution.c,5,102400,%31[^,],%*[^,],%*[^,],%31s", seconds,
                            model), 2);
    assert_string_equal(seconds, model);
}

/* A student's function named like one of distlab's is still the
 * student's (-Wl,-Bsymbolic): this allreduce_ring does nothing, so the
 * result must come out wrong, not right by way of distlab's. */
static void a_file_calls_its_own_functions(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "namesake.c",
             "#include \"algorithms/plugin.h\"\n"
             "int allreduce_ring(rt *r, float *buf, size_t count, const coll_opts *opts)\n"
             "{ (void)r; (void)buf; (void)count; (void)opts; return RT_OK; }\n"
             "int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts)\n"
             "{ return allreduce_ring(r, buf, count, opts); }\n");
    int st = run("collective --algo %s --workers 3 --bytes 4KiB", path);
    if (st != 1 || !strstr(output, "WRONG RESULT"))
        fail_msg("a do-nothing allreduce_ring of the file's own should give wrong sums; exit %d:\n%s",
                 st, output);
}

/* A lab's file that calls distlab's own version of what the student is to
 * write fails check 1 and is not run. */
static void a_lab_refuses_distlabs_own(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "borrowed.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts)\n"
             "{ return allreduce_ring(r, buf, count, opts); }\n");
    int st = run("lab check 01 %s --quick", path);
    if (st != 1 || !strstr(output, "not ok 1 - ") || !strstr(output, "calls allreduce_ring"))
        fail_msg("exit %d:\n%s", st, output);
    /* collective --algo has no such rule: there it is just an allreduce */
    assert_int_equal(run("collective --algo %s --workers 3 --bytes 4KiB", path), 0);
}

/* A file that crashes fails its checks; the checker goes on and scores. */
static void a_crashing_file_fails_its_checks(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "crash.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts)\n"
             "{ (void)opts; if (count > 2 && rt_size(r) > 1) *(volatile float *)0 = buf[0];\n"
             "  return RT_OK; }\n");
    int st = run("lab check 01 %s --quick", path);
    if (st != 1 || !strstr(output, "not ok 2 ") || !strstr(output, "# score: "))
        fail_msg("exit %d:\n%s", st, output);
}

/* Lab 04: a lock-free step whose arithmetic differs from the baseline's
 * only in its order is close to serial SGD but not its bits; the checker
 * says so, and says where to look. */
static void lab04_names_a_reordered_step(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "hogwild_order.c",
             "#include <math.h>\n#include \"algorithms/plugin.h\"\n"
             "int plugin_hogwild_step(rt *r, const plugin_hogwild *h, const uint32_t *index,\n"
             "                        const float *x, size_t nnz, float y)\n"
             "{ float z = h->w[h->d]; for (size_t k = 0; k < nnz; k++) z += h->w[index[k]] * x[k];\n"
             "  float g = 1.0f / (1.0f + expf(-z)) - y; int rc = rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz));\n"
             "  for (size_t k = 0; k < nnz; k++) h->w[index[k]] -= g * x[k] * h->lr;\n"
             "  h->w[h->d] -= h->lr * g; return rc; }\n");
    int st = run("lab check 04 %s --quick", path);
    if (st != 1 || !strstr(output, "not ok 2 - ") || !strstr(output, "not its bits"))
        fail_msg("exit %d:\n%s", st, output);
}

/* Lab 07: a model that splits the gradient into params / p floats, not
 * ceil(params / p), is caught on the ring, and the message names m. */
static void lab07_names_an_unpadded_ring(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "dp_model_floor.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_dp_model(const plugin_dp_setting *s, plugin_dp_time *t)\n"
             "{ if (s->workers < 1 || s->batch < 1 || s->examples < 1 || !(s->speed_flops > 0) ||\n"
             "      !(s->flops_per_example > 0) || !(s->alpha_s >= 0) || !(s->beta_s_per_byte >= 0) ||\n"
             "      s->algo != ALLREDUCE_RING) return RT_EINVAL;\n"
             "  int p = s->workers; long g = (long)p * s->batch; double m = (double)(s->params / (size_t)p);\n"
             "  t->steps = (s->examples + g - 1) / g;\n"
             "  t->compute_s = (double)s->batch * s->flops_per_example / s->speed_flops;\n"
             "  t->comm_s = p == 1 ? 0 : 2.0 * (p - 1) * (s->alpha_s + 4 * m * s->beta_s_per_byte)\n"
             "                            + (p - 1) * m / s->speed_flops;\n"
             "  t->epoch_s = t->steps * (t->compute_s + t->comm_s); return RT_OK; }\n");
    int st = run("lab check 07 %s --quick", path);
    if (st != 1 || !strstr(output, "\nnot ok 4 - ") ||
        !strstr(output, "m = ceil(params/p)"))
        fail_msg("exit %d:\n%s", st, output);
}

/* Lab 05: the solution with the starter's split (n / P neurons each)
 * fails the split check, and the exchange checks run the cases that
 * split can hold and say why they left out the others. */
static void lab05_names_a_lossy_split(void **state)
{
    (void)state;
    NEED_BINARY();
    char src[PATH_MAX + 64];
    snprintf(src, sizeof src, "%s/05-model-parallel/solution.c", labs_dir);
    static char text[1 << 16];
    FILE *f = fopen(src, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *good = "    *lo = n * (size_t)k / (size_t)parts;\n    *hi = n * (size_t)(k + 1) / (size_t)parts;\n";
    char *at = strstr(text, good);
    assert_non_null(at);
    static char bad[1 << 16];
    snprintf(bad, sizeof bad, "%.*s    *lo = (size_t)k * (n / (size_t)parts);\n    *hi = *lo + n / (size_t)parts;\n%s",
             (int)(at - text), text, at + strlen(good));
    char path[512];
    put_file(path, sizeof path, "mp_split.c", bad);
    int st = run("lab check 05 %s --quick", path);
    if (st != 1 || !strstr(output, "not ok 2 - ") || !strstr(output, "belong to no partition") ||
        !strstr(output, "not run, the split being wrong"))
        fail_msg("exit %d:\n%s", st, output);
}

/* Lab 04: a lock-free step that charges its compute after the write is
 * atomic in simulation (no staleness); the checker's interleaving check
 * sees it on simulated ranks, though one rank gives serial SGD's bits. */
static void lab04_sees_compute_after_the_write(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "hogwild_late.c",
             "#include <math.h>\n#include \"algorithms/plugin.h\"\n"
             "int plugin_hogwild_step(rt *r, const plugin_hogwild *h, const uint32_t *index,\n"
             "                        const float *x, size_t nnz, float y)\n"
             "{ float *w = h->w, z, v; __atomic_load(&w[h->d], &z, __ATOMIC_RELAXED);\n"
             "  for (size_t k = 0; k < nnz; k++) { __atomic_load(&w[index[k]], &v, __ATOMIC_RELAXED); z += v * x[k]; }\n"
             "  float g = 1.0f / (1.0f + expf(-z)) - y;\n"
             "  for (size_t k = 0; k < nnz; k++) { __atomic_load(&w[index[k]], &v, __ATOMIC_RELAXED);\n"
             "    v -= h->lr * g * x[k]; __atomic_store(&w[index[k]], &v, __ATOMIC_RELAXED); }\n"
             "  __atomic_load(&w[h->d], &v, __ATOMIC_RELAXED); v -= h->lr * g;\n"
             "  __atomic_store(&w[h->d], &v, __ATOMIC_RELAXED);\n"
             "  return rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz)); }\n");
    int st = run("lab check 04 %s --quick", path);
    if (st != 1 || !strstr(output, "\nok 2 - ") || !strstr(output, "\nnot ok 6 - ") ||
        !strstr(output, "read the weights before it, write after it"))
        fail_msg("exit %d:\n%s", st, output);
}

/* Lab 07: `lab run` prints the student's model for settings of their own
 * (here the solution's, 3 workers: 42 steps of 64-example batches), and
 * refuses a bad setting. */
static void lab07_run_prints_the_model(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("lab run 07 %s/07-scaling/solution.c --workers 1,3 --no-sim", labs_dir), 0);
    if (!strstr(output, "workers,steps,compute_s,comm_s,epoch_s\n") || !strstr(output, "\n3,42,"))
        fail_msg("%s", output);
    static const test_refusal cases[] = {
        {"run 07 labs/07-scaling/solution.c --workers 0", "--workers: a comma-separated list"},
        {"run 07 labs/07-scaling/solution.c --bandwidth fast", "--bandwidth"},
    };
    test_distlab_refuses("lab", cases, sizeof cases / sizeof *cases);
}

/* Lab 13: the usual mistake, a warmup that climbs from zero rather than
 * from the small batch's rate, fails the checks with a warmup, and passes
 * the one without. */
static void lab13_catches_a_warmup_from_zero(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[PATH_MAX];
    put_file(path, sizeof path, "from_zero.c",
             "#include \"algorithms/plugin.h\"\n"
             "double plugin_lr_schedule(double lr, double k, double warmup, double epoch)\n"
             "{ return warmup > 0 && epoch < warmup ? k * lr * epoch / warmup : k * lr; }\n");
    int st = run("lab check 13 %s --quick", path);
    if (st != 1 || !strstr(output, "not ok 4 - warmup") || !strstr(output, "not ok 5 - the warmup's ends") ||
        !strstr(output, "\nok 3 - no warmup"))
        fail_msg("a warmup from zero should fail lab 13's two warmup checks; exit %d:\n%s", st, output);
}

static void bad_commands_are_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    static const test_refusal cases[] = {
        {"check 99 x.c", "no lab '99'"},
        {"check 01", "give the lab and your file"},
        {"check 01 x.c --fast", "unexpected argument '--fast'"},
        {"check 01 /nonexistent/x.c", "/nonexistent/x.c: No such file or directory"},
        {"check 01 /tmp", "/tmp: not a file"},
        {"grade 01 x.c", "unknown command 'grade'"},
        /* a lab whose file plugs into no command says which labs' do */
        {"run 13 labs/13-large-minibatch/solution.c", "runs only under its checker (distlab lab check 13 "
                                                       "FILE.c); the sheet's other commands are distlab's "
                                                       "own (lab run takes labs 01, 02, 07 and 09)"},
    };
    test_distlab_refuses("lab", cases, sizeof cases / sizeof *cases);
    /* and lab list says what lab run does for each of those */
    assert_int_equal(run("lab list"), 0);
    assert_non_null(strstr(output, "run: distlab lab run 09 FILE.c: distlab run ray-ps --mode async "
                                   "--async-loop FILE.c"));
    assert_null(strstr(output, "lab run 13"));
    static const test_refusal coll[] = {
        {"--algo ./no-such-file.c", "no-such-file.c: No such file"},
        {"--cost ring", "--cost goes with --algo FILE.c"},
    };
    test_distlab_refuses("collective", coll, sizeof coll / sizeof *coll);
    /* a file that does not compile is a failed first check */
    char path[512];
    put_file(path, sizeof path, "broken.c", "int plugin_allreduce(\n");
    assert_int_equal(run("lab check 01 %s", path), 1);
    assert_non_null(strstr(output, "not ok 1 - "));
    assert_non_null(strstr(output, "does not compile"));
}

/* Lab 10: the checker tells a rule that stops every run from one that
 * stops only bsp, and says whom the starter's server waits for. */
static void lab10_faults_checker_says_why(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "stops_always.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_worker_lost(rt *r, int w, long bound, int *state, int W)\n"
             "{ (void)bound; (void)W; state[w] = PLUGIN_DEAD;\n"
             "  return rt_fail(r, RT_EPEER, \"worker %d died\", w); }\n");
    int st = run("lab check 10 %s --quick", path);
    if (st != 1 || !strstr(output, "under ssp and async the server goes on") ||
        !strstr(output, "ok 5 - bsp"))
        fail_msg("a rule that stops under every bound should fail async and ssp, pass bsp; exit %d:\n%s",
                 st, output);
    st = run("lab check 10 %s/10-faults/starter.c --quick", labs_dir);
    if (st != 1 || !strstr(output, "which died: its state says it is running"))
        fail_msg("the starter's report should say the server waits for a dead worker; exit %d:\n%s", st,
                 output);
}

/* Lab 10's checkpoint: the usual mistakes, made in the solution two to a
 * file (each fails another check), are each named. */
static void lab10_checkpoint_checker_names_the_mistake(void **state)
{
    (void)state;
    NEED_BINARY();
    static char solution[1 << 16], variant[2][1 << 16];
    char path[PATH_MAX + 300];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/10-faults/solution.c", labs_dir);
    if (test_read_file(path, solution, sizeof solution - 1, &n) != 0)
        fail_msg("cannot read %s", path);
    solution[n] = '\0';
    static const struct {
        const char *from, *to, *says;
    } mistakes[2][2] = {
        {{"    memcpy(s->v, buf + sizeof h + s->n * sizeof(float), s->n * sizeof(float));\n", "",
          "momentum 0 is 7, should be"},
         {"if (got != want) {", "if (got < want) {", "with one byte more at its end"}},
        {{"    s->pos = (size_t)h.pos;\n", "", "the data position is pass 1, pos 7777, should be pass 1, pos 6"},
         {"snprintf(tmp, len, \"%s.new\", path);", "snprintf(tmp, len, \"%s\", path);",
          "the step-70 checkpoint no longer loads"}},
    };
    for (int f = 0; f < 2; f++) {
        const char *from = solution;
        for (int k = 0; k < 2; k++) {
            const char *at = strstr(from, mistakes[f][k].from);
            if (!at)
                fail_msg("labs/10-faults/solution.c no longer holds \"%s\": update this test", mistakes[f][k].from);
            char *out = variant[k];
            snprintf(out, sizeof variant[k], "%.*s%s%s", (int)(at - from), from, mistakes[f][k].to,
                     at + strlen(mistakes[f][k].from));
            from = out;
        }
        char file[PATH_MAX + 300];
        put_file(file, sizeof file, f ? "mistakes_b.c" : "mistakes_a.c", from);
        int st = run("lab check 10 %s --quick", file);
        for (int k = 0; k < 2; k++)
            if (st != 1 || !strstr(output, mistakes[f][k].says) || !strstr(output, "ok 5 - bsp"))
                fail_msg("%s: exit %d, should fail a checkpoint check saying \"%s\":\n%s", file, st,
                         mistakes[f][k].says, output);
    }
}

/* Lab 12: the checker names the usual mistake (the token left in the
 * counts). (Every lab has a checker now: "has no checker yet" has no lab
 * left to show it.) */
static void lab12_lda_checker_names_the_mistake(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "left_in.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_lda_resample(int old, int K, int32_t *ndk, int32_t *nwk, int64_t *nk,\n"
             "                        double alpha, double beta, double Vbeta, double u, double *p)\n"
             "{ double total = 0; (void)old;\n"
             "  for (int k = 0; k < K; k++) {\n"
             "      total += (ndk[k] + alpha) * (nwk[k] + beta) / (nk[k] + Vbeta); p[k] = total; }\n"
             "  int k = 0; while (k < K - 1 && !(p[k] > u * total)) k++;\n"
             "  return k; }\n");
    int st = run("lab check 12 %s --quick", path);
    if (st != 1 || !strstr(output, "with the token left in the counts") || !strstr(output, "not ok 3 - one worker"))
        fail_msg("a draw that leaves the token in the counts should be named, and differ from the serial "
                 "sampler; exit %d:\n%s", st, output);
}

/* Lab 11: buckets summed as they close but in the rank's own code (no
 * rt_async_post) have the right bits, and the checker names their time
 * as the time without overlap. */
static void lab11_names_a_schedule_without_overlap(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512];
    put_file(path, sizeof path, "no_overlap.c",
             "#include \"algorithms/plugin.h\"\n"
             "int plugin_bucketed_backward(rt *r, float *g, size_t total, const plugin_layer *l, int n,\n"
             "                             size_t bucket_bytes, int overlap, allreduce_algo algo)\n"
             "{ size_t first = 0, count = 0; int rc = RT_OK; (void)overlap;\n"
             "  for (int i = n - 1; i >= 0 && !rc; i--) {\n"
             "      rc = rt_compute(r, l[i].bwd_flops);\n"
             "      if (l[i].count) { first = l[i].first; count += l[i].count; }\n"
             "      if (rc || !count || (count * 4 < bucket_bytes && i > 0)) continue;\n"
             "      rc = allreduce_slice(r, algo, g ? g + first : NULL, first, count, total, NULL);\n"
             "      count = 0; }\n"
             "  return rc; }\n");
    int st = run("lab check 11 %s --quick", path);
    if (st != 1 || !strstr(output, "ok 2 - the same bits") || !strstr(output, "not ok 4 - overlap on") ||
        !strstr(output, "that is the time without overlap"))
        fail_msg("sums made in the rank's own code should have the right bits and the time without overlap; "
                 "exit %d:\n%s", st, output);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_lab_has_its_files),
        cmocka_unit_test(checkers_fail_starters_and_pass_solutions),
        cmocka_unit_test(collective_runs_a_file_of_ones_own),
        cmocka_unit_test(a_file_calls_its_own_functions),
        cmocka_unit_test(a_lab_refuses_distlabs_own),
        cmocka_unit_test(a_crashing_file_fails_its_checks),
        cmocka_unit_test(bad_commands_are_refused),
        cmocka_unit_test(lab04_names_a_reordered_step),
        cmocka_unit_test(lab04_sees_compute_after_the_write),
        cmocka_unit_test(lab10_faults_checker_says_why),
        cmocka_unit_test(lab10_checkpoint_checker_names_the_mistake),
        cmocka_unit_test(lab07_names_an_unpadded_ring),
        cmocka_unit_test(lab07_run_prints_the_model),
        cmocka_unit_test(lab05_names_a_lossy_split),
        cmocka_unit_test(lab12_lda_checker_names_the_mistake),
        cmocka_unit_test(lab11_names_a_schedule_without_overlap),
        cmocka_unit_test(lab13_catches_a_warmup_from_zero),
    };
    return cmocka_run_group_tests_name("labs", tests, setup, teardown);
}
