/* augment: selfsup-augment, V augmented views of every image of a samples
 * stream, for contrastive training.
 *
 * Each output record contains key, view0 ... view{V-1} and label. View v of the
 * record at position p of epoch e is drawn from ss_rng(seed, SS_RNG_AUGMENT,
 * e << 40 | p << 8 | v), so the output depends neither on --threads nor on
 * how the input is chunked, and --skip can start anywhere in the sequence.
 *
 * Without --shuffle the input is streamed: one batch of records is held at a
 * time, and each further epoch reopens FILE. With --shuffle every record is
 * held in memory (keys, images and labels, decoded), because each epoch
 * visits them in a new order. Other input fields are dropped. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_aug.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "ss_rng.h"
#include "tool.h"

#define PROG "selfsup-augment"
#define MAX_VIEWS 62            /* key, label and the views fill TSF_MAX_FIELDS */
#define MAX_EPOCHS (1 << 24)    /* the epoch takes bits 40..63 of the view key */
#define MAX_POSITION (1ULL << 32) /* records per epoch; bits 8..39 of the key */
#define BATCH_RECORDS 512       /* per thread */
#define BATCH_BYTES (32u << 20) /* output bytes per thread and batch */

/* ---- Options ------------------------------------------------------------ */

/* The command line as given; the augmentation options stay strings until
 * checked, so that a missing one means "default". */
typedef struct {
    int views;
    const char *size;
    const char *dtype;
    int64_t epochs, skip, max_memory_mib;
    int shuffle, no_augment;
    const char *crop_scale, *crop_ratio, *hflip, *vflip, *rotate, *translate, *scale, *jitter,
        *grayscale, *blur, *noise;
    tool_output_opts out;
} options;

/* What a run needs, checked. */
typedef struct {
    ss_aug_config aug;
    int views;
    int out_h, out_w;      /* 0: the size of each input image */
    int float_out;
    uint64_t epochs, skip_records, seed;
    int shuffle, threads;
    size_t max_memory;
    const char *path;      /* input, "-" for standard input */
    tool_output_opts out;
} settings;

/* Parses "A,B,..." into exactly n numbers, each within [lo[i], hi[i]];
 * names[i] names the part in messages. */
static ss_status parse_numbers(const char *arg, const char *opt, int n, const char *const *names,
                               const double *lo, const double *hi, double *out, ss_error *err)
{
    char buf[256];
    if (strlen(arg) >= sizeof buf)
        return ss_error_set(err, SS_EINVAL, "invalid value for --%s: too long", opt);
    strcpy(buf, arg);
    char *part = buf;
    for (int i = 0; i < n; i++) {
        char *comma = strchr(part, ',');
        if ((comma != NULL) != (i < n - 1))
            return ss_error_set(err, SS_EINVAL, "invalid value '%s' for --%s: expected %d comma-separated "
                                "numbers", arg, opt, n);
        if (comma)
            *comma = '\0';
        char what[64];
        if (n == 1)
            snprintf(what, sizeof what, "value for --%s", opt);
        else
            snprintf(what, sizeof what, "%s of --%s", names[i], opt);
        ss_status st = ss_parse_double(part, lo[i], hi[i], what, &out[i], err);
        if (st != SS_OK)
            return st;
        part = comma + 1;
    }
    return SS_OK;
}

/* Reads the augmentation options into cfg, which contains the defaults. */
static ss_status parse_augment(ss_aug_config *cfg, const options *o, ss_error *err)
{
    static const char *const p1[] = {"P"};
    static const char *const range[] = {"MIN", "MAX"};
    static const char *const deg[] = {"P", "DEG"};
    static const char *const frac[] = {"P", "FRAC"};
    static const char *const scale[] = {"P", "MIN", "MAX"};
    static const char *const jitter[] = {"P", "B", "C", "S", "H"};
    static const char *const blur[] = {"P", "SMIN", "SMAX"};
    static const char *const noise[] = {"P", "SIGMA"};
    const double zero[5] = {0, 0, 0, 0, 0}, unit[5] = {1, 1, 1, 1, 1};
    double v[5];
    ss_status st = SS_OK;

#define NUMBERS(arg, opt, n, names, lo, hi) \
    (st == SS_OK && (arg) && (st = parse_numbers((arg), (opt), (n), (names), (lo), (hi), v, err)) == SS_OK)
    if (NUMBERS(o->crop_scale, "crop-scale", 2, range, zero, unit))
        cfg->crop_scale[0] = v[0], cfg->crop_scale[1] = v[1];
    if (NUMBERS(o->crop_ratio, "crop-ratio", 2, range, ((const double[]){1e-3, 1e-3}),
                ((const double[]){1e3, 1e3})))
        cfg->crop_ratio[0] = v[0], cfg->crop_ratio[1] = v[1];
    if (NUMBERS(o->hflip, "hflip", 1, p1, zero, unit))
        cfg->hflip = v[0];
    if (NUMBERS(o->vflip, "vflip", 1, p1, zero, unit))
        cfg->vflip = v[0];
    if (NUMBERS(o->rotate, "rotate", 2, deg, zero, ((const double[]){1, 180})))
        cfg->rotate_p = v[0], cfg->rotate_deg = v[1];
    if (NUMBERS(o->translate, "translate", 2, frac, zero, unit))
        cfg->translate_p = v[0], cfg->translate_frac = v[1];
    if (NUMBERS(o->scale, "scale", 3, scale, zero, ((const double[]){1, 1e3, 1e3})))
        cfg->scale_p = v[0], cfg->scale_min = v[1], cfg->scale_max = v[2];
    if (NUMBERS(o->jitter, "jitter", 5, jitter, zero, ((const double[]){1, 100, 100, 100, 0.5})))
        cfg->jitter_p = v[0], cfg->brightness = v[1], cfg->contrast = v[2], cfg->saturation = v[3],
        cfg->hue = v[4];
    if (NUMBERS(o->grayscale, "grayscale", 1, p1, zero, unit))
        cfg->grayscale_p = v[0];
    if (NUMBERS(o->blur, "blur", 3, blur, zero,
                ((const double[]){1, SS_AUG_MAX_BLUR_SIGMA, SS_AUG_MAX_BLUR_SIGMA})))
        cfg->blur_p = v[0], cfg->blur_sigma[0] = v[1], cfg->blur_sigma[1] = v[2];
    if (NUMBERS(o->noise, "noise", 2, noise, zero, unit))
        cfg->noise_p = v[0], cfg->noise_sigma = v[1];
#undef NUMBERS
    if (st != SS_OK)
        return st;
    return ss_aug_config_check(cfg, err);
}

