/* test_sim.c -- what only the SimGrid backend promises: exact alpha-beta
 * timing on an ideal network, compute charged as flops / speed, the
 * platform and network-model options, clear errors for bad platforms, and
 * a simulator whose memory grows with the messages' pattern, not with the
 * square of the job's size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "algorithms/collectives.h"
#include "core/job.h"
#include "sim/sim_backend.h"
#include "sim/sim_limits.h"
#include "sim/sim_platform.h"

#define assert_rel(a, b, tol)                                                      \
    do {                                                                           \
        double a_ = (a), b_ = (b);                                                 \
        if (!(fabs(a_ - b_) <= (tol) * fabs(b_)))                                  \
            fail_msg("%s = %.12g, expected %.12g (relative error %.3g > %g)", #a, a_, \
                     b_, fabs(a_ - b_) / fabs(b_), (double)(tol));                 \
    } while (0)

typedef struct timing {
    double t[8];
} timing;

static size_t msg_bytes;

/* Rank 0 sends msg_bytes to rank 1; both note when they are done. */
static int oneway_rank(rt *r, void *arg)
{
    (void)arg;
    timing *out = job_slot(r);
    int rc = rt_rank(r) == 0 ? rt_send(r, 1, 0, NULL, msg_bytes)
                             : rt_recv(r, 0, 0, NULL, msg_bytes, NULL);
    out->t[0] = rt_now(r);
    return rc;
}

static double oneway(job_config *cfg, size_t bytes)
{
    job_result res;
    msg_bytes = bytes;
    cfg->ranks = 2;
    cfg->result_bytes = sizeof(timing);
    if (job_run(cfg, oneway_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    double t = ((timing *)job_result_slot(&res, 1))->t[0];
    job_result_free(&res);
    return t;
}

static void oneway_is_alpha_plus_n_beta(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 4096, 65536, 1 << 20, 64 << 20};
    const double lat[] = {50e-6, 1e-3}, bw[] = {1.25e9, 3.125e9};
    for (int l = 0; l < 2; l++)
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
                sim_config sim = sim_config_default();
                sim.latency_s = lat[l];
                sim.bandwidth_Bps = bw[b];
                job_config cfg = sim_job_config(&sim);
                assert_rel(oneway(&cfg, sizes[i]), lat[l] + sizes[i] / bw[b], 1e-9);
            }
}

static void tcp_model_differs_from_ideal(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.net = SIM_NET_TCP;
    job_config cfg = sim_job_config(&sim);
    double t = oneway(&cfg, 1);
    /* LV08 multiplies latency by 13.01 */
    assert_rel(t, 13.01 * sim.latency_s, 1e-3);
}

static int compute_rank(rt *r, void *arg)
{
    (void)arg;
    timing *out = job_slot(r);
    double t0 = rt_now(r);
    int rc = rt_compute(r, 2.5e9);
    out->t[0] = rt_now(r) - t0;
    return rc;
}

