/* test_records.c -- run records: what a run writes comes back when read,
 * broken run folders are refused with the file, the line and the fault,
 * the Chrome trace parses and holds every interval, and the progress line
 * shows only when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/progress.h"
#include "core/records.h"
#include "plots/figures.h"
#include "sim/sim_backend.h"
#include "tests/util_files.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir(tmpdir, sizeof tmpdir, "records");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

static void path_in(char *buf, size_t len, const char *run, const char *file)
{
    snprintf(buf, len, "%s/%s%s%s", tmpdir, run, file ? "/" : "", file ? file : "");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const rt_event sample_events[] = {
    {0, RT_EV_COMPUTE, 0.0, 0.010, 0, -1, 0},
    {0, RT_EV_SEND, 0.010, 0.012, 4096, 1, 7},
    {0, RT_EV_SEND, 0.0105, 0.013, 4096, 2, 7},  /* overlaps the first send */
    {0, RT_EV_WAIT, 0.012, 0.015, 0, -1, 0},
    {1, RT_EV_COMPUTE, 0.0, 0.011, 0, -1, 0},
    {1, RT_EV_RECV, 0.011, 0.0125, 4096, 0, 7},
    {2, RT_EV_RECV, 0.005, 0.0131, 4096, 0, 7},
};
#define NSAMPLE (sizeof sample_events / sizeof sample_events[0])