/* Returns the first augmentation option given, or NULL. */
static const char *first_augment_option(const options *o)
{
    const struct {
        const char *value, *name;
    } all[] = {{o->crop_scale, "--crop-scale"}, {o->crop_ratio, "--crop-ratio"}, {o->hflip, "--hflip"},
               {o->vflip, "--vflip"},           {o->rotate, "--rotate"},         {o->translate, "--translate"},
               {o->scale, "--scale"},           {o->jitter, "--jitter"},         {o->grayscale, "--grayscale"},
               {o->blur, "--blur"},             {o->noise, "--noise"}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i].value)
            return all[i].name;
    return NULL;
}

static ss_status parse_size(const char *arg, int *h, int *w, ss_error *err)
{
    const char *comma = strchr(arg, ',');
    static const char *const names[] = {"H", "W"};
    const double lo[2] = {1, 1}, hi[2] = {SS_AUG_MAX_SIDE, SS_AUG_MAX_SIDE};
    double v[2];
    ss_status st = comma ? parse_numbers(arg, "size", 2, names, lo, hi, v, err)
                         : ss_parse_double(arg, 1, SS_AUG_MAX_SIDE, "value for --size", v, err);
    if (st != SS_OK)
        return st;
    if (!comma)
        v[1] = v[0];
    if (v[0] != (int)v[0] || v[1] != (int)v[1])
        return ss_error_set(err, SS_EINVAL, "invalid value '%s' for --size: expected whole pixels", arg);
    *h = (int)v[0];
    *w = (int)v[1];
    return SS_OK;
}

static ss_status settings_from_options(settings *s, const options *o, const ss_common *common,
                                       int n_args, char **args, ss_error *err)
{
    memset(s, 0, sizeof *s);
    ss_aug_config_default(&s->aug);
    s->views = o->views;
    s->float_out = strcmp(o->dtype, "float32") == 0;
    s->epochs = (uint64_t)o->epochs;
    s->seed = common->seed;
    s->shuffle = o->shuffle;
    s->threads = common->threads;
    s->max_memory = (size_t)o->max_memory_mib << 20;
    s->path = n_args > 0 ? args[0] : "-";
    s->out = o->out;
    if (o->size && parse_size(o->size, &s->out_h, &s->out_w, err) != SS_OK)
        return SS_EINVAL;
    if (o->skip % o->views != 0)
        return ss_error_set(err, SS_EINVAL, "--skip %" PRId64 " is not a multiple of --views %d; "
                            "--skip counts views and must start at a whole record", o->skip, o->views);
    s->skip_records = (uint64_t)o->skip / (uint64_t)o->views;
    if (s->epochs > 1 && !s->shuffle && strcmp(s->path, "-") == 0)
        return ss_error_set(err, SS_EINVAL, "--epochs %" PRIu64 " needs a FILE to read again; standard "
                            "input can be replayed only with --shuffle", s->epochs);
    const char *conflict = first_augment_option(o);
    if (o->no_augment && conflict)
        return ss_error_set(err, SS_EINVAL, "--no-augment cannot be combined with %s", conflict);
    s->aug.identity = o->no_augment;
    return parse_augment(&s->aug, o, err);
}

/* ---- Records ------------------------------------------------------------ */

/* One input record, decoded; offsets point into record_set.data. */
typedef struct {
    size_t key, key_len;
    size_t image;          /* 8-byte aligned */
    int h, w, c;
    int dtype;             /* TSF_UINT8 or TSF_FLOAT32 */
    int label_dtype;       /* 0 when the record has no label */
    unsigned char label[8];
} record_entry;

