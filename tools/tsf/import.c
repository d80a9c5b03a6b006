/* import: selfsup-tsf import, which converts IDX files, folders and lists of
 * PNG files, .npy arrays and text files into one stream.
 *
 * Each FORMAT has its own options and --help. Records are written as they
 * are read, so memory stays constant whatever the input size, except for
 * the sorted file list of png-dir. A failed import writes an ABRT chunk to
 * standard output, or leaves no file at all with -o. Left out: JPEG and
 * other image formats, .npz archives, float IDX images and CSV input. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cmd.h"
#include "imgio.h"
#include "ss_idx.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "ss_npy.h"
#include "ss_png.h"
#include "ss_utf8.h"

/* ---- The output stream and its metadata ---------------------------------- */

typedef struct {
    tool_output_opts opts;
    tool_output out;
    ss_json *meta;
    ss_json *schema;   /* moves into meta when the output opens */
    ss_progress progress;
    uint64_t total;    /* records expected, 0 when unknown */
    int argc;          /* the arguments from the format name on, for the producer */
    char **argv;
} import_sink;

static void sink_init(import_sink *s, int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    tool_output_opts_default(&s->opts);
    s->argc = argc;
    s->argv = argv;
}

/* Starts the metadata with this command as producer, the kind and an empty
 * schema. */
static ss_status sink_begin(import_sink *s, const char *kind, ss_error *err)
{
    s->meta = ss_meta_derive(NULL, ss_log_prog(), s->argc, s->argv);
    s->schema = ss_meta_schema_new();
    if (!s->meta || !s->schema || ss_json_set(s->meta, "kind", ss_json_new_string(kind)) != SS_OK)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    return SS_OK;
}

/* Declares a field in the schema, where a dim of -1 means any size. A
 * layout such as "HWC" is recorded when not NULL. */
static ss_status sink_declare(import_sink *s, const char *name, int dtype, int ndim,
                              const long long *dims, const char *layout, ss_error *err)
{
    if (ss_meta_schema_add(s->schema, name, tsf_dtype_name(dtype), ndim, dims, 0) != SS_OK)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    if (layout) {
        const ss_json *fields = ss_json_get(s->schema, "fields");
        ss_json *entry = fields->items[fields->len - 1];
        if (ss_json_set(entry, "layout", ss_json_new_string(layout)) != SS_OK)
            return ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    return SS_OK;
}

static ss_status sink_classes(import_sink *s, const char *const *names, size_t n, ss_error *err)
{
    ss_json *list = ss_json_new_array();
    for (size_t i = 0; list && i < n; i++) {
        if (ss_json_append(list, ss_json_new_string(names[i])) != SS_OK) {
            ss_json_free(list);
            list = NULL;
        }
    }
    if (!list || ss_json_set(s->meta, "classes", list) != SS_OK)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    return SS_OK;
}

/* Stores the schema in the metadata, opens the output and writes the
 * stream header. */
static ss_status sink_open(import_sink *s, ss_error *err)
{
    ss_status st = ss_json_set(s->meta, "schema", s->schema);
    s->schema = NULL;
    if (st != SS_OK)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    st = tool_output_open(&s->out, &s->opts, s->meta, err);
    if (st == SS_OK)
        ss_progress_start(&s->progress, "records");
    return st;
}

static ss_status sink_write(import_sink *s, const tsf_field *fields, int n, ss_error *err)
{
    if (tsf_writer_write(s->out.w, fields, n) != SS_OK) {
        *err = *tsf_writer_error(s->out.w);
        return err->status;
    }
    ss_progress_update(&s->progress, tsf_writer_records(s->out.w), s->total);
    return SS_OK;
}

/* Opens the output after a failure that came before it, so that standard
 * output still ends with an ABRT chunk and the next stage of a pipeline
 * fails with the same message. Does nothing when the output cannot open. */
static void sink_open_for_abort(import_sink *s)
{
    ss_json *meta = ss_meta_derive(NULL, ss_log_prog(), s->argc, s->argv);
    ss_error ignored;
    if (meta)
        tool_output_open(&s->out, &s->opts, meta, &ignored);
    ss_json_free(meta);
}

/* Finishes the import: commits the stream when st is SS_OK, and otherwise
 * aborts it and reports err. Returns the exit status. */
static int sink_end(import_sink *s, ss_status st, ss_error *err)
{
    ss_progress_end(&s->progress);
    if (st == SS_OK && !s->out.open)
        st = ss_error_set(err, SS_EINVAL, "internal error: the output was never opened");
    if (st == SS_OK) {
        uint64_t records = tsf_writer_records(s->out.w);
        st = tool_output_finish(&s->out, err);
        if (st == SS_OK)
            ss_log_detail("wrote %" PRIu64 " records", records);
    } else {
        if (!s->out.open)
            sink_open_for_abort(s);
        tool_output_abort(&s->out, err);
    }
    ss_json_free(s->meta);
    ss_json_free(s->schema);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(err));
}

/* ---- Names ------------------------------------------------------------------ */

/* Returns the part of path after its last '/'. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Returns the length of the key stem of an IDX path: its base name without
 * ".gz" and without an IDX suffix such as "-idx3-ubyte" or ".idx1-ubyte",
 * so that "train-images-idx3-ubyte.gz" gives "train-images". */
static size_t idx_stem_length(const char *base)
{
    size_t len = strlen(base);
    if (ends_with(base, len, ".gz"))
        len -= 3;
    if (ends_with(base, len, "-ubyte")) {
        size_t digits_end = len - 6, d = digits_end;
        while (d > 0 && isdigit((unsigned char)base[d - 1]))
            d--;
        if (d < digits_end && d >= 4 && memcmp(base + d - 3, "idx", 3) == 0
            && (base[d - 4] == '-' || base[d - 4] == '.'))
            len = d - 4;
    }
    return len ? len : strlen(base);
}

/* Checks that a name taken from a path can go into a utf8 key. */
static ss_status check_utf8_name(const char *path, const char *name, size_t len, ss_error *err)
{
    if (!ss_utf8_valid(name, len))
        return ss_error_set(err, SS_EDATA,
                            "%s: the file name is not valid UTF-8 and cannot be used in a key; "
                            "rename the file",
                            path);
    return SS_OK;
}

