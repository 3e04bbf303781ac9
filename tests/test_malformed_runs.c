/* test_malformed_runs.c -- the run-folder readers (core/records_read.c)
 * and what draws from them (trace, ticks, plot, timeline) on malformed
 * input: every case must be refused with a message or handled, and
 * nothing may read out of bounds, overflow or leak. `make check` runs
 * this binary twice: as a plain test, and built with AddressSanitizer and
 * UndefinedBehaviorSanitizer (make asan), where a memory error or
 * undefined behaviour ends it.
 *
 * The inputs: hand-written cases for each field and range, every prefix
 * of a valid run (a run that died mid-write), a valid run with each field
 * replaced by extreme values, and the fuzz target's seed corpus
 * (fuzz/corpus_records, when run from the source folder).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util_files.h"
#include "tests/util_records_input.h"

static char tmpdir[256];

static const char base_summary[] =
    "{\"algo\": \"allreduce\", \"backend\": \"sim\", \"workers\": 2, \"seconds\": 0.5,\n"
    " \"final_loss\": 0.3, \"final_accuracy\": 0.9, \"bytes_sent\": 4096, \"messages\": 4,\n"
    " \"settings\": {\"lr\": \"0.1\"}}\n";
static const char base_metrics[] =
    "time_s,epoch,step,train_loss,test_loss,test_accuracy,staleness_steps\n"
    "0,0,0,0.69,0.69,0.5,0\n0.25,1,10,0.5,0.52,0.8,1\n0.5,2,20,0.3,,0.9,\n";
static const char base_events[] =
    "rank,kind,start_s,end_s,bytes,peer,tag\n"
    "0,compute,0,0.1,0,-1,-1\n0,send,0.1,0.2,4096,1,7\n1,recv,0.1,0.2,4096,0,7\n1,wait,0,0.1,0,-1,-1\n";

static void run_case(const char *summary, const char *metrics, const char *events, int draw)
{
    size_t n = strlen(summary) + strlen(metrics) + strlen(events) + 16;
    char *in = malloc(n), why[512] = "";
    assert_non_null(in);
    int len = snprintf(in, n, "%s@@\n%s@@\n%s", summary, metrics, events);
    if (records_input_run(tmpdir, (const unsigned char *)in, (size_t)len, draw, why, sizeof why) != 0)
        fail_msg("%s\non input:\n%s", why, in);
    free(in);
}

static int setup(void **state)
{
    (void)state;
    return test_tmpdir(tmpdir, sizeof tmpdir, "malformed");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

/* The valid run draws; then one field at a time takes each extreme value. */
static void extreme_values(void **state)
{
    (void)state;
    run_case(base_summary, base_metrics, base_events, 1);
    static const char *const values[] = {
        "1e308", "-1e308", "1e999", "-1e999", "inf", "-inf", "nan", "-nan", "4.9e-324", "-0", "0x1p1023",
        "1e15", "1e16", "-1", "9223372036854775807", "18446744073709551616", "", " ", "1,", "\"", "0.5e",
    };
    static const char *const event_rows[] = {
        "0,compute,%s,0.1,0,-1,-1\n", "0,compute,0,%s,0,-1,-1\n", "0,send,0,0.1,%s,1,7\n",
        "%s,compute,0,0.1,0,-1,-1\n", "0,send,0,0.1,8,%s,7\n", "0,send,0,0.1,8,1,%s\n",
    };
    static const char *const metric_rows[] = {
        "%s,0,0,1,1,0.5,0\n", "0,%s,0,1,1,0.5,0\n", "0,0,%s,1,1,0.5,0\n", "0,0,0,%s,1,0.5,0\n",
        "0,0,0,1,1,%s,0\n", "0,0,0,1,1,0.5,%s\n",
    };
    static const char *const summary_fields[] = {"seconds", "final_loss", "final_accuracy", "workers",
                                                 "bytes_sent", "messages"};
    char buf[4096], row[256];
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        for (size_t r = 0; r < sizeof event_rows / sizeof event_rows[0]; r++) {
            snprintf(row, sizeof row, event_rows[r], values[v]);
            snprintf(buf, sizeof buf, "%s%s", base_events, row);
            run_case(base_summary, base_metrics, buf, r < 2); /* figures only where the times change */
        }
        for (size_t r = 0; r < sizeof metric_rows / sizeof metric_rows[0]; r++) {
            snprintf(row, sizeof row, metric_rows[r], values[v]);
            snprintf(buf, sizeof buf, "%s%s", base_metrics, row);
            run_case(base_summary, buf, base_events, 0);
            /* alone, as the only row: the axis gets this value's range
             * (the plot draws loss against time: columns 1 and 4) */
            snprintf(buf, sizeof buf, "time_s,epoch,step,train_loss,test_loss,test_accuracy,staleness_steps\n%s", row);
            run_case(base_summary, buf, base_events, r == 0 || r == 3);
        }
        for (size_t k = 0; k < sizeof summary_fields / sizeof summary_fields[0]; k++) {
            snprintf(buf, sizeof buf, "{\"algo\": \"ps\", \"backend\": \"sim\", \"workers\": 2, \"%s\": %s}",
                     summary_fields[k], values[v]);
            run_case(buf, base_metrics, base_events, 0);
        }
    }
}

