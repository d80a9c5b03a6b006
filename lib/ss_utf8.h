/* ss_utf8: UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
#ifndef SS_UTF8_H
#define SS_UTF8_H

#include <stddef.h>

/* Returns the length of the longest valid UTF-8 prefix of s; the whole text
 * is valid when the result equals len. */
size_t ss_utf8_valid_prefix(const void *s, size_t len);

/* Returns 1 when the len bytes at s are valid UTF-8. */
int ss_utf8_valid(const void *s, size_t len);

#endif
