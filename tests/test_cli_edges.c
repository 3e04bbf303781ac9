/* test_cli_edges.c -- what a new user of the distlab command meets after
 * the first run: the numbers a run prints, records and compares are one
 * number; two runs never share a folder or a row; the README's commands
 * do what it says of them; messages say what is wrong.
 *
 * Runs the binary named by $DISTLAB (make check sets it), else the one
 * next to the tests folder; skips when there is none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plots/plot.h"
#include "tests/util_distlab.h"
#include "tests/util_files.h"

static char tmpdir[256], output[65536];
static int have_binary;

#define NEED_BINARY()          \
    do {                       \
        if (!have_binary)      \
            skip();            \
    } while (0)

#define run(...) test_distlab_run(output, sizeof output, __VA_ARGS__)

#define SMALL_NOWORKERS "--dataset synth-dense:n=800,d=10,classes=2 --epochs 1"
#define SMALL SMALL_NOWORKERS " --workers 2"

static int setup(void **state)
{
    (void)state;
    have_binary = test_distlab() != NULL;
    return test_tmpdir(tmpdir, sizeof tmpdir, "edges");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

/* The whole of a file under tmpdir, NUL-terminated, in a static buffer. */
static const char *slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *slurp(const char *fmt, ...)
{
    static char buf[1 << 20];
    char rel[512], path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    size_t n = 0;
    if (test_read_file(path, buf, sizeof buf - 1, &n) != 0)
        fail_msg("cannot read %s", path);
    buf[n] = '\0';
    return buf;
}