typedef struct {
    record_entry *rec;
    size_t n, cap;
    unsigned char *data;
    size_t len, data_cap;
    size_t limit;          /* bytes of data and entries; SIZE_MAX for none */
} record_set;

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Checks the key, image and label fields of rec and returns them in e. */
static ss_status check_record(record_entry *e, const tsf_record *rec, const tsf_field **key,
                              const tsf_field **image, const tsf_field **label, ss_error *err)
{
    *key = tsf_record_find(rec, "key");
    *image = tsf_record_find(rec, "image");
    *label = tsf_record_find(rec, "label");
    if (!*key || (*key)->dtype != TSF_UTF8)
        return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": %s; a samples stream needs a utf8 field 'key'",
                            rec->index, *key ? "field 'key' is not utf8" : "no field 'key'");
    const tsf_field *f = *image;
    if (!f)
        return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": no field 'image'", rec->index);
    if ((f->dtype != TSF_UINT8 && f->dtype != TSF_FLOAT32) || f->ndim != 3)
        return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": field 'image' is %s with %d dimensions; "
                            "expected uint8 or float32 [H,W,C]", rec->index, tsf_dtype_name(f->dtype), f->ndim);
    if (f->dims[0] < 1 || f->dims[0] > SS_AUG_MAX_SIDE || f->dims[1] < 1 || f->dims[1] > SS_AUG_MAX_SIDE ||
        f->dims[2] < 1 || f->dims[2] > SS_AUG_MAX_CHANNELS)
        return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": image shape [%" PRIu64 ",%" PRIu64 ",%" PRIu64
                            "] is outside 1..%d pixels per side and 1..%d channels", rec->index, f->dims[0],
                            f->dims[1], f->dims[2], SS_AUG_MAX_SIDE, SS_AUG_MAX_CHANNELS);
    e->h = (int)f->dims[0];
    e->w = (int)f->dims[1];
    e->c = (int)f->dims[2];
    e->dtype = f->dtype;
    if (f->dtype == TSF_FLOAT32) {
        for (uint64_t i = 0; i < f->count; i++) {
            float x;
            memcpy(&x, (const unsigned char *)f->data + 4 * i, 4);
            if (!(x == x && x - x == 0))
                return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": field 'image' holds a non-finite value",
                                    rec->index);
        }
    }
    e->label_dtype = 0;
    if (*label) {
        int d = (*label)->dtype;
        if ((*label)->ndim != 0 || d == TSF_UTF8 || d == TSF_BYTES)
            return ss_error_set(err, SS_EDATA, "record %" PRIu64 ": field 'label' must be a numeric scalar",
                                rec->index);
        e->label_dtype = d;
        memcpy(e->label, (*label)->data, (*label)->nbytes);
    }
    return SS_OK;
}

/* Appends a copy of rec's key, image and label. */
static ss_status set_add(record_set *s, const tsf_record *rec, ss_error *err)
{
    record_entry e;
    const tsf_field *key, *image, *label;
    ss_status st = check_record(&e, rec, &key, &image, &label, err);
    if (st != SS_OK)
        return st;
    size_t need = align8(key->nbytes) + align8(image->nbytes);
    if (s->len + need + (s->n + 1) * sizeof(record_entry) > s->limit)
        return ss_error_set(err, SS_ELIMIT, "the input exceeds --max-memory %zu MiB after %zu records; "
                            "raise --max-memory or drop --shuffle", s->limit >> 20, s->n);
    if (s->len + need > s->data_cap) {
        size_t cap = s->data_cap ? s->data_cap : 1u << 20;
        while (cap < s->len + need)
            cap *= 2;
        unsigned char *nd = realloc(s->data, cap);
        if (!nd)
            return ss_error_set(err, SS_ENOMEM, "out of memory after %zu records", s->n);
        s->data = nd;
        s->data_cap = cap;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        record_entry *nr = realloc(s->rec, cap * sizeof *nr);
        if (!nr)
            return ss_error_set(err, SS_ENOMEM, "out of memory after %zu records", s->n);
        s->rec = nr;
        s->cap = cap;
    }
    e.key = s->len;
    e.key_len = key->nbytes;
    memcpy(s->data + s->len, key->data, key->nbytes);
    s->len += align8(key->nbytes);
    e.image = s->len;
    memcpy(s->data + s->len, image->data, image->nbytes);
    s->len += align8(image->nbytes);
    s->rec[s->n++] = e;
    return SS_OK;
}

static void set_clear(record_set *s)
{
    s->n = 0;
    s->len = 0;
}

static void set_free(record_set *s)
{
    free(s->rec);
    free(s->data);
}

/* ---- Rendering ---------------------------------------------------------- */

/* A batch: count records of set, visited through order (or in set order
 * when order is NULL) from index first, at positions pos0, pos0 + 1, ...
 * of epoch. */
typedef struct {
    const settings *s;
    const record_set *set;
    const size_t *order;
    size_t first, count;
    uint64_t epoch, pos0;
    unsigned char *out;    /* the views of batch record i start at out + offset[i] */
    size_t *offset;
} batch;

/* Per-thread float buffers, grown as needed and reused across batches. */
typedef struct {
    float *buf, *scratch;
    size_t cap;            /* floats in each */
    const batch *b;
    size_t begin, end;
} worker;

static const record_entry *batch_record(const batch *b, size_t i)
{
    return &b->set->rec[b->order ? b->order[b->first + i] : b->first + i];
}

static void output_size(const settings *s, const record_entry *e, int *oh, int *ow)
{
    *oh = s->out_h ? s->out_h : e->h;
    *ow = s->out_w ? s->out_w : e->w;
}

static void render_record(worker *wk, const batch *b, size_t i)
{
    const settings *s = b->s;
    const record_entry *e = batch_record(b, i);
    const unsigned char *image = b->set->data + e->image;
    int oh, ow;
    output_size(s, e, &oh, &ow);
    size_t n = (size_t)oh * (size_t)ow * (size_t)e->c;
    unsigned char *dst = b->out + b->offset[i];
    uint64_t pos = b->pos0 + i;
    for (int v = 0; v < s->views; v++) {
        ss_rng rng;
        ss_rng_init(&rng, s->seed, SS_RNG_AUGMENT, b->epoch << 40 | pos << 8 | (uint64_t)v);
        ss_aug_view view;
        ss_aug_view_sample(&view, &s->aug, e->h, e->w, oh, ow, &rng);
        if (e->dtype == TSF_UINT8)
            ss_aug_render_u8(wk->buf, wk->scratch, image, e->h, e->w, e->c, &view, &rng);
        else
            ss_aug_render_f32(wk->buf, wk->scratch, (const float *)(const void *)image, e->h, e->w, e->c,
                              &view, &rng);
        if (s->float_out)
            ss_aug_to_f32((float *)(void *)(dst + (size_t)v * n * 4), wk->buf, n);
        else
            ss_aug_to_u8(dst + (size_t)v * n, wk->buf, n);
    }
}