/* A run that died while writing: every prefix of each file. */
static void truncated_files(void **state)
{
    (void)state;
    const char *parts[3] = {base_summary, base_metrics, base_events};
    char buf[1024];
    for (int p = 0; p < 3; p++)
        for (size_t n = 0; n < strlen(parts[p]); n++) {
            snprintf(buf, sizeof buf, "%.*s", (int)n, parts[p]);
            run_case(p == 0 ? buf : base_summary, p == 1 ? buf : base_metrics, p == 2 ? buf : base_events, 0);
        }
}

/* Shapes no writer makes: headers only, no header, too many columns,
 * long lines, CR LF, NUL bytes, the old six-column events header. */
static void odd_shapes(void **state)
{
    (void)state;
    const char *h_ev = "rank,kind,start_s,end_s,bytes,peer,tag\n";
    const char *h_me = "time_s,epoch,step,train_loss,test_loss,test_accuracy\n";
    run_case(base_summary, h_me, h_ev, 1);                                  /* headers only */
    run_case(base_summary, "", "", 1);
    run_case(base_summary, base_metrics, "rank,kind,start_s,end_s,bytes,peer\n0,compute,0,1,0,-1\n", 1);
    run_case(base_summary, "time_s,epoch,step,train_loss,test_loss,test_accuracy\r\n0,0,0,1,1,0.5\r\n",
             "rank,kind,start_s,end_s,bytes,peer,tag\r\n0,compute,0,1,0,-1,-1\r\n", 1);
    run_case(base_summary, base_metrics, "rank,kind,start_s,end_s,bytes,peer,tag\n0,compute,0,1,0,-1,-1,9\n", 1);
    run_case(base_summary, base_metrics, "rank,kind,start_s,end_s,bytes,peer,tag\n,,,,,,\n", 1);
    run_case("{}", base_metrics, base_events, 1);
    run_case("{\"algo\": \"a\", \"backend\": \"b\", \"workers\": 1, \"settings\": 3}", base_metrics, base_events, 1);
    run_case("nul", base_metrics, base_events, 0);
    /* 200 columns, and a 100 kB line */
    size_t big = 200000;
    char *wide = malloc(big);
    assert_non_null(wide);
    int n = snprintf(wide, big, "%s", "time_s,epoch,step,train_loss,test_loss,test_accuracy");
    for (int c = 0; c < 200; c++)
        n += snprintf(wide + n, big - (size_t)n, ",c%d", c);
    snprintf(wide + n, big - (size_t)n, "\n");
    run_case(base_summary, wide, base_events, 0);
    memset(wide, '7', 100000);
    wide[100000] = '\0';
    char *line = malloc(big);
    assert_non_null(line);
    snprintf(line, big, "%s0,compute,0,%s,0,-1,-1\n", h_ev, wide);
    run_case(base_summary, base_metrics, line, 0);
    free(line);
    free(wide);
    /* a NUL inside a field */
    static const unsigned char with_nul[] = "{\"algo\": \"a\", \"backend\": \"b\", \"workers\": 1}@@\n"
                                            "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0\0,0,1,1,1\n@@\n"
                                            "rank,kind,start_s,end_s,bytes,peer,tag\n0,comp\0ute,0,1,0,-1,-1\n";
    char why[512] = "";
    if (records_input_run(tmpdir, with_nul, sizeof with_nul - 1, 1, why, sizeof why) != 0)
        fail_msg("%s", why);
}

/* The fuzz target's seed corpus, when the test runs from the source folder. */
static void fuzz_corpus(void **state)
{
    (void)state;
    DIR *d = opendir("fuzz/corpus_records");
    if (!d)
        skip();
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[512], why[512] = "", *buf = malloc(1 << 20);
        size_t n;
        assert_non_null(buf);
        snprintf(path, sizeof path, "fuzz/corpus_records/%s", e->d_name);
        if (test_read_file(path, buf, 1 << 20, &n) != 0)
            fail_msg("cannot read %s", path);
        if (records_input_run(tmpdir, (const unsigned char *)buf, n, 1, why, sizeof why) != 0)
            fail_msg("%s: %s", path, why);
        free(buf);
        seen++;
    }
    closedir(d);
    assert_true(seen > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extreme_values),
        cmocka_unit_test(truncated_files),
        cmocka_unit_test(odd_shapes),
        cmocka_unit_test(fuzz_corpus),
    };
    return cmocka_run_group_tests_name("malformed run folders", tests, setup, teardown);
}