/* Write n bytes to tmpdir/rel; its path in path[len]. */
static void put_file(char *path, size_t len, const char *rel, const void *data, size_t n)
{
    snprintf(path, len, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

/* A number field of a summary.json ("key": value). */
static double summary_num(const char *run, const char *key)
{
    const char *s = slurp("%s/summary.json", run);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(s, pat);
    if (!p)
        fail_msg("%s/summary.json has no %s", run, key);
    return atof(p + strlen(pat));
}

/* time_s of the last row of a metrics.csv. */
static double last_time_s(const char *run)
{
    const char *s = slurp("%s/metrics.csv", run);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n')
        n--;
    while (n > 0 && s[n - 1] != '\n')
        n--;
    return atof(s + n);
}

/* The number right after `after` in output. */
static double printed(const char *after)
{
    const char *p = strstr(output, after);
    if (!p)
        fail_msg("no '%s' in:\n%s", after, output);
    return atof(p + strlen(after));
}

/* Issue 15, item 10: psgd's observer allreduces (and distributed
 * evaluation) took simulated time that the printed line left out and
 * summary.json counted. */
static void one_number_of_seconds_per_run(void **state)
{
    (void)state;
    NEED_BINARY();
    static const struct {
        const char *name, *args;
    } runs[] = {
        {"psgd", "run psgd " SMALL " --epochs 3"},
        {"db", "run distbelief --mode model-parallel --model mlp:8 --partitions 2 " SMALL},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        assert_int_equal(run("%s --quiet --no-figures --out %s/%s", runs[i].args, tmpdir, runs[i].name), 0);
        double said = printed(" in ");
        double seconds = summary_num(runs[i].name, "seconds");
        double job = summary_num(runs[i].name, "job_seconds");
        double metric = last_time_s(runs[i].name);
        char a[32], b[32];
        snprintf(a, sizeof a, "%.4g", said);
        snprintf(b, sizeof b, "%.4g", seconds);
        if (strcmp(a, b) != 0 || fabs(seconds - metric) > 1e-9 * seconds || job < seconds)
            fail_msg("%s: printed %s s, summary.json seconds %.10g (job_seconds %.10g), last "
                     "metrics row %.10g", runs[i].name, a, seconds, job, metric);
    }
    assert_true(summary_num("psgd", "job_seconds") > summary_num("psgd", "seconds"));
}

/* Issue 15, item 11: "fastest to 80.0%" for a target of 0.7997. */
static void compare_says_the_target_it_wrote(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("compare --algos allreduce,psgd %s --target-accuracy 0.7997 --out %s/tgt",
                         SMALL, tmpdir), 0);
    const char *csv = slurp("tgt/compare.csv");
    assert_non_null(strstr(csv, ",target_accuracy,"));
    const char *row = strstr(csv, "\nallreduce,");
    assert_non_null(row);
    /* target_accuracy is the next-to-last field of the row */
    const char *end = strchr(row + 1, '\n'), *p = end;
    int commas = 0;
    while (p > row && commas < 2)
        if (*--p == ',')
            commas++;
    double target = atof(p + 1);
    double said = printed("fastest to ");
    if (fabs(target - 0.7997) > 1e-12 || fabs(said / 100 - target) > 1e-12)
        fail_msg("compare.csv's target_accuracy %g, printed %g%%:\n%s", target, said, output);
}

/* Issue 15, item 12: runs of one name wrote over each other's folder. */
static void every_run_has_its_own_folder_and_row(void **state)
{
    (void)state;
    NEED_BINARY();
    char exp[512];
    static const char twice[] = "run allreduce --lr 0.1\nrun allreduce --lr 0.5\nrun psgd:2\nrun psgd\nrun psgd\n";
    put_file(exp, sizeof exp, "twice.exp", twice, strlen(twice));
    assert_int_equal(run("compare --experiment %s %s --no-figures --out %s/twice", exp, SMALL, tmpdir), 0);
    assert_non_null(strstr(output, "allreduce_2"));
    assert_non_null(strstr(slurp("twice/allreduce/summary.json"), "\"lr\": \"0.1\""));
    assert_non_null(strstr(slurp("twice/allreduce_2/summary.json"), "\"lr\": \"0.5\""));
    assert_non_null(strstr(slurp("twice/psgd-2/summary.json"), "\"average_every\": \"2\""));
    assert_non_null(strstr(slurp("twice/psgd_2/summary.json"), "\"average_every\": \"end\""));
    const char *csv = slurp("twice/compare.csv");
    static const char *const rows[] = {"\nallreduce,", "\nallreduce_2,", "\npsgd:2,", "\npsgd,",
                                       "\npsgd_2,"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const char *at = strstr(csv, rows[i]);
        if (!at || strstr(at + 1, rows[i]))
            fail_msg("compare.csv should have one row '%s':\n%s", rows[i] + 1, csv);
    }

    /* two runs alike tie: the summary names neither as fastest and slowest */
    static const char alike[] = "run allreduce\nrun allreduce\n";
    put_file(exp, sizeof exp, "alike.exp", alike, strlen(alike));
    assert_int_equal(run("compare --experiment %s %s --target-accuracy 0.1 --no-figures --out %s/alike", exp, SMALL,
                         tmpdir), 0);
    if (!strstr(output, "test accuracy: a tie, ") || !strstr(output, "per epoch in every run"))
        fail_msg("two runs alike should tie:\n%s", output);

    static const test_refusal sweeps[] = {
        {"--algos allreduce --vary seed=1,1", "'1' and '1' are the same value"},
        {"--algos allreduce --vary workers=4,4.0", "the same value"},
        {"--algos allreduce --vary out=a/b,c", "--vary out"},
    };
    test_distlab_refuses("sweep", sweeps, sizeof sweeps / sizeof *sweeps);
}

/* An --as name is one folder under --out: never the parent, the folder
 * itself, a path elsewhere or one of the files compare writes there. */
static void as_names_stay_in_their_folder(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const names[] = {"..", ".", "loss.png", "compare.csv", "\"\"", "a/b"};
    static const char *const says[] = {"starts with '.'", "starts with '.'", "ends like a file compare",
                                       "ends like a file compare", "has a quote", "has a '/'"};
    enum { N = sizeof names / sizeof *names };
    char args[N][900], says_at[N][200];
    test_refusal cases[N];
    for (int i = 0; i < N; i++) {
        char rel[32], text[128], path[512];
        snprintf(rel, sizeof rel, "as%d.exp", i);
        snprintf(text, sizeof text, "workers 2\nrun allreduce --as %s\n", names[i]);
        put_file(path, sizeof path, rel, text, strlen(text));
        snprintf(args[i], sizeof args[i], "compare --experiment %s " SMALL_NOWORKERS " --out %s/as/out",
                 path, tmpdir);
        snprintf(says_at[i], sizeof says_at[i], "--as '%s' %s", names[i], says[i]);
        cases[i] = (test_refusal){args[i], says_at[i]};
    }
    test_distlab_refuses("", cases, N);
    assert_int_equal(run("compare --experiment %s/as0.exp " SMALL_NOWORKERS " --out %s/as/out", tmpdir,
                         tmpdir), 2);
    assert_non_null(strstr(output, "as0.exp:2: in this run line"));
    struct stat st;
    char parent[512];
    snprintf(parent, sizeof parent, "%s/as/summary.json", tmpdir);
    assert_int_equal(stat(parent, &st), -1);
}

/* `run` records how many ranks straggle, for every algorithm alike (ps
 * and ray-ps wrote it again themselves, 0 included). */
static void stragglers_are_recorded_by_run(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const algos[] = {"ps", "ray-ps", "allreduce"};
    for (size_t i = 0; i < sizeof algos / sizeof *algos; i++) {
        assert_int_equal(run("run %s " SMALL_NOWORKERS " --workers 4 --stragglers 0.5 --out %s/strag%zu "
                             "--quiet", algos[i], tmpdir, i), 0);
        char dir[32];
        snprintf(dir, sizeof dir, "strag%zu", i);
        assert_non_null(strstr(slurp("%s/summary.json", dir), "\"stragglers\": 2"));
        assert_int_equal(run("run %s " SMALL " --out %s/nostrag%zu --quiet", algos[i], tmpdir, i), 0);
        snprintf(dir, sizeof dir, "nostrag%zu", i);
        assert_null(strstr(slurp("%s/summary.json", dir), "\"stragglers\""));
    }
}

/* A file of the source tree (the test binary is in BUILD/tests/), whole,
 * in buf; 0, or -1 when it is not there. */

/* --out naming a file: the run went through, then writing its records
 * failed (exit 1; compare and sweep after their first run). Refused
 * before anything runs now, and a folder to be made is still made. */
static void an_out_that_is_a_file_is_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    char file[512], a[1200], b[1200], c[1200], d[1200], e[1200];
    put_file(file, sizeof file, "not-a-folder", "x", 1);
    snprintf(a, sizeof a, "run allreduce " SMALL " --out %s", file);
    snprintf(b, sizeof b, "run allreduce " SMALL " --out %s/below", file);
    snprintf(c, sizeof c, "dp --workload resnet50 --workers 2 --out %s", file);
    snprintf(d, sizeof d, "compare --algos allreduce,serial " SMALL_NOWORKERS " --out %s", file);
    snprintf(e, sizeof e, "sweep --algos allreduce:ring --vary workers=2 " SMALL_NOWORKERS " --out %s", file);
    const test_refusal cases[] = {
        {a, "not-a-folder: it exists and is not a folder"},
        {b, "not-a-folder/below: a part of its path is a file"},
        {c, "not-a-folder: it exists and is not a folder"},
        {d, "not-a-folder: it exists and is not a folder"},
        {e, "not-a-folder: it exists and is not a folder"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    assert_int_equal(run("run allreduce " SMALL " --out %s/made/here --quiet --no-figures", tmpdir), 0);
    struct stat st;
    char made[600];
    snprintf(made, sizeof made, "%s/made/here/summary.json", tmpdir);
    assert_int_equal(stat(made, &st), 0);
}

/* An experiment file of options only (or empty): sweep went on to
 * "cannot write sweep.csv" (exit 1); both verbs say what is missing. */
static void an_experiment_without_runs_is_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    char exp[512], a[1200], b[1200], c[1200];
    static const char opts[] = "# options, no run line\nepochs 1\n";
    put_file(exp, sizeof exp, "noruns.exp", opts, strlen(opts));
    snprintf(a, sizeof a, "sweep --experiment %s --vary workers=2 --out %s/nr1", exp, tmpdir);
    snprintf(b, sizeof b, "compare --experiment %s --out %s/nr2", exp, tmpdir);
    put_file(exp, sizeof exp, "empty.exp", "", 0);
    snprintf(c, sizeof c, "sweep --experiment %s --vary workers=2 --out %s/nr3", exp, tmpdir);
    const test_refusal cases[] = {
        {a, "noruns.exp' holds no 'run SPEC' line, and no --algos was given: nothing to sweep"},
        {b, "noruns.exp' holds no 'run SPEC' line, and no --algos was given: nothing to compare"},
        {c, "empty.exp' holds no 'run SPEC' line"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
}

/* distlab `args` with a FIFO's path for @F: exit 2 and says in the output.
 * The command runs under timeout(1) only so that a regression (the open
 * blocking until someone writes, as it did) fails the test instead of
 * hanging it; a pass never waits on it. */
static void refused_without_blocking(const char *args, const char *says)
{
    char cmd[8192], out[8192];
    snprintf(cmd, sizeof cmd, "timeout 300 %s %s 2>&1", test_distlab(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(out, says))
        fail_msg("distlab %s: exit %d, expected 2 and '%s' in: %s", args, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 says, out);
}

/* A FIFO (or a device) given as an input blocked the open until something
 * wrote into it, forever if nothing did (--data, --test-data, run lda's
 * --data, --calibration, a --resume checkpoint, a platform's profile
 * file); each is refused now, naming the file. And --test-data beside a
 * built-in --dataset was left unread. */
static void fifos_and_devices_are_refused_as_inputs(void **state)
{
    (void)state;
    NEED_BINARY();
    char fifo[512], svm[512], args[4096], ckdir[512], prof[512];
    snprintf(fifo, sizeof fifo, "%s/pipe", tmpdir);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    static const char data[] = "0 1:0.5 2:0.1\n1 1:1.5 2:0.9\n0 1:0.2 2:0.3\n1 1:1.1 2:1.2\n0 1:0.4\n1 2:1.4\n";
    put_file(svm, sizeof svm, "small.svm", data, strlen(data));
    const char *says = "pipe: a FIFO (named pipe), not a regular file";
    snprintf(args, sizeof args, "run allreduce --workers 2 --data %s --out %s/f1", fifo, tmpdir);
    refused_without_blocking(args, says);
    snprintf(args, sizeof args, "run allreduce --workers 2 --data %s --test-data %s --out %s/f2", svm, fifo, tmpdir);
    refused_without_blocking(args, says);
    snprintf(args, sizeof args, "run lda --data %s --out %s/f3", fifo, tmpdir);
    refused_without_blocking(args, says);
    snprintf(args, sizeof args, "run allreduce " SMALL " --calibration %s --out %s/f4", fifo, tmpdir);
    refused_without_blocking(args, says);
    snprintf(args, sizeof args, "run allreduce --workers 2 --data /dev/zero --out %s/f5", tmpdir);
    refused_without_blocking(args, "/dev/zero: a device, not a regular file");
    /* a checkpoint that is a FIFO */
    snprintf(ckdir, sizeof ckdir, "%s/ckf/checkpoint", tmpdir);
    snprintf(args, sizeof args, "mkdir -p %s && touch %s/rank-0.step-5.bin && mkfifo %s/rank-1.step-5.bin", ckdir,
             ckdir, ckdir);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "run allreduce " SMALL " --resume %s/ckf --out %s/f6", tmpdir, tmpdir);
    refused_without_blocking(args, "rank-1.step-5.bin: a FIFO (named pipe), not a regular file");
    /* a platform's host that follows a profile in a FIFO */
    static const char head[] = "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                               "<platform version=\"4.1\"><zone id=\"z\" routing=\"Full\">\n";
    char xml[2048];
    int n = snprintf(xml, sizeof xml, "%s<host id=\"h\" speed=\"1Gf\" speed_file=\"%s\"/></zone></platform>\n", head,
                     fifo);
    put_file(prof, sizeof prof, "profiled.xml", xml, (size_t)n);
    snprintf(args, sizeof args, "collective --workers 1 --bytes 4KiB --platform %s", prof);
    refused_without_blocking(args, "speed_file=");
    refused_without_blocking(args, says);
    /* --test-data beside a built-in dataset */
    assert_int_equal(run("run allreduce " SMALL " --test-data %s --out %s/f7", svm, tmpdir), 2);
    assert_non_null(strstr(output, "goes with --data FILE"));
    unlink(fifo);
}

static int source_file(const char *rel, char *buf, size_t cap)
{
    char self[4096], path[4600];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/../../%s", dirname(self), rel);
    size_t got = 0;
    if (test_read_file(path, buf, cap - 1, &got) != 0)
        return -1;
    buf[got] = '\0';
    return 0;
}

/* The README's and the labs' commands write under runs/ only (git ignores
 * it): every -o, --output and --out of a distlab command on their pages. */
static void documented_commands_write_under_runs(void **state)
{
    (void)state;
    static const char *const pages[] = {"README.md", "labs/01-ring/README.md", "labs/02-recursive-doubling/README.md",
                                        "labs/03-ps-consistency/README.md", "labs/04-hogwild/README.md", "labs/05-model-parallel/README.md",
                                        "labs/06-local-sgd/README.md",
                                        "labs/07-scaling/README.md",
                                        "labs/08-real-sockets/README.md", "labs/README.md"};
    static char text[1 << 18];
    int seen = 0;
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        if (source_file(pages[i], text, sizeof text) != 0)
            skip();
        int line = 1, in_distlab = 0; /* past the page's first distlab */
        char *save = NULL;
        for (char *w = strtok_r(text, " \t`()", &save); w; w = strtok_r(NULL, " \t`()", &save)) {
            for (char *nl = strchr(w, '\n'); nl; nl = strchr(nl + 1, '\n'))
                line++;
            if (strstr(w, "distlab"))
                in_distlab = 1;
            if (!in_distlab || (strcmp(w, "-o") && strcmp(w, "--out") && strcmp(w, "--output")))
                continue;
            char *where = strtok_r(NULL, " \t`()\n", &save);
            if (where && !strpbrk(where, "/.$"))
                continue; /* prose: "its --out folder" */
            seen++;
            if (!where || (strncmp(where, "runs/", 5) != 0 && where[0] != '$'))
                fail_msg("%s:%d: %s %s writes outside runs/", pages[i], line, w, where ? where : "");
        }
    }
    assert_true(seen >= 20);
    assert_int_equal(source_file(".gitignore", text, sizeof text), 0);
    assert_non_null(strstr(text, "\n/runs/\n"));
}

/* The README's sim and real allreduce commands, as written (only runs/
 * moved to the test's folder), train one model: the same model_fnv1a64. */
static void readme_sim_and_real_runs_agree(void **state)
{
    (void)state;
    NEED_BINARY();
    static char text[1 << 18];
    if (source_file("README.md", text, sizeof text) != 0)
        skip();
    static const char *const outs[] = {"--out runs/ar-sim", "--out runs/ar-real"};
    char hash[2][32];
    for (int k = 0; k < 2; k++) {
        char *at = strstr(text, outs[k]);
        assert_non_null(at);
        char *start = at;
        while (start > text && start[-1] != '\n')
            start--;
        const char *prefix = "build/distlab ";
        assert_memory_equal(start, prefix, strlen(prefix));
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%.*s--out %s/%s --quiet --no-figures", (int)(at - start - strlen(prefix)),
                 start + strlen(prefix), tmpdir, outs[k] + strlen("--out runs/"));
        if (run("%s", cmd) != 0)
            fail_msg("distlab %s:\n%s", cmd, output);
        const char *sum = slurp("%s/summary.json", outs[k] + strlen("--out runs/"));
        const char *h = strstr(sum, "\"model_fnv1a64\": \"");
        assert_non_null(h);
        snprintf(hash[k], sizeof hash[k], "%.16s", h + strlen("\"model_fnv1a64\": \""));
    }
    if (strcmp(hash[0], hash[1]) != 0)
        fail_msg("README's sim run has model %s, its real run %s", hash[0], hash[1]);
    /* The README quotes hashes of its own machines, not this one's: the
     * bits are the same across backends on one machine, but OpenBLAS and
     * libm pick their kernels by CPU, so another CPU kind trains other
     * bits (this test failed so on an AVX-512 AMD EPYC). It must say so. */
    if (!strstr(text, "bits depend on the CPU"))
        fail_msg("README should say that the quoted model hash depends on the CPU");
}

/* A collective's simulated seconds from its CSV line. */
static double collective_seconds(void)
{
    const char *line = strstr(output, "sim,allreduce,ring,8,1048576,");
    if (!line)
        fail_msg("no result line in:\n%s", output);
    return atof(line + strlen("sim,allreduce,ring,8,1048576,"));
}

/* Issue 15, item 14: 8 ranks on platforms/two-racks.xml all sat on rack
 * a, so the file timed like one flat cluster. Spread, a ring crosses the
 * shared uplinks and takes longer; --placement block still packs them. */
static void two_racks_show_with_eight_ranks(void **state)
{
    (void)state;
    NEED_BINARY();
    static char text[1 << 16];
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || source_file("platforms/two-racks.xml", text, sizeof text) != 0)
        skip();
    self[n] = '\0';
    char racks[4600];
    snprintf(racks, sizeof racks, "%s/../../platforms/two-racks.xml", dirname(self));
    const char *c = "collective --workers 8 --algo ring --bytes 1MiB";
    assert_int_equal(run("%s --hosts 16 --bandwidth 10Gbps --latency 50us", c), 0);
    double flat = collective_seconds();
    assert_int_equal(run("%s --platform %s", c, racks), 0);
    double spread = collective_seconds();
    assert_int_equal(run("%s --platform %s --placement block", c, racks), 0);
    double packed = collective_seconds();
    if (!(spread > 1.5 * flat) || fabs(packed - flat) > 1e-9 * flat)
        fail_msg("two racks: %g s spread, %g s packed; one flat cluster %g s", spread, packed, flat);
}

