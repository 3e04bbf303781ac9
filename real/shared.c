/* shared.c -- rt_shared for the real backend: one zeroed mapping per name.
 *
 * Threads of one process share an anonymous mapping kept in the job's
 * registry. Rank processes each map the same POSIX shared-memory object,
 * named from the job (launching pid and token) and the caller's name, so
 * every rank of the machine sees the same bytes without any message; the
 * launcher removes the objects when the job ends. The first rank to ask
 * sizes the object; a rank asking for another size of the same name gets
 * an error rather than a mapping that could fault.
 */
#define _GNU_SOURCE
#include "real/real.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static real_shm *shm_find(real_shm *list, const char *name)
{
    for (; list; list = list->next)
        if (strcmp(list->name, name) == 0)
            return list;
    return NULL;
}

static real_shm *shm_add(real_shm **list, const char *name, size_t bytes, void *ptr)
{
    real_shm *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    e->bytes = bytes;
    e->ptr = ptr;
    e->next = *list;
    *list = e;
    return e;
}

static void *found(rt *r, const real_shm *e, const char *name, size_t bytes)
{
    if (e->bytes != bytes) {
        rt_seterr(r, RT_EINVAL, "shared %s: already %zu bytes, asked for %zu", name, e->bytes, bytes);
        return NULL;
    }
    return e->ptr;
}

static void *shared_threads(rt *r, real_job *job, const char *name, size_t bytes)
{
    void *ptr = NULL;
    pthread_mutex_lock(&job->lock);
    real_shm *e = shm_find(job->shm, name);
    if (e) {
        ptr = found(r, e, name, bytes);
        goto out;
    }
    ptr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ptr == MAP_FAILED) {
        rt_seterr(r, RT_ENOMEM, "shared %s: %zu bytes: %s", name, bytes, strerror(errno));
        ptr = NULL;
        goto out;
    }
    if (!shm_add(&job->shm, name, bytes, ptr)) {
        munmap(ptr, bytes);
        ptr = NULL;
        rt_seterr(r, RT_ENOMEM, "shared %s: no memory", name);
    }
out:
    pthread_mutex_unlock(&job->lock);
    return ptr;
}

/* The POSIX shm name of a job's object: the prefix, then the caller's name
 * with anything outside [A-Za-z0-9._-] written as %XX. */
static int shm_path(const real_job *job, const char *name, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "%s", job->shm_prefix);
    for (const unsigned char *c = (const unsigned char *)name; *c && n + 4 < len; c++) {
        if (isalnum(*c) || *c == '.' || *c == '_' || *c == '-')
            out[n++] = (char)*c;
        else
            n += (size_t)snprintf(out + n, len - n, "%%%02X", *c);
    }
    out[n] = '\0';
    return n + 4 < len ? 0 : -1;
}

static void *shared_procs(rt *r, real_rank *rk, const char *name, size_t bytes)
{
    char path[256];
    void *ptr = NULL;
    int fd = -1;
    real_shm *e = shm_find(rk->maps, name);
    if (e)
        return found(r, e, name, bytes);
    if (shm_path(rk->job, name, path, sizeof path) != 0) {
        rt_seterr(r, RT_EINVAL, "shared %s: name too long", name);
        goto fail;
    }
    /* One rank creates and sizes the block; the others wait until it has a
     * size and check it is theirs. Two ranks sizing it at once could leave
     * one of them with a mapping past the end of the file (SIGBUS). */
    struct stat st;
    fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        if (ftruncate(fd, (off_t)bytes) != 0) {
            rt_seterr(r, RT_ENOMEM, "shared %s: %zu bytes: %s", name, bytes, strerror(errno));
            goto fail;
        }
    } else if (errno == EEXIST) {
        fd = shm_open(path, O_RDWR, 0600);
        double give_up = net_clock_s() + rk->job->timeout_s;
        while (fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0 && net_clock_s() < give_up)
            usleep(1000);
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        rt_seterr(r, RT_EIO, "shared %s: shm_open %s: %s", name, path, strerror(errno));
        goto fail;
    }
    if ((size_t)st.st_size != bytes) {
        rt_seterr(r, RT_EINVAL, "shared %s: %s %lld bytes, asked for %zu", name,
                  st.st_size ? "already" : "its creator never sized it:", (long long)st.st_size, bytes);
        goto fail;
    }
    ptr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ptr == MAP_FAILED) {
        ptr = NULL;
        rt_seterr(r, RT_ENOMEM, "shared %s: mmap %zu bytes: %s", name, bytes, strerror(errno));
        goto fail;
    }
    if (!shm_add(&rk->maps, name, bytes, ptr)) {
        rt_seterr(r, RT_ENOMEM, "shared %s: no memory", name);
        goto fail;
    }
    close(fd);
    return ptr;
fail:
    if (ptr)
        munmap(ptr, bytes);
    if (fd >= 0)
        close(fd);
    return NULL;
}

void *real_shared(rt *r, const char *name, size_t bytes)
{
    real_rank *rk = r->backend_data;
    if (rk->job->hosts && rk->job->size > 1) {
        rt_seterr(r, RT_EINVAL, "rt_shared(\"%s\"): the ranks of a --launch hosts job share no memory", name);
        return NULL;
    }
    void *ptr = rk->job->procs ? shared_procs(r, rk, name, bytes) : shared_threads(r, rk->job, name, bytes);
    real_mark(rk);
    return ptr;
}

static void shm_free_all(real_shm **list)
{
    while (*list) {
        real_shm *e = *list;
        *list = e->next;
        munmap(e->ptr, e->bytes);
        free(e->name);
        free(e);
    }
}

void real_shared_rank_fini(real_rank *rk)
{
    shm_free_all(&rk->maps);
}

void real_shared_job_fini(real_job *job)
{
    shm_free_all(&job->shm);
    if (!job->procs)
        return;
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    const char *prefix = job->shm_prefix + 1; /* names in /dev/shm lack the '/' */
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            char path[300];
            snprintf(path, sizeof path, "/%s", de->d_name);
            shm_unlink(path);
        }
    }
    closedir(d);
}
