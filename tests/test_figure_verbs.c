/* test_figure_verbs.c -- `distlab plot`, `distlab timeline` and `distlab
 * trace` on run folders made with the records API: the files appear,
 * -o and --output both work, and bad input is refused with the exit
 * status and message the command line promises (2: usage, 1: failed).
 *
 * Runs the binary named by $DISTLAB (make check sets it), else
 * build/distlab; skips when neither exists. DISTLAB_KEEP_FIGURES (any
 * value) keeps the temporary folder for a look.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/records.h"
#include "tests/util_files.h"

static char tmpdir[256], distlab[512], output[8192];

/* Two runs that differ only in their learning rate; the first has events. */
static void make_run(const char *name, const char *lr, int with_events)
{
    char dir[400], err[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    records *rec = records_open(dir, err, sizeof err);
    if (!rec)
        fail_msg("%s", err);
    records_set_str(rec, "algo", "ps");
    records_set_str(rec, "backend", "real");
    records_set_int(rec, "workers", 4);
    records_set_setting(rec, "lr", lr);
    for (int i = 0; i < 20; i++) {
        records_metric m = records_metric_empty();
        m.time_s = 0.1 * i;
        m.epoch = i / 4.0;
        m.step = 10 * i;
        m.train_loss = 1.0 / (1 + i * atof(lr));
        m.test_accuracy = 0.9 - 0.5 / (1 + i);
        if (records_add_metric(rec, &m, NULL, err, sizeof err))
            fail_msg("%s", err);
    }
    if (with_events) {
        rt_event ev[40];
        for (int i = 0; i < 40; i++)
            ev[i] = (rt_event){i % 4, i % RT_EV_KINDS, 0.001 * i, 0.001 * i + 0.0008, 64, (i + 1) % 4, 0};
        if (records_write_events(rec, ev, 40, err, sizeof err))
            fail_msg("%s", err);
    }
    if (records_close(rec, err, sizeof err))
        fail_msg("%s", err);
}

static int setup(void **state)
{
    (void)state;
    const char *d = getenv("DISTLAB");
    char *abs = realpath(d && *d ? d : "build/distlab", NULL); /* the test cds */
    snprintf(distlab, sizeof distlab, "%s", abs ? abs : "build/distlab");
    free(abs);
    return test_tmpdir(tmpdir, sizeof tmpdir, "verbs");
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("DISTLAB_KEEP_FIGURES"))
        return 0;
    return test_rmtree(tmpdir);
}

/* Run "distlab ARGS" in tmpdir; its stdout and stderr go to `output`. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1", tmpdir, distlab, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect(const char *args, int status, const char *needle)
{
    int got = run(args);
    if (got != status || (needle && !strstr(output, needle)))
        fail_msg("distlab %s: exit %d (want %d), output: %s(want '%s')", args, got, status, output,
                 needle ? needle : "");
}

static long file_size(const char *name)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Width and height of a PNG, from its IHDR. */
static void png_size(const char *name, long *w, long *h)
{
    char path[400];
    unsigned char b[24];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    assert_memory_equal(b, "\x89PNG", 4);
    *w = (long)b[16] << 24 | (long)b[17] << 16 | (long)b[18] << 8 | b[19];
    *h = (long)b[20] << 24 | (long)b[21] << 16 | (long)b[22] << 8 | b[23];
}

static void test_plot_verb(void **state)
{
    (void)state;
    if (access(distlab, X_OK) != 0)
        skip();
    make_run("a", "0.1", 1);
    make_run("b", "0.5", 0);
    expect("plot a b -o loss.png --x epoch --y loss --log-y --title 'Two learning rates'", 0, NULL);
    assert_true(file_size("loss.png") > 1000);
    expect("plot a b --output=acc.svg --y accuracy", 0, NULL);
    assert_true(file_size("acc.svg") > 1000);
    expect("plot a -o steps.pdf --x step", 0, NULL);
    assert_true(file_size("steps.pdf") > 500);
    expect("plot a -o bad.png --y nosuch", 2, "no column 'nosuch' (its columns: time_s, epoch, step, train_loss");
    expect("plot a -o bad.png --x wallclock", 2, "expected one of: time, epoch, step");
    expect("plot -o bad.png", 2, "no run folders given");
    expect("plot a b", 2, "no output file given");
    expect("plot missing -o bad.png", 2, "no such run folder");
    /* a figure name it cannot write is the command line's (it was exit 1,
     * after reading every run) */
    expect("plot a -o bad.gif", 2, "-o: bad.gif: unknown figure format (the file name must end in .png, .svg or .pdf)");
    expect("timeline a -o bad", 2, "-o: bad: unknown figure format");
    expect("plot --help", 0, "-o FILE");
    long w, h;
    expect("plot a -o sized.png --size 5x3", 0, NULL);
    png_size("sized.png", &w, &h);
    assert_int_equal(w, 1500); /* 300 dpi */
    assert_int_equal(h, 900);
    expect("plot a -o bad.png --size 5", 2, "WIDTHxHEIGHT in inches");
    expect("timeline a -o bad.png --size 0.1x3", 2, "WIDTHxHEIGHT in inches");
}