/* Issue 15, item 15: an installed distlab did not look in its share
 * folder. A bare name not found as given is looked for there
 * ($DISTLAB_SHARE here, PREFIX/share/distlab as installed). */
static void short_names_come_from_the_share_folder(void **state)
{
    (void)state;
    NEED_BINARY();
    char share[300], path[1400];
    snprintf(share, sizeof share, "%s/share", tmpdir);
    assert_int_equal(run("platform --hosts 2 --latency 100us --bandwidth 8Gbps -o %s/x.xml", tmpdir), 0);
    snprintf(path, sizeof path, "mkdir -p %s/platforms %s/labs && mv %s/x.xml %s/platforms/lab-pair.xml",
             share, share, tmpdir, share);
    assert_int_equal(system(path), 0);
    static const char tiny[] = "workers 2\nepochs 1\ndataset synth-dense:n=400,d=5,classes=2\nrun allreduce\n";
    put_file(path, sizeof path, "share/labs/tiny.exp", tiny, strlen(tiny));
    assert_int_equal(setenv("DISTLAB_SHARE", share, 1), 0);
    int st = run("pingpong --platform lab-pair --bytes 1MiB");
    int st2 = st == 0 && strstr(output, "sim,1048576,1,0.001148576,") ? 0 : -1;
    char first[4096];
    snprintf(first, sizeof first, "%.4000s", output);
    int st3 = run("compare --experiment tiny.exp --no-figures --out %s/tiny", tmpdir);
    unsetenv("DISTLAB_SHARE");
    if (st2 != 0)
        fail_msg("--platform lab-pair: exit %d:\n%s", st, first);
    if (st3 != 0)
        fail_msg("--experiment tiny.exp: exit %d:\n%s", st3, output);
    /* in a source tree, build/distlab finds the tree's platforms/ from any folder */
    char here[4096];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(setenv("DISTLAB_SHARE", tmpdir, 1), 0); /* nothing installed there */
    int st4 = run("collective --workers 8 --platform two-racks");
    unsetenv("DISTLAB_SHARE");
    assert_int_equal(chdir(here), 0);
    if (st4 != 0 && strstr(test_distlab(), "/build/"))
        fail_msg("--platform two-racks from %s: exit %d:\n%s", tmpdir, st4, output);
    /* a name with a folder part is only ever itself */
    assert_int_equal(run("pingpong --platform ./lab-pair.xml"), 2); /* input, like an option */
    assert_non_null(strstr(output, "'./lab-pair.xml'"));
}

