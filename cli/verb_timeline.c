/* verb_timeline.c -- `distlab timeline`: a per-rank Gantt chart of a run.
 *
 *   distlab timeline out/ring -o ring.png --from 0.5s --to 0.6s
 */
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"
#include "plots/figures.h"
#include "plots/plot.h"

static const cli_opt timeline_opts[] = {
    {"output", "FILE", "the figure: .png, .svg or .pdf (also -o FILE)"},
    {"from", "TIME", "start of the window, e.g. 0.5 or 500ms (default: the start)"},
    {"to", "TIME", "end of the window (default: the end of the run)"},
    {"title", "TEXT", "a title above the chart (default: the run's label)"},
    {"size", "WxH", "figure size in inches (default 7 wide, taller with more ranks)"},
    {NULL, NULL, NULL},
};

int verb_timeline(int argc, char **argv)
{
    cli_args a;
    int code;
    char err[1024];
    double from_s = NAN, to_s = NAN;
    if (cli_parse(argc, argv, "timeline RUNDIR -o FILE [--from TIME --to TIME]", timeline_opts, 0, &a, &code))
        return code;
    const char *out = cli_get(&a, "output");
    if (!out || a.npos != 1) {
        fprintf(stderr, "distlab timeline: %s (usage: distlab timeline RUNDIR -o FILE)\n",
                !out ? "no output file given (-o FILE)" : "give exactly one run folder");
        return 2;
    }
    if (cli_get_time(&a, "timeline", "from", &from_s) || cli_get_time(&a, "timeline", "to", &to_s))
        return 2;
    if (plot_path_check(out, err, sizeof err) != 0) {
        fprintf(stderr, "distlab timeline: -o: %s\n", err);
        return 2;
    }
    if (from_s >= to_s) {
        fprintf(stderr, "distlab timeline: --from must be before --to\n");
        return 2;
    }
    figures_style style = {.title = cli_get(&a, "title")};
    if (cli_get(&a, "size") && figures_parse_size(cli_get(&a, "size"), &style, err, sizeof err)) {
        fprintf(stderr, "distlab timeline: --size: %s\n", err);
        return 2;
    }
    int rc = figures_timeline(out, a.pos[0], from_s, to_s, &style, err, sizeof err);
    if (rc) {
        fprintf(stderr, "distlab timeline: %s\n", err);
        return rc == FIGURES_BAD_RUN ? 2 : 1;
    }
    return 0;
}
