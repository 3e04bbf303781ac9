/* records_internal.h -- what the records writer, reader and trace export
 * share: file formats and small helpers. */
#ifndef DISTLAB_RECORDS_INTERNAL_H
#define DISTLAB_RECORDS_INTERNAL_H

#include <stddef.h>

#define RECORDS_METRICS_HEADER "time_s,epoch,step,train_loss,test_loss,test_accuracy"
#define RECORDS_METRICS_NSTD 6
#define RECORDS_EVENTS_HEADER "rank,kind,start_s,end_s,bytes,peer,tag"
/* what runs before the tag column wrote; still read */
#define RECORDS_EVENTS_HEADER_V1 "rank,kind,start_s,end_s,bytes,peer"
/* Ranks of a run: at most twice the most workers any verb starts
 * (collective and dp: --workers 1048576), for servers beside them. A rank
 * number in events.csv past them is a broken file, not a run, and sizes
 * nothing (a timeline has a row per rank). */
#define RECORDS_MAX_RANK (1 << 21)
#define RECORDS_MAX_RANK_TEXT "2097151"
#define RECORDS_TAG_MAX_TEXT "1073741823" /* RT_TAG_MAX */
/* The largest time a run record may hold, in seconds (about 31.7 million
 * years): past the longest simulation distlab's options allow, and small
 * enough that a trace's microseconds and a figure's axis stay finite. */
#define RECORDS_MAX_SECONDS 1e15
/* The largest epoch count a metrics row may hold. */
#define RECORDS_MAX_EPOCHS 1e9

void records_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* dir + "/" + file, malloc'd; NULL when out of memory. */
char *records_path(const char *dir, const char *file);

#endif
