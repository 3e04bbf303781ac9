/* shared.c -- rt_shared for the real backend: one zeroed mapping per name.
 *
 * Threads of one process share an anonymous mapping kept in the job's
 * registry. Rank processes each map the same memory file (memfd_create),
 * which the launcher makes, sized, on the first request for a name and
 * hands to every rank that asks, over the socket it keeps to each rank
 * (SCM_RIGHTS). The file has no name anywhere: it lives as long as a
 * process holds it, so a launcher killed with SIGKILL leaves nothing in
 * /dev/shm (named POSIX objects, which only the launcher removed, did).
 * A rank asking for another size of a name gets an error rather than a
 * mapping that could fault.
 */
#define _GNU_SOURCE
#include "real/real.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

/* A rank's request to the launcher, and the answer (with the file). */
#define SHARED_NAME_MAX 255
typedef struct shared_ask {
    uint64_t bytes;
    char name[SHARED_NAME_MAX + 1];
} shared_ask;
typedef struct shared_answer {
    int32_t err;    /* 0, or the errno of making the file */
    uint32_t pad;
    uint64_t bytes; /* the file's size: the first asker's */
} shared_answer;

/* room for one descriptor, aligned as a control message must be */
typedef union fd_cmsg {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
} fd_cmsg;

int real_shared_serve(real_job *job, int fd)
{
    shared_ask ask;
    ssize_t n;
    while ((n = recv(fd, &ask, sizeof ask, 0)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return 1; /* the rank is gone */
    shared_answer ans = {0};
    real_shm *e = NULL;
    if ((size_t)n != sizeof ask || !memchr(ask.name, '\0', sizeof ask.name)) {
        ans.err = EPROTO;
    } else if (!(e = shm_find(job->shm, ask.name))) {
        int mfd = memfd_create("distlab-shared", MFD_CLOEXEC);
        if (mfd < 0 || ftruncate(mfd, (off_t)ask.bytes) != 0 ||
            !(e = shm_add(&job->shm, ask.name, (size_t)ask.bytes, NULL))) {
            ans.err = errno ? errno : ENOMEM;
            if (mfd >= 0)
                close(mfd);
        } else {
            e->fd = mfd;
        }
    }
    fd_cmsg cbuf;
    memset(&cbuf, 0, sizeof cbuf);
    struct iovec iov = {&ans, sizeof ans};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (e) {
        ans.bytes = e->bytes;
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = sizeof cbuf.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &e->fd, sizeof(int));
    }
    /* (a rank that died meanwhile reads nothing: its EOF comes next) */
    while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    return 0;
}

/* Ask the launcher for the memory file of name; its descriptor, or -1
 * with the error set. */
static int shared_ask_launcher(rt *r, real_rank *rk, const char *name, size_t bytes)
{
    shared_ask ask = {.bytes = bytes};
    shared_answer ans;
    fd_cmsg cbuf;
    struct iovec iov = {&ans, sizeof ans};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
    int fd = -1;
    ssize_t n;
    if (strlen(name) > SHARED_NAME_MAX) {
        rt_seterr(r, RT_EINVAL, "shared %.40s...: the name is longer than %d bytes", name, SHARED_NAME_MAX);
        return -1;
    }
    strcpy(ask.name, name);
    while ((n = send(rk->launcher_fd, &ask, sizeof ask, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof ask)
        while ((n = recvmsg(rk->launcher_fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
            ;
    if (n != (ssize_t)sizeof ans) {
        rt_seterr(r, RT_EIO, "shared %s: no answer from the launcher (%s)", name,
                  n < 0 ? strerror(errno) : "the line closed");
        return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (ans.err || fd < 0) {
        rt_seterr(r, ans.err == ENOMEM || ans.err == ENOSPC ? RT_ENOMEM : RT_EIO, "shared %s: %zu bytes: %s",
                  name, bytes, strerror(ans.err ? ans.err : EPROTO));
    } else if (ans.bytes != bytes) {
        rt_seterr(r, RT_EINVAL, "shared %s: already %llu bytes, asked for %zu", name,
                  (unsigned long long)ans.bytes, bytes);
    } else {
        return fd;
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

static void *shared_procs(rt *r, real_rank *rk, const char *name, size_t bytes)
{
    real_shm *e = shm_find(rk->maps, name);
    if (e)
        return found(r, e, name, bytes);
    int fd = shared_ask_launcher(r, rk, name, bytes);
    if (fd < 0)
        return NULL;
    void *ptr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (ptr == MAP_FAILED) {
        rt_seterr(r, RT_ENOMEM, "shared %s: mmap %zu bytes: %s", name, bytes, strerror(errno));
        return NULL;
    }
    if (!shm_add(&rk->maps, name, bytes, ptr)) {
        munmap(ptr, bytes);
        rt_seterr(r, RT_ENOMEM, "shared %s: no memory", name);
        return NULL;
    }
    return ptr;
}

void *real_shared(rt *r, const char *name, size_t bytes)
{
    real_rank *rk = r->backend_data;
    if (rk->job->hosts && rk->job->size > 1) {
        rt_seterr(r, RT_EINVAL, "rt_shared(\"%s\"): the ranks of a --launch hosts job share no memory", name);
        return NULL;
    }
    /* (a one-rank hosts job has no launcher: its rank shares with itself) */
    void *ptr = rk->launcher_fd >= 0 ? shared_procs(r, rk, name, bytes) : shared_threads(r, rk->job, name, bytes);
    real_mark(rk);
    return ptr;
}

static void shm_free_all(real_shm **list)
{
    while (*list) {
        real_shm *e = *list;
        *list = e->next;
        if (e->ptr)
            munmap(e->ptr, e->bytes);
        else
            close(e->fd);
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
}
