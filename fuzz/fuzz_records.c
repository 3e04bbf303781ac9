/* fuzz_records.c -- libFuzzer target for the run-folder readers
 * (`make fuzz-records`).
 *
 * Run folders get copied, hand-edited and half-written, and `distlab plot`,
 * `timeline` and `trace` read them: each input becomes a folder (summary.json,
 * metrics.csv and events.csv, separated by lines "@@"; see
 * tests/util_records_input.h), is loaded part by part, and what loads goes
 * through the trace writer and the axis ticks. A broken promise (a refusal
 * without a message, an infinity accepted, a trace that does not parse)
 * aborts; memory errors and undefined behaviour are the sanitizers'.
 * Figures are not drawn here (too slow per input); test_malformed_runs
 * draws them under the same sanitizers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util_records_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/distlab-fuzz-records-%ld", (long)getpid());
        if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
            abort();
    }
    char why[512];
    if (records_input_run(dir, data, size, 0, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_records: %s\n", why);
        abort();
    }
    return 0;
}