static void compute_is_flops_over_speed(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 2e9;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 3;
    cfg.result_bytes = sizeof(timing);
    double slow[3] = {1, 4, 1};
    cfg.slowdown = slow;
    job_result res;
    if (job_run(&cfg, compute_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    assert_rel(((timing *)job_result_slot(&res, 0))->t[0], 1.25, 1e-12);
    assert_rel(((timing *)job_result_slot(&res, 1))->t[0], 5.0, 1e-12); /* a 4x straggler */
    assert_rel(res.seconds, 5.0, 1e-12);
    job_result_free(&res);
}

/* Two ranks on one single-core host share it: each takes twice as long. */
static void ranks_share_a_core(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.hosts = 1;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(timing);
    job_result res;
    if (job_run(&cfg, compute_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    assert_rel(((timing *)job_result_slot(&res, 0))->t[0], 5.0, 1e-12);
    job_result_free(&res);
}

static int deadlock_rank(rt *r, void *arg)
{
    (void)arg;
    int v;
    return rt_recv(r, 1 - rt_rank(r), 0, &v, sizeof v, NULL);
}

static void deadlock_is_an_error(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    job_result res;
    assert_int_not_equal(job_run(&cfg, deadlock_rank, NULL, &res), 0);
    assert_int_equal(res.rank_status[0], RT_ETIMEOUT);
    assert_int_equal(res.rank_status[1], RT_ETIMEOUT);
    assert_non_null(strstr(res.error, "deadlock"));
    job_result_free(&res);
}

/* Ranks that disagree on their collectives: some leave while the others
 * still wait in a ring. An error naming the deadlock, never a crash. */
static int mismatch_rank(rt *r, void *arg)
{
    (void)arg;
    float b[100] = {0};
    int rc = allreduce(r, ALLREDUCE_RING, b, 100, NULL);
    if (!rc && rt_rank(r) >= 3)
        rc = allreduce(r, ALLREDUCE_RING, b, 100, NULL);
    return rc;
}

static void mismatched_collectives_are_an_error(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    cfg.ranks = 8;
    job_result res;
    assert_int_not_equal(job_run(&cfg, mismatch_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "deadlock"));
    assert_int_equal(res.rank_status[0], RT_OK);
    assert_int_equal(res.rank_status[3], RT_ETIMEOUT);
    job_result_free(&res);
}

static int nothing_rank(rt *r, void *arg)
{
    (void)r;
    (void)arg;
    return RT_OK;
}

static void missing_platform_is_refused(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.platform = "/nonexistent/cluster.xml";
    job_config cfg = sim_job_config(&sim);
    job_result res;
    assert_int_not_equal(job_run(&cfg, nothing_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "/nonexistent/cluster.xml"));
    assert_non_null(strstr(res.error, "No such file"));
    job_result_free(&res);
}

static void malformed_platform_is_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/distlab-test-XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    const char *xml = "<?xml version='1.0'?>\n<platform version=\"4.1\">\n"
                      "  <zone id=\"z\" routing=\"Full\">\n    <host id=\"a\" speed=\"fast\"/>\n";
    assert_int_equal(write(fd, xml, strlen(xml)), (int)strlen(xml));
    close(fd);
    sim_config sim = sim_config_default();
    sim.platform = path;
    job_config cfg = sim_job_config(&sim);
    job_result res;
    assert_int_not_equal(job_run(&cfg, nothing_rank, NULL, &res), 0);
    unlink(path);
    /* refused before SimGrid sees it (SimGrid aborted here, its reason
     * cut to a backtrace): the file, the line and what is wrong */
    if (!strstr(res.error, path) || !strstr(res.error, "line 5: not well-formed XML"))
        fail_msg("%s", res.error);
    job_result_free(&res);
}

/* Write xml (a <zone> body) into a platform file; its path goes into
 * path[len]. */
static void write_platform(char *path, const char *body)
{
    strcpy(path, "/tmp/distlab-test-XXXXXX.xml");
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    char xml[4096];
    int n = snprintf(xml, sizeof xml, "<?xml version='1.0'?>\n"
                     "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                     "<platform version=\"4.1\">\n<zone id=\"z\" routing=\"Full\">\n%s</zone>\n</platform>\n",
                     body);
    assert_int_equal(write(fd, xml, (size_t)n), n);
    close(fd);
}

/* Each of these reached SimGrid, which took a negative latency silently
 * and aborted on the rest ("The Impossible Did Happen", or a reason lost
 * in a backtrace). Now each is refused with the file, the line, the
 * element and the value; the body starts on line 5. */
static void platform_values_are_checked(void **state)
{
    (void)state;
    static const struct { const char *body, *want; } bad[] = {
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"-1us\"/>\n",
         "line 6, <link id=\"l\">: latency='-1us' is negative (-1e-06 s)"},
        {"<host id=\"a\" speed=\"0f\"/>\n", "line 5, <host id=\"a\">: speed='0f'"},
        /* the stray text starts on line 6 and its text node ends on line 8 */
        {"<host id=\"a\" speed=\"1Gf\"/>\n stray\n\n<host id=\"b\" speed=\"1Gf\"/>\n",
         "text 'stray' inside it (line 6)"},
        {"<host id=\"a\" speed=\"-1Gf\"/>\n", "speed='-1Gf' is negative"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"0Bps\"/>\n", "bandwidth='0Bps' is zero"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"nan\"/>\n", "bandwidth='nan' is not a number"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"inf\"/>\n", "bandwidth='inf' is out of range"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1e300TBps\"/>\n", "is out of range"},
        {"<host id=\"a\" speed=\"1Gf\" core=\"0\"/>\n", "core='0' is not a whole number from 1"},
        {"<host id=\"a\" speed=\"1Gf\" core=\"2.5\"/>\n", "core='2.5'"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"a\" speed=\"2Gf\"/>\n",
         "line 6, <host>: a second host named 'a' (the first: line 5, <host>)"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n<link id=\"l\" bandwidth=\"2Gbps\" latency=\"1us\"/>\n",
         "a second link named 'l'"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"10Gbs\"/>\n", "unknown rate unit 'Gbs'"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" latency=\"1us\"/>\n", "no bandwidth= (SimGrid requires it)"},
        {"<host id=\"a\" speed=\"100Mf,0f\" pstate=\"1\"/>\n", "pstate 1, the one it starts in, has speed 0"},
        {"<host id=\"a\" speed=\"100Mf\" pstate=\"3\"/>\n", "pstate='3' is not a pstate"},
        {"<backbone id=\"b\" bandwidth=\"1Gbps\" latency=\"nan\"/>\n", "<backbone id=\"b\">: latency='nan'"},
        {"<peer id=\"p\" speed=\"1Gf\" bw_in=\"-1Mbps\" bw_out=\"1Mbps\"/>\n", "bw_in='-1Mbps' is negative"},
        {"<disk id=\"d\" read_bw=\"0Bps\" write_bw=\"1MBps\"/>\n", "read_bw='0Bps' is zero"},
        {"<host id=\"a\" speed=\"1Gf\"><link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/></host>\n",
         "line 5, <link id=\"l\">: SimGrid takes no <link> inside a <host> (line 5): it takes only <disk>s and <prop>s"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
         "<route src=\"a\" dst=\"a\"><link_ctn id=\"l\" dir=\"UP\"/></route>\n",
         "line 7, <link_ctn id=\"l\">: dir= is not an attribute SimGrid takes on a <link_ctn> (it takes id, direction)"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
         "<route src=\"a\" dst=\"a\"><link_ctn id=\"l\"/></route>\n<host id=\"b\" speed=\"1Gf\"/>\n",
         "line 8, <host id=\"b\">: SimGrid takes no <host> after the <route> of line 7 inside a <zone>"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"b\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
         "<route src=\"a\" dst=\"b\">\n<link_ctn id=\"nosuch\"/></route>\n",
         "line 9, <link_ctn id=\"nosuch\">: no link of that name"},
        /* SimGrid aborted on these: "There is no host!", "no connecting
         * path between these two hosts" at the first message, "Route
         * dst='hX' does name a node" */
        {"<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n", "no host (a <host>, <peer>, or a <cluster>'s radical=)"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"b\" speed=\"1Gf\"/>\n",
         "line 4, <zone id=\"z\">: routing='Full', but no <route> from host 'a' to 'b'"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"b\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
         "<route src=\"a\" dst=\"b\" symmetrical=\"NO\"><link_ctn id=\"l\"/></route>\n",
         "no <route> from host 'b' to 'a'"},
        {"<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"b\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
         "<route src=\"a\" dst=\"hX\"><link_ctn id=\"l\"/></route>\n",
         "line 8, <route>: dst='hX' names no host or router of this file"},
    };
    static const struct { const char *platform, *want; } bad_top[] = {
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"-5us\"/>",
         "<cluster id=\"c\">: lat='-5us' is negative"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" core=\"0\" bw=\"1Gbps\" lat=\"5us\"/>",
         "core='0'"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\" bb_bw=\"0Gbps\"/>",
         "bb_bw='0Gbps' is zero"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"3-0\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "radical='3-0': the range 3-0 is empty"},
        /* SimGrid aborted on an empty item: " is not an int", "cannot parse number" */
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3,,5\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "radical='0-3,,5': an empty part"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3,\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "radical='0-3,': an empty part"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf,,2Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "speed='1Gf,,2Gf': item 2 is empty"},
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-99999999\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "makes more than 1048576 hosts"},
        {"<zone id=\"w\" routing=\"Full\">"
         "<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>"
         "<cluster id=\"d\" prefix=\"n-\" suffix=\"\" radical=\"3-5\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/></zone>",
         "a second host named 'n-3'"},
        {"<config><prop id=\"network/TCP-gamma\" value=\"-1\"/></config>"
         "<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<prop id=\"network/TCP-gamma\">: value='-1'"},
        {"<zone id=\"w\" routing=\"Bogus\"><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<zone id=\"w\">: routing='Bogus' is not one SimGrid knows"},
        /* SimGrid aborted reading it ("cannot parse number"), and crashed
         * (Dijkstra) or aborted mid-run (Floyd) on the next two */
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><link id=\"l\" bandwidth=\"1Gbps\"/></zone>",
         "<link id=\"l\">: no latency= (SimGrid requires it)"},
        {"<zone id=\"w\" routing=\"Dijkstra\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/></zone>",
         "routing='Dijkstra', but no <route> starts or ends at host 'a'"},
        {"<zone id=\"w\" routing=\"Floyd\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>"
         "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/><host id=\"c\" speed=\"1Gf\"/>"
         "<route src=\"a\" dst=\"b\"><link_ctn id=\"l\"/></route></zone>",
         "routing='Floyd', but no <route> starts or ends at host 'c'"},
        {"<zone id=\"w\" routing=\"Full\">"
         "<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>"
         "<cluster id=\"d\" prefix=\"m-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/></zone>",
         "no <zoneRoute> from zone 'c' to 'd'"},
        {"<zone id=\"w\" routing=\"Full\">"
         "<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>"
         "<cluster id=\"d\" prefix=\"m-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>"
         "<link id=\"u\" bandwidth=\"1Gbps\" latency=\"1us\"/><zoneRoute src=\"c\" dst=\"e\" gw_src=\"n-c_router\" "
         "gw_dst=\"m-d_router\"><link_ctn id=\"u\"/></zoneRoute></zone>",
         "<zoneRoute>: dst='e' names no zone"},
        /* SimGrid aborted on each of these ("Bad attribute", "stoi", "Link
         * not found", "Non-WIFI links must use only 1 bandwidth",
         * "Insufficient number of radicals", "Unexpected character") or
         * crashed (a WIFI link outside a Wifi zone) */
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\" topology=\"RING\"/></zone>",
         "topology='RING' is not one SimGrid knows (FLAT|TORUS|FAT_TREE|DRAGONFLY)"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\" sharing_policy=\"shared\"/></zone>",
         "sharing_policy='shared' is not one SimGrid knows"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\" topology=\"TORUS\" topo_parameters=\"2,x\"/></zone>",
         "topology='TORUS' with topo_parameters='2,x': expected the dimensions"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\" topology=\"FAT_TREE\" topo_parameters=\"2;4,2;1,2;1,1\"/></zone>",
         "topo_parameters='2;4,2;1,2;1,1' makes 8 hosts, but radical= names 4"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\" topology=\"DRAGONFLY\" topo_parameters=\"1\"/></zone>",
         "topology='DRAGONFLY' with topo_parameters='1': expected GROUPS,LINKS"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"-0\" speed=\"1Gf\" "
         "bw=\"1Gbps\" lat=\"5us\"/></zone>",
         "radical='-0' is not a list of numbers and ranges"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>"
         "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\" sharing_policy=\"SPLITDUPLEX\"/>"
         "<route src=\"a\" dst=\"b\"><link_ctn id=\"l\"/></route></zone>",
         "<link_ctn id=\"l\">: link 'l' is SPLITDUPLEX: say which way"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>"
         "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>"
         "<route src=\"a\" dst=\"b\"><link_ctn id=\"l\" direction=\"UP\"/></route></zone>",
         "a direction, but link 'l' is not SPLITDUPLEX"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>"
         "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>"
         "<route src=\"a\" dst=\"b\" symmetrical=\"MAYBE\"><link_ctn id=\"l\"/></route></zone>",
         "symmetrical='MAYBE' is not one SimGrid knows"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><link id=\"l\" bandwidth=\"1,2Gbps\" "
         "latency=\"1us\"/></zone>",
         "bandwidth='1,2Gbps': several bandwidths are a WIFI link's only"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><link id=\"l\" bandwidth=\"1Gbps\" "
         "latency=\"1us\" sharing_policy=\"WIFI\"/></zone>",
         "sharing_policy='WIFI' belongs to a link of a zone of routing='Wifi'"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/> - </zone>",
         "<zone id=\"w\">: text '- ' inside it"},
        /* SimGrid's parser aborted on each of these: "Bad attribute",
         * "Required attribute `prefix' not set", "Starting tag <host> is
         * not allowed here", "Unexpected character `<'", "<include> tag
         * was removed", "Function 'f' not registered" */
        {"<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\" "
         "colour=\"red\"/>",
         "<cluster id=\"c\">: colour= is not an attribute SimGrid takes on a <cluster> (it takes id, prefix, suffix"},
        {"<cluster id=\"c\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/>",
         "<cluster id=\"c\">: no prefix= (SimGrid requires it)"},
        {"<host id=\"a\" speed=\"1Gf\"/>", "line 3, <host id=\"a\">: SimGrid takes no <host> inside a <platform>"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone>"
         "<config><prop id=\"network/model\" value=\"CM02\"/></config>",
         "<config>: SimGrid takes no <config> after the <zone> of line 3 inside a <platform>"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/>"
         "<cluster id=\"c\" prefix=\"n-\" suffix=\"\" radical=\"0-3\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"5us\"/></zone>",
         "<cluster id=\"c\">: SimGrid takes no <cluster> after the <host> of line 3 inside a <zone>"},
        {"<zone id=\"w\" routing=\"Full\" speed=\"1Gf\"><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<zone id=\"w\">: speed= is not an attribute SimGrid takes on a <zone> (it takes id, routing)"},
        {"<zone id=\"w\" routing=\"Full\"><widget/><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<widget>: not an element of SimGrid's platform files"},
        {"<include file=\"more.xml\"/>", "<include>: SimGrid removed <include> in 3.18"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone><actor host=\"a\" function=\"f\"/>",
         "<actor>: an actor belongs to a deployment file"},
        /* and on these, once reading the file went further ("not in the
         * same netzone as expected", "gw_src b belongs to z2", "already
         * exists" or a crash, "does not accept new routes", "In a StarZone,
         * route must be", "<peer> tag can only be used in Vivaldi", "Invalid
         * CPU model", "Latency cannot be set for WiFi Links", "trace
         * unknown", "Link 'nope' not found!", "Link not found", "must have
         * either a content", "Invalid profile line", "Cannot open file",
         * " is not an int"; a link named like a cluster's but not one) */
        {"<zone id=\"w\" routing=\"Full\"><zone id=\"z1\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone><zone id=\"z2\" routing=\"Full\"><host id=\"b\" speed=\"1Gf\"/><link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/><route src=\"b\" dst=\"a\"><link_ctn id=\"l\"/></route></zone></zone>",
         "<route>: dst='a' is not a host or router of this route's zone 'z2'"},
        {"<zone id=\"w\" routing=\"Full\"><zone id=\"z1\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone><zone id=\"z2\" routing=\"Full\"><host id=\"b\" speed=\"1Gf\"/></zone><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><zoneRoute src=\"z1\" dst=\"z2\" gw_src=\"b\" gw_dst=\"a\"><link_ctn id=\"m\"/></zoneRoute></zone>",
         "<zoneRoute>: gw_src='b' is not a host or router inside its src= zone, 'z1'"},
        {"<zone id=\"w\" routing=\"Full\"><zone id=\"z1\" routing=\"Full\"><zone id=\"z3\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone></zone><zone id=\"z2\" routing=\"Full\"><host id=\"b\" speed=\"1Gf\"/></zone><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><zoneRoute src=\"z3\" dst=\"z2\" gw_src=\"a\" gw_dst=\"b\"><link_ctn id=\"m\"/></zoneRoute></zone>",
         "src='z3' is not a zone directly inside this zoneRoute's zone 'w'"},
        {"<zone id=\"w\" routing=\"Dijkstra\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><route src=\"a\" dst=\"b\"><link_ctn id=\"m\"/></route><route src=\"b\" dst=\"a\"><link_ctn id=\"m\"/></route></zone>",
         "a second route from 'a' to 'b' in zone 'w'"},
        {"<zone id=\"w\" routing=\"None\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><route src=\"a\" dst=\"b\"><link_ctn id=\"m\"/></route></zone>",
         "a zone of routing='None' ('w') takes no routes"},
        {"<zone id=\"w\" routing=\"Cluster\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><route src=\"a\" dst=\"b\"><link_ctn id=\"m\"/></route></zone>",
         "in a zone of routing='Cluster' ('w') a <route> may only join a host to itself"},
        {"<zone id=\"w\" routing=\"Full\"><peer id=\"p\" speed=\"1Gf\" bw_in=\"1Gbps\" bw_out=\"1Gbps\"/></zone>",
         "a <peer> belongs to a zone of routing='Vivaldi'"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone><zone id=\"v\" routing=\"Full\"><host id=\"b\" speed=\"1Gf\"/></zone>",
         "<zone id=\"v\">: a second zone at the top of the platform"},
        {"<zone id=\"w\" routing=\"Wifi\"><host id=\"a\" speed=\"1Gf\"/><router id=\"r\"/><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\" sharing_policy=\"WIFI\"/></zone>",
         "latency='1us': SimGrid takes no latency on a WIFI link"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone><trace_connect trace=\"tt\" element=\"a\" kind=\"SPEED\"/>",
         "<trace_connect>: 'tt' names no trace of this file"},
        {"<zone id=\"w\" routing=\"Cluster\"><host id=\"a\" speed=\"1Gf\"/><host_link id=\"a\" up=\"nope\" down=\"nope\"/></zone>",
         "<host_link>: 'nope' names no link of this file"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/><link id=\"m\" bandwidth=\"1Gbps\" latency=\"1us\"/><backbone id=\"bb\" bandwidth=\"1Gbps\" latency=\"1us\"/><route src=\"a\" dst=\"b\"><link_ctn id=\"bb\"/></route></zone>",
         "<link_ctn id=\"bb\">: it names the <backbone>"},
        {"<trace id=\"t\" periodicity=\"1\"/><zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<trace id=\"t\">: no profile"},
        {"<trace id=\"t\" periodicity=\"1\">\nx y\n</trace><zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone>",
         "<trace id=\"t\">: its line 2: it is not a time and a value"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\" speed_file=\"/nonexistent/profile\"/></zone>",
         "speed_file='/nonexistent/profile': cannot open it"},
        {"<zone id=\"w\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\" core=\"\"/></zone>",
         "core='' is not a whole number"},
        {"<zone id=\"w\" routing=\"Full\"><cluster id=\"node-2\" prefix=\"n-\" suffix=\"\" radical=\"0-1\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"1us\"/><cluster id=\"node-3\" prefix=\"m-\" suffix=\"\" radical=\"0-1\" speed=\"1Gf\" bw=\"1Gbps\" lat=\"1us\"/><link id=\"uplink\" bandwidth=\"1Gbps\" latency=\"1us\"/><zoneRoute src=\"node-2\" dst=\"node-3\" gw_src=\"n-node-2_router\" gw_dst=\"m-node-3_router\"><link_ctn id=\"node-2-nic\"/></zoneRoute></zone>",
         "<link_ctn id=\"node-2-nic\">: no link of that name"},
    };
    char path[64], err[1024];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_platform(path, bad[k].body);
        int rc = sim_platform_check(path, err, sizeof err);
        unlink(path);
        if (rc != -1 || !strstr(err, path) || !strstr(err, bad[k].want))
            fail_msg("%s: got '%s', expected '%s'", bad[k].body, rc ? err : "accepted", bad[k].want);
    }
    for (size_t k = 0; k < sizeof bad_top / sizeof bad_top[0]; k++) {
        strcpy(path, "/tmp/distlab-test-XXXXXX.xml");
        int fd = mkstemps(path, 4);
        assert_true(fd >= 0);
        char xml[2048];
        int n = snprintf(xml, sizeof xml, "<?xml version='1.0'?>\n<platform version=\"4.1\">\n%s\n</platform>\n",
                         bad_top[k].platform);
        assert_int_equal(write(fd, xml, (size_t)n), n);
        close(fd);
        int rc = sim_platform_check(path, err, sizeof err);
        unlink(path);
        if (rc != -1 || !strstr(err, bad_top[k].want))
            fail_msg("%s: got '%s', expected '%s'", bad_top[k].platform, rc ? err : "accepted", bad_top[k].want);
    }
    /* what SimGrid takes is taken: units with prefixes, unit-less
     * numbers, pstates that are off, the shipped platforms */
    write_platform(path, "<host id=\"a\" speed=\"100Mf,50.0Mf, 0f\" core=\"4\" pstate=\"1\"/>\n"
                         "<host id=\"b\" speed=\"2gigaflops\"/>\n"
                         "<link id=\"l\" bandwidth=\"1.25GBps\" latency=\"0\"/>\n"
                         "<link id=\"m\" bandwidth=\"10Gibps\" latency=\"1ms\"/>\n"
                         "<link id=\"n\" bandwidth=\"125000000\" latency=\"2m\"/>\n"
                         "<link id=\"s\" bandwidth=\"1Gbps\" latency=\"1us\" sharing_policy=\"SPLITDUPLEX\"/>\n"
                         "<route src=\"a\" dst=\"b\" symmetrical=\"NO\"><link_ctn id=\"l\"/>"
                         "<link_ctn id=\"s\" direction=\"UP\"/></route>\n"
                         "<route src=\"b\" dst=\"a\" symmetrical=\"NO\"><link_ctn id=\"l\"/>"
                         "<link_ctn id=\"s\" direction=\"DOWN\"/></route>\n");
    int rc = sim_platform_check(path, err, sizeof err);
    unlink(path);
    if (rc != 0)
        fail_msg("a valid platform was refused: %s", err);
    /* a profile given in the file (text inside a <trace>), props in
     * their places, a disk with its own */
    strcpy(path, "/tmp/distlab-test-XXXXXX.xml");
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    const char *ok = "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                     "<platform version=\"4.1\">\n<config id=\"c\"><prop id=\"network/model\" value=\"CM02\"/></config>\n"
                     "<trace id=\"t\" periodicity=\"1\">\n0 1.0\n0.5 0.5\n</trace>\n"
                     "<zone id=\"z\" routing=\"Full\"><prop id=\"k\" value=\"v\"/>\n<host id=\"a\" speed=\"1Gf\">"
                     "<disk id=\"d\" read_bw=\"1GBps\" write_bw=\"1GBps\"><prop id=\"x\" value=\"y\"/></disk>"
                     "<prop id=\"p\" value=\"q\"/></host>\n</zone>\n"
                     "<trace_connect trace=\"t\" element=\"a\" kind=\"SPEED\"/>\n</platform>\n";
    assert_int_equal(write(fd, ok, strlen(ok)), (int)strlen(ok));
    close(fd);
    rc = sim_platform_check(path, err, sizeof err);
    unlink(path);
    if (rc != 0)
        fail_msg("a valid platform with a trace was refused: %s", err);
    const char *shipped[] = {"platforms/cluster16.xml", "platforms/two-racks.xml",
                             "platforms/dgx-a100-4nodes.xml"};
    for (int i = 0; i < 3; i++)
        if (sim_platform_check(shipped[i], err, sizeof err) != 0)
            fail_msg("%s", err);
}

