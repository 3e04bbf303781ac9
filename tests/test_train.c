/* test_train.c -- the services every training algorithm shares
 * (algorithms/train.h, algorithms/keyset.h): the evaluation schedule is
 * due at 0 and at every multiple, once, within 1e-9; snapshots keep what
 * they were given past any initial capacity and leave the last slot for
 * the final state; gathering the servers' snapshots on rank 0 pairs the
 * i-th of each, the last point taking every server's final one, with the
 * latest time; the servers' key ranges tile the keys and agree with the
 * owner of each key; grouping pairs by server keeps each in its range and
 * in order; a descriptor's check failing is a rank error with its text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algorithms/keyset.h"
#include "algorithms/train.h"
#include "core/job.h"
#include "sim/sim_backend.h"

static void schedule_is_due_once_per_point(void **state)
{
    (void)state;
    ml_config ml;
    ml_config_default(&ml);
    ml.eval_every_epochs = 0.5;
    train_schedule s;
    train_schedule_init(&s, &ml, 1);
    assert_true(train_schedule_due(&s, 0));     /* the first point: at 0 */
    assert_false(train_schedule_due(&s, 0));
    assert_false(train_schedule_due(&s, 0.25));
    assert_true(train_schedule_due(&s, 0.5 - 1e-12)); /* within 1e-9 */
    assert_false(train_schedule_due(&s, 0.5));
    assert_true(train_schedule_due(&s, 1.7));   /* skipped points are not owed */
    assert_false(train_schedule_due(&s, 1.9));
    assert_true(train_schedule_due(&s, 2.0));
    /* in examples: every 0.5 epochs of 100 examples */
    train_schedule_init(&s, &ml, 100);
    assert_true(train_schedule_due(&s, 0));
    assert_false(train_schedule_due(&s, 49));
    assert_true(train_schedule_due(&s, 50));
    /* unset: every epoch */
    ml.eval_every_epochs = 0;
    train_schedule_init(&s, &ml, 1);
    assert_true(train_schedule_due(&s, 0));
    assert_false(train_schedule_due(&s, 0.99));
    assert_true(train_schedule_due(&s, 1));
}

static void snapshots_keep_what_they_were_given(void **state)
{
    (void)state;
    train_snaps s; /* no rank: r is only for an out-of-memory message */
    train_snaps_init(&s, 3, 2);
    float w[3];
    double meta[2];
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 3; j++)
            w[j] = (float)(10 * i + j);
        meta[0] = i * 0.5;
        meta[1] = i;
        assert_int_equal(train_snaps_take(NULL, &s, w, meta), RT_OK);
    }
    assert_int_equal(s.count, 40);
    for (int i = 0; i < 40; i++) {
        assert_true(s.meta[2 * i] == i * 0.5 && s.meta[2 * i + 1] == i);
        for (int j = 0; j < 3; j++)
            assert_true(s.w[3 * i + j] == (float)(10 * i + j));
    }
    assert_true(train_snaps_room(&s));
    s.count = TRAIN_MAX_POINTS - 1;
    assert_false(train_snaps_room(&s)); /* the last slot is the final state's */
    s.count = 40;
    train_snaps_free(&s);
    assert_int_equal(s.count, 0);
}

/* Three servers over P = 10 keys; server s keeps 2 + s snapshots whose
 * values say who and which, and a total of its own. Rank 0 writes what
 * it assembled into its slot. */
enum { G_S = 3, G_P = 10 };
typedef struct gather_slot {
    int npoints;
    float whole[2][G_P];
    double time_s[2], meta1[2][G_S], totals[G_S];
} gather_slot;