static void *worker_run(void *arg)
{
    worker *wk = arg;
    for (size_t i = wk->begin; i < wk->end; i++)
        render_record(wk, wk->b, i);
    return NULL;
}

/* Grows the float buffers of a worker to hold floats values each. */
static ss_status worker_reserve(worker *wk, size_t floats, ss_error *err)
{
    if (floats <= wk->cap)
        return SS_OK;
    free(wk->buf);
    free(wk->scratch);
    wk->buf = malloc(floats * sizeof(float));
    wk->scratch = malloc(floats * sizeof(float));
    wk->cap = wk->buf && wk->scratch ? floats : 0;
    if (!wk->cap)
        return ss_error_set(err, SS_ENOMEM, "out of memory for images of %zu values", floats);
    return SS_OK;
}

/* The state of a run that outlives one batch. */
typedef struct {
    const settings *s;
    worker *workers;
    unsigned char *out;
    size_t out_cap;
    size_t *offset;
    size_t offset_cap;
    tsf_field *fields;
    char view_names[MAX_VIEWS][16];
    tool_output output;
    ss_progress progress;
    uint64_t views_written;
} runner;

/* Lays out the output of batch b and sizes every buffer for it. */
static ss_status batch_prepare(runner *r, batch *b, ss_error *err)
{
    const settings *s = r->s;
    if (b->count > r->offset_cap) {
        size_t *no = realloc(r->offset, b->count * sizeof *no);
        if (!no)
            return ss_error_set(err, SS_ENOMEM, "out of memory");
        r->offset = no;
        r->offset_cap = b->count;
    }
    size_t total = 0, most = 0;
    for (size_t i = 0; i < b->count; i++) {
        const record_entry *e = batch_record(b, i);
        int oh, ow;
        output_size(s, e, &oh, &ow);
        size_t n = (size_t)oh * (size_t)ow * (size_t)e->c;
        size_t bytes = n * (size_t)s->views * (s->float_out ? 4 : 1);
        if (n > most)
            most = n;
        r->offset[i] = total;
        total += align8(bytes);
    }
    if (total > r->out_cap) {
        unsigned char *no = realloc(r->out, total);
        if (!no)
            return ss_error_set(err, SS_ENOMEM, "out of memory for %zu bytes of views", total);
        r->out = no;
        r->out_cap = total;
    }
    b->out = r->out;
    b->offset = r->offset;
    for (int t = 0; t < s->threads; t++)
        if (worker_reserve(&r->workers[t], most, err) != SS_OK)
            return err->status;
    return SS_OK;
}

/* Renders a batch on the worker threads, each taking a contiguous slice. A
 * thread that cannot start leaves its slice to the calling thread. */
static void batch_render(runner *r, const batch *b)
{
    int t_count = r->s->threads;
    pthread_t tid[1024];
    int started[1024] = {0};
    for (int t = 0; t < t_count; t++) {
        worker *wk = &r->workers[t];
        wk->b = b;
        wk->begin = b->count * (size_t)t / (size_t)t_count;
        wk->end = b->count * (size_t)(t + 1) / (size_t)t_count;
        if (t > 0 && wk->begin < wk->end)
            started[t] = pthread_create(&tid[t], NULL, worker_run, wk) == 0;
    }
    worker_run(&r->workers[0]);
    for (int t = 1; t < t_count; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            worker_run(&r->workers[t]);
    }
}

static ss_status batch_write(runner *r, const batch *b, ss_error *err)
{
    const settings *s = r->s;
    for (size_t i = 0; i < b->count; i++) {
        const record_entry *e = batch_record(b, i);
        int oh, ow;
        output_size(s, e, &oh, &ow);
        size_t view_bytes = (size_t)oh * (size_t)ow * (size_t)e->c * (s->float_out ? 4 : 1);
        uint64_t key_dims[1] = {e->key_len};
        uint64_t view_dims[3] = {(uint64_t)oh, (uint64_t)ow, (uint64_t)e->c};
        int n = 0;
        tsf_field_set(&r->fields[n++], "key", TSF_UTF8, 1, key_dims, b->set->data + e->key);
        for (int v = 0; v < s->views; v++)
            tsf_field_set(&r->fields[n++], r->view_names[v], s->float_out ? TSF_FLOAT32 : TSF_UINT8, 3,
                          view_dims, b->out + b->offset[i] + (size_t)v * view_bytes);
        if (e->label_dtype)
            tsf_field_set(&r->fields[n++], "label", e->label_dtype, 0, NULL, e->label);
        if (tsf_writer_write(r->output.w, r->fields, n) != SS_OK) {
            *err = *tsf_writer_error(r->output.w);
            return err->status;
        }
    }
    r->views_written += (uint64_t)b->count * (uint64_t)s->views;
    ss_progress_update(&r->progress, r->views_written, 0);
    return SS_OK;
}