/* The case end to end: the job fails with the check's message
 * (the negative latency was taken, and a 1 KiB allreduce reported 1.4 us). */
static void a_negative_latency_fails_the_job(void **state)
{
    (void)state;
    char path[64];
    write_platform(path, "<host id=\"a\" speed=\"1Gf\"/>\n<host id=\"b\" speed=\"1Gf\"/>\n"
                         "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"-1us\"/>\n"
                         "<route src=\"a\" dst=\"b\"><link_ctn id=\"l\"/></route>\n");
    sim_config sim = sim_config_default();
    sim.platform = path;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    job_result res;
    int rc = job_run(&cfg, nothing_rank, NULL, &res);
    unlink(path);
    assert_int_not_equal(rc, 0);
    if (!strstr(res.error, "line 7, <link id=\"l\">: latency='-1us' is negative"))
        fail_msg("%s", res.error);
    job_result_free(&res);
}

/* A program that fills a job_config itself gets the command line's ranges
 * for the generated cluster: these reached SimGrid as they were. */
static void generated_cluster_values_are_checked(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        sim_config sim = sim_config_default();
        if (k == 0)
            sim.bandwidth_Bps = INFINITY;
        else if (k == 1)
            sim.latency_s = 1e308;
        else if (k == 2)
            sim.speed_flops = NAN;
        else
            sim.latency_s = -1e-6;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 2;
        job_result res;
        assert_int_not_equal(job_run(&cfg, nothing_rank, NULL, &res), 0);
        if (!strstr(res.error, "generated cluster:") || !strstr(res.error, "latency 0 to 1e9s"))
            fail_msg("case %d: %s", k, res.error);
        job_result_free(&res);
    }
}