/* Checks a --field value against the rules for field names: 1 to 255
 * bytes of UTF-8 without control characters. */
static int field_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TSF_MAX_NAME || !ss_utf8_valid(name, len))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        /* U+0080 to U+009F, the C1 controls, are encoded as C2 80 to C2 9F. */
        if (c == 0xc2 && i + 1 < len && (unsigned char)name[i + 1] <= 0x9f)
            return 0;
    }
    return 1;
}

/* ---- Class names ----------------------------------------------------------- */

static const char *const fashion_mnist_classes[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const mnist_classes[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef struct {
    const char **names;
    size_t n;
    char *storage;   /* the copy of a NAME,NAME,... list that names point into */
} class_list;

static void classes_free(class_list *c)
{
    free(c->names);
    free(c->storage);
    memset(c, 0, sizeof *c);
}

static ss_status classes_builtin(class_list *c, const char *const *names, size_t n, ss_error *err)
{
    c->names = malloc(n * sizeof *c->names);
    if (!c->names)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    memcpy(c->names, names, n * sizeof *c->names);
    c->n = n;
    return SS_OK;
}

/* Splits a NAME,NAME,... list. Empty, duplicate and non-UTF-8 names are
 * SS_EINVAL errors, because they come from the command line. */
static ss_status classes_split(class_list *c, const char *spec, ss_error *err)
{
    size_t n = 1;
    for (const char *p = spec; *p; p++)
        n += *p == ',';
    c->storage = strdup(spec);
    c->names = malloc(n * sizeof *c->names);
    if (!c->storage || !c->names)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    char *rest = c->storage;
    for (size_t i = 0; i < n; i++) {
        char *name = strsep(&rest, ",");
        if (!*name)
            return ss_error_set(err, SS_EINVAL,
                                "invalid value for --classes: class name %zu is empty", i);
        if (!ss_utf8_valid(name, strlen(name)))
            return ss_error_set(err, SS_EINVAL,
                                "invalid value for --classes: class name %zu is not valid UTF-8", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->names[j], name) == 0)
                return ss_error_set(err, SS_EINVAL,
                                    "invalid value for --classes: class name '%s' appears twice",
                                    name);
        c->names[i] = name;
    }
    c->n = n;
    return SS_OK;
}

/* Parses --classes. "auto" picks the Fashion-MNIST names when images_path
 * contains "fashion" in any case, and no names otherwise. */
static ss_status classes_parse(const char *spec, const char *images_path, class_list *c,
                               ss_error *err)
{
    memset(c, 0, sizeof *c);
    if (strcmp(spec, "auto") == 0)
        spec = strcasestr(images_path, "fashion") ? "fashion-mnist" : "none";
    if (strcmp(spec, "none") == 0)
        return SS_OK;
    if (strcmp(spec, "fashion-mnist") == 0)
        return classes_builtin(c, fashion_mnist_classes, 10, err);
    if (strcmp(spec, "mnist") == 0)
        return classes_builtin(c, mnist_classes, 10, err);
    return classes_split(c, spec, err);
}

/* ---- idx -------------------------------------------------------------------- */

#define IDX_BATCH 4096
#define BATCH_BYTES (16u << 20)

/* Returns how many records of item_bytes each to read at once: IDX_BATCH,
 * or fewer so that one read stays within BATCH_BYTES, but at least 1. */
static size_t batch_records(size_t item_bytes)
{
    if (item_bytes == 0 || BATCH_BYTES / item_bytes >= IDX_BATCH)
        return IDX_BATCH;
    if (BATCH_BYTES / item_bytes == 0)
        return 1;
    return BATCH_BYTES / item_bytes;
}

static const char idx_details[] =
    "IMAGES must hold uint8 items of shape [H,W] (stored as [H,W,1]) or [H,W,C].\n"
    "LABELS must hold as many uint8, int8, int16 or int32 scalars; they become\n"
    "the int64 field 'label'. Each record also gets the utf8 field 'key',\n"
    "\"STEM:I\": STEM is the base name of IMAGES without \".gz\" and without an IDX\n"
    "suffix such as \"-idx3-ubyte\", and I counts from 0, so the first image of\n"
    "train-images-idx3-ubyte.gz has the key \"train-images:0\".\n"
    "\n"
    "Class names go into the metadata as 'classes', in label order, and every\n"
    "label must then lie between 0 and their count minus 1. --classes auto uses\n"
    "the Fashion-MNIST names (T-shirt/top, Trouser, Pullover, Dress, Coat,\n"
    "Sandal, Shirt, Sneaker, Bag, Ankle boot) when the IMAGES path contains\n"
    "\"fashion\" in any case, and no names otherwise; mnist names the digits 0\n"
    "to 9. Without LABELS no class names are written.";

static ss_status idx_open_images(const char *path, ss_idx **out, ss_error *err)
{
    ss_idx *x = ss_idx_open(path, err);
    if (!x)
        return err->status;
    *out = x;
    int ndim = ss_idx_ndim(x);
    if (ss_idx_type(x) != SS_IDX_UINT8)
        return ss_error_set(err, SS_EDATA,
                            "%s: IDX element type 0x%02X is not uint8 (0x08); only uint8 images "
                            "can be imported as 'image' (convert the array to .npy and use "
                            "'import npy' for other types)",
                            path, (unsigned)ss_idx_type(x));
    if (ndim != 3 && ndim != 4)
        return ss_error_set(err, SS_EDATA,
                            "%s: IDX images must have 3 dims [N,H,W] or 4 dims [N,H,W,C], "
                            "this file has %d",
                            path, ndim);
    for (int d = 1; d < ndim; d++)
        if (ss_idx_dim(x, d) > TSF_MAX_DIM)
            return ss_error_set(err, SS_ELIMIT, "%s: dim %d is %" PRIu32 ", above the limit %llu",
                                path, d, ss_idx_dim(x, d), TSF_MAX_DIM);
    return SS_OK;
}

static ss_status idx_open_labels(const char *path, const char *images_path, uint64_t n_images,
                                 ss_idx **out, ss_error *err)
{
    ss_idx *x = ss_idx_open(path, err);
    if (!x)
        return err->status;
    *out = x;
    int type = ss_idx_type(x);
    if (ss_idx_ndim(x) != 1)
        return ss_error_set(err, SS_EDATA, "%s: IDX labels must have 1 dim [N], this file has %d",
                            path, ss_idx_ndim(x));
    if (type != SS_IDX_UINT8 && type != SS_IDX_INT8 && type != SS_IDX_INT16 && type != SS_IDX_INT32)
        return ss_error_set(err, SS_EDATA,
                            "%s: IDX element type 0x%02X is not an integer type; labels must "
                            "be uint8, int8, int16 or int32",
                            path, (unsigned)type);
    if (ss_idx_count(x) != n_images)
        return ss_error_set(err, SS_EDATA, "%s has %" PRIu64 " images but %s has %" PRIu64
                            " labels; the counts must match",
                            images_path, n_images, path, ss_idx_count(x));
    return SS_OK;
}

static int64_t idx_label_at(const void *buf, size_t i, int type)
{
    const unsigned char *p = buf;
    switch (type) {
    case SS_IDX_UINT8:
        return p[i];
    case SS_IDX_INT8:
        return (int8_t)p[i];
    case SS_IDX_INT16: {
        int16_t v;
        memcpy(&v, p + 2 * i, sizeof v);
        return v;
    }
    default: {
        int32_t v;
        memcpy(&v, p + 4 * i, sizeof v);
        return v;
    }
    }
}

/* Declares key, image and (with labels) label in the schema. */
static ss_status idx_declare(import_sink *sink, const ss_idx *images, int with_labels,
                             ss_error *err)
{
    const long long key_dims[1] = {-1};
    long long image_dims[3] = {ss_idx_dim(images, 1), ss_idx_dim(images, 2), 1};
    if (ss_idx_ndim(images) == 4)
        image_dims[2] = ss_idx_dim(images, 3);
    ss_status st = sink_declare(sink, "key", TSF_UTF8, 1, key_dims, NULL, err);
    if (st == SS_OK)
        st = sink_declare(sink, "image", TSF_UINT8, 3, image_dims, "HWC", err);
    if (st == SS_OK && with_labels)
        st = sink_declare(sink, "label", TSF_INT64, 0, NULL, NULL, err);
    return st;
}

typedef struct {
    ss_idx *images;
    ss_idx *labels;          /* NULL without labels */
    const char *labels_path;
    const class_list *classes;
    char key[TSF_MAX_NAME + 32];
    size_t stem_len;         /* key bytes before the index */
} idx_job;

/* Copies every item to the sink, IDX_BATCH items per read, reusing the
 * buffers and the field descriptors. */
static ss_status idx_copy(import_sink *sink, idx_job *job, ss_error *err)
{
    uint64_t n = ss_idx_count(job->images);
    size_t item = ss_idx_item_bytes(job->images);
    size_t batch = batch_records(item);
    unsigned char *pixels = malloc(batch * item + 1);
    void *labels = malloc(batch * 4);
    if (!pixels || !labels) {
        free(pixels);
        free(labels);
        return ss_error_set(err, SS_ENOMEM, "out of memory for %zu images", batch);
    }
    tsf_field fields[3];
    uint64_t image_dims[3] = {ss_idx_dim(job->images, 1), ss_idx_dim(job->images, 2), 1};
    if (ss_idx_ndim(job->images) == 4)
        image_dims[2] = ss_idx_dim(job->images, 3);
    int64_t label = 0;
    tsf_field_set(&fields[1], "image", TSF_UINT8, 3, image_dims, NULL);
    tsf_field_set(&fields[2], "label", TSF_INT64, 0, NULL, &label);
    int n_fields = job->labels ? 3 : 2;
    int type = job->labels ? ss_idx_type(job->labels) : 0;

    ss_status st = SS_OK;
    for (uint64_t done = 0; done < n && st == SS_OK;) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        st = ss_idx_read(job->images, pixels, k, err);
        if (st == SS_OK && job->labels)
            st = ss_idx_read(job->labels, labels, k, err);
        for (size_t i = 0; i < k && st == SS_OK; i++) {
            uint64_t index = done + i;
            int len = snprintf(job->key + job->stem_len, sizeof job->key - job->stem_len,
                               ":%" PRIu64, index);
            uint64_t key_dims[1] = {job->stem_len + (uint64_t)len};
            tsf_field_set(&fields[0], "key", TSF_UTF8, 1, key_dims, job->key);
            fields[1].data = pixels + i * item;
            if (job->labels) {
                label = idx_label_at(labels, i, type);
                size_t n_classes = job->classes->n;
                if (n_classes && (label < 0 || (uint64_t)label >= n_classes))
                    st = ss_error_set(err, SS_EDATA,
                                      "%s: label %" PRIu64 " is %" PRId64 ", outside the %zu "
                                      "classes (0 to %zu); check --classes",
                                      job->labels_path, index, label, n_classes, n_classes - 1);
            }
            if (st == SS_OK)
                st = sink_write(sink, fields, n_fields, err);
        }
        done += k;
    }
    free(pixels);
    free(labels);
    return st;
}