static ss_status batch_run(runner *r, batch *b, ss_error *err)
{
    if (b->count == 0)
        return SS_OK;
    ss_status st = batch_prepare(r, b, err);
    if (st != SS_OK)
        return st;
    batch_render(r, b);
    return batch_write(r, b, err);
}

/* Returns 1 when a streamed batch should be rendered before more records
 * are added. */
static int batch_full(const runner *r, const record_set *set)
{
    const settings *s = r->s;
    if (set->n >= (size_t)BATCH_RECORDS * (size_t)s->threads)
        return 1;
    const record_entry *e = &set->rec[set->n - 1];
    int oh, ow;
    output_size(s, e, &oh, &ow);
    size_t per_record = (size_t)oh * (size_t)ow * (size_t)e->c * (size_t)s->views * (s->float_out ? 4 : 1);
    return per_record * set->n >= (size_t)BATCH_BYTES * (size_t)s->threads;
}

/* ---- Metadata ----------------------------------------------------------- */

static ss_json *number_pair(double a, double b)
{
    ss_json *arr = ss_json_new_array();
    if (arr && (ss_json_append(arr, ss_json_new_double(a)) != SS_OK ||
                ss_json_append(arr, ss_json_new_double(b)) != SS_OK)) {
        ss_json_free(arr);
        return NULL;
    }
    return arr;
}

/* Builds {"name": value, ...} from a NULL-terminated list of names and a
 * list of doubles. */
static ss_json *number_object(const char *const *names, const double *values)
{
    ss_json *obj = ss_json_new_object();
    for (int i = 0; obj && names[i]; i++)
        if (ss_json_set(obj, names[i], ss_json_new_double(values[i])) != SS_OK) {
            ss_json_free(obj);
            return NULL;
        }
    return obj;
}

/* The "augment" entry of the output's config: every parameter of the run. */
static ss_json *augment_config(const settings *s)
{
    const ss_aug_config *a = &s->aug;
    ss_json *o = ss_json_new_object();
    if (!o)
        return NULL;
    ss_json *size = ss_json_new_null();
    if (s->out_h) {
        ss_json_free(size);
        size = ss_json_new_array();
        if (size && (ss_json_append(size, ss_json_new_int(s->out_h)) != SS_OK ||
                     ss_json_append(size, ss_json_new_int(s->out_w)) != SS_OK)) {
            ss_json_free(size);
            size = NULL;
        }
    }
    int ok = ss_json_set(o, "views", ss_json_new_int(s->views)) == SS_OK &&
             ss_json_set(o, "dtype", ss_json_new_string(s->float_out ? "float32" : "uint8")) == SS_OK &&
             ss_json_set(o, "size", size) == SS_OK &&
             ss_json_set(o, "seed", ss_json_new_int((int64_t)s->seed)) == SS_OK &&
             ss_json_set(o, "epochs", ss_json_new_int((int64_t)s->epochs)) == SS_OK &&
             ss_json_set(o, "shuffle", ss_json_new_bool(s->shuffle)) == SS_OK &&
             ss_json_set(o, "skip", ss_json_new_int((int64_t)(s->skip_records * (uint64_t)s->views))) == SS_OK &&
             ss_json_set(o, "identity", ss_json_new_bool(a->identity)) == SS_OK &&
             ss_json_set(o, "rng", ss_json_new_string("philox4x32-10, stream 4, index "
                                                      "epoch<<40|position<<8|view")) == SS_OK;
    if (ok && !a->identity) {
        static const char *const rotate[] = {"p", "degrees", NULL};
        static const char *const translate[] = {"p", "fraction", NULL};
        static const char *const scale[] = {"p", "min", "max", NULL};
        static const char *const jitter[] = {"p", "brightness", "contrast", "saturation", "hue", NULL};
        static const char *const blur[] = {"p", "sigma_min", "sigma_max", NULL};
        static const char *const noise[] = {"p", "sigma", NULL};
        ok = ss_json_set(o, "crop_scale", number_pair(a->crop_scale[0], a->crop_scale[1])) == SS_OK &&
             ss_json_set(o, "crop_ratio", number_pair(a->crop_ratio[0], a->crop_ratio[1])) == SS_OK &&
             ss_json_set(o, "hflip", ss_json_new_double(a->hflip)) == SS_OK &&
             ss_json_set(o, "vflip", ss_json_new_double(a->vflip)) == SS_OK &&
             ss_json_set(o, "rotate", number_object(rotate, (const double[]){a->rotate_p, a->rotate_deg})) == SS_OK &&
             ss_json_set(o, "translate", number_object(translate, (const double[]){a->translate_p,
                                                                                   a->translate_frac})) == SS_OK &&
             ss_json_set(o, "scale", number_object(scale, (const double[]){a->scale_p, a->scale_min,
                                                                           a->scale_max})) == SS_OK &&
             ss_json_set(o, "jitter", number_object(jitter, (const double[]){a->jitter_p, a->brightness,
                                                                             a->contrast, a->saturation,
                                                                             a->hue})) == SS_OK &&
             ss_json_set(o, "grayscale", ss_json_new_double(a->grayscale_p)) == SS_OK &&
             ss_json_set(o, "blur", number_object(blur, (const double[]){a->blur_p, a->blur_sigma[0],
                                                                         a->blur_sigma[1]})) == SS_OK &&
             ss_json_set(o, "noise", number_object(noise, (const double[]){a->noise_p, a->noise_sigma})) == SS_OK;
    }
    if (!ok) {
        ss_json_free(o);
        return NULL;
    }
    return o;
}

