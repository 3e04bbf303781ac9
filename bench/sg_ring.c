/* sg_ring.c -- the reference for distlab's simulator overhead: a plain
 * SimGrid C program that sends exactly the messages of a size-only ring
 * allreduce, and nothing else.
 *
 *   build/bench/sg_ring PLATFORM.xml RANKS BYTES
 *
 * Each of the p ranks, on host i of the platform, runs 2(p-1) steps (p-1
 * of reduce-scatter, p-1 of allgather); in each it sends a chunk of
 * BYTES / p to its right neighbour and receives one from its left, both at
 * once, and charges the reduction of the received chunk as flops (one per
 * 4-byte float) in the reduce-scatter steps -- what allreduce_ring.c does
 * with --payload size-only. No event records, no request bookkeeping, no
 * matching: the time SimGrid itself needs. The network settings are
 * distlab's --net ideal (sim/sim_platform.c). It prints the simulated
 * seconds, so a run can check it simulated the same thing as distlab.
 */
#include <stdio.h>
#include <stdlib.h>

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>

static int P;
static double chunk_bytes;
static sg_mailbox_t *inbox; /* rank i receives from its left neighbour here */

static void rank_main(int argc, char **argv)
{
    int me = atoi(argv[argc - 1]);
    sg_mailbox_t right = inbox[(me + 1) % P];
    static char token; /* a payload pointer must not be NULL; nothing is behind it */
    void *got;
    for (int step = 0; step < 2 * (P - 1); step++) {
        sg_comm_t get = sg_mailbox_get_async(inbox[me], &got);
        sg_comm_t put = sg_mailbox_put_async(right, &token, chunk_bytes);
        sg_comm_wait(put);
        sg_comm_wait(get);
        if (step < P - 1)
            sg_actor_execute(chunk_bytes / 4);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PLATFORM.xml RANKS BYTES\n", argv[0]);
        return 2;
    }
    char *cfg[] = {argv[0],
                   "--cfg=contexts/stack-size:512",
                   "--cfg=network/model:CM02",
                   "--cfg=network/crosstraffic:0",
                   "--cfg=network/TCP-gamma:0",
                   "--cfg=network/optim:Full", /* as distlab's --net ideal (sim_platform.c) */
                   "--log=root.thresh:critical",
                   NULL};
    int cargc = 7;
    simgrid_init(&cargc, cfg);
    simgrid_load_platform(argv[1]);
    P = atoi(argv[2]);
    chunk_bytes = atof(argv[3]) / P;
    sg_host_t *hosts = sg_host_list();
    if (P < 2 || (size_t)P > sg_host_count()) {
        fprintf(stderr, "%s: RANKS must be 2..%zu (the platform's hosts)\n", argv[0], sg_host_count());
        return 2;
    }
    inbox = malloc((size_t)P * sizeof *inbox);
    for (int i = 0; i < P; i++) {
        char name[32];
        snprintf(name, sizeof name, "ring-%d", i);
        inbox[i] = sg_mailbox_by_name(name);
    }
    for (int i = 0; i < P; i++) {
        char name[32], rank[16];
        snprintf(name, sizeof name, "rank-%d", i);
        snprintf(rank, sizeof rank, "%d", i);
        const char *args[] = {name, rank};
        sg_actor_create_(name, hosts[i], rank_main, 2, args);
    }
    simgrid_run();
    printf("%.9g simulated seconds\n", simgrid_get_clock());
    free(hosts);
    free(inbox);
    return 0;
}