static int import_idx(int argc, char **argv)
{
    import_sink sink;
    sink_init(&sink, argc, argv);
    const char *classes_spec = "auto";
    int classes_set = 0;
    const ss_option opts[] = {
        {"classes", 'c', SS_ARG_STRING, &classes_spec, "LIST",
         "auto, fashion-mnist, mnist, none or A,B,... (default auto)", 0, 0,
         NULL, &classes_set},
        TOOL_OUTPUT_OPTIONS(sink.opts), {0}};
    const ss_command cmd = {
        "selfsup-tsf import idx", "[OPTION]... IMAGES [LABELS]",
        "Convert an IDX image file (MNIST, Fashion-MNIST; plain or gzip) and an\n"
        "optional IDX label file into a stream of samples.",
        idx_details, opts, 0, 1, 2};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *images_path = argv[first];
    const char *labels_path = argc - first > 1 ? argv[first + 1] : NULL;

    ss_error err;
    ss_error_clear(&err);
    class_list classes;
    if (classes_parse(classes_spec, images_path, &classes, &err) != SS_OK) {
        classes_free(&classes);
        return err.status == SS_EINVAL ? tool_usage(cmd.name, "%s", err.msg) : tool_fail(&err);
    }
    if (!labels_path && classes_set && classes.n) {
        classes_free(&classes);
        return tool_usage(cmd.name, "--classes needs a LABELS file");
    }

    idx_job job;
    memset(&job, 0, sizeof job);
    job.labels_path = labels_path;
    job.classes = &classes;
    const char *base = base_name(images_path);
    job.stem_len = idx_stem_length(base);
    ss_status st = job.stem_len > TSF_MAX_NAME
                       ? ss_error_set(&err, SS_EDATA, "%s: the file name is too long", images_path)
                       : check_utf8_name(images_path, base, job.stem_len, &err);
    if (st == SS_OK) {
        memcpy(job.key, base, job.stem_len);
        st = idx_open_images(images_path, &job.images, &err);
    }
    if (st == SS_OK && labels_path)
        st = idx_open_labels(labels_path, images_path, ss_idx_count(job.images), &job.labels, &err);
    if (!labels_path)
        classes.n = 0;

    if (st == SS_OK)
        st = sink_begin(&sink, "samples", &err);
    if (st == SS_OK && classes.n)
        st = sink_classes(&sink, classes.names, classes.n, &err);
    if (st == SS_OK)
        st = idx_declare(&sink, job.images, labels_path != NULL, &err);
    if (st == SS_OK) {
        sink.total = ss_idx_count(job.images);
        st = sink_open(&sink, &err);
    }
    if (st == SS_OK)
        st = idx_copy(&sink, &job, &err);
    ss_idx_close(job.images);
    ss_idx_close(job.labels);
    classes_free(&classes);
    return sink_end(&sink, st, &err);
}