/* A complete run folder: 5 metric rows (one partial), events, summary. */
static void make_run(const char *name, const char *lr)
{
    char dir[300], err[512];
    path_in(dir, sizeof dir, name, NULL);
    records *rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    const char *extra[] = {"staleness_steps"};
    assert_int_equal(records_metric_columns(rec, 1, extra, err, sizeof err), 0);
    assert_int_equal(records_set_str(rec, "algo", "allreduce"), 0);
    assert_int_equal(records_set_str(rec, "backend", "sim"), 0);
    assert_int_equal(records_set_int(rec, "workers", 8), 0);
    assert_int_equal(records_set_setting(rec, "lr", lr), 0);
    assert_int_equal(records_set_setting(rec, "bandwidth", "10Gbps"), 0);
    assert_int_equal(records_set_num(rec, "seconds", 12.5), 0);
    assert_int_equal(records_set_str(rec, "note", "free extra field"), 0);
    for (int i = 0; i < 5; i++) {
        records_metric m = records_metric_empty();
        m.time_s = 0.5 * i;
        m.epoch = i;
        m.step = 100 * i;
        m.train_loss = 2.0 / (i + 1);
        if (i % 2 == 0) {
            m.test_loss = 2.1 / (i + 1);
            m.test_accuracy = 0.5 + 0.1 * i;
        }
        double stale = i;
        assert_int_equal(records_add_metric(rec, &m, &stale, err, sizeof err), 0);
    }
    assert_int_equal(records_write_events(rec, sample_events, NSAMPLE, err, sizeof err), 0);
    assert_int_equal(records_close(rec, err, sizeof err), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    char dir[300], err[512], buf[64];
    make_run("rt", "0.1");
    path_in(dir, sizeof dir, "rt", NULL);
    records_run run;
    assert_int_equal(records_load(dir, RECORDS_LOAD_ALL, &run, err, sizeof err), 0);
    assert_string_equal(run.algo, "allreduce");
    assert_string_equal(run.backend, "sim");
    assert_int_equal(run.workers, 8);
    assert_float_equal(run.seconds, 12.5, 1e-12);
    /* final_* default to the last measured values */
    assert_float_equal(run.final_loss, 2.0 / 5, 1e-9);
    assert_float_equal(run.final_accuracy, 0.9, 1e-9);
    assert_string_equal(records_run_field(&run, "lr", buf, sizeof buf), "0.1");
    assert_string_equal(records_run_field(&run, "note", buf, sizeof buf), "free extra field");
    assert_string_equal(records_run_field(&run, "workers", buf, sizeof buf), "8");
    assert_null(records_run_field(&run, "nope", buf, sizeof buf));

    assert_int_equal(run.ncols, 7);
    assert_int_equal(run.nrows, 5);
    const double *step = records_run_column(&run, "step"), *tl = records_run_column(&run, "test_loss");
    const double *stale = records_run_column(&run, "staleness_steps");
    assert_non_null(step);
    assert_non_null(stale);
    assert_null(records_run_column(&run, "nope"));
    for (int i = 0; i < 5; i++) {
        assert_float_equal(step[i], 100 * i, 0);
        assert_float_equal(records_run_column(&run, "train_loss")[i], 2.0 / (i + 1), 1e-9);
        assert_float_equal(stale[i], i, 0);
        if (i % 2)
            assert_true(isnan(tl[i]));
        else
            assert_float_equal(tl[i], 2.1 / (i + 1), 1e-9);
    }
    assert_int_equal(run.nevents, NSAMPLE);
    for (size_t i = 0; i < NSAMPLE; i++) {
        assert_int_equal(run.events[i].rank, sample_events[i].rank);
        assert_int_equal(run.events[i].kind, sample_events[i].kind);
        assert_float_equal(run.events[i].start_s, sample_events[i].start_s, 1e-12);
        assert_float_equal(run.events[i].end_s, sample_events[i].end_s, 1e-12);
        assert_int_equal(run.events[i].bytes, sample_events[i].bytes);
        assert_int_equal(run.events[i].peer, sample_events[i].peer);
    }
    char label[128];
    records_run_label(&run, label, sizeof label);
    assert_string_equal(label, "allreduce, 8 workers (sim)");
    records_run_free(&run);
}

static void test_csv_files_as_written(void **state)
{
    (void)state;
    char path[300], line[256];
    make_run("csv", "0.1");
    path_in(path, sizeof path, "csv", "metrics.csv");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "time_s,epoch,step,train_loss,test_loss,test_accuracy,staleness_steps\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "0.5,1,100,1,,,1\n"); /* not measured: empty */
    fclose(f);
    path_in(path, sizeof path, "csv", "events.csv");
    assert_non_null(f = fopen(path, "r"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "rank,kind,start_s,end_s,bytes,peer,tag\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "0,compute,0,0.01,0,-1,0\n");
    fclose(f);
}

static void test_add_job(void **state)
{
    (void)state;
    char dir[300], err[512];
    path_in(dir, sizeof dir, "job", NULL);
    records *rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    job_config cfg = job_config_default();
    cfg.backend = &sim_backend;
    job_result res;
    memset(&res, 0, sizeof res);
    res.seconds = 0.25;
    res.bytes_sent = 1u << 20;
    res.messages = 14;
    res.ranks = 3;
    res.events = (rt_event *)sample_events;
    res.nevents = NSAMPLE;
    snprintf(res.net_model, sizeof res.net_model, "ideal (CM02)");
    assert_int_equal(records_add_job(rec, &cfg, &res, err, sizeof err), 0);
    records_set_str(rec, "algo", "ps");
    records_set_int(rec, "workers", 2);
    assert_int_equal(records_close(rec, err, sizeof err), 0);

    records_run run;
    char buf[64];
    assert_int_equal(records_load(dir, RECORDS_LOAD_ALL, &run, err, sizeof err), 0);
    assert_string_equal(run.backend, "sim");
    assert_float_equal(run.seconds, 0.25, 1e-12);
    assert_int_equal(run.bytes_sent, 1u << 20);
    assert_int_equal(run.messages, 14);
    assert_int_equal(run.nevents, NSAMPLE);
    assert_int_equal(run.nrows, 0); /* no metrics: the header alone */
    assert_true(isnan(run.final_loss));
    assert_string_equal(records_run_field(&run, "net_model", buf, sizeof buf), "ideal (CM02)");
    assert_null(records_run_field(&run, "cpu_seconds", buf, sizeof buf)); /* none measured */
    records_run_free(&run);

    /* a real run's CPU time goes with it */
    rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    res.cpu_seconds = 0.375;
    assert_int_equal(records_add_job(rec, &cfg, &res, err, sizeof err), 0);
    records_set_str(rec, "algo", "ps");
    records_set_int(rec, "workers", 2);
    assert_int_equal(records_close(rec, err, sizeof err), 0);
    assert_int_equal(records_load(dir, RECORDS_LOAD_ALL, &run, err, sizeof err), 0);
    assert_string_equal(records_run_field(&run, "cpu_seconds", buf, sizeof buf), "0.375");
    records_run_free(&run);

    /* a new run in the same folder drops the old one's events */
    rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    records_close(rec, NULL, 0);
    assert_int_equal(records_load(dir, RECORDS_LOAD_EVENTS, &run, err, sizeof err), -1);
    records_run_free(&run);
}

/* The label (a timeline's title, a legend) names the variant the way a
 * compare spec does, so a timeline says which consistency it shows. */
static void test_label_names_the_variant(void **state)
{
    (void)state;
    static const struct {
        const char *algo, *field, *value;
        int workers, bound;
        const char *label;
    } cases[] = {
        {"ps", "consistency", "ssp", 16, 4, "ps:ssp:4, 16 workers (sim)"},
        {"ps", "consistency", "async", 16, 0, "ps:async, 16 workers (sim)"},
        {"allreduce", "allreduce", "tree", 8, 0, "allreduce:tree, 8 workers (sim)"},
        {"psgd", "average_every", "16", 1, 0, "psgd:16, 1 worker (sim)"},
        {"distbelief", "mode", "downpour", 4, 0, "distbelief:downpour, 4 workers (sim)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[512], err[512], label[128];
        path_in(dir, sizeof dir, "label", NULL);
        records *rec = records_open(dir, err, sizeof err);
        assert_non_null(rec);
        records_set_str(rec, "algo", cases[i].algo);
        records_set_str(rec, "backend", "sim");
        records_set_int(rec, "workers", cases[i].workers);
        records_set_str(rec, cases[i].field, cases[i].value);
        if (cases[i].bound)
            records_set_int(rec, "staleness_bound", cases[i].bound);
        assert_int_equal(records_close(rec, err, sizeof err), 0);
        records_run run;
        assert_int_equal(records_load(dir, RECORDS_LOAD_SUMMARY, &run, err, sizeof err), 0);
        records_run_label(&run, label, sizeof label);
        records_run_free(&run);
        assert_string_equal(label, cases[i].label);
    }
}

static void test_writer_misuse(void **state)
{
    (void)state;
    char dir[300], err[512] = "";
    path_in(dir, sizeof dir, "misuse/deeper/run", NULL); /* parents created */
    records *rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    records_metric m = records_metric_empty();
    m.time_s = 1;
    assert_int_equal(records_add_metric(rec, &m, NULL, err, sizeof err), 0);
    const char *extra[] = {"late_column"};
    assert_int_equal(records_metric_columns(rec, 1, extra, err, sizeof err), -1);
    assert_non_null(strstr(err, "before the first row"));
    /* algo, backend and workers are required */
    assert_int_equal(records_close(rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "'algo' was never set"));

    char file[300];
    path_in(file, sizeof file, "plainfile", NULL);
    write_file(file, "x");
    assert_null(records_open(file, err, sizeof err));
    assert_non_null(strstr(err, "not a folder"));
}

/* Load dir expecting failure; the message must hold every needle. */
static void expect_load_error(const char *run, unsigned what, const char *needle1, const char *needle2)
{
    char dir[300], err[512] = "";
    path_in(dir, sizeof dir, run, NULL);
    records_run r;
    assert_int_equal(records_load(dir, what, &r, err, sizeof err), -1);
    records_run_free(&r);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error '%s' lacks '%s'%s%s", err, needle1, needle2 ? " or " : "", needle2 ? needle2 : "");
}

static void test_missing_run_folder(void **state)
{
    (void)state;
    char path[300];
    expect_load_error("does-not-exist", RECORDS_LOAD_ALL, "does-not-exist", "no such run folder");
    path_in(path, sizeof path, "empty", NULL);
    mkdir(path, 0777);
    expect_load_error("empty", RECORDS_LOAD_ALL, "empty/summary.json", "no such file");
    make_run("noevents", "0.1");
    path_in(path, sizeof path, "noevents", "events.csv");
    unlink(path);
    expect_load_error("noevents", RECORDS_LOAD_EVENTS, "noevents/events.csv", "no such file");
}

static void test_malformed_files(void **state)
{
    (void)state;
    char path[300];
    make_run("bad", "0.1");

    path_in(path, sizeof path, "bad", "summary.json");
    write_file(path, "{\n  \"algo\": \"ps\",\n  \"workers\": 4,\n  oops\n}\n");
    expect_load_error("bad", RECORDS_LOAD_SUMMARY, "summary.json:4", "malformed JSON");
    write_file(path, "{\"algo\": \"ps\", \"backend\": \"sim\", \"workers\": \"four\"}");
    expect_load_error("bad", RECORDS_LOAD_SUMMARY, "\"workers\" must be a whole number", NULL);
    write_file(path, "{\"backend\": \"sim\", \"workers\": 4}");
    expect_load_error("bad", RECORDS_LOAD_SUMMARY, "\"algo\" must be a string", NULL);
    write_file(path, "[1, 2]");
    expect_load_error("bad", RECORDS_LOAD_SUMMARY, "expected a JSON object", NULL);

    path_in(path, sizeof path, "bad", "metrics.csv");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0,1,,\n0.5,abc,1,1,,\n");
    expect_load_error("bad", RECORDS_LOAD_METRICS, "metrics.csv:3:", "field 2 (epoch) is 'abc', not a number");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0,1,,\n0.5,1,1\n");
    expect_load_error("bad", RECORDS_LOAD_METRICS, "metrics.csv:3:", "3 fields; the header has 6");
    write_file(path, "time,epoch,step,train_loss,test_loss,test_accuracy\n");
    expect_load_error("bad", RECORDS_LOAD_METRICS, "metrics.csv:1:", "column 1 is 'time'; expected 'time_s'");
    write_file(path, "");
    expect_load_error("bad", RECORDS_LOAD_METRICS, "metrics.csv:1:", "empty file");

    path_in(path, sizeof path, "bad", "events.csv");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer\n0,compute,0,1,0,-1\n0,dance,1,2,0,-1\n");
    expect_load_error("bad", RECORDS_LOAD_EVENTS, "events.csv:3:", "kind must be");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer\n0,send,2,1,8,1\n");
    expect_load_error("bad", RECORDS_LOAD_EVENTS, "events.csv:2:", "end_s is before start_s");
    write_file(path, "rank,kind,start,end\n");
    expect_load_error("bad", RECORDS_LOAD_EVENTS, "events.csv:1:", "expected the header");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n2147483647,compute,0,1,0,-1,0\n");
    expect_load_error("bad", RECORDS_LOAD_EVENTS, "events.csv:2:", "rank must be");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,recv,0,1,8,1\n");
    expect_load_error("bad", RECORDS_LOAD_EVENTS, "events.csv:2:", "6 fields; expected 7");
}

/* Finite-looking values no run writes: they used to load, then became
 * inf in a trace (invalid JSON) or undefined behaviour in a figure. */
static void test_absurd_values(void **state)
{
    (void)state;
    char path[300];
    make_run("absurd", "0.1");
    path_in(path, sizeof path, "absurd", "events.csv");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,compute,0,1,0,-1,-1\n0,compute,-1e308,1e308,0,-1,-1\n");
    expect_load_error("absurd", RECORDS_LOAD_EVENTS, "events.csv:3:", "start_s must be a number of seconds from -1e15 to 1e15");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,compute,0,inf,0,-1,-1\n");
    expect_load_error("absurd", RECORDS_LOAD_EVENTS, "events.csv:2:", "end_s must be");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,compute,0,1e999,0,-1,-1\n");
    expect_load_error("absurd", RECORDS_LOAD_EVENTS, "events.csv:2:", "end_s must be");

    path_in(path, sizeof path, "absurd", "metrics.csv");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0,inf,,\n");
    expect_load_error("absurd", RECORDS_LOAD_METRICS, "metrics.csv:2:", "field 4 (train_loss) is 'inf', not a finite number");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0,1,,\n1e300,1,1,1,,\n");
    expect_load_error("absurd", RECORDS_LOAD_METRICS, "metrics.csv:3:", "field 1 (time_s) is '1e300', not a time from 0 to 1e15 s");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0.5,1,,\n");
    expect_load_error("absurd", RECORDS_LOAD_METRICS, "metrics.csv:2:", "(step) is '0.5', not a step");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy\n0,0,0,1,,1.5\n");
    expect_load_error("absurd", RECORDS_LOAD_METRICS, "metrics.csv:2:", "not an accuracy from 0 to 1");
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy,staleness_steps\n0,0,0,1,,,nan\n");
    expect_load_error("absurd", RECORDS_LOAD_METRICS, "metrics.csv:2:", "(staleness_steps) is 'nan', not a finite number");
    /* a subnormal, as %g writes one, is a finite number (strtod's ERANGE
     * for an underflow refused it) */
    write_file(path, "time_s,epoch,step,train_loss,test_loss,test_accuracy,staleness_steps\n0,0,0,1,,,6.790386531e-313\n");
    {
        char dir[300], err[512];
        records_run run;
        path_in(dir, sizeof dir, "absurd", NULL);
        if (records_load(dir, RECORDS_LOAD_METRICS, &run, err, sizeof err) != 0)
            fail_msg("a subnormal metric was refused: %s", err);
        records_run_free(&run);
    }

    path_in(path, sizeof path, "absurd", "summary.json");
    write_file(path, "{\"algo\": \"ps\", \"backend\": \"sim\", \"workers\": 4, \"seconds\": 1e308}");
    expect_load_error("absurd", RECORDS_LOAD_SUMMARY, "\"seconds\" is 1e+308; expected seconds from 0 to 1e15", NULL);
    write_file(path, "{\"algo\": \"ps\", \"backend\": \"sim\", \"workers\": 4, \"final_accuracy\": -2}");
    expect_load_error("absurd", RECORDS_LOAD_SUMMARY, "\"final_accuracy\" is -2", NULL);
    write_file(path, "{\"algo\": \"ps\", \"backend\": \"sim\", \"workers\": 9000000000}");
    expect_load_error("absurd", RECORDS_LOAD_SUMMARY, "\"workers\" must be a whole number from 1 to", NULL);
}

/* A trace of no events is a valid, empty trace (it called qsort on NULL);
 * one with times past a double's microseconds is refused, not written. */
static void test_trace_edges(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "empty-trace.json", NULL);
    assert_int_equal(records_write_trace(path, NULL, 0, err, sizeof err), 0);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("empty trace does not parse: line %d: %s", je.line, je.text);
    assert_int_equal(json_array_size(json_object_get(doc, "traceEvents")), 0);
    json_decref(doc);
    rt_event huge[] = {{0, RT_EV_COMPUTE, 0, 1, 0, -1, 0}, {0, RT_EV_COMPUTE, -1e308, 1e308, 0, -1, 0}};
    assert_int_equal(records_write_trace(path, huge, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "event 1 (rank 0)"));
}

/* The trace parses, has one X event per interval with the right fields,
 * and X events on one (pid, tid) never overlap (Perfetto needs nesting). */
static void test_trace_json(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "trace.json", NULL);
    assert_int_equal(records_write_trace(path, sample_events, NSAMPLE, err, sizeof err), 0);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("trace does not parse: line %d: %s", je.line, je.text);
    json_t *evs = json_object_get(doc, "traceEvents");
    assert_true(json_is_array(evs));
    size_t nx = 0, i;
    json_t *e;
    struct { long pid, tid; double ts, end; } seen[NSAMPLE];
    json_array_foreach(evs, i, e) {
        const char *ph = json_string_value(json_object_get(e, "ph"));
        assert_non_null(ph);
        if (strcmp(ph, "X") != 0)
            continue;
        assert_true(nx < NSAMPLE);
        const char *name = json_string_value(json_object_get(e, "name"));
        long pid = (long)json_integer_value(json_object_get(e, "pid"));
        double ts = json_number_value(json_object_get(e, "ts")), dur = json_number_value(json_object_get(e, "dur"));
        json_t *args = json_object_get(e, "args");
        /* find the interval it came from */
        int found = 0;
        for (size_t k = 0; k < NSAMPLE && !found; k++) {
            const rt_event *s = &sample_events[k];
            found = s->rank == pid && strcmp(rt_event_kind_name(s->kind), name) == 0 &&
                    fabs(s->start_s * 1e6 - ts) < 1e-3 && fabs((s->end_s - s->start_s) * 1e6 - dur) < 1e-3 &&
                    (uint64_t)json_integer_value(json_object_get(args, "bytes")) == s->bytes &&
                    json_integer_value(json_object_get(args, "peer")) == s->peer;
        }
        if (!found)
            fail_msg("trace event %zu (%s on pid %ld at %g us) matches no recorded interval", i, name, pid, ts);
        seen[nx].pid = pid;
        seen[nx].tid = (long)json_integer_value(json_object_get(e, "tid"));
        seen[nx].ts = ts;
        seen[nx].end = ts + dur;
        nx++;
    }
    assert_int_equal(nx, NSAMPLE);
    for (size_t a = 0; a < nx; a++)
        for (size_t b = a + 1; b < nx; b++)
            if (seen[a].pid == seen[b].pid && seen[a].tid == seen[b].tid)
                assert_true(seen[a].end <= seen[b].ts + 1e-9 || seen[b].end <= seen[a].ts + 1e-9);
    json_decref(doc);

    char dir[300];
    path_in(dir, sizeof dir, "no-such-dir/trace.json", NULL);
    assert_int_equal(records_write_trace(dir, sample_events, NSAMPLE, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot write"));
}

/* Spans (rt_span) round-trip with their names: events.csv rows of kind
 * span, summary.json's span_names, the trace naming each on lanes of its
 * own; names that JSON or figure text would need escaped are refused, and
 * a span naming past the table is a broken file. */
static void test_span_names(void **state)
{
    (void)state;
    char dir[300], path[300], err[512];
    path_in(dir, sizeof dir, "spans", NULL);
    records *rec = records_open(dir, err, sizeof err);
    assert_non_null(rec);
    const char *bad[] = {"ok", "quo\"te"}, *none[] = {""}, *names[] = {"object transfer", "Server.apply"};
    assert_int_equal(records_set_span_names(rec, 2, bad), -1);
    assert_int_equal(records_set_span_names(rec, 1, none), -1);
    assert_int_equal(records_set_span_names(rec, 2, names), 0);
    assert_int_equal(records_set_str(rec, "algo", "ray-ps"), 0);
    assert_int_equal(records_set_str(rec, "backend", "sim"), 0);
    assert_int_equal(records_set_int(rec, "workers", 1), 0);
    assert_int_equal(records_set_str(rec, "mode", "sync"), 0);
    const rt_event ev[] = {{0, RT_EV_SPAN, 0.0, 0.004, 0, -1, 1},
                           {0, RT_EV_SPAN, 0.001, 0.002, 0, -1, 1}, /* inside the first */
                           {1, RT_EV_SPAN, 0.0, 0.003, 512, 0, 0},
                           {1, RT_EV_COMPUTE, 0.0, 0.003, 0, -1, 0}};
    assert_int_equal(records_write_events(rec, ev, 4, err, sizeof err), 0);
    assert_int_equal(records_close(rec, err, sizeof err), 0);

    records_run run;
    if (records_load(dir, RECORDS_LOAD_ALL, &run, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(run.nspan_names, 2);
    assert_string_equal(run.span_names[1], "Server.apply");
    assert_int_equal(run.nevents, 4);
    char label[160];
    records_run_label(&run, label, sizeof label);
    assert_string_equal(label, "ray-ps:sync, 1 worker (sim)");
    path_in(path, sizeof path, "spans", "trace.json");
    assert_int_equal(records_write_trace_named(path, run.events, run.nevents, run.span_names,
                                               run.nspan_names, err, sizeof err), 0);
    records_run_free(&run);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je), *e;
    if (!doc)
        fail_msg("trace does not parse: line %d: %s", je.line, je.text);
    size_t i;
    int apply = 0, transfer = 0;
    long tid_outer = -1, tid_inner = -1;
    json_array_foreach(json_object_get(doc, "traceEvents"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (strcmp(json_string_value(json_object_get(e, "ph")), "X") || !name)
            continue;
        if (!strcmp(name, "Server.apply")) {
            long tid = (long)json_integer_value(json_object_get(e, "tid"));
            *(apply++ ? &tid_inner : &tid_outer) = tid;
        }
        transfer += !strcmp(name, "object transfer") &&
                    json_integer_value(json_object_get(json_object_get(e, "args"), "bytes")) == 512;
    }
    json_decref(doc);
    assert_int_equal(apply, 2);
    assert_int_equal(transfer, 1);
    assert_true(tid_outer != tid_inner); /* nested: a lane of its own */

    /* a name index past the table; a summary with a name no figure can print */
    path_in(path, sizeof path, "spans", "events.csv");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,span,0,1,0,-1,2\n");
    expect_load_error("spans", RECORDS_LOAD_ALL, "events.csv:2:", "span name 2, but summary.json's span_names has 2");
    write_file(path, "rank,kind,start_s,end_s,bytes,peer,tag\n0,span,0,1,0,-1,-1\n");
    expect_load_error("spans", RECORDS_LOAD_EVENTS, "events.csv:2:", "a span's tag (its name)");
    path_in(path, sizeof path, "spans", "summary.json");
    write_file(path, "{\"algo\": \"x\", \"backend\": \"sim\", \"workers\": 1, \"span_names\": [\"a<b\"]}");
    expect_load_error("spans", RECORDS_LOAD_SUMMARY, "span_names[0]", "printable");
}

static void test_default_figures(void **state)
{
    (void)state;
    char dir[300], path[300], err[512];
    make_run("figs", "0.1");
    path_in(dir, sizeof dir, "figs", NULL);
    assert_int_equal(figures_default(dir, err, sizeof err), 0);
    struct stat st;
    path_in(path, sizeof path, "figs", "loss.png");
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    path_in(path, sizeof path, "figs", "timeline.png");
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    path_in(dir, sizeof dir, "not-a-run", NULL);
    assert_int_equal(figures_default(dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such run folder"));
}

static void test_progress(void **state)
{
    (void)state;
    char buf[512];
    FILE *f = tmpfile();
    assert_non_null(f);
    /* not a terminal: nothing, however long the run */
    progress *p = progress_open(f, "simulated", 0);
    progress_update(p, 1, 10, 0.5, 1.0);
    progress_close(p);
    assert_int_equal(ftell(f), 0);
    /* quiet wins even over always */
    p = progress_open(f, "simulated", PROGRESS_QUIET | PROGRESS_ALWAYS);
    progress_update(p, 1, 10, 0.5, 1.0);
    progress_close(p);
    assert_int_equal(ftell(f), 0);
    p = progress_open(f, "simulated", PROGRESS_ALWAYS);
    progress_update(p, 3, 10, 0.4123, 12.345);
    progress_close(p);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "epoch 3/10"));
    assert_non_null(strstr(buf, "loss 0.4123"));
    assert_non_null(strstr(buf, "12.35 s simulated"));
    assert_non_null(strstr(buf, "\r\033[K")); /* erased at close */
    fclose(f);
}

/* On a terminal: quiet for the first PROGRESS_DELAY_S, then the line,
 * erased at close. */
static void test_progress_on_terminal(void **state)
{
    (void)state;
    int master, slave;
    char buf[512];
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        skip();
    fcntl(master, F_SETFL, O_NONBLOCK);
    FILE *f = fdopen(slave, "w");
    assert_non_null(f);
    progress *p = progress_open(f, "wall", 0);
    progress_update(p, 1, 5, 0.9, 0.1);
    fflush(f);
    assert_true(read(master, buf, sizeof buf) <= 0); /* too early: nothing */
    struct timespec ts = {(time_t)PROGRESS_DELAY_S, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    progress_update(p, 2, 5, 0.7, 2.2);
    progress_close(p);
    /* everything the line wrote: one read may return only its start, so
     * read until the pty has nothing more for a second */
    size_t n = 0;
    struct pollfd pf = {.fd = master, .events = POLLIN};
    while (n < sizeof buf - 1 && poll(&pf, 1, 1000) > 0) {
        ssize_t k = read(master, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "epoch 2/5"));
    assert_non_null(strstr(buf, "2.20 s wall"));
    assert_non_null(strstr(buf, "\r\033[K"));
    fclose(f);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_csv_files_as_written),
        cmocka_unit_test(test_add_job),
        cmocka_unit_test(test_label_names_the_variant),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_missing_run_folder),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_trace_json),
        cmocka_unit_test(test_absurd_values),
        cmocka_unit_test(test_trace_edges),
        cmocka_unit_test(test_span_names),
        cmocka_unit_test(test_default_figures),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_progress_on_terminal),
    };
    return cmocka_run_group_tests_name("records", tests, setup, teardown);
}
