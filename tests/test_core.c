/* test_core.c -- the backend-neutral runtime and launcher: error messages
 * that quote earlier ones, result slots aligned whatever their size, and
 * calls refused at once rather than left waiting, on both backends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/job.h"
#include "core/units.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

typedef struct note {
    int rc;
    char msg[512];
} note;

/* rt_fail quoting rt_error: the quoted message survives whole, and the
 * rank is named once. */
static int quoting_rank(rt *r, void *arg)
{
    (void)arg;
    note *n = job_slot(r);
    int v = 0;
    int rc = rt_send(r, 99, 0, &v, sizeof v);
    rc = rt_fail(r, rc, "outer step %d: %s", 7, rt_error(r));
    n->rc = rc;
    snprintf(n->msg, sizeof n->msg, "%s", rt_error(r));
    return RT_OK;
}

static void failure_messages_nest(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    cfg.result_bytes = sizeof(note);
    job_result res;
    assert_int_equal(job_run(&cfg, quoting_rank, NULL, &res), 0);
    const note *n = job_result_slot(&res, 1);
    assert_int_equal(n->rc, RT_EINVAL);
    assert_string_equal(n->msg, "rank 1: outer step 7: send: rank 99 out of range 0..1");
    job_result_free(&res);
}

/* A send that cannot be posted gives up the receive rt_sendrecv had
 * already posted: an error at once, not a wait for a message. */
static int sendrecv_rank(rt *r, void *arg)
{
    (void)arg;
    note *n = job_slot(r);
    int v = 0;
    double t0 = rt_now(r);
    n->rc = rt_sendrecv(r, 42, 0, &v, sizeof v, 1 - rt_rank(r), 0, &v, sizeof v, NULL);
    snprintf(n->msg, sizeof n->msg, "%g", rt_now(r) - t0);
    return RT_OK;
}

static void sendrecv_refuses_at_once(void **state)
{
    (void)state;
    for (int b = 0; b < 2; b++) {
        job_config cfg = job_config_default();
        cfg.backend = b ? &real_backend : &sim_backend;
        cfg.timeout_s = 30;
        cfg.result_bytes = sizeof(note);
        job_result res;
        if (job_run(&cfg, sendrecv_rank, NULL, &res) != 0)
            fail_msg("%s", res.error);
        for (int i = 0; i < 2; i++) {
            const note *n = job_result_slot(&res, i);
            assert_int_equal(n->rc, RT_EINVAL);
            double waited;
            assert_int_equal(sscanf(n->msg, "%lf", &waited), 1);
            assert_true(waited < 1.0);
        }
        job_result_free(&res);
    }
}

/* Slots of any size start 64-byte aligned, so they can hold doubles. */
static int slot_rank(rt *r, void *arg)
{
    (void)arg;
    double *d = job_slot(r);
    *d = 1.5 * rt_rank(r);
    return ((uintptr_t)d % 64) ? RT_EINVAL : RT_OK;
}