/* An abort in the middle of the run (here a Floyd zone whose routes join
 * a to d and b to c but not the two ranks' hosts, a and c, at the first
 * message) reaches the job's error with SimGrid's reason:
 * the child's stderr stays with the parent through simgrid_run. */
static void an_abort_in_the_run_says_why(void **state)
{
    (void)state;
    char path[64] = "/tmp/distlab-test-XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    const char *xml = "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                      "<platform version=\"4.1\">\n<zone id=\"z\" routing=\"Floyd\">\n"
                      "<host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>\n"
                      "<host id=\"c\" speed=\"1Gf\"/><host id=\"d\" speed=\"1Gf\"/>\n"
                      "<link id=\"l\" bandwidth=\"1Gbps\" latency=\"1us\"/>\n"
                      "<route src=\"a\" dst=\"d\"><link_ctn id=\"l\"/></route>\n"
                      "<route src=\"b\" dst=\"c\"><link_ctn id=\"l\"/></route>\n</zone>\n</platform>\n";
    assert_int_equal(write(fd, xml, strlen(xml)), (int)strlen(xml));
    close(fd);
    sim_config sim = sim_config_default();
    sim.platform = path;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(timing);
    msg_bytes = 8;
    job_result res;
    int rc = job_run(&cfg, oneway_rank, NULL, &res);
    unlink(path);
    assert_int_not_equal(rc, 0);
    if (!strstr(res.error, "SimGrid said:") || !strstr(res.error, "No route from 'a' to 'c'") ||
        strstr(res.error, "Backtrace"))
        fail_msg("%s", res.error);
    job_result_free(&res);
}

