/* ss_linmodel: the linear classifier, its logits and its checkpoints. */
#include "ss_linmodel.h"

#include <cblas.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"
#include "ss_meta.h"
#include "ss_out.h"
#include "tsf.h"

ss_status ss_linmodel_init(ss_linmodel *m, int d, int k, ss_error *err)
{
    memset(m, 0, sizeof *m);
    if (d < 1 || k < 1)
        return ss_error_set(err, SS_EINVAL, "a linear model needs D >= 1 and K >= 1, got %d and %d", d, k);
    m->d = d;
    m->k = k;
    m->weight = calloc((size_t)k * (size_t)d, sizeof *m->weight);
    m->bias = calloc((size_t)k, sizeof *m->bias);
    m->mean = calloc((size_t)d, sizeof *m->mean);
    m->std = malloc((size_t)d * sizeof *m->std);
    if (!m->weight || !m->bias || !m->mean || !m->std) {
        ss_linmodel_free(m);
        return ss_error_set(err, SS_ENOMEM, "out of memory for a %dx%d linear model", k, d);
    }
    for (int j = 0; j < d; j++)
        m->std[j] = 1.0f;
    return SS_OK;
}

void ss_linmodel_free(ss_linmodel *m)
{
    free(m->weight);
    free(m->bias);
    free(m->mean);
    free(m->std);
    ss_json_free(m->classes);
    memset(m, 0, sizeof *m);
}

void ss_linmodel_logits(const ss_linmodel *m, const float *x, int64_t n, float *logits, float *scratch)
{
    const size_t d = (size_t)m->d, k = (size_t)m->k;
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + (size_t)i * d;
        float *out = scratch + (size_t)i * d;
        for (size_t j = 0; j < d; j++)
            out[j] = (row[j] - m->mean[j]) / m->std[j];
        memcpy(logits + (size_t)i * k, m->bias, k * sizeof *logits);
    }
    /* logits [N, K] += xs [N, D] . W^T [D, K] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, m->k, m->d, 1.0f, scratch, m->d, m->weight, m->d,
                1.0f, logits, m->k);
}

int ss_linmodel_is_linear(const ss_json *meta)
{
    const ss_json *config = meta ? ss_json_get(meta, "config") : NULL;
    const ss_json *arch = config ? ss_json_get(config, "arch") : NULL;
    const char *type = arch ? ss_json_get_string(arch, "type") : NULL;
    return type && strcmp(type, "linear") == 0;
}

static ss_status write_named(tsf_writer *w, const char *name, int ndim, const uint64_t *dims, const float *v)
{
    tsf_field f[2];
    uint64_t nd[1] = {strlen(name)};
    tsf_field_set(&f[0], "name", TSF_UTF8, 1, nd, name);
    tsf_field_set(&f[1], "value", TSF_FLOAT32, ndim, dims, v);
    return tsf_writer_write(w, f, 2);
}

ss_status ss_linmodel_save(const ss_linmodel *m, const char *path, const ss_json *extra, ss_error *err)
{
    /* The caller's metadata already names the producer and its arguments. */
    ss_json *meta = extra ? ss_json_clone(extra) : ss_meta_derive(NULL, ss_log_prog(), 0, NULL);
    const ss_json *old = meta ? ss_json_get(meta, "config") : NULL;
    ss_json *config = old && old->type == SS_JSON_OBJECT ? ss_json_clone(old) : ss_json_new_object();
    ss_json *arch = ss_json_new_object();
    if (!meta || !config || !arch) {
        ss_json_free(meta);
        ss_json_free(config);
        ss_json_free(arch);
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    ss_json_set(arch, "type", ss_json_new_string("linear"));
    ss_json_set(arch, "input_dim", ss_json_new_int(m->d));
    ss_json_set(arch, "classes", ss_json_new_int(m->k));
    ss_json_set(arch, "standardize", ss_json_new_bool(m->standardize));
    ss_json_set(config, "arch", arch);
    ss_json_set(meta, "config", config);
    ss_json_set(meta, "kind", ss_json_new_string("checkpoint"));
    ss_json_remove(meta, "schema");
    if (m->classes)
        ss_json_set(meta, "classes", ss_json_clone(m->classes));

    ss_out out;
    ss_status st = ss_out_open(&out, path, 1, err);
    if (st != SS_OK) {
        ss_json_free(meta);
        return st;
    }
    tsf_writer *w = tsf_writer_open_fd(out.fd, path, NULL, err);
    if (!w) {
        ss_json_free(meta);
        ss_out_discard(&out);
        return err->status;
    }
    uint64_t kd[2] = {(uint64_t)m->k, (uint64_t)m->d}, k1[1] = {(uint64_t)m->k}, d1[1] = {(uint64_t)m->d};
    st = tsf_writer_begin_json(w, meta);
    ss_json_free(meta);
    if (st == SS_OK)
        st = write_named(w, "weight", 2, kd, m->weight);
    if (st == SS_OK)
        st = write_named(w, "bias", 1, k1, m->bias);
    if (st == SS_OK)
        st = write_named(w, "mean", 1, d1, m->mean);
    if (st == SS_OK)
        st = write_named(w, "std", 1, d1, m->std);
    if (st == SS_OK)
        st = tsf_writer_end(w);
    if (st != SS_OK) {
        *err = *tsf_writer_error(w);
        tsf_writer_close(w);
        ss_out_discard(&out);
        return err->status;
    }
    tsf_writer_close(w);
    return ss_out_commit(&out, err);
}

