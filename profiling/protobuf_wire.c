/* Protobuf wire encoding (developers.google.com/protocol-buffers/docs/encoding): a key is
 * (field << 3 | wire type); varints are 7 bits a byte, low first; doubles little-endian. */
#include "profiling/protobuf_wire.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2 };

static void append(struct pb_buf *b, const void *bytes, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void varint(struct pb_buf *b, uint64_t v)
{
    uint8_t bytes[10];
    size_t n = 0;
    do {
        bytes[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) bytes[n] |= 0x80;
        n++;
    } while (v);
    append(b, bytes, n);
}

static void key(struct pb_buf *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

void pb_reset(struct pb_buf *b) { b->len = 0, b->failed = false; }

void pb_free(struct pb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void pb_uint(struct pb_buf *b, int field, uint64_t value)
{
    key(b, field, WIRE_VARINT);
    varint(b, value);
}

void pb_int(struct pb_buf *b, int field, int64_t value) { pb_uint(b, field, (uint64_t)value); }

void pb_double(struct pb_buf *b, int field, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint8_t bytes[8];
    for (int k = 0; k < 8; k++) bytes[k] = (uint8_t)(bits >> (8 * k));
    key(b, field, WIRE_FIXED64);
    append(b, bytes, sizeof bytes);
}

void pb_string(struct pb_buf *b, int field, const char *s)
{
    size_t n = strlen(s);
    key(b, field, WIRE_LEN);
    varint(b, n);
    append(b, s, n);
}

void pb_message(struct pb_buf *b, int field, const struct pb_buf *inner)
{
    key(b, field, WIRE_LEN);
    varint(b, inner->len);
    if (inner->failed) b->failed = true;
    else append(b, inner->data, inner->len);
}