/* Returns the schema entry of field name in meta, or NULL. */
static const ss_json *schema_field(const ss_json *meta, const char *name)
{
    const ss_json *fields = ss_json_get(ss_json_get(meta, "schema"), "fields");
    if (!fields || fields->type != SS_JSON_ARRAY)
        return NULL;
    for (size_t i = 0; i < fields->len; i++) {
        const char *n = ss_json_get_string(fields->items[i], "name");
        if (n && strcmp(n, name) == 0)
            return fields->items[i];
    }
    return NULL;
}

/* The output schema: key, the views (shape from the input's image entry,
 * with --size applied) and label when the input declares one. */
static ss_json *views_schema(const settings *s, const ss_json *in_meta)
{
    long long dims[3] = {-1, -1, -1};
    const ss_json *shape = ss_json_get(schema_field(in_meta, "image"), "shape");
    if (shape && shape->type == SS_JSON_ARRAY && shape->len == 3)
        for (int d = 0; d < 3; d++)
            if (shape->items[d]->type == SS_JSON_INT)
                dims[d] = shape->items[d]->i;
    if (s->out_h) {
        dims[0] = s->out_h;
        dims[1] = s->out_w;
    }
    ss_json *schema = ss_meta_schema_new();
    long long key_dims[1] = {-1};
    if (!schema || ss_meta_schema_add(schema, "key", "utf8", 1, key_dims, 0) != SS_OK) {
        ss_json_free(schema);
        return NULL;
    }
    for (int v = 0; v < s->views; v++) {
        char name[16];
        snprintf(name, sizeof name, "view%d", v);
        if (ss_meta_schema_add(schema, name, s->float_out ? "float32" : "uint8", 3, dims, 0) != SS_OK) {
            ss_json_free(schema);
            return NULL;
        }
    }
    const ss_json *label = schema_field(in_meta, "label");
    const char *dtype = label ? ss_json_get_string(label, "dtype") : NULL;
    const ss_json *optional = label ? ss_json_get(label, "optional") : NULL;
    int is_optional = !label || (optional && optional->type == SS_JSON_BOOL && optional->boolean);
    if (ss_meta_schema_add(schema, "label", dtype ? dtype : "int64", 0, NULL, is_optional) != SS_OK) {
        ss_json_free(schema);
        return NULL;
    }
    return schema;
}

static ss_json *output_meta(const settings *s, const ss_json *in_meta, int argc, char **argv)
{
    ss_json *meta = ss_meta_derive(in_meta, PROG, argc - 1, argv + 1);
    if (!meta)
        return NULL;
    const ss_json *old_config = ss_json_get(meta, "config");
    ss_json *config = old_config && old_config->type == SS_JSON_OBJECT ? ss_json_clone(old_config)
                                                                       : ss_json_new_object();
    if (!config || ss_json_set(config, "augment", augment_config(s)) != SS_OK ||
        ss_json_set(meta, "config", config) != SS_OK || ss_json_set(meta, "kind", ss_json_new_string("views")) != SS_OK ||
        ss_json_set(meta, "schema", views_schema(s, in_meta)) != SS_OK) {
        ss_json_free(meta);
        return NULL;
    }
    return meta;
}

/* ---- Input -------------------------------------------------------------- */

/* An input being read, with the checks shared by every epoch's pass. */
typedef struct {
    tsf_reader *r;
    const ss_json *first_meta;  /* owned by the caller */
    uint64_t stream;            /* stream index last checked */
    tsf_record *rec;
} input;

/* Reads the next record. Returns 1, 0 at the end, -1 with err set. */
static int input_next(input *in, ss_error *err)
{
    int got = tsf_reader_next(in->r, in->rec);
    if (got < 0) {
        *err = *tsf_reader_error(in->r);
        return -1;
    }
    if (got == 1 && tsf_reader_stream_index(in->r) != in->stream) {
        in->stream = tsf_reader_stream_index(in->r);
        if (!ss_meta_compatible(in->first_meta, tsf_reader_meta(in->r))) {
            ss_error_set(err, SS_EDATA, "%s: stream %" PRIu64 " differs from the first stream in kind, schema "
                         "or classes; augment its streams separately", tsf_reader_name(in->r), in->stream);
            return -1;
        }
    }
    return got;
}

static ss_status input_add(input *in, record_set *set, ss_error *err)
{
    ss_status st = set_add(set, in->rec, err);
    if (st != SS_OK)
        ss_error_prefix(err, "%s", tsf_reader_name(in->r));
    return st;
}

/* Streams one pass over the input for epoch e, skipping records while
 * *seq < skip; *seq counts records of the whole epoch sequence. */
static ss_status stream_epoch(runner *r, input *in, uint64_t epoch, uint64_t *seq, record_set *set,
                              ss_error *err)
{
    const settings *s = r->s;
    uint64_t pos = 0;
    batch b = {s, set, NULL, 0, 0, epoch, 0, NULL, NULL};
    set_clear(set);
    int got;
    while ((got = input_next(in, err)) == 1) {
        if (pos >= MAX_POSITION)
            return ss_error_set(err, SS_ELIMIT, "%s: more than %llu records in one epoch",
                                tsf_reader_name(in->r), (unsigned long long)MAX_POSITION);
        if ((*seq)++ < s->skip_records) {
            pos++;
            continue;
        }
        if (set->n == 0)
            b.pos0 = pos;
        pos++;
        if (input_add(in, set, err) != SS_OK)
            return err->status;
        if (batch_full(r, set)) {
            b.count = set->n;
            if (batch_run(r, &b, err) != SS_OK)
                return err->status;
            set_clear(set);
        }
    }
    if (got < 0)
        return err->status;
    b.count = set->n;
    return batch_run(r, &b, err);
}

