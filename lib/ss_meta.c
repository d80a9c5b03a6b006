/* ss_meta: producer, history and schema entries of stream metadata. */
#include "ss_meta.h"

#include <string.h>

ss_json *ss_meta_derive(const ss_json *input, const char *tool, int argc, char *const *argv)
{
    ss_json *meta = input && input->type == SS_JSON_OBJECT ? ss_json_clone(input) : ss_json_new_object();
    if (!meta)
        return NULL;
    const ss_json *old = ss_json_get(meta, "producer");
    if (old) {
        const ss_json *hist = ss_json_get(meta, "history");
        ss_json *h = hist && hist->type == SS_JSON_ARRAY ? ss_json_clone(hist) : ss_json_new_array();
        ss_json *o = ss_json_clone(old);
        if (!h || !o || ss_json_append(h, o) != SS_OK || ss_json_set(meta, "history", h) != SS_OK) {
            ss_json_free(meta);
            return NULL;
        }
    }
    ss_json *p = ss_json_new_object();
    ss_json *args = ss_json_new_array();
    if (!p || !args) {
        ss_json_free(p);
        ss_json_free(args);
        ss_json_free(meta);
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < argc && ok; i++)
        ok = ss_json_append(args, ss_json_new_string(argv[i])) == SS_OK;
    ok = ok && ss_json_set(p, "tool", ss_json_new_string(tool)) == SS_OK;
    ok = ok && ss_json_set(p, "version", ss_json_new_string(SS_VERSION)) == SS_OK;
    if (ok)
        ok = ss_json_set(p, "args", args) == SS_OK;
    else
        ss_json_free(args);
    if (!ok || ss_json_set(meta, "producer", p) != SS_OK) {
        if (!ok)
            ss_json_free(p);
        ss_json_free(meta);
        return NULL;
    }
    return meta;
}

ss_json *ss_meta_schema_new(void)
{
    ss_json *s = ss_json_new_object();
    if (!s)
        return NULL;
    if (ss_json_set(s, "fields", ss_json_new_array()) != SS_OK ||
        ss_json_set(s, "extra_fields", ss_json_new_bool(0)) != SS_OK) {
        ss_json_free(s);
        return NULL;
    }
    return s;
}

ss_status ss_meta_schema_add(ss_json *schema, const char *name, const char *dtype, int ndim,
                             const long long *dims, int optional)
{
    ss_json *fields = (ss_json *)(uintptr_t)ss_json_get(schema, "fields");
    ss_json *f = ss_json_new_object();
    if (!fields || !f)
        return ss_json_free(f), SS_ENOMEM;
    ss_json *shape = ndim < 0 ? ss_json_new_null() : ss_json_new_array();
    for (int d = 0; shape && d < ndim; d++)
        if (ss_json_append(shape, dims[d] < 0 ? ss_json_new_null() : ss_json_new_int(dims[d])) != SS_OK)
            return ss_json_free(f), SS_ENOMEM;
    if (ss_json_set(f, "name", ss_json_new_string(name)) != SS_OK ||
        ss_json_set(f, "dtype", ss_json_new_string(dtype)) != SS_OK ||
        ss_json_set(f, "shape", shape) != SS_OK ||
        (optional && ss_json_set(f, "optional", ss_json_new_bool(1)) != SS_OK))
        return ss_json_free(f), SS_ENOMEM;
    return ss_json_append(fields, f);
}

static int same_entry(const ss_json *a, const ss_json *b, const char *key)
{
    const ss_json *x = a ? ss_json_get(a, key) : NULL;
    const ss_json *y = b ? ss_json_get(b, key) : NULL;
    if (!x || !y)
        return x == y;
    return ss_json_equal(x, y);
}

int ss_meta_compatible(const ss_json *a, const ss_json *b)
{
    return same_entry(a, b, "kind") && same_entry(a, b, "schema") && same_entry(a, b, "classes");
}
