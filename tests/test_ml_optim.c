/* test_ml_optim.c -- optimizer steps equal their update rules written out
 * by hand (SGD, momentum, Adagrad), on sub-ranges and from sparse pairs
 * with a shard's base offset; learning-rate schedules give the values of
 * their formulas (step decay, inverse time, Goyal et al.'s warmup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ml/optim.h"

#define ERRLEN 256

static void t_sgd(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_optim o;
    float w[4] = {1, 2, 3, 4}, g[4] = {0.5f, -1, 2, 0};
    assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, 4, 0, 0, err, sizeof err), 0);
    assert_null(o.state);
    assert_true(ml_optim_step(&o, w, g, 0, 4, 0.1f) == 8);
    assert_true(w[0] == 1 - 0.1f * 0.5f && w[1] == 2 + 0.1f && w[2] == 3 - 0.1f * 2 && w[3] == 4);
    ml_optim_free(&o);

    /* momentum: v1 = g, v2 = mu g + g */
    float m[2] = {0, 0}, gm[2] = {1, -2};
    assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, 2, 0, 0.9f, err, sizeof err), 0);
    assert_true(ml_optim_step(&o, m, gm, 0, 2, 0.5f) == 8);
    ml_optim_step(&o, m, gm, 0, 2, 0.5f);
    assert_true(fabsf(m[0] - (-0.5f * 1 - 0.5f * 1.9f)) < 1e-6f);
    assert_true(fabsf(m[1] - (0.5f * 2 + 0.5f * 3.8f)) < 1e-6f);
    ml_optim_free(&o);

    assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, 2, 0, 1.0f, err, sizeof err), -1);
    assert_non_null(strstr(err, "[0, 1)"));
}

static void t_adagrad(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_optim o;
    float w[2] = {1, 1}, g1[2] = {3, 0}, g2[2] = {4, 1};
    assert_int_equal(ml_optim_init(&o, ML_OPTIM_ADAGRAD, 2, 0, 0, err, sizeof err), 0);
    assert_true(ml_optim_step(&o, w, g1, 0, 2, 0.1f) == 12);
    ml_optim_step(&o, w, g2, 0, 2, 0.1f);
    /* s = 9 then 25: w0 = 1 - 0.1*3/3 - 0.1*4/5; w1: s = 0 then 1 */
    assert_true(fabsf(w[0] - (1 - 0.1f - 0.08f)) < 1e-6f);
    assert_true(fabsf(w[1] - (1 - 0.1f)) < 1e-6f);
    ml_optim_free(&o);
}

/* A sub-range touches only its coordinates; sparse pairs with global
 * indices land at index - base and outside pairs are skipped; sparse and
 * dense agree when every coordinate is listed. */
static void t_ranges(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_optim o;
    float w[6] = {0}, g[6] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, 6, 0, 0.5f, err, sizeof err), 0);
    assert_true(ml_optim_step(&o, w, g, 2, 3, 1.0f) == 12);
    float want[6] = {0, 0, -1, -1, -1, 0};
    assert_memory_equal(w, want, sizeof w);
    assert_true(ml_optim_step(&o, w, g, 5, 9, 1.0f) == 4); /* clipped at n */
    ml_optim_free(&o);

    float shard[10] = {0};
    uint32_t idx[4] = {5, 12, 19, 20};
    float val[4] = {1, 2, 3, 4};
    assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, 10, 10, 0, err, sizeof err), 0);
    assert_true(ml_optim_step_sparse(&o, shard, idx, val, 4, 0.5f) == 4);
    assert_true(shard[2] == -1.0f && shard[9] == -1.5f);
    assert_true(shard[0] == 0 && shard[1] == 0 && shard[3] == 0);
    ml_optim_free(&o);

    for (int kind = 0; kind < 2; kind++) {
        ml_optim a, b;
        float wa[5], wb[5], gg[5] = {0.3f, -1, 2, 0.25f, -0.5f};
        uint32_t all[5] = {100, 101, 102, 103, 104};
        for (int k = 0; k < 5; k++)
            wa[k] = wb[k] = (float)k;
        assert_int_equal(ml_optim_init(&a, (ml_optim_kind)kind, 5, 100, 0.7f, err, sizeof err), 0);
        assert_int_equal(ml_optim_init(&b, (ml_optim_kind)kind, 5, 100, 0.7f, err, sizeof err), 0);
        for (int s = 0; s < 3; s++) {
            ml_optim_step(&a, wa, gg, 0, 5, 0.1f);
            ml_optim_step_sparse(&b, wb, all, gg, 5, 0.1f);
        }
        assert_memory_equal(wa, wb, sizeof wa);
        ml_optim_free(&a);
        ml_optim_free(&b);
    }
}

