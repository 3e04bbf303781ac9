/* test_hosts.c -- `--launch hosts`: one distlab command per rank, the ranks
 * finding each other through --peers, on loopback addresses of this
 * machine. The same fixed-seed training gives the same model as forked
 * processes; rank 0 gathers every rank's events; a rank that is missing,
 * dies, or was given another peer list is reported clearly and in time;
 * bad options are refused.
 *
 * Runs the binary named by $DISTLAB (make check sets it), else the one
 * next to the tests folder; skips when there is none.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/util_distlab.h"
#include "tests/util_files.h"

enum { MAX_RANKS = 4 };

static char tmpdir[256];

#define NEED_BINARY()          \
    do {                       \
        if (!test_distlab())   \
            skip();            \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "127.0.0.1:P0,127.0.0.1:P1,..." with ports nothing listens on now. */
static void free_peers(int n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        assert_true(s >= 0);
        assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
        close(s);
        snprintf(buf + strlen(buf), len - strlen(buf), "%s127.0.0.1:%d", i ? "," : "", ntohs(a.sin_port));
    }
}

/* One rank's command, started in the background with its output in
 * tmpdir/rank<i>.log. */
typedef struct rank_proc {
    pid_t pid;
    int status; /* exit status, or -1 */
    double ended_s;
} rank_proc;

static void start(rank_proc *p, int rank, const char *args, const char *peers, int rank_in_env)
{
    char cmd[4096], log[512], rank_opt[32];
    snprintf(log, sizeof log, "%s/rank%d.log", tmpdir, rank);
    snprintf(rank_opt, sizeof rank_opt, "--rank %d", rank);
    if (rank_in_env) /* as mpirun would start it */
        snprintf(cmd, sizeof cmd, "OMPI_COMM_WORLD_RANK=%d exec %s %s --backend real --launch hosts --peers %s > %s 2>&1",
                 rank, test_distlab(), args, peers, log);
    else
        snprintf(cmd, sizeof cmd, "exec %s %s --backend real --launch hosts --peers %s %s > %s 2>&1",
                 test_distlab(), args, peers, rank_opt, log);
    p->status = -1;
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
}

static void start_rank(rank_proc *p, int rank, const char *args, const char *peers)
{
    start(p, rank, args, peers, 0);
}

/* Wait for the ranks, killing any still running after limit_s. */
static void wait_ranks(rank_proc *p, int n, double limit_s)
{
    double t0 = now_s();
    for (int left = n; left > 0;) {
        for (int i = 0; i < n; i++) {
            int ws;
            if (p[i].status != -1 || p[i].pid <= 0)
                continue;
            pid_t got = waitpid(p[i].pid, &ws, WNOHANG);
            if (got == p[i].pid) {
                p[i].status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
                p[i].ended_s = now_s() - t0;
                left--;
            }
        }
        if (left > 0 && now_s() - t0 > limit_s) {
            for (int i = 0; i < n; i++)
                if (p[i].status == -1)
                    kill(p[i].pid, SIGKILL);
            limit_s = 1e9;
        }
        usleep(10000);
    }
}

/* A 2-rank hosts job on fresh ports: rank 0 runs args0, rank 1 args1. */
static void run_pair(rank_proc p[2], const char *args0, const char *args1)
{
    char peers[256];
    free_peers(2, peers, sizeof peers);
    start_rank(&p[0], 0, args0, peers);
    start_rank(&p[1], 1, args1, peers);
    wait_ranks(p, 2, 30);
}