/* ---- png-dir and png-list -------------------------------------------------- */

#define PNG_DETAILS                                                                    \
    "Every image becomes the field 'image', uint8 (uint16 with --depth 16) of\n"          \
    "shape [H,W,C]; images may differ in size. With --channels 0 (the default)\n"         \
    "each file keeps its own channel count (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)\n"       \
    "and all files must agree; --channels N converts every file to N channels\n"          \
    "(RGB to gray is the BT.601 luma, alpha is composited over black). A file\n"          \
    "that is not a valid PNG fails the whole import."

/* The state of a PNG import: the output is opened at the first image, when
 * its channel count is known. */
typedef struct {
    import_sink *sink;
    imgio_png_reader reader;
    const class_list *classes;  /* png-dir: folder names; NULL for png-list */
} png_job;

/* Declares the fields and opens the output. A channels of 0 means unknown. */
static ss_status png_open(png_job *job, int channels, ss_error *err)
{
    const long long key_dims[1] = {-1};
    const long long image_dims[3] = {-1, -1, channels ? channels : -1};
    int depth = job->reader.opts.depth;
    ss_status st = sink_begin(job->sink, "samples", err);
    if (st == SS_OK && job->classes)
        st = sink_classes(job->sink, job->classes->names, job->classes->n, err);
    if (st == SS_OK)
        st = sink_declare(job->sink, "key", TSF_UTF8, 1, key_dims, NULL, err);
    if (st == SS_OK)
        st = sink_declare(job->sink, "image", depth == 16 ? TSF_UINT16 : TSF_UINT8, 3, image_dims,
                          "HWC", err);
    if (st == SS_OK && job->classes)
        st = sink_declare(job->sink, "label", TSF_INT64, 0, NULL, NULL, err);
    if (st == SS_OK)
        st = sink_open(job->sink, err);
    return st;
}

/* Reads one PNG file and writes it as a record. The label is ignored for
 * png-list. */
static ss_status png_import_one(png_job *job, const char *path, const char *key, size_t key_len,
                                int64_t label, ss_error *err)
{
    ss_image img;
    ss_status st = imgio_png_read(&job->reader, path, &img, err);
    if (st != SS_OK)
        return st;
    if (err->msg[0])
        ss_log_detail("%s", err->msg);
    if (!job->sink->out.open)
        st = png_open(job, img.channels, err);
    if (st == SS_OK) {
        tsf_field fields[3];
        uint64_t key_dims[1] = {key_len};
        uint64_t image_dims[3] = {img.height, img.width, (uint64_t)img.channels};
        tsf_field_set(&fields[0], "key", TSF_UTF8, 1, key_dims, key);
        tsf_field_set(&fields[1], "image", img.depth == 16 ? TSF_UINT16 : TSF_UINT8, 3, image_dims,
                      img.pixels);
        tsf_field_set(&fields[2], "label", TSF_INT64, 0, NULL, &label);
        st = sink_write(job->sink, fields, job->classes ? 3 : 2, err);
    }
    ss_image_free(&img);
    return st;
}

/* Finishes a PNG import. An import without images still writes a stream. */
static int png_end(png_job *job, ss_status st, ss_error *err)
{
    if (st == SS_OK && !job->sink->out.open)
        st = png_open(job, job->reader.opts.channels, err);
    imgio_png_reader_free(&job->reader);
    return sink_end(job->sink, st, err);
}

static int is_png_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcasecmp(name + len - 4, ".png") == 0;
}

/* Joins dir and name with one '/'. Returns NULL when out of memory. */
static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + (size_t)slash, name, nl + 1);
    return p;
}

/* Sets *match to whether path is a folder (want_dir) or a regular file
 * (otherwise), following symbolic links. Returns -1 with err set when
 * stat() fails, and 0 otherwise. */
static int stat_kind(const char *path, int want_dir, int *match, ss_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        ss_error_set(err, SS_EIO, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    *match = want_dir ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode);
    return 0;
}

/* Lists the class folders of dir into classes, names sorted with strcmp.
 * Files and hidden entries at the top level are skipped. */
