/* plugin.c -- build a C file of the user's into a shared object and load
 * it (algorithms/plugin.h says what such a file defines).
 *
 * The compiler is $CC or cc, run as
 *   CC -std=gnu11 -O2 -g -Wall -shared -fPIC -Wl,-Bsymbolic -I INC FILE.c -o TMP/NAME.so
 * where INC is the folder that holds algorithms/runtime.h: $DISTLAB_INCLUDE,
 * else the source tree this distlab was built in (the executable's ../),
 * else PREFIX/include/distlab as installed. The object's rt_* and coll_*
 * calls resolve against this executable, which is linked with -rdynamic
 * and the whole library (Makefile). The .so is unlinked once loaded. A
 * lab can refuse a file that calls distlab's own version of what the
 * student is to write (nm -D lists what the object imports).
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef DISTLAB_INCLUDE
#define DISTLAB_INCLUDE "/usr/local/include/distlab"
#endif

const char *cli_source_root(void)
{
    static char root[PATH_MAX];
    static int done;
    if (!done) {
        done = 1;
        char self[PATH_MAX], probe[PATH_MAX + 64];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            snprintf(probe, sizeof probe, "%s/..", dirname(self));
            if (!realpath(probe, root))
                root[0] = '\0';
            snprintf(probe, sizeof probe, "%s/algorithms/plugin.h", root);
            if (root[0] && access(probe, R_OK) != 0)
                root[0] = '\0';
        }
    }
    return root[0] ? root : NULL;
}

static const char *include_dir(void)
{
    const char *env = getenv("DISTLAB_INCLUDE");
    if (env && *env)
        return env;
    return cli_source_root() ? cli_source_root() : DISTLAB_INCLUDE;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

int cli_is_plugin_name(const char *name)
{
    return name && (ends_with(name, ".c") || ends_with(name, ".so") || strchr(name, '/'));
}

/* Run the compiler; its messages go to our stderr, for the user to read. */
static int compile(const char *src, const char *so, char *err, size_t len)
{
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    char inc[PATH_MAX + 4];
    snprintf(inc, sizeof inc, "-I%s", include_dir());
    char *argv[] = {(char *)cc, "-std=gnu11", "-O2", "-g", "-Wall", "-shared", "-fPIC",
                    "-Wl,-Bsymbolic", inc, (char *)src, "-o", (char *)so, "-lm", NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, len, "cannot start %s: %s", cc, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(2, 1);
        execvp(cc, argv);
        fprintf(stderr, "cannot run %s: %s\n", cc, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, len, "waiting for %s: %s", cc, strerror(errno));
            return -1;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, len, "%s does not compile (%s %s ... above says why)", src, cc, inc);
        return -1;
    }
    return 0;
}

/* The first name of `forbidden` that the object so calls (imports), by
 * nm -D --undefined-only; NULL when none does, or nm cannot tell. */
static const char *calls_one_of(const char *so, const char *const *forbidden)
{
    int fd[2];
    if (!forbidden || pipe(fd) != 0)
        return NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("nm", "nm", "-D", "--undefined-only", so, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    const char *found = NULL;
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *name = strrchr(line, ' ');
        name = name ? name + 1 : line;
        name[strcspn(name, "\n@")] = '\0';
        for (const char *const *b = forbidden; *b && !found; b++)
            if (strcmp(name, *b) == 0)
                found = *b;
    }
    if (f)
        fclose(f);
    else
        close(fd[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return found;
}

void *cli_plugin_load(const char *file, const char *symbol, const char *const *forbidden, char *err,
                      size_t len)
{
    if (access(file, R_OK) != 0) {
        snprintf(err, len, "%s: %s", file, strerror(errno));
        return NULL;
    }
    char so[PATH_MAX + 32];
    void *handle = NULL;
    if (ends_with(file, ".so")) {
        snprintf(so, sizeof so, "%s%s", strchr(file, '/') ? "" : "./", file);
        const char *bad = calls_one_of(so, forbidden);
        if (bad) {
            snprintf(err, len, "%s calls %s, distlab's own: here you write it yourself", file, bad);
            return NULL;
        }
        handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            snprintf(err, len, "cannot load %s: %s", file, dlerror());
            return NULL;
        }
    } else {
        const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/distlab-plugin-XXXXXX", tmp);
        if (!mkdtemp(dir)) {
            snprintf(err, len, "cannot make a folder in %s: %s", tmp, strerror(errno));
            return NULL;
        }
        snprintf(so, sizeof so, "%s/plugin.so", dir);
        int built = compile(file, so, err, len) == 0;
        const char *bad = built ? calls_one_of(so, forbidden) : NULL;
        if (bad) {
            snprintf(err, len, "%s calls %s, distlab's own: here you write it yourself", file, bad);
        } else if (built) {
            handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
            if (!handle)
                snprintf(err, len, "cannot load %s, built from %s: %s", so, file, dlerror());
        }
        unlink(so);
        rmdir(dir);
        if (!handle)
            return NULL;
    }
    dlerror();
    void *fn = dlsym(handle, symbol);
    if (!fn) {
        snprintf(err, len, "%s does not define %s (algorithms/plugin.h says what it looks like)",
                 file, symbol);
        dlclose(handle);
        return NULL;
    }
    return fn; /* the handle stays open for the life of the process */
}

int cli_plugin_siblings(const void *loaded, const char *file, const char *const *names, void **syms, int n,
                        char *err, size_t len)
{
    Dl_info info;
    void *h = loaded && dladdr(loaded, &info) && info.dli_fname ? dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD)
                                                                 : NULL;
    for (int i = 0; i < n; i++)
        syms[i] = NULL;
    if (!h) {
        snprintf(err, len, "cannot find the object built from %s again", file);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!(syms[i] = dlsym(h, names[i]))) {
            snprintf(err, len, "%s does not define %s (algorithms/plugin.h says what it looks like)", file,
                     names[i]);
            dlclose(h);
            return -1;
        }
    dlclose(h); /* the reference RTLD_NOLOAD took: the object stays loaded */
    return 0;
}