/* Fisher-Yates with one generator keyed by the epoch, as selfsup-tsf
 * shuffle does for epoch 0. */
static void permute(size_t *order, size_t n, uint64_t seed, uint64_t epoch)
{
    ss_rng rng;
    ss_rng_init(&rng, seed, SS_RNG_SHUFFLE, epoch);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ss_rng_below(&rng, i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* Reads every record, then renders each epoch in its own order. */
static ss_status run_shuffled(runner *r, input *in, ss_error *err)
{
    const settings *s = r->s;
    record_set set = {.limit = s->max_memory};
    int got = 0;
    ss_status st = SS_OK;
    while (st == SS_OK && (got = input_next(in, err)) == 1) {
        if (set.n >= MAX_POSITION)
            st = ss_error_set(err, SS_ELIMIT, "%s: more than %llu records in one epoch",
                              tsf_reader_name(in->r), (unsigned long long)MAX_POSITION);
        else
            st = input_add(in, &set, err);
    }
    if (st == SS_OK && got < 0)
        st = err->status;
    size_t *order = st == SS_OK ? malloc((set.n + 1) * sizeof *order) : NULL;
    if (st == SS_OK && !order)
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
    uint64_t n = set.n;
    uint64_t epoch = n ? s->skip_records / n : s->epochs;
    uint64_t pos = n ? s->skip_records % n : 0;
    size_t step = (size_t)BATCH_RECORDS * (size_t)s->threads;
    for (; st == SS_OK && epoch < s->epochs; epoch++, pos = 0) {
        permute(order, set.n, s->seed, epoch);
        for (; st == SS_OK && pos < n; pos += step) {
            batch b = {s, &set, order, (size_t)pos, (size_t)(n - pos < step ? n - pos : step), epoch, pos,
                       NULL, NULL};
            st = batch_run(r, &b, err);
        }
    }
    free(order);
    set_free(&set);
    return st;
}

static ss_status run_streamed(runner *r, input *in, ss_error *err)
{
    const settings *s = r->s;
    record_set set = {.limit = SIZE_MAX};
    uint64_t seq = 0;
    ss_status st = SS_OK;
    for (uint64_t epoch = 0; st == SS_OK && epoch < s->epochs; epoch++) {
        if (epoch > 0) {
            tsf_reader_close(in->r);
            in->stream = 0;
            in->r = tsf_reader_open_path(s->path, NULL, err);
            if (!in->r)
                break;
            if (tsf_reader_start(in->r) < 0) {
                *err = *tsf_reader_error(in->r);
                st = err->status;
                break;
            }
            if (!ss_meta_compatible(in->first_meta, tsf_reader_meta(in->r))) {
                st = ss_error_set(err, SS_EDATA, "%s: the file changed between epochs", s->path);
                break;
            }
        }
        st = stream_epoch(r, in, epoch, &seq, &set, err);
    }
    if (!in->r)
        st = err->status;
    set_free(&set);
    return st;
}

/* ---- Main --------------------------------------------------------------- */

static ss_status runner_init(runner *r, const settings *s, ss_error *err)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->workers = calloc((size_t)s->threads, sizeof *r->workers);
    r->fields = malloc((MAX_VIEWS + 2) * sizeof *r->fields);
    if (!r->workers || !r->fields)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    for (int v = 0; v < MAX_VIEWS; v++)
        snprintf(r->view_names[v], sizeof r->view_names[v], "view%d", v);
    return SS_OK;
}

static void runner_free(runner *r)
{
    for (int t = 0; r->workers && t < r->s->threads; t++) {
        free(r->workers[t].buf);
        free(r->workers[t].scratch);
    }
    free(r->workers);
    free(r->fields);
    free(r->out);
    free(r->offset);
}

/* Opens the input and checks its first stream. */
static ss_status open_input(input *in, const settings *s, ss_error *err)
{
    memset(in, 0, sizeof *in);
    in->rec = malloc(sizeof *in->rec);
    if (!in->rec)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    in->r = tsf_reader_open_path(s->path, NULL, err);
    if (!in->r)
        return err->status;
    if (tsf_reader_start(in->r) < 0) {
        *err = *tsf_reader_error(in->r);
        return err->status;
    }
    in->first_meta = tsf_reader_meta(in->r);
    const char *kind = ss_json_get_string(in->first_meta, "kind");
    if (kind && strcmp(kind, "samples") != 0)
        return ss_error_set(err, SS_EDATA, "%s: the stream is of kind '%s'; selfsup-augment reads 'samples' "
                            "streams", tsf_reader_name(in->r), kind);
    return SS_OK;
}

static int run(const settings *s, int argc, char **argv)
{
    ss_error err;
    runner r;
    input in;
    memset(&in, 0, sizeof in);
    ss_json *first_meta = NULL;
    ss_status st = runner_init(&r, s, &err);
    if (st == SS_OK)
        st = open_input(&in, s, &err);
    if (st == SS_OK && !(first_meta = ss_json_clone(in.first_meta)))
        st = ss_error_set(&err, SS_ENOMEM, "out of memory");
    if (st == SS_OK) {
        in.first_meta = first_meta;
        ss_json *meta = output_meta(s, first_meta, argc, argv);
        st = meta ? tool_output_open(&r.output, &s->out, meta, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
        ss_json_free(meta);
    }
    if (st == SS_OK) {
        double start = ss_now();
        ss_progress_start(&r.progress, "views");
        st = s->shuffle ? run_shuffled(&r, &in, &err) : run_streamed(&r, &in, &err);
        ss_progress_end(&r.progress);
        if (st == SS_OK)
            st = tool_output_finish(&r.output, &err);
        else
            tool_output_abort(&r.output, &err);
        double seconds = ss_now() - start;
        if (st == SS_OK)
            ss_log_detail("%" PRIu64 " views in %.3f s (%.0f views/s)", r.views_written, seconds,
                          seconds > 0 ? (double)r.views_written / seconds : 0.0);
    }
    int status = st == SS_OK ? SS_EXIT_OK : tool_fail(&err);
    if (in.r)
        tsf_reader_close(in.r);
    free(in.rec);
    ss_json_free(first_meta);
    runner_free(&r);
    return status;
}

int main(int argc, char **argv)
{
    tool_start(PROG);
    options o = {.views = 2, .dtype = "uint8", .epochs = 1, .max_memory_mib = 4096};
    tool_output_opts_default(&o.out);
    static const char *const dtypes[] = {"uint8", "float32", NULL};
    const ss_option opts[] = {
        {"views", 'n', SS_ARG_INT, &o.views, "V", "views per image, 1 to 62 (default 2)", 1, MAX_VIEWS, NULL, NULL},
        {"size", 's', SS_ARG_STRING, &o.size, "S|H,W", "output size in pixels (default: the input size)", 0, 0, NULL, NULL},
        {"dtype", 'd', SS_ARG_CHOICE, &o.dtype, "TYPE", "uint8 or float32 in [0,1] (default uint8)", 0, 0, dtypes, NULL},
        {"epochs", 'e', SS_ARG_INT64, &o.epochs, "E", "passes over the input (default 1)", 1, MAX_EPOCHS, NULL, NULL},
        {"shuffle", 0, SS_ARG_FLAG, &o.shuffle, NULL, "visit the records in a new seeded order each epoch", 0, 0, NULL, NULL},
        {"skip", 0, SS_ARG_INT64, &o.skip, "N", "start at view N of the sequence, a multiple of V (default 0)", 0, 9e18, NULL, NULL},
        {"max-memory", 'm', SS_ARG_INT64, &o.max_memory_mib, "MIB",
         "most input held in memory by --shuffle, in MiB (default 4096)", 1, 1 << 30, NULL, NULL},
        {"no-augment", 0, SS_ARG_FLAG, &o.no_augment, NULL, "identity views (resized only)", 0, 0, NULL, NULL},
        {"crop-scale", 0, SS_ARG_STRING, &o.crop_scale, "MIN,MAX", "crop area fraction (default 0.3,1)", 0, 0, NULL, NULL},
        {"crop-ratio", 0, SS_ARG_STRING, &o.crop_ratio, "MIN,MAX", "crop width/height (default 0.75,1.3333)", 0, 0, NULL, NULL},
        {"hflip", 0, SS_ARG_STRING, &o.hflip, "P", "horizontal flip probability (default 0.5)", 0, 0, NULL, NULL},
        {"vflip", 0, SS_ARG_STRING, &o.vflip, "P", "vertical flip probability (default 0)", 0, 0, NULL, NULL},
        {"rotate", 0, SS_ARG_STRING, &o.rotate, "P,DEG", "rotation by up to DEG degrees (default 0,0)", 0, 0, NULL, NULL},
        {"translate", 0, SS_ARG_STRING, &o.translate, "P,FRAC",
         "shift by up to FRAC of the side (default 0,0)", 0, 0, NULL, NULL},
        {"scale", 0, SS_ARG_STRING, &o.scale, "P,MIN,MAX", "zoom by a factor in [MIN,MAX] (default 0,1,1)", 0, 0, NULL, NULL},
        {"jitter", 0, SS_ARG_STRING, &o.jitter, "P,B,C,S,H",
         "colour jitter: brightness, contrast, saturation, hue (default 0.8,0.4,0.4,0.4,0.1)", 0, 0, NULL, NULL},
        {"grayscale", 0, SS_ARG_STRING, &o.grayscale, "P", "grayscale probability (default 0.2)", 0, 0, NULL, NULL},
        {"blur", 0, SS_ARG_STRING, &o.blur, "P,SMIN,SMAX",
         "Gaussian blur, sigma in output pixels (default 0,0.1,2)", 0, 0, NULL, NULL},
        {"noise", 0, SS_ARG_STRING, &o.noise, "P,SIGMA", "Gaussian pixel noise, sigma in [0,1] units (default 0,0)",
         0, 0, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(o.out),
        {0}};
    const ss_command cmd = {
        PROG, "[OPTION]... [FILE]",
        "Write V augmented views of every image of a samples stream (FILE, or standard\n"
        "input when none or '-') as one record per image: key, view0..view{V-1}, label.",
        "Steps, in order: random resized crop, flips, rotation/scale/translation (one\n"
        "bilinear warp, fill 0), colour jitter in a random order, grayscale, blur,\n"
        "noise. Each view depends only on --seed, the epoch, the record's position in\n"
        "the epoch and the view number, never on --threads or input chunking.\n"
        "--epochs above 1 rereads FILE, so it needs a FILE unless --shuffle holds the\n"
        "records in memory. See docs/augment.md for the definitions.",
        opts, SS_CLI_SEED | SS_CLI_THREADS, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    settings s;
    ss_error err;
    if (settings_from_options(&s, &o, &common, argc - first, argv + first, &err) != SS_OK)
        return tool_usage(PROG, "%s", err.msg);
    return tool_finish(run(&s, argc, argv));
}