static void not_a_platform_is_refused(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.platform = "Makefile";
    job_config cfg = sim_job_config(&sim);
    job_result res;
    assert_int_not_equal(job_run(&cfg, nothing_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "not a SimGrid platform"));
    assert_non_null(strstr(res.error, "not XML: Start tag expected"));
    job_result_free(&res);
    /* a folder, and a device, are refused as what they are */
    const char *not_files[] = {"/tmp", "/dev/null"}, *says[] = {"is a folder, not a file", "is a device"};
    for (int i = 0; i < 2; i++) {
        sim.platform = not_files[i];
        cfg = sim_job_config(&sim);
        assert_int_not_equal(job_run(&cfg, nothing_rank, NULL, &res), 0);
        if (!strstr(res.error, not_files[i]) || !strstr(res.error, says[i]))
            fail_msg("%s: %s", not_files[i], res.error);
        job_result_free(&res);
    }
}

/* Where <platform> starts is the XML's business: a long comment before it
 * (past the 4 KiB that were sniffed for it) is a valid file. */
static void a_long_comment_before_the_platform_is_taken(void **state)
{
    (void)state;
    char path[64] = "/tmp/distlab-test-XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n<!-- ");
    for (int i = 0; i < 6000; i++)
        fputc('x', f);
    fprintf(f, " -->\n<platform version=\"4.1\">\n<zone id=\"z\" routing=\"Full\">\n"
               "<host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>\n"
               "<link id=\"l\" bandwidth=\"1GBps\" latency=\"1us\"/>\n"
               "<route src=\"a\" dst=\"b\"><link_ctn id=\"l\"/></route>\n</zone>\n</platform>\n");
    assert_int_equal(fclose(f), 0);
    sim_config sim = sim_config_default();
    sim.platform = path;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(timing);
    msg_bytes = 1000;
    job_result res;
    int rc = job_run(&cfg, oneway_rank, NULL, &res);
    unlink(path);
    if (rc != 0)
        fail_msg("%s", res.error);
    /* 1 us of latency and 1000 B at 1 GB/s */
    assert_true(fabs(((timing *)job_result_slot(&res, 1))->t[0] - 2e-6) < 1e-9);
    job_result_free(&res);
}

