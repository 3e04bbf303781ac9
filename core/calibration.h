/* calibration.h -- what `distlab calibrate` measured on a real machine,
 * as a file a simulation can be run from.
 *
 * A simulated run charges each message alpha + bytes / bandwidth and each
 * computation flops / speed. Those three numbers are what make a
 * simulation predict a real machine, so calibration measures them there,
 * on the ranks the user asks for, with the same code the runs use:
 *
 *   latency_s, bandwidth_Bps  a least-squares line through one-way times
 *                             of pingpongs from 8 B to 4 MiB, rank 0 with
 *                             every other rank (each pair kept in paths)
 *   messages[]                per message size (8 B to 4 MiB), the one-way
 *                             time itself: where the line misses a size (a
 *                             4 MiB message outgrows the cache that the
 *                             mid-size ones stay in) a simulation charges
 *                             that size's own cost (calib_wire_scale)
 *   send_overhead_s,          LogP's o: a rank's own time in a send and in a
 *   recv_overhead_s           receive of a small message (bursts of them),
 *                             which a simulation charges the rank as busy
 *                             time; the wire latency is what remains of
 *                             latency_s (o_s + wire + o_r = latency_s)
 *   wake_s                    a small message's round trip to a rank that
 *                             sleeps in its wait (it waited past its spin
 *                             time, real/engine.c) over one to a rank that
 *                             still polls: the kernel's wake-up, which a
 *                             simulation adds to a wait it decides was
 *                             slept through (sim_config.wake_s); 0 where
 *                             no rank polls (more ranks than cores), since
 *                             the pingpong's latency then holds it
 *   messages[].exchange_s     from 64 KiB up, the same size both ways at
 *                             once: its time over the one-way time is the
 *                             size's own exchange factor (on loopback it
 *                             grows where an exchange outgrows the cache
 *                             that a one-way transfer still fits), which a
 *                             simulation charges relative to the largest
 *                             size's (calib_exchange_share)
 *   exchange_factor           two ranks sending each other 4 MiB at once,
 *                             over one 4 MiB one-way time: ~2 where a
 *                             host's sends and receives share one copying
 *                             capacity (loopback, where the CPU is the
 *                             wire), ~1 on a full-duplex network; a
 *                             simulation then limits both directions of a
 *                             host together to match it
 *   cores                     the cores the measuring process may run on
 *                             (its CPU affinity): with launch threads or
 *                             procs, the one machine's, which a simulation
 *                             then gives one host of that many cores, so
 *                             that more ranks than cores share them
 *   cpu_share                 during the compute phase, a rank's CPU time
 *                             over wall time: below 1 the machine was busy
 *                             with other work (load_average beside it)
 *   reduce_flops_per_s        the rate of the collectives' vector add, all
 *                             ranks at once (one flop per float)
 *   vector[]                  per vector length, the rate of element-wise
 *                             work (a collective's add, one flop per
 *                             float; flops per call beside it), all ranks
 *                             at once: what a simulation charges
 *                             rt_compute_as(RT_WORK_VECTOR) at, from a few
 *                             thousand floats (in the cache) to millions
 *   shared[]                  per vector length, ranks on one machine
 *                             reading and writing one shared vector at
 *                             once, as Hogwild!'s workers do (each reads
 *                             it all into a copy of its own, works
 *                             privately for a while, then writes w -= lr g
 *                             over it all): the bytes a second of the
 *                             reads and of the writes, which a simulation
 *                             charges RT_WORK_SHARED_READ and _WRITE at.
 *                             Absent from a file of ranks on several hosts
 *                             (and from files of earlier builds, read as
 *                             they were: a shared read then costs nothing)
 *   gather_Bps                every rank at once copying batches of its
 *                             shard's examples into a matrix of their own,
 *                             at the first batch size: bytes a second,
 *                             what a simulation charges RT_WORK_GATHER at
 *                             (absent from earlier builds' files: free)
 *   loss_flops_per_s          every rank at once running the softmax
 *                             cross-entropy (ml_softmax_xent) a row at a
 *                             time on a batch's logits, the first batch
 *                             size and the data's classes: 4 flops a
 *                             logit, what a simulation charges
 *                             RT_WORK_LOSS at (absent from earlier
 *                             builds' files: model work)
 *   compute[]                 per model and batch size, the rate of the
 *                             model's counted flops in training (forward
 *                             and backward) and in evaluation (forward),
 *                             all ranks at once -- so ranks that share a
 *                             core measure the share they get; each rank
 *                             draws its batches from its own shard in a
 *                             fresh order each pass, as the runs do;
 *                             and the training rate again with a sleep
 *                             of CALIB_WOKEN_SLEEP_S in the kernel before
 *                             each step (train_woken_flops_per_s): a rank
 *                             that slept through a wait starts its next
 *                             step with caches other work has used (on
 *                             this 2-core VM softmax's step at batch 64
 *                             ran 15-25% slower so), which a simulation
 *                             charges the first model work after a wait
 *                             its rank would have slept through
 *
 * Each number is the median of --repeat measurements, with the smallest
 * and largest beside it. The file is JSON (format "distlab-calibration",
 * version 7: 5 had no train_woken_flops_per_s, 6 no exchange_s), written
 * with the distlab version that measured it; a file of
 * another format or version is refused rather than half understood.
 */
#ifndef DISTLAB_CALIBRATION_H
#define DISTLAB_CALIBRATION_H

#include <stddef.h>

