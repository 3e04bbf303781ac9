/* verb_trace.c -- `distlab trace`: a run's events as Chrome trace-event
 * JSON, to open in Perfetto (ui.perfetto.dev) or chrome://tracing.
 *
 *   distlab trace out/ring -o ring.json
 */
#include <stdio.h>

#include "cli/cli.h"
#include "plots/figures.h"

static const cli_opt trace_opts[] = {
    {"output", "FILE.json", "where the trace goes (also -o FILE.json)"},
    {NULL, NULL, NULL},
};

int verb_trace(int argc, char **argv)
{
    cli_args a;
    int code;
    char err[1024];
    if (cli_parse(argc, argv, "trace RUNDIR -o FILE.json", trace_opts, 0, &a, &code))
        return code;
    const char *out = cli_get(&a, "output");
    if (!out || a.npos != 1) {
        fprintf(stderr, "distlab trace: %s (usage: distlab trace RUNDIR -o FILE.json)\n",
                !out ? "no output file given (-o FILE.json)" : "give exactly one run folder");
        return 2;
    }
    int rc = figures_trace(out, a.pos[0], err, sizeof err);
    if (rc) {
        fprintf(stderr, "distlab trace: %s\n", err);
        return rc == FIGURES_BAD_RUN ? 2 : 1;
    }
    return 0;
}