static void t_schedules(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_schedule s;
    assert_int_equal(ml_schedule_parse(&s, "constant", 0.2, err, sizeof err), 0);
    assert_true(ml_schedule_lr(&s, 17.5) == 0.2);
    assert_int_equal(ml_schedule_parse(&s, "step:every=2,gamma=0.5", 0.2, err, sizeof err), 0);
    assert_true(ml_schedule_lr(&s, 1.99) == 0.2);
    assert_true(ml_schedule_lr(&s, 2.0) == 0.1);
    assert_true(ml_schedule_lr(&s, 4.5) == 0.05);
    assert_int_equal(ml_schedule_parse(&s, "inv:t0=2", 0.2, err, sizeof err), 0);
    assert_true(fabs(ml_schedule_lr(&s, 2) - 0.1) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 6) - 0.05) < 1e-15);
    /* Goyal et al.: k = 8 times the rate, reached linearly over 5 epochs */
    assert_int_equal(ml_schedule_parse(&s, "warmup:epochs=5,k=8", 0.1, err, sizeof err), 0);
    assert_true(fabs(ml_schedule_lr(&s, 0) - 0.1) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 2.5) - 0.45) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 5) - 0.8) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 50) - 0.8) < 1e-15);
    assert_int_equal(ml_schedule_parse(&s, "warmup:epochs=5,k=8,every=30,gamma=0.1", 0.1, err, sizeof err), 0);
    assert_true(fabs(ml_schedule_lr(&s, 29) - 0.8) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 30) - 0.08) < 1e-15);
    assert_true(fabs(ml_schedule_lr(&s, 61) - 0.008) < 1e-15);
    /* the linear scaling rule (k = scale, as --scale-lr sets it) scales
     * every schedule, the constant one included */
    static const char *const scaled[] = {"constant", "step:every=2,gamma=0.5", "inv:t0=2"};
    for (size_t i = 0; i < sizeof scaled / sizeof *scaled; i++) {
        assert_int_equal(ml_schedule_parse(&s, scaled[i], 0.2, err, sizeof err), 0);
        double base = ml_schedule_lr(&s, 3.0);
        s.scale = 4;
        if (fabs(ml_schedule_lr(&s, 3.0) - 4 * base) > 1e-15)
            fail_msg("schedule %s with scale 4: %g, expected %g", scaled[i], ml_schedule_lr(&s, 3.0), 4 * base);
    }

    static const struct { const char *spec, *want; } bad[] = {
        {"cosine", "expected constant, step:every=E,gamma=G"},
        {"step:every=0", "every > 0"},
        {"step:every=3,gamma", "not key=value"},
        {"warmup:k=0.5", "k >= 1"},
        {"warmup:epochs=x", "epochs=x is not a number"},
        {"inv:t1=3", "unknown key 't1'"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++)
        if (ml_schedule_parse(&s, bad[c].spec, 0.1, err, sizeof err) != -1 || !strstr(err, bad[c].want))
            fail_msg("'%s': message '%s', expected '%s'", bad[c].spec, err, bad[c].want);
    assert_int_equal(ml_schedule_parse(&s, "constant", 0, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sgd),
        cmocka_unit_test(t_adagrad),
        cmocka_unit_test(t_ranges),
        cmocka_unit_test(t_schedules),
    };
    return cmocka_run_group_tests_name("ml optimizers", tests, NULL, NULL);
}