/* Pixels of exactly this colour in a PNG under tmpdir. */
static long png_pixels_of(const char *rel, unsigned rgb)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    cairo_surface_t *im = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(im) != CAIRO_STATUS_SUCCESS)
        fail_msg("cannot read %s", path);
    cairo_surface_flush(im);
    int w = cairo_image_surface_get_width(im), h = cairo_image_surface_get_height(im);
    int stride = cairo_image_surface_get_stride(im);
    const unsigned char *data = cairo_image_surface_get_data(im);
    long n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            n += (*(const uint32_t *)(data + (size_t)y * stride + (size_t)x * 4) & 0xFFFFFF) == rgb;
    cairo_surface_destroy(im);
    return n;
}

/* Issue 15, item 17: compare's loss.png kept the accuracy figure's zoom
 * (y from 90 on a log axis of losses below 1), so every curve was off the
 * plot and only the legend's swatches showed. The first run's colour must
 * draw a line across the plot, many times a swatch's pixels. */
static void compare_loss_figure_shows_its_curves(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("compare --algos allreduce,psgd %s --epochs 2 --out %s/loss", SMALL, tmpdir), 0);
    long first = png_pixels_of("loss/loss.png", plot_palette(0));
    if (first < 3000)
        fail_msg("loss.png has %ld pixels of the first run's colour: its curve is not drawn", first);
}

