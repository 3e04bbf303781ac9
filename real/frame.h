/* frame.h -- the wire format of the real backend.
 *
 * Every message on a connection is one frame: a fixed 24-byte header, then
 * `len` payload bytes. The header names its source so a receiver can check
 * that a connection carries what it should; the magic and version catch a
 * stray client or a peer built from another version. Fields are
 * little-endian on the wire, whatever the host.
 *
 *   offset  size  field
 *        0     4  magic   "DLAB" (0x42414c44 read as little-endian)
 *        4     2  version REAL_FRAME_VERSION
 *        6     2  flags   0 (reserved)
 *        8     4  source  sending rank
 *       12     4  tag     0..RT_TAG_MAX, or a runtime tag (barrier, hello)
 *       16     8  len     payload bytes, at most REAL_FRAME_MAX_LEN
 */
#ifndef DISTLAB_REAL_FRAME_H
#define DISTLAB_REAL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define REAL_FRAME_MAGIC 0x42414c44u
#define REAL_FRAME_VERSION 3 /* 2: report and halt tags; 3: alive */
#define REAL_FRAME_HEADER_BYTES 24
#define REAL_FRAME_MAX_LEN ((uint64_t)1 << 30) /* 1 GiB: bigger is a broken peer */

typedef struct real_frame {
    uint32_t magic;
    uint16_t version;
    uint16_t flags;
    int32_t source;
    int32_t tag;
    uint64_t len;
} real_frame;

/* Write a header for (source, tag, len) into out[REAL_FRAME_HEADER_BYTES]. */
void real_frame_encode(unsigned char *out, int source, int tag, uint64_t len);
/* Read a header from in[REAL_FRAME_HEADER_BYTES] without checking it. */
void real_frame_decode(const unsigned char *in, real_frame *f);
/* Check a decoded header against what the connection from `expect_source`
 * may carry, tags up to max_tag. Returns 0, or -1 with why[] filled. */
int real_frame_check(const real_frame *f, int expect_source, int max_tag, char *why, size_t len);

#endif