static int host_rank(rt *r, void *arg)
{
    (void)arg;
    /* ranks on the same host see the same shared block */
    int *mem = rt_shared(r, "who", 64 * sizeof(int));
    if (!mem)
        return RT_ENOMEM;
    mem[rt_rank(r)] = 1;
    int rc = rt_barrier(r);
    int seen = 0;
    for (int i = 0; i < 64; i++)
        seen += mem[i];
    ((timing *)job_slot(r))->t[0] = seen;
    return rc;
}

static void placement_decides_who_shares_a_host(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.hosts = 2;
    sim.cores = 4;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 8;
    cfg.result_bytes = sizeof(timing);
    for (int p = 0; p < 2; p++) {
        sim.placement = p == 0 ? SIM_PLACE_ROUND_ROBIN : SIM_PLACE_BLOCK;
        job_result res;
        if (job_run(&cfg, host_rank, NULL, &res) != 0)
            fail_msg("%s", res.error);
        for (int i = 0; i < 8; i++)
            assert_int_equal((int)((timing *)job_result_slot(&res, i))->t[0], 4);
        job_result_free(&res);
    }
}

static int sizeonly_rank(rt *r, void *arg)
{
    (void)arg;
    timing *out = job_slot(r);
    /* a 1 GiB message with no data behind it */
    size_t n = (size_t)1 << 30;
    int rc = rt_rank(r) == 0 ? rt_send(r, 1, 0, NULL, n) : rt_recv(r, 0, 0, NULL, n, NULL);
    out->t[0] = rt_now(r);
    out->t[1] = rt_size_only(r);
    return rc;
}