/* Issue 15, item 17: "1 workers", "1 hosts", "1 epochs"; demo.sh said
 * "four ways" before its five runs. */
static void one_is_singular(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("run serial --dataset synth-dense:n=400,d=5,classes=2 --epochs 1 --hosts 1 "
                         "--no-figures --out %s/one", tmpdir), 0);
    static const char *const says[] = {": 1 worker, ", "cluster of 1 host, ", "after 1 epoch, "};
    for (size_t i = 0; i < sizeof says / sizeof *says; i++)
        if (!strstr(output, says[i]))
            fail_msg("no '%s' in:\n%s", says[i], output);
    assert_int_equal(run("compare --algos serial --dataset synth-dense:n=400,d=5,classes=2 --epochs 1 "
                         "--no-figures --out %s/one-run", tmpdir), 0);
    assert_non_null(strstr(output, "compare: 1 run;"));
    assert_int_equal(run("platform --hosts 1"), 0);
    assert_non_null(strstr(output, "cluster: 1 host,"));

    /* demo.sh counts the runs of labs/demo.exp (/bin/true stands in for distlab) */
    static char exp[1 << 14];
    char self[4096], cmd[9000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || source_file("labs/demo.exp", exp, sizeof exp) != 0)
        skip();
    self[n] = '\0';
    int runs = 0;
    for (char *l = exp; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        runs += strncmp(l, "run ", 4) == 0;
    snprintf(cmd, sizeof cmd, "DEMO_OUT=%s/demo %s/../../demo.sh /bin/true", tmpdir, dirname(self));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512] = "";
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    char want[64];
    snprintf(want, sizeof want, "Fashion-MNIST %d ways", runs);
    if (runs < 2 || !strstr(line, want))
        fail_msg("labs/demo.exp has %d runs; demo.sh says: %s", runs, line);
}