static ss_status png_dir_classes(const char *dir, char ***names, size_t *n, class_list *classes,
                                 ss_error *err)
{
    ss_status st = imgio_list_dir(dir, names, n, err);
    if (st != SS_OK)
        return st;
    classes->names = malloc((*n ? *n : 1) * sizeof *classes->names);
    if (!classes->names)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        const char *name = (*names)[i];
        if (name[0] == '.') {
            ss_log_detail("%s: skipping hidden entry '%s'", dir, name);
            continue;
        }
        char *path = path_join(dir, name);
        int is_dir = 0;
        if (!path)
            return ss_error_set(err, SS_ENOMEM, "out of memory");
        int rc = stat_kind(path, 1, &is_dir, err);
        free(path);
        if (rc < 0)
            return err->status;
        if (!is_dir) {
            ss_log_detail("%s: skipping '%s': not a folder", dir, name);
            continue;
        }
        if (!ss_utf8_valid(name, strlen(name)))
            return ss_error_set(err, SS_EDATA,
                                "%s: the name of class folder %zu is not valid UTF-8 and cannot "
                                "be a class name; rename the folder",
                                dir, classes->n);
        classes->names[classes->n++] = name;
    }
    if (classes->n == 0)
        return ss_error_set(err, SS_EDATA,
                            "%s: no class folders found (expected one folder of PNG files per "
                            "class)",
                            dir);
    return SS_OK;
}

/* Imports the PNG files of one class folder, sorted by name. */
static ss_status png_dir_class(png_job *job, const char *dir, int64_t label, ss_error *err)
{
    const char *class_name = job->classes->names[label];
    char *class_dir = path_join(dir, class_name);
    if (!class_dir)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    char **files = NULL;
    size_t n = 0;
    ss_status st = imgio_list_dir(class_dir, &files, &n, err);
    size_t class_len = strlen(class_name);
    for (size_t i = 0; i < n && st == SS_OK; i++) {
        const char *name = files[i];
        if (name[0] == '.' || !is_png_name(name)) {
            ss_log_detail("%s: skipping '%s': %s", class_dir, name,
                          name[0] == '.' ? "hidden" : "not a .png file");
            continue;
        }
        char *path = path_join(class_dir, name);
        size_t key_len = class_len + 1 + strlen(name);
        char *key = malloc(key_len + 1);
        int is_file = 0;
        if (!path || !key)
            st = ss_error_set(err, SS_ENOMEM, "out of memory");
        else if (stat_kind(path, 0, &is_file, err) < 0)
            st = err->status;
        else if (!is_file)
            ss_log_detail("%s: skipping '%s': not a regular file", class_dir, name);
        else
            st = check_utf8_name(path, name, strlen(name), err);
        if (st == SS_OK && is_file) {
            snprintf(key, key_len + 1, "%s/%s", class_name, name);
            st = png_import_one(job, path, key, key_len, label, err);
        }
        free(path);
        free(key);
    }
    imgio_names_free(files, n);
    free(class_dir);
    return st;
}

/* The options shared by png-dir and png-list. */
typedef struct {
    int channels;
    const char *depth;
    int64_t max_pixels;
} png_options;

#define PNG_OPTIONS(p)                                                                        \
    {"channels", 0, SS_ARG_INT, &(p).channels, "N",                                          \
     "channels per image, 1 to 4, or 0 to keep (default 0)", 0, 4, \
     NULL, NULL},                                                                             \
    {"depth", 0, SS_ARG_CHOICE, &(p).depth, "BITS",                                           \
     "sample depth, 8 (uint8) or 16 (uint16) (default 8)", 0, 0, png_depths, NULL},           \
    {"max-pixels", 0, SS_ARG_INT64, &(p).max_pixels, "N",                                     \
     "reject larger images (default 67108864)", 1, 9e18, NULL, NULL}

static const char *const png_depths[] = {"8", "16", NULL};

static void png_options_default(png_options *p)
{
    p->channels = 0;
    p->depth = "8";
    p->max_pixels = SS_PNG_DEFAULT_MAX_PIXELS;
}

static void png_job_init(png_job *job, import_sink *sink, const png_options *p)
{
    ss_png_read_opts ro;
    ss_png_read_opts_default(&ro);
    ro.channels = p->channels;
    ro.depth = strcmp(p->depth, "16") == 0 ? 16 : 8;
    ro.max_pixels = (uint64_t)p->max_pixels;
    memset(job, 0, sizeof *job);
    job->sink = sink;
    imgio_png_reader_init(&job->reader, &ro);
}

