/* ss_json: a strict JSON (RFC 8259) parser and a canonical writer for stream
 * metadata.
 *
 * The parser accepts exactly one JSON value with optional surrounding
 * whitespace, validates UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF are invalid, also when written as \u escapes), rejects
 * duplicate object keys at every depth, caps the nesting depth, and rejects
 * integers outside the int64 range. It has no NaN, Infinity, comments or
 * trailing commas. The writer emits compact JSON with object keys sorted by
 * byte value, so equal values always give equal bytes.
 *
 * Ownership: every ss_json node is owned by its parent; ss_json_free() on
 * the root frees the whole tree. Strings are NUL-terminated copies (a string
 * containing \u0000 keeps its full length in `len`). */
#ifndef SS_JSON_H
#define SS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"

typedef enum {
    SS_JSON_NULL,
    SS_JSON_BOOL,
    SS_JSON_INT,    /* a number without fraction or exponent, within int64 */
    SS_JSON_DOUBLE, /* any other finite number */
    SS_JSON_STRING,
    SS_JSON_ARRAY,
    SS_JSON_OBJECT
} ss_json_type;

typedef struct ss_json ss_json;
struct ss_json {
    ss_json_type type;
    int boolean;
    int64_t i;
    double d;        /* set for both SS_JSON_INT and SS_JSON_DOUBLE */
    char *str;       /* SS_JSON_STRING */
    size_t len;      /* string length in bytes, or item count */
    size_t cap;
    ss_json **items; /* array items or object values */
    char **keys;     /* object keys, NUL-terminated, in insertion order */
};

/* Parses len bytes of text. Returns the root or NULL with err set to
 * SS_EDATA and a message naming the byte offset, such as
 * "duplicate key 'kind' at byte 17". */
ss_json *ss_json_parse(const char *text, size_t len, int max_depth, ss_error *err);

void ss_json_free(ss_json *v);

/* Returns the value stored under key in an object, or NULL when v is not an
 * object or has no such key. */
const ss_json *ss_json_get(const ss_json *v, const char *key);

/* Returns the string of a string value under key, or NULL. */
const char *ss_json_get_string(const ss_json *v, const char *key);

/* Constructors; each returns NULL when out of memory. */
ss_json *ss_json_new_null(void);
ss_json *ss_json_new_bool(int b);
ss_json *ss_json_new_int(int64_t i);
ss_json *ss_json_new_double(double d); /* d must be finite */
ss_json *ss_json_new_string(const char *s);
ss_json *ss_json_new_string_len(const char *s, size_t len);
ss_json *ss_json_new_array(void);
ss_json *ss_json_new_object(void);

/* Returns a deep copy of v, or NULL when out of memory. */
ss_json *ss_json_clone(const ss_json *v);

/* Appends item to an array, taking ownership. Returns SS_OK or SS_ENOMEM
 * (item is then freed). */
ss_status ss_json_append(ss_json *array, ss_json *item);

/* Stores value under key in an object, replacing and freeing any old value,
 * and takes ownership of value. Returns SS_OK or SS_ENOMEM (value is then
 * freed). */
ss_status ss_json_set(ss_json *object, const char *key, ss_json *value);

/* Removes key from an object; does nothing when it is absent. */
void ss_json_remove(ss_json *object, const char *key);

/* Returns 1 when a and b are equal values (objects compare as key sets). */
int ss_json_equal(const ss_json *a, const ss_json *b);

/* Serialises v as compact JSON with sorted keys into a new NUL-terminated
 * buffer that the caller frees; *len (if not NULL) receives its length.
 * Doubles are written with the shortest %.17g form that reads back exactly.
 * Returns NULL when out of memory. */
char *ss_json_dump(const ss_json *v, size_t *len);

#endif