/* Issue 15, item 18: messages that pointed elsewhere. */
static void messages_say_what_is_wrong(void **state)
{
    (void)state;
    NEED_BINARY();
    char nul[512];
    put_file(nul, sizeof nul, "nul.exp", "workers 2\nrun allre\0duce\n", 26);
    /* an experiment's own --out was dropped silently: each run's folder
     * under the command line's --out won */
    char out1[512], out2[512];
    put_file(out1, sizeof out1, "out.exp", "out /tmp/elsewhere\nrun allreduce\n", 33);
    put_file(out2, sizeof out2, "runout.exp", "run allreduce --out /tmp/elsewhere\n", 35);
    char args[5][700];
    snprintf(args[0], sizeof args[0], "compare --experiment %s", nul);
    snprintf(args[1], sizeof args[1], "compare --experiment %s", tmpdir);
    snprintf(args[2], sizeof args[2], "run serial --data %s", tmpdir);
    snprintf(args[3], sizeof args[3], "compare --experiment %s", out1);
    snprintf(args[4], sizeof args[4], "compare --experiment %s", out2);
    const test_refusal cases[] = {
        {args[0], "nul.exp:2: a NUL byte at column 10"},
        {args[1], "is a folder; name a file in it"},
        {args[2], "a folder, not a data file"},
        {args[3], "out.exp:1: 'out' is the command line's (--out DIR)"},
        {args[4], "run 'allreduce': --out is the command line's"},
        {"collective --latency 1m", "'1m' is ambiguous: write 1min for minutes or 1ms for milliseconds"},
        {"collective --backend real --timeout 5m", "write 5min for minutes"},
        /* decimal numbers only: strtod's hex, inf and leading space ran */
        {"collective --latency 0x10us", "'0x10us' is not a time"},
        {"collective --bandwidth ' 0x1p30Bps'", "' 0x1p30Bps' is not a rate"},
        {"run allreduce --lr 0x1p-3", "--lr: '0x1p-3' is not"},
        {"run allreduce --lr inf", "--lr: 'inf' is not"},
        {"run allreduce --dataset synth-dense:n=0x100", "n=0x100 is not a number"},
        {"run allreduce --hosts 1048576 --workers 2", "--hosts: '1048576' is not a whole number in 1..65536"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    assert_int_equal(run("collective --workers 2 --bytes 4KiB --latency 0.001min"), 0);
    assert_non_null(strstr(output, "sim,allreduce,"));
}

/* A barrier moves no data: --bytes is refused, and without it a barrier
 * allocates nothing and reports 0 bytes (it allocated and reported 1 MiB
 * a rank: 17 GB at 16,384 ranks, and a bandwidth it never used). */
static void a_barrier_moves_no_bytes(void **state)
{
    (void)state;
    NEED_BINARY();
    const test_refusal cases[] = {
        {"collective --op barrier --bytes 1MB", "--op barrier moves no data: leave out --bytes"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    assert_int_equal(run("collective --op barrier --workers 4"), 0);
    assert_non_null(strstr(output, "sim,barrier,binomial,4,0,"));
    assert_non_null(strstr(output, ",0,0\n"));
}

/* Every comma-separated option refuses an empty item, naming the option
 * and which item (strtok skipped them: --bytes 4,,8 timed two sizes, a
 * stray comma in --fail dropped nothing and said nothing). */
static void empty_list_items_are_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    const test_refusal cases[] = {
        {"collective --bytes 4,,8", "--bytes: '4,,8': item 2 of 3 is empty"},
        {"collective --bytes ,4", "--bytes: ',4': item 1 of 2 is empty"},
        {"collective --bytes=", "--bytes: empty value"},
        {"pingpong --bytes 4,8,", "--bytes: '4,8,': item 3 of 3 is empty"},
        {"run allreduce --fail 1@1s,,0@2s", "--fail: '1@1s,,0@2s': item 2 of 3 is empty"},
        {"collective --degrade cluster_link_0_UP:0.5@1s-2s,", "--degrade: "},
        {"sweep --algos allreduce --vary workers=2,,4", "--vary workers: '2,,4': item 2 of 3 is empty"},
        {"sweep --algos allreduce --vary workers=2,4 --vary2 seed=1,", "--vary2 seed: '1,': item 2 of 2"},
        {"sweep --algos allreduce, --vary workers=2,4", "--algos: 'allreduce,': item 2 of 2 is empty"},
        {"compare --algos ,allreduce", "--algos: ',allreduce': item 1 of 2 is empty"},
        {"compare --algos allreduce::ring", "run 'allreduce::ring': an empty ':' part"},
        {"compare --frameworks ddp,,horovod --workload resnet50", "--frameworks: 'ddp,,horovod': item 2"},
        {"sweep --frameworks ddp --workload resnet50 --vary gpus=8,,16", "--vary gpus: '8,,16': item 2"},
        {"calibrate -o never-written.json --models softmax,,logreg", "--models: 'softmax,,logreg': item 2 of 3 is empty"},
        {"calibrate -o never-written.json --batches 1,,2", "--batches: '1,,2': item 2 of 3 is empty"},
        {"ray-bench throughput --nodes 1,,2", "--nodes: '1,,2': item 2 of 3 is empty"},
        {"ray-bench throughput --nodes 2.5", "--nodes: '2.5' is not a whole number"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
}

/* A platform file's values are input like an option's: refused with the
 * file, line, element and value, exit 2 (they were a failed run, exit 1),
 * by every verb that simulates. */
static void platform_file_errors_are_bad_input(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512], a[1200], b[1200], c[1200], d[1200];
    static const char bad[] = "<?xml version='1.0'?>\n"
                              "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                              "<platform version=\"4.1\"><zone id=\"z\" routing=\"Full\">\n"
                              "<host id=\"h\" speed=\"-1Gf\"/></zone></platform>\n";
    put_file(path, sizeof path, "neg.xml", bad, strlen(bad));
    snprintf(a, sizeof a, "run allreduce " SMALL " --platform %s --out %s/neg", path, tmpdir);
    snprintf(b, sizeof b, "collective --workers 2 --bytes 4KiB --platform %s", path);
    snprintf(c, sizeof c, "pingpong --platform %s/nothing-here.xml", tmpdir);
    snprintf(d, sizeof d, "collective --platform %s", tmpdir);
    /* SimGrid aborted on a file without its DOCTYPE (exit 1) */
    static const char bare[] = "<?xml version='1.0'?>\n<platform version=\"4.1\"><zone id=\"z\" routing=\"Full\">"
                               "<host id=\"h\" speed=\"1Gf\"/></zone></platform>\n";
    char bare_path[512], e[1200];
    put_file(bare_path, sizeof bare_path, "bare.xml", bare, strlen(bare));
    snprintf(e, sizeof e, "pingpong --platform %s", bare_path);
    /* SimGrid's parser aborted on an attribute its DTD lacks (signal 6,
     * exit 1): "Bad attribute `colour' in `cluster' element start tag" */
    static const char odd[] = "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                              "<platform version=\"4.1\">\n<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" "
                              "speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\" colour=\"red\"/>\n</platform>\n";
    char odd_path[512], f[1200];
    put_file(odd_path, sizeof odd_path, "odd.xml", odd, strlen(odd));
    snprintf(f, sizeof f, "collective --workers 2 --bytes 4KiB --platform %s", odd_path);
    const test_refusal cases[] = {
        {f, "odd.xml', line 4, <cluster id=\"c\">: colour= is not an attribute SimGrid takes on a <cluster>"},
        {a, "neg.xml', line 4, <host id=\"h\">: speed='-1Gf' is negative"},
        {b, "speed='-1Gf' is negative"},
        {c, "nothing-here.xml': No such file"},
        {d, "is a folder, not a file"},
        {e, "bare.xml': no DOCTYPE; SimGrid reads only a file that has <!DOCTYPE platform"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    struct stat st;
    snprintf(path, sizeof path, "%s/neg", tmpdir);
    assert_int_equal(stat(path, &st), -1); /* refused before the run made its folder */
    /* a real run ignores the platform, as before */
    assert_int_equal(run("collective --workers 2 --bytes 4KiB --iters 1 --backend real --platform %s/neg.xml",
                         tmpdir), 0);
    /* compare and sweep run side by side: every run meets the same bad
     * file, and the message comes once, with exit 2 */
    const char *verbs[] = {"compare --algos allreduce:ring,ps:bsp", "sweep --algos allreduce:ring --vary workers=2,4"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run("%s " SMALL_NOWORKERS " --jobs 2 --platform %s/neg.xml --out %s/negs", verbs[i], tmpdir,
                             tmpdir),
                         2);
        const char *first = strstr(output, "speed='-1Gf' is negative");
        assert_non_null(first);
        assert_null(strstr(first + 1, "speed='-1Gf' is negative"));
    }
}

/* A rank number past the run's ranks in events.csv is refused with the
 * file and line, instead of a figure sized by it (rank 16000000: 570 MB
 * of rows); so is a peer past them, and a line cut short. */
static void timeline_refuses_ranks_the_run_never_had(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("run allreduce " SMALL " --no-figures --quiet --out %s/tl", tmpdir), 0);
    assert_non_null(strstr(slurp("tl/summary.json"), "\"ranks\": 2"));
    assert_int_equal(run("timeline %s/tl -o %s/tl.png", tmpdir, tmpdir), 0);
    char path[512], line[200];
    snprintf(path, sizeof path, "%s/tl/events.csv", tmpdir);
    long lines = 0;
    for (const char *p = slurp("tl/events.csv"); *p; p++)
        lines += *p == '\n';
    static const char *const tails[] = {"1000000,compute,0,1,0,-1,-1\n", "2,compute,0,1,0,-1,-1\n",
                                        "16000000,compute,0,1,0,-1,-1\n", "0,send,0,1,8,5,0\n",
                                        "0,send,0,1,8\n", "0,comp"};
    static const char *const says[] = {"rank 1000000, but the run had 2 ranks (0..1", "rank 2, but the run had 2",
                                       "rank must be a whole number from 0 to 2097151", /* past any job */
                                       "peer 5, but the run had 2", "5 fields; expected 7", "fields; expected 7"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        assert_int_equal(run("run allreduce " SMALL " --no-figures --quiet --out %s/tl", tmpdir), 0);
        FILE *f = fopen(path, "a");
        assert_non_null(f);
        fputs(tails[i], f);
        assert_int_equal(fclose(f), 0);
        snprintf(line, sizeof line, "tl/events.csv:%ld: ", lines + 1);
        assert_int_equal(run("timeline %s/tl -o %s/bad.png", tmpdir, tmpdir), 2); /* bad input */
        if (!strstr(output, line) || !strstr(output, says[i]))
            fail_msg("'%s' appended: expected '%s' ... '%s', got: %s", tails[i], line, says[i], output);
    }
    /* a part that is a folder read as "expected the header"; a FIFO
     * blocked the open (under `timeout`, so that a hang fails, not waits) */
    char cmd[2400], sum[512];
    snprintf(sum, sizeof sum, "%s/tl/summary.json", tmpdir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(run("timeline %s/tl -o %s/bad.png", tmpdir, tmpdir), 2);
    assert_non_null(strstr(output, "tl/events.csv: a folder, not a file"));
    assert_int_equal(run("trace %s/tl -o %s/bad.json", tmpdir, tmpdir), 2);
    assert_int_equal(run("plot %s/tl -o %s/bad.png", tmpdir, tmpdir), 0); /* it reads no events */
    assert_int_equal(rmdir(path), 0);
    for (int part = 0; part < 2; part++) {
        const char *fifo = part ? sum : path;
        unlink(fifo);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        snprintf(cmd, sizeof cmd, "timeout 60 %s timeline %s/tl -o %s/bad.png 2>&1", test_distlab(), tmpdir, tmpdir);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(output, 1, sizeof output - 1, p);
        output[n] = '\0';
        int st = pclose(p);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(output, "a device, FIFO or socket, not a file"))
            fail_msg("%s as a FIFO: status 0x%x: %s", fifo, st, output);
        assert_int_equal(unlink(fifo), 0);
        if (!part) /* events.csv back, as a file, for the summary's turn */
            put_file(path, sizeof path, "tl/events.csv", "rank,kind,start_s,end_s,bytes,peer,tag\n", 39);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A child of process parent, and its CPU seconds; 0 when there is none. */
static pid_t child_of(pid_t parent, double *cpu_s)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *at = strrchr(buf, ')');
        int ppid;
        unsigned long ut, st;
        if (at && sscanf(at + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid, &ut, &st) == 3 &&
            ppid == parent) {
            found = (pid_t)atoi(de->d_name);
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* distlab killed with SIGKILL while it simulates: the simulation (a child
 * process) dies with it, and nothing is left in $TMPDIR -- the child wrote
 * its events to a folder there, which only the parent removed. This
 * process adopts the orphan (a subreaper) to see how it ends. */
static void killed_simulation_leaves_nothing(void **state)
{
    (void)state;
    NEED_BINARY();
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/killed-tmp", tmpdir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("TMPDIR", tmp, 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execl(test_distlab(), "distlab", "collective", "--workers", "64", "--bytes", "100MB", "--payload",
              "size-only", "--iters", "100000", (char *)NULL);
        _exit(127);
    }
    /* once the simulation runs: a second of its own CPU time */
    pid_t sim = 0;
    double cpu = 0;
    for (double t = now_s(); now_s() - t < 120 && (!(sim = child_of(pid, &cpu)) || cpu < 1.0);)
        usleep(50 * 1000);
    assert_true(sim > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    int ws = 0;
    pid_t got = 0;
    for (double t = now_s(); now_s() - t < 60 && (got = waitpid(sim, &ws, WNOHANG)) == 0;)
        usleep(20 * 1000);
    if (got != sim) {
        kill(sim, SIGKILL);
        waitpid(sim, NULL, 0);
        fail_msg("the simulation (pid %d) outlived the distlab that ran it", (int)sim);
    }
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    DIR *d = opendir(tmp);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fail_msg("%s/%s was left behind", tmp, de->d_name);
    closedir(d);
}

/* --jobs: runs at once, with the records and the output of a sequential
 * sweep (only the "out" setting, the folder's own name, differs) */
static void parallel_sweeps_write_what_sequential_ones_do(void **state)
{
    (void)state;
    NEED_BINARY();
    static char seq[65536];
    const char *args = "--algos allreduce:ring,psgd:4 --vary workers=1,2,3 " SMALL_NOWORKERS;
    assert_int_equal(run("sweep %s --jobs 1 --out %s/j1", args, tmpdir), 0);
    snprintf(seq, sizeof seq, "%s", output);
    assert_int_equal(run("sweep %s --jobs 3 --out %s/j3", args, tmpdir), 0);
    /* the same lines in the same order, but for the folder */
    char *at;
    while ((at = strstr(output, "/j3")))
        at[2] = '1';
    assert_string_equal(output, seq);
    static const char *const runs[] = {"allreduce-ring", "psgd-4"};
    static char a[1 << 20];
    for (int r = 0; r < 2; r++)
        for (int w = 1; w <= 3; w++) {
            static const char *const files[] = {"metrics.csv", "model.bin", "events.csv"};
            for (int f = 0; f < 3; f++) {
                static char x[1 << 20], y[1 << 20];
                char px[600], py[600];
                size_t nx, ny;
                snprintf(px, sizeof px, "%s/j1/%s/workers=%d/%s", tmpdir, runs[r], w, files[f]);
                snprintf(py, sizeof py, "%s/j3/%s/workers=%d/%s", tmpdir, runs[r], w, files[f]);
                assert_int_equal(test_read_file(px, x, sizeof x, &nx), 0);
                assert_int_equal(test_read_file(py, y, sizeof y, &ny), 0);
                if (nx != ny || memcmp(x, y, nx) != 0)
                    fail_msg("%s/workers=%d/%s differs between --jobs 1 and 3", runs[r], w, files[f]);
            }
            snprintf(a, sizeof a, "%s", slurp("j1/%s/workers=%d/summary.json", runs[r], w));
            char *b = (char *)slurp("j3/%s/workers=%d/summary.json", runs[r], w);
            while ((at = strstr(b, "/j3/")))
                at[2] = '1';
            assert_string_equal(a, b);
        }
    assert_string_equal(slurp("j1/sweep.csv"), strcpy(a, slurp("j3/sweep.csv")));
    /* a failing point stops the sweep with its name, as sequentially */
    assert_int_equal(run("sweep --algos allreduce:ring --vary workers=2,99999 " SMALL_NOWORKERS
                         " --jobs 2 --out %s/bad", tmpdir), 2); /* the bad option's exit */
    assert_non_null(strstr(output, "failed; stopping"));
    static const test_refusal bad[] = {{"--algos allreduce --vary workers=1,2 --jobs 0", "--jobs"}};
    test_distlab_refuses("sweep", bad, 1);
    static const test_refusal badc[] = {{"--algos allreduce --jobs x", "--jobs"}};
    test_distlab_refuses("compare", badc, 1);
}

/* A sweep reports each point's outcome, not only its speed, and draws the
 * final error against the global batch; an experiment's --as names a run. */
static void sweeps_report_final_error_against_the_global_batch(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[600];
    snprintf(path, sizeof path, "%s/batch.exp", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("dataset synth-dense:n=800,d=10,classes=2\nepochs 1\nworkers 2\n"
          "run allreduce --scale-lr --as scaled\nrun allreduce --as plain\n", f);
    fclose(f);
    assert_int_equal(run("sweep --experiment %s --vary batch=8,32 --target-accuracy 0.5 --out %s/gb", path,
                         tmpdir), 0);
    const char *csv = slurp("gb/sweep.csv");
    assert_non_null(strstr(csv, "run,batch,seconds_per_epoch,final_test_accuracy,final_train_loss,"
                                "seconds_to_target,global_batch\n"));
    assert_non_null(strstr(csv, "\nscaled,8,"));
    assert_non_null(strstr(csv, "\nplain,32,"));
    /* global batch = workers x batch, at the end of each row */
    assert_non_null(strstr(csv, ",16\n"));
    assert_non_null(strstr(csv, ",64\n"));
    snprintf(path, sizeof path, "%s/gb/final_error.png", tmpdir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/gb/plain/batch=8/summary.json", tmpdir);
    assert_int_equal(access(path, R_OK), 0);
    /* model parallelism's partitions share one batch: 2 partitions, global batch 16 */
    assert_int_equal(run("sweep --algos distbelief:model-parallel --vary workers=2 " SMALL_NOWORKERS
                         " --model mlp:8 --batch 16 --out %s/mp", tmpdir), 0);
    assert_non_null(strstr(slurp("mp/sweep.csv"), "\ndistbelief:model-parallel,2,"));
    assert_non_null(strstr(slurp("mp/sweep.csv"), ",16\n"));
    /* seeds as the second setting: one line per run, their mean and range */
    snprintf(path, sizeof path, "%s/batch.exp", tmpdir);
    assert_int_equal(run("sweep --experiment %s --vary batch=8,32 --vary2 seed=1,2 --out %s/gbs", path,
                         tmpdir), 0);
    assert_non_null(strstr(slurp("gbs/sweep.csv"), "\nscaled,32,2,"));
    snprintf(path, sizeof path, "%s/gbs/final_error.png", tmpdir);
    assert_int_equal(access(path, R_OK), 0);
    static const test_refusal bad[] = {
        {"--algos allreduce --vary batch=8 --target-accuracy 80", "a fraction in (0, 1]"},
        {"--vary batch=8", "give --algos SPEC,... (or --experiment FILE)"},
    };
    test_distlab_refuses("sweep", bad, 2);
}

/* More ranks than the machine's vm.max_map_count lets SimGrid give
 * stacks: refused at once with the limit and the sysctl that raises it,
 * exit 1 as for the real backend's open-file limit (it aborted inside
 * SimGrid, "Failed to protect stack", after seconds). Skipped where the
 * limit is high enough to start 2^20 ranks. */
static void ranks_past_the_map_count_are_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    double limit = 0;
    if (!f || fscanf(f, "%lf", &limit) != 1 || limit >= 2.0 * (1 << 20)) {
        if (f)
            fclose(f);
        skip();
    }
    fclose(f);
    assert_int_equal(run("collective --op bcast --bytes 4 --payload size-only --workers 1048576"), 1);
    assert_non_null(strstr(output, "1048576 ranks need about"));
    assert_non_null(strstr(output, "but vm.max_map_count is"));
    assert_non_null(strstr(output, "sysctl -w vm.max_map_count=2162688"));
    assert_null(strstr(output, "SimGrid said"));
}

/* A run whose loss became NaN printed "train loss -nan" among its
 * numbers and nothing else; it says so now, and when (exit 0: a diverged
 * run is a result). A run that converges says nothing of the kind. */
static void a_diverged_run_says_so(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("run serial --model mlp:4 --lr 1e6 --dataset synth-dense:n=200,d=5,classes=2 --epochs 2 "
                         "--out %s/diverged --no-figures", tmpdir), 0);
    if (!strstr(output, "distlab run serial: the training diverged: the train loss is ") ||
        !strstr(output, "a smaller --lr (now 1e+06) usually helps"))
        fail_msg("%s", output);
    assert_int_equal(run("run serial --model mlp:4 --dataset synth-dense:n=200,d=5,classes=2 --epochs 2 "
                         "--out %s/converged --no-figures", tmpdir), 0);
    assert_null(strstr(output, "diverged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_number_of_seconds_per_run),
        cmocka_unit_test(compare_says_the_target_it_wrote),
        cmocka_unit_test(every_run_has_its_own_folder_and_row),
        cmocka_unit_test(as_names_stay_in_their_folder),
        cmocka_unit_test(stragglers_are_recorded_by_run),
        cmocka_unit_test(documented_commands_write_under_runs),
        cmocka_unit_test(readme_sim_and_real_runs_agree),
        cmocka_unit_test(two_racks_show_with_eight_ranks),
        cmocka_unit_test(short_names_come_from_the_share_folder),
        cmocka_unit_test(compare_loss_figure_shows_its_curves),
        cmocka_unit_test(one_is_singular),
        cmocka_unit_test(messages_say_what_is_wrong),
        cmocka_unit_test(a_barrier_moves_no_bytes),
        cmocka_unit_test(empty_list_items_are_refused),
        cmocka_unit_test(platform_file_errors_are_bad_input),
        cmocka_unit_test(timeline_refuses_ranks_the_run_never_had),
        cmocka_unit_test(killed_simulation_leaves_nothing),
        cmocka_unit_test(parallel_sweeps_write_what_sequential_ones_do),
        cmocka_unit_test(sweeps_report_final_error_against_the_global_batch),
        cmocka_unit_test(ranks_past_the_map_count_are_refused),
        cmocka_unit_test(a_diverged_run_says_so),
        cmocka_unit_test(fifos_and_devices_are_refused_as_inputs),
        cmocka_unit_test(an_experiment_without_runs_is_refused),
        cmocka_unit_test(an_out_that_is_a_file_is_refused),
    };
    return cmocka_run_group_tests_name("the distlab command's rough edges", tests, setup, teardown);
}
