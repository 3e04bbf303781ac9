/* util_records_input.h -- one byte string as a run folder, through every
 * reader of run folders: the fuzz target (fuzz/fuzz_records.c) and the
 * sanitizer test of malformed runs (tests/test_malformed_runs.c) share it. */
#ifndef DISTLAB_TEST_UTIL_RECORDS_INPUT_H
#define DISTLAB_TEST_UTIL_RECORDS_INPUT_H

#include <stddef.h>

/* The input is up to three parts separated by lines "@@": summary.json,
 * metrics.csv, events.csv (a part not given is a file not there). They
 * are written into dir (an existing, empty folder), then loaded part by
 * part; what loads goes through the trace writer (whose JSON must parse
 * back), the axis ticks and labels of every metrics column, and with
 * draw set the plot and timeline figures (as PNG files in dir).
 * Returns 0, or -1 with a message in why when a reader broke a promise:
 * a refusal without a message, an accepted value that is not finite, a
 * trace that does not parse. Memory errors are the sanitizers' to catch. */
int records_input_run(const char *dir, const unsigned char *data, size_t size, int draw, char *why,
                      size_t whylen);

#endif
