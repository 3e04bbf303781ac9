/* job_internal.h -- what core/job.c shares with the backends' run
 * functions (job_backend.run). */
#ifndef DISTLAB_JOB_INTERNAL_H
#define DISTLAB_JOB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/job.h"

/* The head of the result area, written by whichever process runs ranks. */
typedef struct job_shared {
    int failed;
    char error[1024]; /* the first error reported */
    int bad_input;    /* it was the job's settings (job_result.bad_input) */
    int caused;       /* a rank made to fail (RT_EKILLED) or refusing its
                         input (RT_EINPUT) reported: */
    char cause[1024]; /* its error, which the job's error puts first */
    char net_model[64];
    double seconds;
    uint64_t bytes_sent, messages;
    uint64_t cpu_ns; /* real: the ranks' own threads' CPU time in their function */
    uint64_t ran_ahead; /* sim: computations charged ahead of SimGrid's clock */
} job_shared;

/* Record the first failure of the job (later ones are dropped). */
void job_fail(job_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for settings refused before any rank ran (a link the
 * platform lacks, say), from whichever process the backend runs in: the
 * job's result then has bad_input (the command line's exit 2). */
void job_refuse(job_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fold one finished rank into the result: its status, counters, events. */
int job_collect_rank(job_result *res, rt *r, int status);
/* The same for a rank that ran elsewhere (hosts) and reported these. */
int job_collect_report(job_result *res, int rank, int status, const char *err, const rt_event *events,
                       size_t nevents, uint64_t bytes_sent, uint64_t messages);
/* A process's events through a file descriptor: write appends them
 * at fd's offset; read appends to res the events of the whole file (from
 * offset 0, whatever fd's offset). Both return 0 or -1. */
int job_events_write_fd(const job_result *res, int fd);
int job_events_read_fd(job_result *res, int fd);
void job_describe_exit(int wstatus, char *buf, size_t len);

#endif