ss_status ss_linmodel_load(ss_linmodel *m, const char *path, ss_json **meta_out, ss_error *err)
{
    memset(m, 0, sizeof *m);
    tsf_reader *r = tsf_reader_open_path(path, NULL, err);
    if (!r)
        return err->status;
    tsf_record *rec = malloc(sizeof *rec);
    ss_status st = SS_OK;
    int seen = 0;
    if (!rec || tsf_reader_start(r) <= 0) {
        st = rec ? (*err = *tsf_reader_error(r), err->status) : ss_error_set(err, SS_ENOMEM, "out of memory");
        goto done;
    }
    const ss_json *meta = tsf_reader_meta(r);
    const ss_json *arch = ss_json_get(ss_json_get(meta, "config"), "arch");
    const ss_json *d = arch ? ss_json_get(arch, "input_dim") : NULL, *k = arch ? ss_json_get(arch, "classes") : NULL;
    if (!ss_linmodel_is_linear(meta) || !d || !k || d->type != SS_JSON_INT || k->type != SS_JSON_INT ||
        d->i < 1 || k->i < 1 || d->i > 1 << 24 || k->i > 1 << 24) {
        st = ss_error_set(err, SS_EDATA, "%s: not a linear model checkpoint (config.arch.type 'linear' with "
                          "input_dim and classes)", path);
        goto done;
    }
    if ((st = ss_linmodel_init(m, (int)d->i, (int)k->i, err)) != SS_OK)
        goto done;
    const ss_json *stdz = ss_json_get(arch, "standardize");
    m->standardize = stdz && stdz->type == SS_JSON_BOOL && stdz->boolean;
    const ss_json *classes = ss_json_get(meta, "classes");
    if (classes && classes->type == SS_JSON_ARRAY)
        m->classes = ss_json_clone(classes);
    int rc;
    while ((rc = tsf_reader_next(r, rec)) == 1 && tsf_reader_stream_index(r) == 0) {
        const tsf_field *name = tsf_record_find(rec, "name"), *value = tsf_record_find(rec, "value");
        if (!name || !value || value->dtype != TSF_FLOAT32) {
            st = ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " needs 'name' and float32 'value'", path,
                              rec->index);
            goto done;
        }
        struct {
            const char *n;
            float *dst;
            size_t count;
            int bit;
        } slots[] = {{"weight", m->weight, (size_t)m->k * (size_t)m->d, 1},
                     {"bias", m->bias, (size_t)m->k, 2},
                     {"mean", m->mean, (size_t)m->d, 4},
                     {"std", m->std, (size_t)m->d, 8}};
        int found = 0;
        for (size_t i = 0; i < 4; i++) {
            if (name->nbytes != strlen(slots[i].n) || memcmp(name->data, slots[i].n, name->nbytes) != 0)
                continue;
            if (value->count != slots[i].count || (seen & slots[i].bit)) {
                st = ss_error_set(err, SS_EDATA, "%s: tensor '%s' is repeated or has %" PRIu64 " values, not %zu",
                                  path, slots[i].n, value->count, slots[i].count);
                goto done;
            }
            memcpy(slots[i].dst, value->data, slots[i].count * sizeof(float));
            seen |= slots[i].bit;
            found = 1;
        }
        if (!found) {
            st = ss_error_set(err, SS_EDATA, "%s: unexpected tensor '%.*s' in a linear model", path,
                              (int)name->nbytes, (const char *)name->data);
            goto done;
        }
    }
    if (rc < 0) {
        st = (*err = *tsf_reader_error(r), err->status);
        goto done;
    }
    if (seen != 15) {
        st = ss_error_set(err, SS_EDATA, "%s: the linear model lacks weight, bias, mean or std", path);
        goto done;
    }
    for (int j = 0; j < m->d; j++)
        if (!(m->std[j] > 0)) {
            st = ss_error_set(err, SS_EDATA, "%s: std[%d] is %g; every std must be positive", path, j,
                              (double)m->std[j]);
            goto done;
        }
    if (meta_out && !(*meta_out = ss_json_clone(meta)))
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
done:
    if (st != SS_OK)
        ss_linmodel_free(m);
    free(rec);
    tsf_reader_close(r);
    return st;
}
