/* test_analysis.c -- the compute / communication / wait split of a run
 * (core/analysis.h), on hand-made event logs whose answer is known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "core/analysis.h"

#define EV(rank, kind, a, b, bytes, peer, tag) \
    (rt_event){(rank), (kind), (a), (b), (bytes), (peer), (tag)}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-12)
        fail_msg("got %.15g, expected %.15g", got, want);
}

/* Rank 0 computes for 1 s, then sends; rank 1 posted its receive at 0 and
 * waited. The message is on the wire from 1 s (the send) to 1.5 s: rank 1
 * waited 1 s for rank 0 and communicated 0.5 s. */
static void late_sender(void **state)
{
    (void)state;
    rt_event ev[] = {
        EV(0, RT_EV_COMPUTE, 0.0, 1.0, 0, -1, -1),
        EV(0, RT_EV_SEND, 1.0, 1.5, 1000, 1, 7),
        EV(0, RT_EV_WAIT, 1.0, 1.5, 0, -1, -1),
        EV(1, RT_EV_RECV, 0.0, 1.5, 1000, 0, 7),
        EV(1, RT_EV_WAIT, 0.0, 1.5, 0, -1, -1),
    };
    analysis_split per[2], mean;
    assert_int_equal(analysis_split_time(ev, 5, 2, 2.0, per, &mean), 0);
    near(per[0].compute_s, 1.0);
    near(per[0].comm_s, 0.5);
    near(per[0].wait_s, 0.0);
    near(per[0].other_s, 0.5);
    near(per[1].compute_s, 0.0);
    near(per[1].comm_s, 0.5);
    near(per[1].wait_s, 1.0);
    near(mean.wait_s, 0.5);
}

/* Messages pair in order per (source, destination, tag): the second
 * receive of tag 3 pairs with the second send of tag 3, not with tag 4. */
static void pairs_follow_matching_order(void **state)
{
    (void)state;
    rt_event ev[] = {
        EV(0, RT_EV_SEND, 0.0, 0.0, 8, 1, 3),
        EV(0, RT_EV_SEND, 2.0, 2.0, 8, 1, 4),
        EV(0, RT_EV_SEND, 3.0, 3.0, 8, 1, 3),
        EV(1, RT_EV_RECV, 0.0, 1.0, 8, 0, 3),
        EV(1, RT_EV_RECV, 0.0, 3.5, 8, 0, 3),
        EV(1, RT_EV_WAIT, 0.0, 3.5, 0, -1, -1),
    };
    analysis_split per[2], mean;
    assert_int_equal(analysis_split_time(ev, 6, 2, 4.0, per, &mean), 0);
    /* on the wire: [0, 1] and [3, 3.5] */
    near(per[1].comm_s, 1.5);
    near(per[1].wait_s, 2.0);
}

/* The same late sender, as intervals to draw: both ends communicate from
 * 1 s to 1.5 s; rank 1's first second is plain waiting. */
static void comm_spans_of_late_sender(void **state)
{
    (void)state;
    rt_event ev[] = {
        EV(0, RT_EV_COMPUTE, 0.0, 1.0, 0, -1, -1),
        EV(0, RT_EV_SEND, 1.0, 1.5, 1000, 1, 7),
        EV(0, RT_EV_WAIT, 1.0, 1.5, 0, -1, -1),
        EV(1, RT_EV_RECV, 0.0, 1.5, 1000, 0, 7),
        EV(1, RT_EV_WAIT, 0.0, 1.5, 0, -1, -1),
    };
    rt_event *spans;
    size_t n;
    assert_int_equal(analysis_comm_spans(ev, 5, 2, &spans, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(spans[i].kind, ANALYSIS_EV_COMM);
        assert_int_equal(spans[i].rank, (int)i);
        near(spans[i].start_s, 1.0);
        near(spans[i].end_s, 1.5);
    }
    free(spans);
}

static void empty_log(void **state)
{
    (void)state;
    analysis_split mean;
    assert_int_equal(analysis_split_time(NULL, 0, 3, 1.0, NULL, &mean), 0);
    near(mean.other_s, 1.0);
    near(mean.compute_s + mean.comm_s + mean.wait_s, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(late_sender),
        cmocka_unit_test(pairs_follow_matching_order),
        cmocka_unit_test(comm_spans_of_late_sender),
        cmocka_unit_test(empty_log),
    };
    return cmocka_run_group_tests_name("time split from events", tests, NULL, NULL);
}
