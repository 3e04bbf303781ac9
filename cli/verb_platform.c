/* verb_platform.c -- `distlab platform`: write out the SimGrid platform a
 * generated cluster would use, as a file to start editing from.
 *
 *   distlab platform --hosts 64 --bandwidth 25Gbps -o my-cluster.xml
 *   (change a link, add a rack, ...)
 *   distlab sweep ... --platform my-cluster.xml
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/sim_platform.h"

int verb_platform(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"output", "FILE", "where to write the XML (default: standard output; also -o FILE)"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "platform [--hosts N --bandwidth RATE --latency TIME --speed FLOPS "
                  "--cores N] [--gpus-per-node G --intra-bandwidth RATE] [-o FILE.xml]", opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab platform: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    if (cli_get(&a, "platform")) {
        fprintf(stderr, "distlab platform: --platform: this verb writes a platform; it reads none\n");
        return 2;
    }
    if (cli_job_config(&a, "platform", &cfg, &sim, &real))
        return 2;
    if (sim.hosts <= 0)
        sim.hosts = sim.gpus_per_node > 1 ? 2 : 16;
    const char *path = cli_get(&a, "output");
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "distlab platform: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    int ok = sim_platform_write(&sim, cfg.ranks, f) == 0;
    if (path && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "distlab platform: cannot write %s\n", path ? path : "standard output");
        return 1;
    }
    return 0;
}