static void slots_are_aligned(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    cfg.ranks = 5;
    cfg.result_bytes = 13; /* odd on purpose */
    job_result res;
    if (job_run(&cfg, slot_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    for (int i = 0; i < 5; i++) {
        const double *d = job_result_slot(&res, i);
        assert_true((uintptr_t)d % 64 == 0);
        assert_true(*d == 1.5 * i);
    }
    job_result_free(&res);
}

static int never_runs(rt *r, void *arg)
{
    (void)r;
    (void)arg;
    return RT_EINVAL;
}

/* A job without a backend, or with settings made for another backend, is
 * refused with a message, before any rank runs. */
static void backend_and_settings_must_match(void **state)
{
    (void)state;
    job_config cfg = job_config_default();
    job_result res;
    assert_int_not_equal(job_run(&cfg, never_runs, NULL, &res), 0);
    assert_non_null(strstr(res.error, "no backend"));
    job_result_free(&res);
    sim_config sim = sim_config_default();
    cfg = real_job_config(NULL);
    cfg.settings = &sim;
    assert_int_not_equal(job_run(&cfg, never_runs, NULL, &res), 0);
    assert_string_equal(res.error, "the job's settings are for the sim backend, not real");
    job_result_free(&res);
}

static void units_parse_and_refuse(void **state)
{
    (void)state;
    char err[256];
    double v;
    assert_int_equal(units_size("4KiB", &v, err, sizeof err), 0);
    assert_true(v == 4096);
    assert_int_equal(units_size("1MB", &v, err, sizeof err), 0);
    assert_true(v == 1e6);
    assert_int_equal(units_size("1e30", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));
    assert_int_equal(units_size("1.5", &v, err, sizeof err), -1);
    assert_int_equal(units_rate("10Gbps", &v, err, sizeof err), 0);
    assert_true(v == 1.25e9);
    assert_int_equal(units_rate("10Gbs", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "10Gbps"));
    assert_int_equal(units_time("50us", &v, err, sizeof err), 0);
    assert_true(fabs(v - 50e-6) < 1e-18);
    assert_int_equal(units_speed("0f", &v, err, sizeof err), -1);
    /* ranges, after the unit: the ends are in, past them is refused */
    assert_int_equal(units_rate("1bps", &v, err, sizeof err), 0);
    assert_int_equal(units_rate("1e15Bps", &v, err, sizeof err), 0);
    assert_int_equal(units_rate("1.1e15Bps", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "1bps to 1e15Bps"));
    assert_int_equal(units_rate("0.5bps", &v, err, sizeof err), -1);
    assert_int_equal(units_rate("1e300TBps", &v, err, sizeof err), -1);
    assert_int_equal(units_time("1e9s", &v, err, sizeof err), 0);
    assert_int_equal(units_time("1e308h", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "'1e308h' is inf s"));
    assert_int_equal(units_speed("1e30f", &v, err, sizeof err), 0);
    assert_int_equal(units_speed("1e300Pf", &v, err, sizeof err), -1);
    assert_int_equal(units_speed("0.5f", &v, err, sizeof err), -1);
    assert_int_equal(units_size("1e300TiB", &v, err, sizeof err), -1);
    long n;
    assert_int_equal(units_int("12x", 0, 100, &n, err, sizeof err), -1);
    assert_int_equal(units_int("100", 0, 100, &n, err, sizeof err), 0);
    /* decimal numbers only, everywhere: what strtod also reads is refused */
    static const char *const not_decimal[] = {"0x10us", "0x1p-3", " 1us", "++1us", "infs", "nans", "e5s",
                                              ".s", "1..5s", "-0x1s"};
    for (size_t i = 0; i < sizeof not_decimal / sizeof *not_decimal; i++)
        if (units_time(not_decimal[i], &v, err, sizeof err) != -1)
            fail_msg("units_time took '%s' as %g s", not_decimal[i], v);
    static const char *const decimal[] = {"1", "1.", ".5", "1e-3", "1E+3", "2.5e1", "-0", "+1"};
    static const double value[] = {1, 1, 0.5, 1e-3, 1e3, 25, 0, 1};
    for (size_t i = 0; i < sizeof decimal / sizeof *decimal; i++) {
        if (units_double(decimal[i], &v, err, sizeof err) != 0 || v != value[i])
            fail_msg("units_double('%s'): %s", decimal[i], err);
    }
    const char *end;
    assert_int_equal(units_decimal("5e", &v, &end), 0); /* "e" then is what follows, not an exponent */
    assert_true(v == 5 && strcmp(end, "e") == 0);
    assert_int_equal(units_double("0x1p-3", &v, err, sizeof err), -1);
    assert_int_equal(units_double("inf", &v, err, sizeof err), -1);
    assert_int_equal(units_double("1e309", &v, err, sizeof err), -1);
    /* an underflow is a number: a subnormal that a record holds reads back */
    assert_int_equal(units_double("6.790386531e-313", &v, err, sizeof err), 0);
    assert_true(v > 0 && v < 1e-300);
    assert_int_equal(units_double("1e-400", &v, err, sizeof err), 0);
    assert_true(v == 0);
    assert_int_equal(units_int(" 5", 0, 100, &n, err, sizeof err), -1);
    assert_int_equal(units_int("-5", -10, 100, &n, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_messages_nest),
        cmocka_unit_test(sendrecv_refuses_at_once),
        cmocka_unit_test(slots_are_aligned),
        cmocka_unit_test(backend_and_settings_must_match),
        cmocka_unit_test(units_parse_and_refuse),
    };
    return cmocka_run_group_tests_name("core runtime and launcher", tests, NULL, NULL);
}