static int import_png_dir(int argc, char **argv)
{
    import_sink sink;
    sink_init(&sink, argc, argv);
    png_options po;
    png_options_default(&po);
    const ss_option opts[] = {PNG_OPTIONS(po), TOOL_OUTPUT_OPTIONS(sink.opts), {0}};
    const ss_command cmd = {
        "selfsup-tsf import png-dir", "[OPTION]... DIR",
        "Convert a folder with one subfolder of PNG files per class into a stream of\n"
        "samples.",
        "The class folders, sorted by name (byte order), give the class names in the\n"
        "metadata, and the position of a folder in that order is the int64 'label'\n"
        "of its images. Files are read in name order; the key of each record is\n"
        "\"CLASS/FILE\". Hidden entries, files directly in DIR and files not ending\n"
        "in .png (any case) are skipped, with a message under -v.\n\n"
        PNG_DETAILS,
        opts, 0, 1, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *dir = argv[first];

    png_job job;
    png_job_init(&job, &sink, &po);
    class_list classes;
    memset(&classes, 0, sizeof classes);
    job.classes = &classes;
    char **entries = NULL;
    size_t n_entries = 0;
    ss_error err;
    ss_error_clear(&err);
    ss_status st = png_dir_classes(dir, &entries, &n_entries, &classes, &err);
    for (size_t c = 0; c < classes.n && st == SS_OK; c++)
        st = png_dir_class(&job, dir, (int64_t)c, &err);
    rc = png_end(&job, st, &err);
    imgio_names_free(entries, n_entries);
    classes_free(&classes);
    return rc;
}

static int import_png_list(int argc, char **argv)
{
    import_sink sink;
    sink_init(&sink, argc, argv);
    png_options po;
    png_options_default(&po);
    const ss_option opts[] = {PNG_OPTIONS(po), TOOL_OUTPUT_OPTIONS(sink.opts), {0}};
    const ss_command cmd = {
        "selfsup-tsf import png-list", "[OPTION]... FILE",
        "Convert the PNG files listed in FILE ('-' for standard input), one path per\n"
        "line, into a stream of unlabelled samples.",
        "Empty lines are skipped and a trailing CR is removed; relative paths are\n"
        "relative to the current folder, not to FILE. The key of each record is the\n"
        "path as listed.\n\n"
        PNG_DETAILS,
        opts, 0, 1, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *list_path = argv[first];
    int from_stdin = strcmp(list_path, "-") == 0;
    const char *list_name = from_stdin ? "stdin" : list_path;

    png_job job;
    png_job_init(&job, &sink, &po);
    ss_error err;
    ss_error_clear(&err);
    ss_status st = SS_OK;
    FILE *fp = from_stdin ? stdin : fopen(list_path, "r");
    if (!fp)
        st = ss_error_set(&err, SS_EIO, "%s: cannot open: %s", list_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    uint64_t line_no = 0;
    ssize_t got;
    while (st == SS_OK && (got = getline(&line, &cap, fp)) >= 0) {
        line_no++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (memchr(line, '\0', len) || !ss_utf8_valid(line, len))
            st = ss_error_set(&err, SS_EDATA,
                              "%s:%" PRIu64 ": the path is not valid UTF-8 text and cannot be "
                              "used as a key",
                              list_name, line_no);
        else
            st = png_import_one(&job, line, line, len, 0, &err);
    }
    if (st == SS_OK && ferror(fp))
        st = ss_error_set(&err, SS_EIO, "%s: read failed: %s", list_name, strerror(errno));
    free(line);
    if (fp && !from_stdin)
        fclose(fp);
    return png_end(&job, st, &err);
}

/* ---- npy -------------------------------------------------------------------- */

static int is_float_dtype(int dtype)
{
    return dtype == TSF_FLOAT16 || dtype == TSF_BFLOAT16 || dtype == TSF_FLOAT32
           || dtype == TSF_FLOAT64;
}

static int is_int_dtype(int dtype)
{
    return dtype >= TSF_UINT8 && dtype <= TSF_INT64;
}

/* Converts item i of an integer array to int64. A uint64 value above
 * INT64_MAX sets *ok to 0. */
static int64_t int_at(const void *buf, size_t i, int dtype, int *ok)
{
    const unsigned char *p = buf;
    switch (dtype) {
    case TSF_UINT8: return p[i];
    case TSF_INT8: return (int8_t)p[i];
    case TSF_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TSF_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TSF_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TSF_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TSF_UINT64: {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        if (v > INT64_MAX)
            *ok = 0;
        return (int64_t)v;
    }
    default: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    }
}

/* An open .npy file whose data is read record by record. */
typedef struct {
    const char *path;
    FILE *fp;
    ss_npy_header h;
    size_t item_bytes;   /* bytes of one record: dims[1..] times the dtype size */
} npy_input;

static ss_status npy_open(npy_input *in, const char *path, ss_error *err)
{
    in->path = path;
    in->fp = fopen(path, "rb");
    if (!in->fp)
        return ss_error_set(err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));
    ss_status st = ss_npy_read_header(in->fp, path, &in->h, err);
    if (st != SS_OK)
        return st;
    if (in->h.ndim < 1)
        return ss_error_set(err, SS_EDATA,
                            "%s: the array is 0-d; import needs a first axis of records", path);
    uint64_t bytes = tsf_dtype_size(in->h.dtype);
    for (int d = 1; d < in->h.ndim; d++) {
        if (in->h.dims[d] > TSF_MAX_DIM)
            return ss_error_set(err, SS_ELIMIT, "%s: dim %d is %" PRIu64 ", above the limit %llu",
                                path, d, in->h.dims[d], TSF_MAX_DIM);
        if (__builtin_mul_overflow(bytes, in->h.dims[d], &bytes) || bytes > SIZE_MAX / 2)
            return ss_error_set(err, SS_ELIMIT, "%s: one record of the array is too large", path);
    }
    in->item_bytes = (size_t)bytes;
    return SS_OK;
}

/* Reads n records into buf. `at` is the index of the first, for messages. */
static ss_status npy_read(npy_input *in, void *buf, size_t n, uint64_t at, ss_error *err)
{
    size_t want = n * in->item_bytes;
    if (want == 0)
        return SS_OK;
    size_t got = fread(buf, 1, want, in->fp);
    if (got == want)
        return SS_OK;
    if (ferror(in->fp))
        return ss_error_set(err, SS_EIO, "%s: read failed: %s", in->path, strerror(errno));
    return ss_error_set(err, SS_EDATA, "%s: the data ends early, at record %" PRIu64 " of %" PRIu64,
                        in->path, at + got / in->item_bytes, in->h.dims[0]);
}

static ss_status npy_check_end(npy_input *in, ss_error *err)
{
    if (fgetc(in->fp) != EOF)
        return ss_error_set(err, SS_EDATA,
                            "%s: unexpected bytes after the last record; the file is not a "
                            "valid .npy array",
                            in->path);
    if (ferror(in->fp))
        return ss_error_set(err, SS_EIO, "%s: read failed: %s", in->path, strerror(errno));
    return SS_OK;
}

static const char *npy_default_field(const ss_npy_header *h)
{
    if (h->dtype == TSF_UINT8)
        return "image";
    if (h->ndim == 2 && is_float_dtype(h->dtype))
        return "embedding";
    return "x";
}

typedef struct {
    npy_input data;
    npy_input labels;    /* fp NULL without --labels */
    const char *field;
    char key[TSF_MAX_NAME + 32];
    size_t stem_len;
} npy_job;

static ss_status npy_declare(import_sink *sink, const npy_job *job, ss_error *err)
{
    const long long key_dims[1] = {-1};
    long long dims[TSF_MAX_NDIM];
    int ndim = job->data.h.ndim - 1;
    for (int d = 0; d < ndim; d++)
        dims[d] = (long long)job->data.h.dims[d + 1];
    ss_status st = sink_declare(sink, "key", TSF_UTF8, 1, key_dims, NULL, err);
    if (st == SS_OK)
        st = sink_declare(sink, job->field, job->data.h.dtype, ndim, dims, NULL, err);
    if (st == SS_OK && job->labels.fp)
        st = sink_declare(sink, "label", TSF_INT64, 0, NULL, NULL, err);
    return st;
}

/* Copies the records in batches from batch_records(), reusing the buffers. */
static ss_status npy_copy(import_sink *sink, npy_job *job, ss_error *err)
{
    uint64_t n = job->data.h.dims[0];
    size_t item = job->data.item_bytes;
    size_t batch = batch_records(item);
    unsigned char *values = malloc(batch * item + 1);
    unsigned char *labels = malloc(batch * 8);
    if (!values || !labels) {
        free(values);
        free(labels);
        return ss_error_set(err, SS_ENOMEM, "out of memory for %zu records", batch);
    }
    tsf_field fields[3];
    int64_t label = 0;
    tsf_field_set(&fields[1], job->field, job->data.h.dtype, job->data.h.ndim - 1,
                  job->data.h.dims + 1, NULL);
    tsf_field_set(&fields[2], "label", TSF_INT64, 0, NULL, &label);
    int n_fields = job->labels.fp ? 3 : 2;

    ss_status st = SS_OK;
    for (uint64_t done = 0; done < n && st == SS_OK;) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        st = npy_read(&job->data, values, k, done, err);
        if (st == SS_OK && job->labels.fp)
            st = npy_read(&job->labels, labels, k, done, err);
        for (size_t i = 0; i < k && st == SS_OK; i++) {
            uint64_t index = done + i;
            int len = snprintf(job->key + job->stem_len, sizeof job->key - job->stem_len,
                               ":%" PRIu64, index);
            uint64_t key_dims[1] = {job->stem_len + (uint64_t)len};
            tsf_field_set(&fields[0], "key", TSF_UTF8, 1, key_dims, job->key);
            fields[1].data = values + i * item;
            int ok = 1;
            if (job->labels.fp)
                label = int_at(labels, i, job->labels.h.dtype, &ok);
            if (!ok)
                st = ss_error_set(err, SS_EDATA, "%s: label %" PRIu64 " does not fit in int64",
                                  job->labels.path, index);
            if (st == SS_OK)
                st = sink_write(sink, fields, n_fields, err);
        }
        done += k;
    }
    if (st == SS_OK)
        st = npy_check_end(&job->data, err);
    if (st == SS_OK && job->labels.fp)
        st = npy_check_end(&job->labels, err);
    free(values);
    free(labels);
    return st;
}

static ss_status npy_open_labels(npy_job *job, const char *path, ss_error *err)
{
    ss_status st = npy_open(&job->labels, path, err);
    if (st != SS_OK)
        return st;
    const ss_npy_header *h = &job->labels.h;
    if (h->ndim != 1 || !is_int_dtype(h->dtype))
        return ss_error_set(err, SS_EDATA,
                            "%s: labels must be a 1-d integer array, this one is %s with %d dims",
                            path, tsf_dtype_name(h->dtype), h->ndim);
    if (h->dims[0] != job->data.h.dims[0])
        return ss_error_set(err, SS_EDATA,
                            "%s has %" PRIu64 " records but %s has %" PRIu64
                            " labels; the counts must match",
                            job->data.path, job->data.h.dims[0], path, h->dims[0]);
    return SS_OK;
}

static int import_npy(int argc, char **argv)
{
    import_sink sink;
    sink_init(&sink, argc, argv);
    const char *labels_path = NULL, *field = NULL;
    const ss_option opts[] = {
        {"labels", 'l', SS_ARG_STRING, &labels_path, "FILE",
         "1-d integer .npy array stored as int64 'label'", 0, 0, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &field, "NAME",
         "name of the field (default: see below)", 0, 0,
         NULL, NULL},
        TOOL_OUTPUT_OPTIONS(sink.opts), {0}};
    const ss_command cmd = {
        "selfsup-tsf import npy", "[OPTION]... ARRAY.npy",
        "Convert a .npy array into a stream with one record per row of its first axis.",
        "Each record holds the field NAME with the dtype of the array and its\n"
        "remaining dims, the utf8 field 'key' \"STEM:I\" (STEM is the base name of\n"
        "ARRAY.npy without \".npy\", I counts from 0) and, with --labels, the int64\n"
        "field 'label'. Unless --field is given, NAME is 'image' for uint8 arrays,\n"
        "'embedding' for 2-d float arrays and 'x' otherwise. The file is read in\n"
        "blocks, so memory stays small whatever its size. Only little-endian,\n"
        "C-order arrays of numeric or bool dtypes are accepted.",
        opts, 0, 1, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (field && !field_name_valid(field))
        return tool_usage(cmd.name, "invalid value for --field: '%s' is not a valid field name "
                          "(1 to 255 bytes of UTF-8 without control characters)", field);
    if (field && (strcmp(field, "key") == 0 || (labels_path && strcmp(field, "label") == 0)))
        return tool_usage(cmd.name, "invalid value for --field: '%s' is already used by "
                          "another field", field);

    npy_job job;
    memset(&job, 0, sizeof job);
    ss_error err;
    const char *path = argv[first];
    const char *base = base_name(path);
    size_t stem = strlen(base);
    if (ends_with(base, stem, ".npy") && stem > 4)
        stem -= 4;
    ss_status st = stem > TSF_MAX_NAME
                       ? ss_error_set(&err, SS_EDATA, "%s: the file name is too long", path)
                       : check_utf8_name(path, base, stem, &err);
    if (st == SS_OK) {
        memcpy(job.key, base, stem);
        job.stem_len = stem;
        st = npy_open(&job.data, path, &err);
    }
    if (st == SS_OK)
        job.field = field ? field : npy_default_field(&job.data.h);
    if (st == SS_OK && labels_path)
        st = npy_open_labels(&job, labels_path, &err);
    if (st == SS_OK)
        st = sink_begin(&sink, "samples", &err);
    if (st == SS_OK)
        st = npy_declare(&sink, &job, &err);
    if (st == SS_OK) {
        sink.total = job.data.h.dims[0];
        st = sink_open(&sink, &err);
    }
    if (st == SS_OK)
        st = npy_copy(&sink, &job, &err);
    if (job.data.fp)
        fclose(job.data.fp);
    if (job.labels.fp)
        fclose(job.labels.fp);
    return sink_end(&sink, st, &err);
}

/* ---- text ------------------------------------------------------------------- */

static ss_status text_copy(import_sink *sink, FILE *fp, const char *name, int skip_empty,
                           ss_error *err)
{
    char *line = NULL, *key = NULL;
    size_t cap = 0, name_len = strlen(name);
    uint64_t line_no = 0;
    ssize_t got;
    ss_status st = SS_OK;
    key = malloc(name_len + 32);
    if (!key)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    memcpy(key, name, name_len);
    while (st == SS_OK && (got = getline(&line, &cap, fp)) >= 0) {
        line_no++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0 && skip_empty)
            continue;
        size_t valid = ss_utf8_valid_prefix(line, len);
        if (valid != len) {
            st = ss_error_set(err, SS_EDATA, "%s:%" PRIu64 ": invalid UTF-8 at byte %zu of the line",
                              name, line_no, valid + 1);
            break;
        }
        int key_len = snprintf(key + name_len, 32, ":%" PRIu64, line_no);
        tsf_field fields[2];
        uint64_t key_dims[1] = {name_len + (uint64_t)key_len};
        uint64_t text_dims[1] = {len};
        tsf_field_set(&fields[0], "key", TSF_UTF8, 1, key_dims, key);
        tsf_field_set(&fields[1], "text", TSF_UTF8, 1, text_dims, line);
        st = sink_write(sink, fields, 2, err);
    }
    if (st == SS_OK && ferror(fp))
        st = ss_error_set(err, SS_EIO, "%s: read failed: %s", name, strerror(errno));
    free(line);
    free(key);
    return st;
}

static int import_text(int argc, char **argv)
{
    import_sink sink;
    sink_init(&sink, argc, argv);
    int skip_empty = 0;
    const ss_option opts[] = {
        {"skip-empty", 0, SS_ARG_FLAG, &skip_empty, NULL,
         "skip empty lines (default: keep them as empty texts)", 0, 0, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(sink.opts), {0}};
    const ss_command cmd = {
        "selfsup-tsf import text", "[OPTION]... FILE",
        "Convert a UTF-8 text file ('-' for standard input) into a stream with one\n"
        "record per line.",
        "Each record holds the utf8 field 'text', the line without its LF or CRLF\n"
        "ending, and the utf8 field 'key' \"FILE:N\", N the line number from 1 (FILE\n"
        "is \"stdin\" for '-'). Empty lines are kept unless --skip-empty is given, and\n"
        "skipped lines still count in the line numbers. A line that is not valid\n"
        "UTF-8 fails the import.",
        opts, 0, 1, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *path = argv[first];
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "stdin" : path;

    ss_error err;
    const long long dims[1] = {-1};
    ss_status st = check_utf8_name(path, name, strlen(name), &err);
    FILE *fp = NULL;
    if (st == SS_OK) {
        fp = from_stdin ? stdin : fopen(path, "r");
        if (!fp)
            st = ss_error_set(&err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (st == SS_OK)
        st = sink_begin(&sink, "text", &err);
    if (st == SS_OK)
        st = sink_declare(&sink, "key", TSF_UTF8, 1, dims, NULL, &err);
    if (st == SS_OK)
        st = sink_declare(&sink, "text", TSF_UTF8, 1, dims, NULL, &err);
    if (st == SS_OK)
        st = sink_open(&sink, &err);
    if (st == SS_OK)
        st = text_copy(&sink, fp, name, skip_empty, &err);
    if (fp && !from_stdin)
        fclose(fp);
    return sink_end(&sink, st, &err);
}

/* ---- Dispatch ----------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} import_formats[] = {
    {"idx", import_idx, "IDX images and labels (MNIST, Fashion-MNIST), plain or gzip"},
    {"png-dir", import_png_dir, "a folder with one subfolder of PNG files per class"},
    {"png-list", import_png_list, "a list of PNG files, one path per line"},
    {"npy", import_npy, "a .npy array, one record per row, with optional labels"},
    {"text", import_text, "a UTF-8 text file, one record per line"},
};

#define N_IMPORT_FORMATS (sizeof import_formats / sizeof import_formats[0])

int cmd_import(int argc, char **argv)
{
    static const char name[] = "selfsup-tsf import";
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < N_IMPORT_FORMATS; i++)
            if (strcmp(argv[1], import_formats[i].name) == 0)
                return import_formats[i].run(argc - 1, argv + 1);
        return tool_usage(name, "unknown format '%s' (expected idx, png-dir, png-list, npy or "
                          "text)", argv[1]);
    }

    char details[1024];
    size_t len = (size_t)snprintf(details, sizeof details, "Formats:\n");
    for (size_t i = 0; i < N_IMPORT_FORMATS && len < sizeof details; i++)
        len += (size_t)snprintf(details + len, sizeof details - len, "  %-10s %s\n",
                                import_formats[i].name, import_formats[i].summary);
    if (len < sizeof details)
        snprintf(details + len, sizeof details - len,
                 "\nOptions go after FORMAT; run '%s FORMAT --help' for them.", name);
    const ss_option none[] = {{0}};
    const ss_command cmd = {name, "FORMAT [OPTION]... INPUT...",
                            "Convert files of another format into one stream (standard output, "
                            "or -o FILE).",
                            details, none, 0, 1, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    return tool_usage(name, "FORMAT must come before the options (expected idx, png-dir, "
                      "png-list, npy or text)");
}