/* A dp run times steps and trains nothing: its loss column is empty.
 * plot said only "no series has a point that is finite" (exit 1); it
 * now says which columns have values and where a dp run's numbers are. */
static void test_plot_says_what_a_run_has(void **state)
{
    (void)state;
    if (access(distlab, X_OK) != 0)
        skip();
    expect("dp --workload resnet50 --workers 2 --out d", 0, NULL);
    expect("plot d -o d.png", 2, "no run has a value in metrics.csv's train_loss column (--y loss); "
                                 "d has values only in time_s, step (a dp run");
    assert_non_null(strstr(output, "distlab timeline d -o FILE"));
    assert_int_equal(file_size("d.png"), -1);
    expect("plot d -o acc.png --y accuracy", 2, "test_accuracy column (--y accuracy)");
    expect("plot d -o bad.png --x epoch --y step", 2, "epoch column (--x epoch)");
    expect("plot d -o steps.png --y step", 0, NULL);
    assert_true(file_size("steps.png") > 1000);
    make_run("trained", "0.1", 0);
    expect("plot d trained -o both.png", 0, NULL); /* the run that has a loss is drawn */
    assert_true(file_size("both.png") > 1000);
}

static void test_timeline_and_trace_verbs(void **state)
{
    (void)state;
    if (access(distlab, X_OK) != 0)
        skip();
    make_run("t", "0.1", 1);
    make_run("noev", "0.1", 0);
    expect("timeline t -o t.png", 0, NULL);
    assert_true(file_size("t.png") > 1000);
    expect("timeline t -o t.pdf --from 5ms --to 0.02", 0, NULL);
    assert_true(file_size("t.pdf") > 500);
    expect("timeline t -o bad.png --from 1 --to 0.5", 2, "--from must be before --to");
    expect("timeline t -o bad.png --from 10 --to 20", 1, "no events");
    expect("timeline noev -o bad.png", 2, "events.csv: no such file");
    expect("timeline t noev -o bad.png", 2, "exactly one run folder");

    expect("trace t -o t.json", 0, NULL);
    char path[400];
    snprintf(path, sizeof path, "%s/t.json", tmpdir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("trace does not parse: %s", je.text);
    size_t i, nx = 0;
    json_t *e;
    json_array_foreach(json_object_get(doc, "traceEvents"), i, e)
        nx += strcmp(json_string_value(json_object_get(e, "ph")), "X") == 0;
    assert_int_equal(nx, 40);
    json_decref(doc);
    expect("trace t", 2, "no output file given");
    expect("trace noev -o x.json", 2, "events.csv");

    /* a header-only events.csv: an empty trace, no figure */
    make_run("hdr", "0.1", 0);
    snprintf(path, sizeof path, "%s/hdr/events.csv", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("rank,kind,start_s,end_s,bytes,peer,tag\n", f);
    fclose(f);
    expect("trace hdr -o hdr.json", 0, NULL);
    snprintf(path, sizeof path, "%s/hdr.json", tmpdir);
    if (!(doc = json_load_file(path, 0, &je)))
        fail_msg("empty trace does not parse: %s", je.text);
    json_decref(doc);
    expect("timeline hdr -o hdr.png", 1, "no events");
    /* 1e308 times: refused with file and line by both (trace wrote
     * "dur":inf and exited 0; timeline negated INT_MIN) */
    snprintf(path, sizeof path, "%s/hdr/events.csv", tmpdir);
    f = fopen(path, "a");
    assert_non_null(f);
    fputs("0,compute,-1e308,1e308,0,-1,-1\n", f);
    fclose(f);
    expect("trace hdr -o big.json", 2, "hdr/events.csv:2: start_s must be");
    expect("timeline hdr -o big.png", 2, "hdr/events.csv:2: start_s must be");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plot_verb),
        cmocka_unit_test(test_plot_says_what_a_run_has),
        cmocka_unit_test(test_timeline_and_trace_verbs),
    };
    return cmocka_run_group_tests_name("figure verbs", tests, setup, teardown);
}
