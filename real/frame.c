/* frame.c -- encode, decode and check frame headers (see frame.h).
 *
 * Kept apart from the progress engine so the checks that stand between a
 * socket and the matching queues can be read, and tested, on their own.
 */
#include "real/frame.h"

#include <inttypes.h>
#include <stdio.h>

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void real_frame_encode(unsigned char *out, int source, int tag, uint64_t len)
{
    put32(out, REAL_FRAME_MAGIC);
    put32(out + 4, REAL_FRAME_VERSION);
    put32(out + 8, (uint32_t)source);
    put32(out + 12, (uint32_t)tag);
    put32(out + 16, (uint32_t)len);
    put32(out + 20, (uint32_t)(len >> 32));
}

void real_frame_decode(const unsigned char *in, real_frame *f)
{
    uint32_t vf = get32(in + 4);
    f->magic = get32(in);
    f->version = (uint16_t)vf;
    f->flags = (uint16_t)(vf >> 16);
    f->source = (int32_t)get32(in + 8);
    f->tag = (int32_t)get32(in + 12);
    f->len = (uint64_t)get32(in + 16) | (uint64_t)get32(in + 20) << 32;
}

int real_frame_check(const real_frame *f, int expect_source, int max_tag, char *why, size_t len)
{
    if (f->magic != REAL_FRAME_MAGIC)
        snprintf(why, len, "bad magic 0x%08" PRIx32 ", expected 0x%08x", f->magic, REAL_FRAME_MAGIC);
    else if (f->version != REAL_FRAME_VERSION)
        snprintf(why, len, "bad version %u, expected %d", (unsigned)f->version, REAL_FRAME_VERSION);
    else if (f->flags != 0)
        snprintf(why, len, "unknown flags 0x%04x", (unsigned)f->flags);
    else if (f->source != expect_source)
        snprintf(why, len, "frame claims source rank %" PRId32 " on the connection from rank %d",
                 f->source, expect_source);
    else if (f->tag < 0 || f->tag > max_tag)
        snprintf(why, len, "bad tag %" PRId32 ", expected 0..%d", f->tag, max_tag);
    else if (f->len > REAL_FRAME_MAX_LEN)
        snprintf(why, len, "payload length %" PRIu64 " above the %" PRIu64 "-byte limit",
                 f->len, REAL_FRAME_MAX_LEN);
    else
        return 0;
    return -1;
}