/* arg non-NULL: gather without totals (NULL, 0), as Hogwild and Downpour do */
static int gather_rank(rt *r, void *arg)
{
    int no_totals = arg != NULL;
    int s = rt_rank(r), rc;
    size_t lo, hi;
    train_range(G_P, G_S, s, &lo, &hi);
    train_snaps sn;
    train_snaps_init(&sn, hi - lo, 2);
    float w[G_P];
    for (int i = 0; i < 2 + s; i++) {
        for (size_t k = lo; k < hi; k++)
            w[k - lo] = (float)(100 * s + 10 * i + (int)k);
        double meta[2] = {1.0 + i + 0.25 * s, 1000 * s + i};
        if ((rc = train_snaps_take(r, &sn, w, meta)))
            return rc;
    }
    double total = 7.0 * s;
    train_gathered g;
    rc = no_totals ? train_snaps_gather(r, &sn, G_S, G_P, NULL, 0, &g)
                   : train_snaps_gather(r, &sn, G_S, G_P, &total, sizeof total, &g);
    if (!rc && s == 0) {
        gather_slot *out = rt_slot(r);
        out->npoints = g.npoints;
        for (int i = 0; i < g.npoints && i < 2; i++) {
            out->time_s[i] = train_gathered_point(&g, i, out->whole[i]);
            for (int t = 0; t < G_S; t++)
                out->meta1[i][t] = train_gathered_meta(&g, i, t)[1];
        }
        for (int t = 0; t < G_S && !no_totals; t++)
            out->totals[t] = *(const double *)train_gathered_totals(&g, t);
    }
    train_gathered_free(&g);
    train_snaps_free(&sn);
    return rc;
}

static void gathering_pairs_the_points_and_ends_with_each_final(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL); /* SimGrid, its defaults */
    cfg.ranks = G_S;
    cfg.result_bytes = sizeof(gather_slot);
    job_result res;
    if (job_run(&cfg, gather_rank, NULL, &res) != 0)
        fail_msg("gather job: %s", res.error);
    const gather_slot *o = job_result_slot(&res, 0);
    assert_int_equal(o->npoints, 2); /* what every server has */
    for (int s = 0; s < G_S; s++) {
        size_t lo, hi;
        train_range(G_P, G_S, s, &lo, &hi);
        int last = 2 + s - 1; /* point 1 is the last: each one's final snapshot */
        for (size_t k = lo; k < hi; k++) {
            assert_true(o->whole[0][k] == (float)(100 * s + (int)k));
            assert_true(o->whole[1][k] == (float)(100 * s + 10 * last + (int)k));
        }
        assert_true(o->meta1[0][s] == 1000 * s);
        assert_true(o->meta1[1][s] == 1000 * s + last);
        assert_true(o->totals[s] == 7.0 * s);
    }
    /* the latest of the servers' times */
    assert_true(o->time_s[0] == 1.0 + 0.25 * (G_S - 1));
    assert_true(o->time_s[1] == 1.0 + (2 + G_S - 1 - 1) + 0.25 * (G_S - 1));
    job_result_free(&res);

    /* without totals (NULL, 0: nothing copied from NULL), the same points */
    static int no_totals = 1;
    if (job_run(&cfg, gather_rank, &no_totals, &res) != 0)
        fail_msg("gather job without totals: %s", res.error);
    o = job_result_slot(&res, 0);
    assert_int_equal(o->npoints, 2);
    for (size_t k = 0; k < G_P; k++) {
        size_t lo, hi;
        int s = 0;
        while (train_range(G_P, G_S, s, &lo, &hi), k >= hi)
            s++;
        assert_true(o->whole[0][k] == (float)(100 * s + (int)k));
    }
    job_result_free(&res);
}

static void ranges_tile_the_keys_and_name_their_owner(void **state)
{
    (void)state;
    const size_t Ps[] = {1, 7, 10, 1000, 4099};
    for (size_t i = 0; i < sizeof Ps / sizeof *Ps; i++) {
        size_t P = Ps[i];
        for (int S = 1; S <= 9 && (size_t)S <= P; S++) {
            size_t next = 0;
            for (int s = 0; s < S; s++) {
                size_t lo, hi;
                train_range(P, S, s, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi > lo);
                for (size_t k = lo; k < hi; k++)
                    if (train_range_owner(P, S, k) != s)
                        fail_msg("P=%zu S=%d: key %zu is in server %d's range, owner says %d", P,
                                 S, k, s, train_range_owner(P, S, k));
                size_t a, b;
                train_range_overlap(P, S, s, 0, P, &a, &b);
                assert_true(a == lo && b == hi);
                next = hi;
            }
            assert_int_equal(next, P);
        }
    }
}

