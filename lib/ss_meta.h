/* ss_meta: conventions for stream metadata shared by the tools.
 *
 * Each tool that transforms a stream copies the input metadata, moves the
 * input's `producer` entry to the end of `history`, and records itself as the
 * new `producer` ({"tool", "version", "args"}), so every stream carries the
 * chain of commands that made it. */
#ifndef SS_META_H
#define SS_META_H

#include "ss_error.h"
#include "ss_json.h"

/* Returns new metadata derived from input (which may be NULL) with this tool
 * as producer; args are the tool's arguments after its name. Returns NULL
 * when out of memory. */
ss_json *ss_meta_derive(const ss_json *input, const char *tool, int argc, char *const *argv);

/* Returns a schema object {"fields": [...], "extra_fields": false}; fields are
 * appended with ss_meta_schema_add(). */
ss_json *ss_meta_schema_new(void);

/* Appends a field to a schema; ndim -1 means any rank, a dim of -1 means any
 * size. */
ss_status ss_meta_schema_add(ss_json *schema, const char *name, const char *dtype, int ndim,
                             const long long *dims, int optional);

/* Compares the parts of two metadata objects that decide whether their
 * records can share one stream: kind, schema and classes. */
int ss_meta_compatible(const ss_json *a, const ss_json *b);

#endif