static void read_log(int rank, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rank%d.log", tmpdir, rank);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

static void assert_log_has(int rank, const char *what)
{
    char buf[8192];
    read_log(rank, buf, sizeof buf);
    if (!strstr(buf, what))
        fail_msg("rank %d's output lacks '%s':\n%s", rank, what, buf);
}

static const char *train = "run allreduce --dataset synth-dense:n=1500,d=20,classes=3 --model mlp:8 "
                           "--workers 3 --epochs 2 --batch 16 --seed 11 --quiet --no-figures --timeout 20";

static void same_model_as_processes(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256], out[1024], args[1024];
    free_peers(3, peers, sizeof peers);
    snprintf(args, sizeof args, "%s --out %s/hosts", train, tmpdir);
    rank_proc p[3];
    for (int i = 2; i >= 0; i--) /* the highest first: rank 0 is last to start */
        start_rank(&p[i], i, args, peers);
    wait_ranks(p, 3, 60);
    for (int i = 0; i < 3; i++)
        assert_int_equal(p[i].status, 0);
    assert_log_has(0, "test accuracy");
    assert_log_has(1, "rank 1 of 3 done; rank 0 has the results");
    assert_log_has(2, "rank 2 of 3 done");
    assert_int_equal(test_distlab_run(out, sizeof out, "%s --backend real --launch procs --out %s/procs",
                                      train, tmpdir), 0);

    static char a[1 << 20], b[1 << 20];
    size_t na, nb;
    char path[512];
    snprintf(path, sizeof path, "%s/hosts/model.bin", tmpdir);
    assert_int_equal(test_read_file(path, a, sizeof a, &na), 0);
    snprintf(path, sizeof path, "%s/procs/model.bin", tmpdir);
    assert_int_equal(test_read_file(path, b, sizeof b, &nb), 0);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);

    /* rank 0 wrote every rank's events, each on its own clock from 0 */
    snprintf(path, sizeof path, "%s/hosts/events.csv", tmpdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int seen[3] = {0, 0, 0}, rank;
    char line[512];
    double start, end;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%d,%*[a-z],%lf,%lf", &rank, &start, &end) == 3 && rank >= 0 && rank < 3) {
            seen[rank]++;
            assert_true(start >= 0 && end >= start && end < 60);
        }
    fclose(f);
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] > 10);
}

static void collective_checks_every_iteration(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256];
    free_peers(4, peers, sizeof peers);
    rank_proc p[4];
    for (int i = 0; i < 4; i++) /* rank 3 takes its rank from the environment */
        start(&p[i], i, "collective --workers 4 --algo rabenseifner --bytes 4KiB,1MiB --iters 3 --timeout 20",
              peers, i == 3);
    wait_ranks(p, 4, 60);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p[i].status, 0);
    assert_log_has(0, "real,allreduce,rabenseifner,4,1048576,");
    assert_log_has(3, "rank 0 has the results");
}

/* Rank 0 of an n-rank job, started alone with --timeout 1. */
static void rank0_alone(int n, rank_proc *p)
{
    char peers[256], args[128];
    free_peers(n, peers, sizeof peers);
    snprintf(args, sizeof args, "collective --workers %d --bytes 4KiB --timeout 1", n);
    start_rank(p, 0, args, peers);
    wait_ranks(p, 1, 20);
}

/* Rank 1 never starts: rank 0 gives up after --timeout, saying so. */
static void missing_rank_times_out(void **state)
{
    (void)state;
    NEED_BINARY();
    rank_proc p[1];
    rank0_alone(2, p);
    assert_int_equal(p[0].status, 1); /* not killed by wait_ranks at 20 s */
    assert_log_has(0, "still missing");
}

/* Rank 0 started alone of 3 names the ranks it waited for, 1..2, not
 * itself (issue 15, item 17: it said "ranks 0..2"). */
static void missing_ranks_are_named(void **state)
{
    (void)state;
    NEED_BINARY();
    rank_proc p[1];
    rank0_alone(3, p);
    assert_int_equal(p[0].status, 1);
    assert_log_has(0, "the connections from ranks 1..2 still missing");
}

/* A rank given another peer list (the same addresses, written otherwise)
 * belongs to another job: rank 0 refuses its hello and says why. */
static void another_peer_list_is_another_job(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256], other[300];
    free_peers(2, peers, sizeof peers);
    const char *second = strrchr(peers, ':') + 1; /* rank 1's port, written with a leading 0 */
    snprintf(other, sizeof other, "%.*s0%s", (int)(second - peers), peers, second);
    rank_proc p[2];
    start_rank(&p[0], 0, "collective --workers 2 --bytes 4KiB --timeout 3", peers);
    start_rank(&p[1], 1, "collective --workers 2 --bytes 4KiB --timeout 3", other);
    wait_ranks(p, 2, 30);
    assert_int_equal(p[0].status, 1);
    assert_int_equal(p[1].status, 1);
    assert_log_has(0, "of another job");
}

/* Ranks started with other options (here another vector size) would
 * compute different things: they are refused as another job's. Options
 * that are each rank's own (--out, --timeout, their order) are not. */