#define CALIB_FORMAT "distlab-calibration"
#define CALIB_FORMAT_VERSION 8
#define CALIB_MAX_COMPUTE 32
#define CALIB_MAX_PATHS 64
#define CALIB_MAX_VECTOR 8
#define CALIB_MAX_MESSAGES 8

typedef struct calib_stat {
    double median, min, max;
    int n;                  /* measurements behind the median */
} calib_stat;

typedef struct calib_compute {
    char model[128];        /* as --model takes it */
    char dataset[256];
    size_t batch;
    calib_stat train_flops_per_s;
    calib_stat eval_flops_per_s;
    calib_stat train_woken_flops_per_s; /* each step after a sleep of CALIB_WOKEN_SLEEP_S */
} calib_compute;

#define CALIB_WOKEN_SLEEP_S 100e-6 /* about a parameter-server worker's wait for its weights */
#define CALIB_WOKEN_MAX 2.0        /* a simulation holds the slowdown within [1/2, 2] */

typedef struct calib_vector {
    size_t floats;          /* the vector's length */
    double flops_per_call;  /* what one call of that length charges */
    calib_stat flops_per_s;
} calib_vector;

typedef struct calib_shared {
    size_t floats;          /* the shared vector's length */
    calib_stat read_Bps, write_Bps;
} calib_shared;

typedef struct calib_message {
    size_t bytes;
    calib_stat oneway_s;    /* over every path */
    calib_stat exchange_s;  /* both ways at once, from CALIB_SCALE_FROM bytes up (n 0: none) */
} calib_message;

typedef struct calib_path {
    int from, to;
    calib_stat latency_s, bandwidth_Bps;
} calib_path;

typedef struct calibration {
    char distlab_version[32];
    char machine[256];      /* host name, cores */
    char date[64];          /* UTC, ISO 8601 */
    char launch[32];        /* threads, procs or hosts */
    int ranks;
    int cores;              /* the CPU affinity of the measuring process */
    calib_stat latency_s, bandwidth_Bps, reduce_flops_per_s;
    calib_stat send_overhead_s, recv_overhead_s, exchange_factor, cpu_share;
    calib_stat wake_s;
    calib_stat gather_Bps;  /* n 0: not measured */
    calib_stat loss_flops_per_s; /* n 0: not measured */
    double load_average;    /* the 1-minute load average when it began */
    int npaths;
    calib_path paths[CALIB_MAX_PATHS];
    int ncompute;
    calib_compute compute[CALIB_MAX_COMPUTE];
    int nmessages;          /* by size, increasing; 0: the line for every size */
    calib_message messages[CALIB_MAX_MESSAGES];
    int nvector;            /* by length, increasing */
    calib_vector vector[CALIB_MAX_VECTOR];
    int nshared;            /* by length, increasing; 0: not measured */
    calib_shared shared[CALIB_MAX_VECTOR];
} calibration;

/* The median, smallest and largest of n values (sorted in place). */
calib_stat calib_stat_of(double *v, int n);

/* Write c as JSON to path; read one back, refusing a missing, malformed or
 * truncated file, another format or version, and any number that is not
 * positive and finite (the message names the file and the field). */
int calib_write(const calibration *c, const char *path, char *err, size_t errlen);
int calib_read(const char *path, const char *version, calibration *c, char *err, size_t errlen);

/* What a simulation charges from c: the wire latency (latency_s less the
 * two overheads), the two overheads, and the exchange factor (within
 * [1, 2]). */
void calib_network(const calibration *c, double *wire_latency_s, double *send_overhead_s,
                   double *recv_overhead_s, double *exchange_factor);

/* Where the line latency_s + bytes / bandwidth_Bps misses the measured
 * one-way times: for each measured size from CALIB_SCALE_FROM bytes up
 * whose time exceeds the latency, the size's own per-byte cost over the
 * line's, held within [1/2, 2], into bytes[] and scale[] (at most max
 * points, sizes increasing). A simulation charges a message of n bytes as n times the
 * scale at n (sim_config.nmsg). Returns the number of points. */
#define CALIB_SCALE_FROM 65536
#define CALIB_SCALE_MAX 2.0 /* scales held within [1/2, 2] */
int calib_wire_scale(const calibration *c, double *bytes, double *scale, int max);

/* Where a size's exchange costs less than the largest size's factor
 * makes of it: for each measured size from CALIB_SCALE_FROM bytes up,
 * its exchange factor (exchange_s over oneway_s, medians) over the
 * largest size's, held within [1 / F, 1] for F the exchange factor a
 * simulation charges (calib_network), into bytes[] and share[] (at most
 * max points, sizes increasing). A simulation sends a message of n bytes
 * as the share at n of its bytes, at most the share of the bandwidth
 * (sim_config.nshare). Returns the number of points (0: no exchanges
 * measured by size). */
int calib_exchange_share(const calibration *c, double *bytes, double *share, int max);

/* 1 when every rank ran on one machine (launch threads or procs, over
 * loopback), 0 for --launch hosts. */
int calib_one_machine(const calibration *c);

/* The measured training rate for this model at the batch size nearest to
 * batch (on a log scale), and (woken_flops_per_s, unless NULL) its rate
 * when each step follows a sleep; -1 with a message listing what the file
 * has when it has no rate for the model. */
int calib_train_rate(const calibration *c, const char *model, size_t batch, double *flops_per_s,
                     double *woken_flops_per_s, size_t *measured_batch, char *err, size_t errlen);

#endif
