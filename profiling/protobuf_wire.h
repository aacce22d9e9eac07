/* The protobuf wire format, encode side only: the few calls a trace writer needs (varints,
 * fixed64 doubles, length-delimited strings and nested messages) into growable buffers. A
 * nested message is built in its own buffer and appended whole, so its length is known. */
#ifndef LC_PROF_PROTOBUF_WIRE_H
#define LC_PROF_PROTOBUF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* out of memory: later appends are no-ops */
};

void pb_reset(struct pb_buf *b); /* empties, keeps the memory */
void pb_free(struct pb_buf *b);
void pb_uint(struct pb_buf *b, int field, uint64_t value);  /* varint: uint32/64, enum, bool */
void pb_int(struct pb_buf *b, int field, int64_t value);    /* int32/int64 (two's complement varint) */
void pb_double(struct pb_buf *b, int field, double value);  /* fixed64 */
void pb_string(struct pb_buf *b, int field, const char *s);
void pb_message(struct pb_buf *b, int field, const struct pb_buf *inner);

#endif