static void other_options_are_another_job(void **state)
{
    (void)state;
    NEED_BINARY();
    rank_proc p[2];
    run_pair(p, "collective --workers 2 --bytes 4KiB --timeout 3", "collective --workers 2 --bytes 8KiB --timeout 3");
    assert_int_equal(p[0].status, 1);
    assert_int_equal(p[1].status, 1);
    assert_log_has(0, "the same --peers and the same options");
    assert_log_has(1, "refused this rank as another job's"); /* told, not left to time out */

    /* a repeated option counts with its last value */
    run_pair(p, "collective --workers 2 --bytes 4KiB --bytes 8KiB --timeout 3",
             "collective --workers 2 --bytes 8KiB --bytes 4KiB --timeout 3");
    assert_int_equal(p[0].status, 1);
    assert_log_has(0, "the same --peers and the same options");

    run_pair(p, "collective --bytes 4KiB --workers 2 --timeout 5", "collective --workers 2 --timeout 4 --bytes 4KiB");
    assert_int_equal(p[0].status, 0);
    assert_int_equal(p[1].status, 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Data files may lie at other paths on other machines; what counts is
 * that the ranks loaded the same data. */
static void same_data_at_other_paths_joins(void **state)
{
    (void)state;
    NEED_BINARY();
    char a[512], b[512], c[512], args0[1024], args1[1024];
    const char *data = "1 1:0.5 2:1\n-1 1:-0.5 3:1\n1 2:0.7 3:0.1\n-1 1:-1 2:0.2\n"
                       "1 1:0.9 3:0.4\n-1 2:-0.3 3:-1\n1 1:0.2 2:0.8\n-1 1:-0.4 3:0.6\n";
    snprintf(a, sizeof a, "%s/a.svm", tmpdir);
    snprintf(b, sizeof b, "%s/b.svm", tmpdir);
    snprintf(c, sizeof c, "%s/c.svm", tmpdir);
    write_text(a, data);
    write_text(b, data);
    write_text(c, "1 1:0.5\n-1 1:-0.5\n1 1:0.6\n-1 1:-0.6\n1 1:0.7\n-1 1:-0.7\n1 1:0.8\n-1 1:-0.8\n");
    const char *common = "run allreduce --workers 2 --model logreg --epochs 1 --batch 2 --quiet --no-figures "
                         "--timeout 3 --test-fraction 0.25";
    rank_proc p[2];
    snprintf(args0, sizeof args0, "%s --data %s --out %s/same", common, a, tmpdir);
    snprintf(args1, sizeof args1, "%s --data %s", common, b);
    run_pair(p, args0, args1);
    assert_int_equal(p[0].status, 0);
    assert_int_equal(p[1].status, 0);

    snprintf(args0, sizeof args0, "%s --data %s --out %s/other", common, a, tmpdir);
    snprintf(args1, sizeof args1, "%s --data %s", common, c);
    run_pair(p, args0, args1);
    assert_int_equal(p[0].status, 1);
    assert_log_has(1, "refused this rank as another job's");
}

/* A rank killed in the middle of training: the others end within a couple
 * of seconds, not at the timeout, and rank 0 names what happened. */
/* The CPU seconds a process has used, from /proc (0 when unreadable). */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *at = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long utime = 0, stime = 0;
    if (!at || sscanf(at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void dead_rank_is_named(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256];
    free_peers(3, peers, sizeof peers);
    const char *args = "run allreduce --dataset synth-dense:n=20000,d=50,classes=4 --model mlp:64 "
                       "--workers 3 --epochs 1000 --batch 16 --quiet --no-figures --timeout 30";
    char with_out[1024];
    rank_proc p[3];
    for (int i = 0; i < 3; i++) {
        snprintf(with_out, sizeof with_out, "%s --out %s/dead%d", args, tmpdir, i);
        start_rank(&p[i], i, with_out, peers);
    }
    /* Kill it once it trains: after a second of its own CPU time (loading
     * and the mesh take far less), not after a second of a clock that a
     * busy machine stretches -- killed before the mesh is up, the others
     * would wait for it to connect until the timeout. */
    for (double t = now_s(); cpu_seconds(p[2].pid) < 1.0 && now_s() - t < 120;)
        usleep(50 * 1000);
    assert_int_equal(kill(p[2].pid, SIGKILL), 0);
    wait_ranks(p, 3, 90);
    assert_int_equal(p[0].status, 1);
    assert_int_equal(p[1].status, 1);
    assert_int_equal(p[2].status, 128 + SIGKILL);
    assert_log_has(0, "rank 2"); /* "recv from rank 2: connection closed", or a failed write */
    /* told, not timed out: neither survivor waited out its 30 s --timeout
     * (which says "no progress for"); a log, not a clock, shows it */
    for (int i = 0; i < 2; i++) {
        char log[8192];
        read_log(i, log, sizeof log);
        if (strstr(log, "no progress for"))
            fail_msg("rank %d timed out instead of being told rank 2 died:\n%s", i, log);
    }
}

/* A rank stopped (SIGSTOP) in the middle of training: alive, silent. The
 * rank that waits on it times out; every other rank, waiting on one that
 * waits, is known to be there (it says so while it waits), so rank 0
 * takes their reports and gives up on the stopped one's at once, rather
 * than wait a timeout more for it (it did, in most runs: 10 s instead of
 * 5 with --timeout 5s). What shows that without a clock: the job's
 * error is the wait on the stopped rank, and rank 0 says it gave up on
 * that rank's report having heard nothing from it -- when it waited out
 * a timeout of its own instead, the reason was "no progress" on a
 * receive from it. */
static void stopped_rank_costs_one_timeout(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256], args[1024];
    free_peers(4, peers, sizeof peers);
    snprintf(args, sizeof args, "run allreduce --dataset synth-dense:n=20000,d=50,classes=4 --model mlp:64 "
             "--workers 4 --epochs 1000 --batch 16 --quiet --no-figures --timeout 8 --out %s/stopped", tmpdir);
    rank_proc p[4];
    for (int i = 0; i < 4; i++)
        start_rank(&p[i], i, args, peers);
    for (double t = now_s(); cpu_seconds(p[2].pid) < 1.0 && now_s() - t < 120;)
        usleep(50 * 1000); /* it trains: the mesh is up */
    assert_int_equal(kill(p[2].pid, SIGSTOP), 0);
    rank_proc others[3] = {p[0], p[1], p[3]};
    wait_ranks(others, 3, 90);
    kill(p[2].pid, SIGKILL);
    waitpid(p[2].pid, NULL, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(others[i].status, 1);
    char log[8192];
    read_log(0, log, sizeof log);
    if (!strstr(log, "recv from rank 2") || !strstr(log, "rank 2 ended without reporting to rank 0: rank ") ||
        !strstr(log, "heard nothing from it for 8 s"))
        fail_msg("rank 0 should name the wait on rank 2 and give up on its report, having heard nothing "
                 "from it; it said:\n%s", log);
    /* one timeout in all: the wait on the stopped rank */
    int timeouts = 0;
    for (const char *at = log; (at = strstr(at, "no progress for")) != NULL; at++)
        timeouts++;
    assert_int_equal(timeouts, 1);
}

/* A parameter-server worker's command exits mid-training (--kill-worker):
 * under async the others finish without it, and rank 0 says so. */
static void ps_goes_on_without_a_killed_worker(void **state)
{
    (void)state;
    NEED_BINARY();
    char peers[256], args[1024];
    free_peers(5, peers, sizeof peers);
    snprintf(args, sizeof args, "run ps --workers 4 --servers 1 --consistency async --kill-worker 2:4 "
             "--dataset synth-dense:n=4000,d=20,classes=3 --model softmax --epochs 3 --batch 16 "
             "--quiet --no-figures --timeout 20 --out %s/ps", tmpdir);
    rank_proc p[5];
    for (int i = 0; i < 5; i++)
        start_rank(&p[i], i, args, peers);
    wait_ranks(p, 5, 60);
    assert_int_equal(p[0].status, 0);
    assert_log_has(0, "1 worker died; training finished with the others");
    assert_int_equal(p[3].status, 1); /* worker 2 is rank 1 + 2 */
    assert_log_has(3, "rank 3 fails at its step 4 (--kill-rank)");
    for (int i = 1; i < 5; i++)
        if (i != 3)
            assert_int_equal(p[i].status, 0);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    static const test_refusal cases[] = {
        {"--backend real --launch hosts --rank 0", "needs --peers"},
        {"--backend real --launch hosts --peers 127.0.0.1:1,127.0.0.1:2", "needs --rank"},
        {"--launch hosts --peers 127.0.0.1:1,127.0.0.1:2 --rank 0", "add --backend real"},
        {"--backend real --peers 127.0.0.1:1,127.0.0.1:2", "only with --launch hosts"},
        {"--backend real --rank 1", "only with --launch hosts"},
        {"--backend real --launch hosts --peers 127.0.0.1:1,127.0.0.1:2 --rank 0 --listen 0.0.0.0",
         "its own --peers entry"},
        {"--backend real --launch hosts --peers 127.0.0.1:1 --rank x", "--rank"},
    };
    test_distlab_refuses("collective --workers 2 --bytes 4KiB", cases, sizeof cases / sizeof *cases);
    char out[4096];
    assert_int_equal(test_distlab_run(out, sizeof out, "run hogwild --backend real --launch hosts "
                                      "--peers 127.0.0.1:1,127.0.0.1:2 --rank 0 --workers 2"), 2);
    assert_non_null(strstr(out, "share memory"));
    /* compare and sweep run several jobs in one command */
    assert_true(test_distlab_run(out, sizeof out, "compare --algos allreduce,ps --backend real --launch hosts "
                                 "--peers 127.0.0.1:1,127.0.0.1:2 --rank 0 --out %s/cmp", tmpdir) != 0);
    assert_non_null(strstr(out, "compare runs several jobs"));
    /* known only once the job's size is, before any rank runs: bad input
     * too, exit 2 */
    assert_int_equal(test_distlab_run(out, sizeof out, "collective --workers 2 --bytes 4KiB --backend real "
                                      "--launch hosts --peers 127.0.0.1:1 --rank 0"), 2);
    assert_non_null(strstr(out, "--peers lists 1 address, but this job has 2 ranks"));
    /* the list as written is input like any option's: exit 2, before the job */
    static const test_refusal peer_lists[] = {
        {"--peers 127.0.0.1:1,localhost:2 --rank 0", "entry 2: 'localhost:2'"},
        {"--peers 127.0.0.1:1,127.0.0.1:70000 --rank 1", "the port must be 1..65535"},
        {"--peers 127.0.0.1:1,,127.0.0.1:2 --rank 0", "--peers: entry 2 is empty"},
        {"--peers 127.0.0.1:1,127.0.0.1:2, --rank 0", "--peers: entry 3 is empty"},
        {"--peers ',' --rank 0", "--peers: entry 1 is empty"},
        {"--peers :80,127.0.0.1:2 --rank 0", "entry 1: ':80' is not HOST:PORT"},
        {"--peers 127.0.0.1:5x,127.0.0.1:2 --rank 0", "entry 1: '127.0.0.1:5x'"},
    };
    test_distlab_refuses("collective --workers 2 --bytes 4KiB --backend real --launch hosts", peer_lists,
                         sizeof peer_lists / sizeof *peer_lists);
    assert_int_equal(test_distlab_run(out, sizeof out, "collective --workers 2 --bytes 4KiB --backend real "
                                      "--launch hosts --peers 127.0.0.1:1,127.0.0.1:2 --rank 2"), 2);
    assert_non_null(strstr(out, "--rank 2: this job has ranks 0..1"));
    assert_int_equal(test_distlab_run(out, sizeof out, "run allreduce --workers 2 --backend real --launch hosts "
                                      "--peers 127.0.0.1:1,127.0.0.1:2,127.0.0.1:3 --rank 0 --out %s/three", tmpdir), 2);
    assert_non_null(strstr(out, "--peers lists 3 addresses, but this job has 2 ranks"));
    /* one address twice (here also written otherwise): refused before any
     * wait, not after --timeout spent waiting for the second rank there */
    char one[64], peers[160];
    free_peers(1, one, sizeof one);
    const char *port = strrchr(one, ':') + 1;
    snprintf(peers, sizeof peers, "%s,127.0.0.1:7,127.0.0.1:0%s", one, port);
    assert_int_equal(test_distlab_run(out, sizeof out, "collective --workers 3 --bytes 4KiB --backend real "
                                      "--launch hosts --peers %s --rank 0 --timeout 30", peers), 2);
    if (!strstr(out, "entries 1 and 3 are both"))
        fail_msg("expected a refusal of the repeated address, got: %s", out);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* ranks come from --rank here, not from a batch system around the test */
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_RANK");
    unsetenv("SLURM_PROCID");
    return test_tmpdir(tmpdir, sizeof tmpdir, "hosts");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_model_as_processes),
        cmocka_unit_test(collective_checks_every_iteration),
        cmocka_unit_test(missing_rank_times_out),
        cmocka_unit_test(missing_ranks_are_named),
        cmocka_unit_test(another_peer_list_is_another_job),
        cmocka_unit_test(other_options_are_another_job),
        cmocka_unit_test(same_data_at_other_paths_joins),
        cmocka_unit_test(dead_rank_is_named),
        cmocka_unit_test(stopped_rank_costs_one_timeout),
        cmocka_unit_test(ps_goes_on_without_a_killed_worker),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests_name("real ranks launched one per command (--launch hosts)", tests, setup,
                                       teardown);
}