static void grouped_pairs_keep_their_server_and_order(void **state)
{
    (void)state;
    enum { P = 50, S = 4, N = 12 };
    const uint32_t index[N] = {49, 3, 27, 3, 12, 40, 0, 26, 25, 13, 38, 11};
    float value[N], gval[N];
    uint32_t gkey[N];
    size_t start[S + 1];
    for (int i = 0; i < N; i++)
        value[i] = (float)i;
    keyset_group(index, value, N, P, S, gkey, gval, start);
    assert_int_equal(start[0], 0);
    assert_int_equal(start[S], N);
    for (int s = 0; s < S; s++) {
        size_t lo, hi;
        train_range(P, S, s, &lo, &hi);
        for (size_t j = start[s]; j < start[s + 1]; j++) {
            assert_true(gkey[j] >= lo && gkey[j] < hi);
            assert_true(index[(int)gval[j]] == gkey[j]);     /* the pair stayed a pair */
            if (j > start[s])
                assert_true(gval[j] > gval[j - 1]);          /* in their order */
        }
    }
    /* sorted keys split where the ranges do */
    const uint32_t sorted[] = {0, 3, 11, 12, 13, 25, 26, 27, 38, 40, 49};
    keyset_split(sorted, 11, P, S, start);
    assert_int_equal(start[1], 3);  /* [0, 12) */
    assert_int_equal(start[2], 5);  /* [12, 25) */
    assert_int_equal(start[3], 8);  /* [25, 37) */
    assert_int_equal(start[4], 11);
    /* a whole range gathers and scatters as one copy */
    float w[P], out[5], back[P];
    for (int i = 0; i < P; i++)
        w[i] = (float)i;
    keyset range = {.lo = 20, .n = 5}, some = {.n = 3, .keys = sorted + 2};
    keyset_gather(&range, w, 10, out);
    assert_true(out[0] == 10 && out[4] == 14); /* keys 20..24 of w indexed from key 10 */
    assert_int_equal(keyset_wire(&range), -1);
    assert_int_equal(keyset_wire(&some), 3);
    memset(back, 0, sizeof back);
    keyset_gather(&some, w, 0, out);
    keyset_scatter(&some, out, back);
    assert_true(back[11] == 11 && back[12] == 12 && back[13] == 13 && back[14] == 0);
}

/* A descriptor whose check refuses: the rank fails with its message. */
static int refuse(const train_setup *setup, char *err, size_t errlen)
{
    snprintf(err, errlen, "--widgets %d: too many", setup->workers);
    return -1;
}

static int checked_rank(rt *r, void *arg);
static const train_algo refusing = {.name = "widget", .check = refuse, .rank = checked_rank};

static int checked_rank(rt *r, void *arg) { return train_algo_check(r, &refusing, arg); }

static void a_failed_check_is_a_rank_error_with_its_text(void **state)
{
    (void)state;
    train_setup setup = {.workers = 9};
    train_shape sh = train_algo_shape(&refusing, NULL, 5);
    assert_true(sh.ranks == 5 && sh.reporter == 0 && sh.first == 0 && sh.count == 5);
    job_config cfg = sim_job_config(NULL); /* SimGrid, its defaults */
    cfg.ranks = 1;
    job_result res;
    assert_int_not_equal(job_run(&cfg, checked_rank, &setup, &res), 0);
    assert_non_null(strstr(res.error, "widget: --widgets 9: too many"));
    job_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schedule_is_due_once_per_point),
        cmocka_unit_test(snapshots_keep_what_they_were_given),
        cmocka_unit_test(gathering_pairs_the_points_and_ends_with_each_final),
        cmocka_unit_test(ranges_tile_the_keys_and_name_their_owner),
        cmocka_unit_test(grouped_pairs_keep_their_server_and_order),
        cmocka_unit_test(a_failed_check_is_a_rank_error_with_its_text),
    };
    return cmocka_run_group_tests_name("training services", tests, NULL, NULL);
}