static void size_only_messages_cost_their_size(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(timing);
    job_result res;
    if (job_run(&cfg, sizeonly_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    timing *t = job_result_slot(&res, 1);
    assert_rel(t->t[0], sim.latency_s + (double)(1 << 30) / sim.bandwidth_Bps, 1e-9);
    assert_int_equal((int)t->t[1], 1);
    job_result_free(&res);
}

/* Each rank swaps a size-only message with its two neighbours. */
static int shift_rank(rt *r, void *arg)
{
    (void)arg;
    int p = rt_size(r), me = rt_rank(r);
    return rt_sendrecv(r, (me + 1) % p, 0, NULL, 4, (me + p - 1) % p, 0, NULL, 4, NULL);
}

/* 2048 ranks that each talk to two peers: the simulation's process stays
 * far below what arrays over all ranks per rank took (224 MB peak at 2048
 * ranks; about 50 MB now). Peak memory, not time: it holds on a busy
 * machine. Sanitizers' shadow memory would swamp it, so they skip it. */
static void memory_grows_with_the_peers_used(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip();
#endif
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2048;
    cfg.record_events = 0;
    job_result res;
    if (job_run(&cfg, shift_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    job_result_free(&res);
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0); /* the largest child so far, in KiB */
    if (ru.ru_maxrss > 128 * 1024)
        fail_msg("the simulation of 2048 ranks peaked at %ld KiB (at most 128 MiB expected)", ru.ru_maxrss);
}

static void generated_cluster_xml(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.cores = 4;
    char xml[2048];
    assert_int_equal(sim_platform_cluster_xml(&sim, 16, xml, sizeof xml), 0);
    assert_non_null(strstr(xml, "radical=\"0-15\""));
    assert_non_null(strstr(xml, "core=\"4\""));
    assert_non_null(strstr(xml, "SPLITDUPLEX"));
    assert_non_null(strstr(xml, "lat=\"2.5e-05s\""));
}

/* A rank count the machine cannot hold is refused before SimGrid starts
 * (it aborted: "Failed to protect stack"), saying what runs out, its
 * limit, how many ranks fit and what to change. */
static void ranks_past_the_machine_are_refused(void **state)
{
    (void)state;
    char err[600];
    sim_limits l = {.max_map_count = 65530, .maps_in_use = 400};
    assert_int_equal(sim_limits_check(16384, &l, err, sizeof err), 0);
    assert_int_equal(sim_limits_check(100000, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "100000 ranks need about 200912 memory mappings"));
    assert_non_null(strstr(err, "vm.max_map_count is 65530, enough for 32309 ranks"));
    assert_non_null(strstr(err, "sysctl -w vm.max_map_count=262144"));

    sim_limits as = {.address_space_bytes = 1 << 30};
    assert_int_equal(sim_limits_check(2032, &as, err, sizeof err), 0);
    assert_int_equal(sim_limits_check(2033, &as, err, sizeof err), -1);
    assert_non_null(strstr(err, "leaves 1024 MiB, enough for 2032 ranks; raise it (ulimit -v)"));

    sim_limits commit = {.commit_bytes = 1 << 30};
    assert_int_equal(sim_limits_check(4096, &commit, err, sizeof err), -1);
    assert_non_null(strstr(err, "vm.overcommit_memory is 2"));
    assert_non_null(strstr(err, "enough for 2032 ranks"));

    sim_limits mem = {.memory_bytes = 64 << 20};
    assert_int_equal(sim_limits_check(4096, &mem, err, sizeof err), 0);
    assert_int_equal(sim_limits_check(4097, &mem, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 MiB is available (MemAvailable and free swap), enough for 4096 ranks"));

    sim_limits none = {0};
    assert_int_equal(sim_limits_check(1 << 30, &none, err, sizeof err), 0);
}

/* The limits of this machine, read from /proc: /proc/meminfo's fields
 * (one read of the file for all of them) and, under ulimit -v (in a
 * forked child), the address space left below it. */
static void limits_are_read_from_proc(void **state)
{
    (void)state;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        skip();
    fclose(f);
    sim_limits l;
    sim_limits_read(&l);
    assert_true(l.max_map_count > 0);
    assert_true(l.maps_in_use > 0);
    assert_true(l.memory_bytes > 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (64ull << 30))
            rl.rlim_cur = 64ull << 30;
        else
            rl.rlim_cur = rl.rlim_max;
        sim_limits c;
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        sim_limits_read(&c);
        _exit(c.address_space_bytes > 0 && c.address_space_bytes < (double)rl.rlim_cur && c.memory_bytes > 0
                  ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* SimGrid's own parser reads only a file with its DTD's DOCTYPE and a
 * version from 4 to 4.1; without them it aborted the run ("Unexpected
 * character `<' in prolog", "BIG FAT WARNING"), exit 1. Refused first,
 * saying what to add; what SimGrid takes is taken. */
static void simgrids_prolog_is_checked(void **state)
{
    (void)state;
    static const char *const zone = "<zone id=\"z\" routing=\"Full\"><host id=\"h\" speed=\"1Gf\"/></zone>";
    static const struct {
        const char *head, *version, *want; /* want NULL: accepted */
    } cases[] = {
        {"<?xml version='1.0'?>\n", "4.1", "no DOCTYPE; SimGrid reads only a file that has <!DOCTYPE platform SYSTEM"},
        {"<!DOCTYPE platform SYSTEM \"foo.dtd\">\n", "4.1", "its DOCTYPE is another"},
        {"<!DOCTYPE platform>\n", "4.1", "its DOCTYPE is another"},
        {"<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n", "3",
         "<platform>: version='3': SimGrid reads versions 4 to 4.1 (simgrid_update_xml updates"},
        {"<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n", "4.2", "version='4.2': SimGrid reads"},
        {"<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n", "x", "version='x'"},
        {"<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n", NULL, "<platform>: no version="},
        {"<?xml version='1.0'?>\n<!-- a note -->\n<!DOCTYPE platform SYSTEM 'https://simgrid.org/simgrid.dtd'>\n",
         "4", NULL},
        {"<!DOCTYPE platform SYSTEM \"http://simgrid.gforge.inria.fr/simgrid/simgrid.dtd\">\n", "4.1", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[] = "/tmp/distlab-test-XXXXXX.xml", xml[1024], version[32] = "", err[1024];
        if (cases[k].version)
            snprintf(version, sizeof version, " version=\"%s\"", cases[k].version);
        int n = snprintf(xml, sizeof xml, "%s<platform%s>%s</platform>\n", cases[k].head, version, zone);
        int fd = mkstemps(path, 4);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, xml, (size_t)n), n);
        close(fd);
        int rc = sim_platform_check(path, err, sizeof err);
        unlink(path);
        if (cases[k].want ? rc != -1 || !strstr(err, path) || !strstr(err, cases[k].want) : rc != 0)
            fail_msg("%s: got '%s', expected '%s'", xml, rc ? err : "accepted", cases[k].want ? cases[k].want : "accepted");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oneway_is_alpha_plus_n_beta),
        cmocka_unit_test(tcp_model_differs_from_ideal),
        cmocka_unit_test(compute_is_flops_over_speed),
        cmocka_unit_test(ranks_share_a_core),
        cmocka_unit_test(deadlock_is_an_error),
        cmocka_unit_test(mismatched_collectives_are_an_error),
        cmocka_unit_test(missing_platform_is_refused),
        cmocka_unit_test(malformed_platform_is_refused),
        cmocka_unit_test(not_a_platform_is_refused),
        cmocka_unit_test(an_abort_in_the_run_says_why),
        cmocka_unit_test(a_long_comment_before_the_platform_is_taken),
        cmocka_unit_test(platform_values_are_checked),
        cmocka_unit_test(a_negative_latency_fails_the_job),
        cmocka_unit_test(generated_cluster_values_are_checked),
        cmocka_unit_test(placement_decides_who_shares_a_host),
        cmocka_unit_test(size_only_messages_cost_their_size),
        cmocka_unit_test(generated_cluster_xml),
        cmocka_unit_test(memory_grows_with_the_peers_used),
        cmocka_unit_test(ranks_past_the_machine_are_refused),
        cmocka_unit_test(limits_are_read_from_proc),
        cmocka_unit_test(simgrids_prolog_is_checked),
    };
    return cmocka_run_group_tests_name("sim backend", tests, NULL, NULL);
}
