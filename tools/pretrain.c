/* selfsup-pretrain: contrastive pretraining (SimCLR) of an encoder and a
 * projection head on a stream of augmented views.
 *
 * The input is a views stream (selfsup-augment): records with two images
 * `view0` and `view1` of one sample. Each step takes --batch records, so
 * 2 * batch views; the checkpoint named by -o is replaced atomically every
 * --save-every steps and at the end, with the optimiser state and the
 * number of views consumed, so that `selfsup-augment --skip VIEWS ... |
 * selfsup-pretrain simclr --resume` continues the same run. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_ckpt.h"
#include "ss_knn.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "ss_trainer.h"
#include "tool.h"

#define REFERENCE_ENCODER "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,linear:128"
#define REFERENCE_HEAD "linear:128,relu,linear:64"

typedef struct {
    const char *output, *encoder, *head, *loss, *optimizer, *log_path;
    const char *monitor_train, *monitor_val;
    int batch, resume;
    double temperature, lr, final_lr, weight_decay, momentum, max_time;
    int64_t steps, warmup, save_every, schedule, monitor_every, monitor_count;
    int steps_set;
    double input_mean, input_std;
    int mean_set, std_set;
} options;

/* A batch of 2N views copied out of the reader's buffer. */
typedef struct {
    int h, w, c;
    size_t image_bytes;
    uint8_t *pixels;          /* [2N, H, W, C] */
    const uint8_t **rows;     /* [2N] pointers into pixels */
} view_batch;

/* Packs a partial batch of got < n records so that rows 0..got-1 hold
 * the first views and rows got..2got-1 the second. */
static void pack_rows(view_batch *b, int n, int got)
{
    for (int i = 0; i < got; i++) {
        b->rows[i] = b->pixels + (size_t)i * b->image_bytes;
        b->rows[got + i] = b->pixels + (size_t)(n + i) * b->image_bytes;
    }
}

/* ---- kNN monitor ----------------------------------------------------------- */

typedef struct {
    uint8_t *pixels;
    const uint8_t **rows;
    int64_t *labels;
    int64_t n;
    int n_classes;
} labelled_set;

static ss_status load_labelled(const char *path, int64_t limit, const ss_net *net, labelled_set *s, ss_error *err)
{
    memset(s, 0, sizeof *s);
    tsf_reader *r = tsf_reader_open_path(path, NULL, err);
    if (!r)
        return err->status;
    tsf_record *rec = malloc(sizeof *rec);
    size_t bytes = (size_t)net->in_h * (size_t)net->in_w * (size_t)net->in_c;
    int64_t cap = 0;
    int rc = rec ? 1 : -1;
    ss_status st = SS_OK;
    while (rc > 0 && s->n < limit && (rc = tsf_reader_next(r, rec)) == 1) {
        const tsf_field *img = tsf_record_find(rec, "image"), *lab = tsf_record_find(rec, "label");
        if (!img || img->dtype != TSF_UINT8 || img->nbytes != bytes || !lab || lab->dtype != TSF_INT64) {
            st = ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": the monitor needs uint8 'image' of the "
                              "network's input shape and an int64 'label'", path, rec->index);
            break;
        }
        if (s->n == cap) {
            cap = cap ? 2 * cap : 1024;
            uint8_t *np = realloc(s->pixels, (size_t)cap * bytes);
            int64_t *nl = realloc(s->labels, (size_t)cap * sizeof *nl);
            if (np)
                s->pixels = np;
            if (nl)
                s->labels = nl;
            if (!np || !nl) {
                st = ss_error_set(err, SS_ENOMEM, "out of memory for the monitor set");
                break;
            }
        }
        memcpy(s->pixels + (size_t)s->n * bytes, img->data, bytes);
        int64_t l;
        memcpy(&l, lab->data, sizeof l);
        if (l < 0 || l > 100000) {
            st = ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": label %" PRId64 " out of range", path,
                              rec->index, l);
            break;
        }
        s->labels[s->n++] = l;
        if (l + 1 > s->n_classes)
            s->n_classes = (int)(l + 1);
    }
    if (rc < 0 && st == SS_OK)
        st = rec ? (*err = *tsf_reader_error(r), err->status) : ss_error_set(err, SS_ENOMEM, "out of memory");
    free(rec);
    tsf_reader_close(r);
    if (st == SS_OK && s->n > 0) {
        s->rows = malloc((size_t)s->n * sizeof *s->rows);
        if (!s->rows)
            return ss_error_set(err, SS_ENOMEM, "out of memory");
        for (int64_t i = 0; i < s->n; i++)
            s->rows[i] = s->pixels + (size_t)i * bytes;
    }
    if (st == SS_OK && s->n == 0)
        st = ss_error_set(err, SS_EDATA, "%s: no records for the kNN monitor", path);
    return st;
}

static void free_labelled(labelled_set *s)
{
    free(s->pixels);
    free(s->rows);
    free(s->labels);
}

static float *embed_all(ss_net *net, const labelled_set *s, int batch)
{
    int d = ss_net_encoder_dim(net);
    float *out = malloc((size_t)s->n * (size_t)d * sizeof *out);
    for (int64_t i = 0; out && i < s->n; i += batch) {
        int b = (int)(s->n - i < batch ? s->n - i : batch);
        ss_net_infer(net, s->rows + i, b, net->n_encoder, out + (size_t)i * (size_t)d);
    }
    return out;
}

/* kNN accuracy (k = 20, T = 0.07) of the validation set against the
 * reference set, on encoder features. Returns -1 on failure. */
static double knn_accuracy(ss_net *net, const labelled_set *ref, const labelled_set *val, int batch)
{
    int d = ss_net_encoder_dim(net);
    float *fr = embed_all(net, ref, batch), *fv = embed_all(net, val, batch);
    int64_t *pred = malloc((size_t)val->n * sizeof *pred);
    double acc = -1;
    ss_error err;
    int classes = ref->n_classes > val->n_classes ? ref->n_classes : val->n_classes;
    if (fr && fv && pred &&
        ss_knn_classify(pred, fv, val->n, fr, ref->labels, ref->n, d, classes, 20, 0.07, &err) == SS_OK) {
        int64_t ok = 0;
        for (int64_t i = 0; i < val->n; i++)
            ok += pred[i] == val->labels[i];
        acc = (double)ok / (double)val->n;
    }
    free(fr);
    free(fv);
    free(pred);
    return acc;
}

/* ---- Checkpoints ------------------------------------------------------------ */

static ss_json *run_metadata(const options *o, const ss_trainer *t, uint64_t views, double loss, int argc, char **argv)
{
    ss_json *meta = ss_meta_derive(NULL, ss_log_prog(), argc - 1, argv + 1);
    ss_json *config = ss_json_new_object(), *state = ss_json_new_object();
    if (!meta || !config || !state) {
        ss_json_free(meta);
        ss_json_free(config);
        ss_json_free(state);
        return NULL;
    }
    ss_json_set(config, "method", ss_json_new_string("simclr"));
    ss_json_set(config, "loss", ss_json_new_string(o->loss));
    ss_json_set(config, "temperature", ss_json_new_double(o->temperature));
    ss_json_set(config, "batch", ss_json_new_int(o->batch));
    ss_json_set(config, "optimizer", ss_json_new_string(o->optimizer));
    ss_json_set(config, "lr", ss_json_new_double(o->lr));
    ss_json_set(config, "final_lr", ss_json_new_double(o->final_lr));
    ss_json_set(config, "weight_decay", ss_json_new_double(o->weight_decay));
    ss_json_set(config, "warmup", ss_json_new_int(o->warmup));
    ss_json_set(config, "schedule", ss_json_new_int((int64_t)t->total));
    ss_json_set(meta, "config", config);
    ss_json_set(state, "step", ss_json_new_int((int64_t)t->step));
    ss_json_set(state, "views", ss_json_new_int((int64_t)views));
    ss_json_set(state, "optimizer_step", ss_json_new_int((int64_t)t->optim.step));
    if (isfinite(loss))
        ss_json_set(state, "loss", ss_json_new_double(loss));
    ss_json_set(meta, "train_state", state);
    return meta;
}

/* ---- Main ------------------------------------------------------------------- */

static const char *const loss_names[] = {"ntxent", "infonce", NULL};
static const char *const optim_names[] = {"adamw", "sgd", "lars", NULL};

static int run_simclr(int argc, char **argv)
{
    options o = {.encoder = REFERENCE_ENCODER, .head = REFERENCE_HEAD, .loss = "ntxent", .optimizer = "adamw",
                 .batch = 256, .temperature = 0.2, .lr = 1e-3, .final_lr = 0, .weight_decay = 1e-4,
                 .momentum = 0.9, .steps = 0, .warmup = 50, .save_every = 200, .monitor_every = 0,
                 .monitor_count = 10000, .input_mean = 0.5, .input_std = 0.5};
    const ss_option opts[] = {
        {"output", 'o', SS_ARG_STRING, &o.output, "FILE", "checkpoint to write (required), replaced atomically", 0, 0, NULL, NULL},
        {"resume", 'r', SS_ARG_FLAG, &o.resume, NULL, "continue from the checkpoint in -o FILE", 0, 0, NULL, NULL},
        {"encoder", 0, SS_ARG_STRING, &o.encoder, "SPEC", "encoder layers (default: the reference CNN above)", 0, 0, NULL, NULL},
        {"head", 0, SS_ARG_STRING, &o.head, "SPEC", "projection head layers (default " REFERENCE_HEAD ")", 0, 0, NULL, NULL},
        {"batch", 'b', SS_ARG_INT, &o.batch, "N", "images per step, each with two views (default 256)", 2, 1 << 16, NULL, NULL},
        {"loss", 0, SS_ARG_CHOICE, &o.loss, "NAME", "ntxent (SimCLR, 2N-2 negatives) or infonce (N-1) (default ntxent)", 0, 0, loss_names, NULL},
        {"temperature", 't', SS_ARG_DOUBLE, &o.temperature, "T", "softmax temperature, > 0 (default 0.2)", 1e-6, 1e6, NULL, NULL},
        {"optimizer", 0, SS_ARG_CHOICE, &o.optimizer, "NAME", "adamw, sgd or lars (default adamw)", 0, 0, optim_names, NULL},
        {"lr", 0, SS_ARG_DOUBLE, &o.lr, "RATE", "peak learning rate (default 0.001)", 0, 1e3, NULL, NULL},
        {"final-lr", 0, SS_ARG_DOUBLE, &o.final_lr, "RATE", "learning rate at the end of the cosine (default 0)", 0, 1e3, NULL, NULL},
        {"weight-decay", 0, SS_ARG_DOUBLE, &o.weight_decay, "WD", "weight decay (default 0.0001)", 0, 10, NULL, NULL},
        {"momentum", 0, SS_ARG_DOUBLE, &o.momentum, "M", "momentum of sgd and lars (default 0.9)", 0, 0.9999, NULL, NULL},
        {"warmup", 0, SS_ARG_INT64, &o.warmup, "STEPS", "linear warmup steps (default 50)", 0, 1e12, NULL, NULL},
        {"steps", 'n', SS_ARG_INT64, &o.steps, "N", "stop after N steps; also the cosine length (default: until input ends); 0 writes the initial weights", 0, 1e12, NULL, &o.steps_set},
        {"schedule", 0, SS_ARG_INT64, &o.schedule, "N", "cosine length in steps when it differs from --steps (default --steps; without either the rate stays at --lr)", 0, 1e12, NULL, NULL},
        {"max-time", 0, SS_ARG_DOUBLE, &o.max_time, "SECONDS", "stop cleanly after this much training time (default none)", 0, 1e9, NULL, NULL},
        {"save-every", 0, SS_ARG_INT64, &o.save_every, "N", "write the checkpoint every N steps (default 200)", 1, 1e12, NULL, NULL},
        {"log", 'l', SS_ARG_STRING, &o.log_path, "FILE", "write one JSON line of metrics per step to FILE", 0, 0, NULL, NULL},
        {"input-mean", 0, SS_ARG_DOUBLE, &o.input_mean, "M", "pixels x in [0,1] enter the network as (x - M) / S (default 0.5)", -10, 10, NULL, &o.mean_set},
        {"input-std", 0, SS_ARG_DOUBLE, &o.input_std, "S", "see --input-mean (default 0.5)", 1e-6, 100, NULL, &o.std_set},
        {"monitor-train", 0, SS_ARG_STRING, &o.monitor_train, "FILE", "labelled samples used as kNN reference", 0, 0, NULL, NULL},
        {"monitor-val", 0, SS_ARG_STRING, &o.monitor_val, "FILE", "labelled samples classified by kNN on encoder features", 0, 0, NULL, NULL},
        {"monitor-every", 0, SS_ARG_INT64, &o.monitor_every, "N", "run the kNN monitor every N steps (default 0: off)", 0, 1e12, NULL, NULL},
        {"monitor-count", 0, SS_ARG_INT64, &o.monitor_count, "N", "records read from each monitor file (default 10000)", 1, 1e9, NULL, NULL},
        {0}};
    const ss_command cmd = {
        "selfsup-pretrain simclr", "-o CHECKPOINT [OPTION]... [VIEWS]",
        "Train an encoder and projection head with a contrastive loss on a stream of\n"
        "two-view records (uint8 view0, view1) from selfsup-augment, read from VIEWS or\n"
        "standard input. Each step uses --batch records: the two views of an image\n"
        "are a positive pair and the other 2N-2 views of the batch its negatives.",
        "The reference encoder is " REFERENCE_ENCODER ".\n"
        "Layers: convKxK:C, bn, relu, maxpool2, avgpool2, gap, flatten, linear:D.\n"
        "Metrics (--log): step, loss, chance_loss = ln(2N-1), top1 (how often the\n"
        "positive scores highest), lr, views_per_s, gflops, time (seconds since the\n"
        "start), and knn_accuracy when monitored.\n"
        "A non-finite loss or gradient stops training with status 3, leaving the\n"
        "last checkpoint as it was.",
        opts, SS_CLI_SEED | SS_CLI_THREADS_ALL | SS_CLI_TRAINS, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!o.output)
        return tool_usage(cmd.name, "the checkpoint file -o FILE is required");
    if (!!o.monitor_train != !!o.monitor_val || (o.monitor_every > 0 && !o.monitor_train))
        return tool_usage(cmd.name, "the kNN monitor needs --monitor-train, --monitor-val and --monitor-every");

    ss_error err;
    if (!o.resume && (ss_net_check_spec(o.encoder, &err) != SS_OK || ss_net_check_spec(o.head, &err) != SS_OK))
        return tool_usage(cmd.name, "%s", err.msg);
    int status = SS_EXIT_OK;
    const char *input = first < argc ? argv[first] : "-";
    tsf_reader *r = tsf_reader_open_path(input, NULL, &err);
    tsf_record *rec = malloc(sizeof *rec);
    ss_par *pool = NULL;
    ss_net *net = NULL;
    ss_json *resumed = NULL;
    ss_trainer tr;
    memset(&tr, 0, sizeof tr);
    view_batch b = {0};
    FILE *log = NULL;
    labelled_set mon_ref = {0}, mon_val = {0};
    if (!r || !rec)
        goto fail;
    if (tsf_reader_start(r) <= 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }

    /* The first record fixes the image shape. */
    int got = tsf_reader_next(r, rec);
    if (got <= 0) {
        if (got == 0)
            ss_error_set(&err, SS_EDATA, "%s: the input has no views", tsf_reader_name(r));
        else
            err = *tsf_reader_error(r);
        goto fail;
    }
    const tsf_field *v0 = tsf_record_find(rec, "view0");
    if (!v0 || v0->ndim != 3 || v0->dtype != TSF_UINT8) {
        ss_error_set(&err, SS_EDATA, "%s: record 0: needs uint8 fields view0 and view1 of shape [H, W, C] "
                     "(make them with selfsup-augment)", tsf_reader_name(r));
        goto fail;
    }
    b.h = (int)v0->dims[0];
    b.w = (int)v0->dims[1];
    b.c = (int)v0->dims[2];
    b.image_bytes = (size_t)b.h * (size_t)b.w * (size_t)b.c;

    if (o.resume) {
        net = ss_ckpt_load(o.output, &resumed, 1, &err);
        if (!net)
            goto fail;
        if (net->in_h != b.h || net->in_w != b.w || net->in_c != b.c) {
            ss_error_set(&err, SS_EDATA, "%s: the checkpoint takes %dx%dx%d images, the views are %dx%dx%d",
                         o.output, net->in_h, net->in_w, net->in_c, b.h, b.w, b.c);
            goto fail;
        }
    } else {
        net = ss_net_create(o.encoder, o.head, b.h, b.w, b.c, common.seed, &err);
        if (!net) {
            err.status = SS_EINVAL;
            goto fail;
        }
        net->input_mean = (float)o.input_mean;
        net->input_std = (float)o.input_std;
    }

    pool = ss_par_create(common.threads, &err);
    if (!pool || ss_net_prepare(net, pool, 2 * o.batch, &err) != SS_OK)
        goto fail;
    tr.net = net;
    ss_optim_kind kind;
    ss_optim_kind_from_name(o.optimizer, &kind);
    ss_optim_defaults(&tr.optim, kind);
    tr.optim.weight_decay = o.weight_decay;
    tr.optim.momentum = o.momentum;
    ss_loss_kind_from_name(o.loss, &tr.loss);
    tr.temperature = (float)o.temperature;
    tr.base_lr = o.lr;
    tr.final_lr = o.final_lr;
    tr.warmup = (uint64_t)o.warmup;
    tr.total = (uint64_t)(o.schedule ? o.schedule : o.steps);
    uint64_t views = 0;
    if (resumed) {
        tr.step = (uint64_t)ss_ckpt_state_int(resumed, "step");
        tr.optim.step = (uint64_t)ss_ckpt_state_int(resumed, "optimizer_step");
        views = (uint64_t)ss_ckpt_state_int(resumed, "views");
        ss_log_info("resuming at step %" PRIu64 " after %" PRIu64 " views (start the views with --skip %" PRIu64 ")",
                    tr.step, views, views);
    }
    if (ss_trainer_init(&tr, &err) != SS_OK)
        goto fail;

    if (o.monitor_train) {
        if (load_labelled(o.monitor_train, o.monitor_count, net, &mon_ref, &err) != SS_OK ||
            load_labelled(o.monitor_val, o.monitor_count, net, &mon_val, &err) != SS_OK)
            goto fail;
    }
    if (o.log_path && !(log = fopen(o.log_path, o.resume ? "a" : "w"))) {
        ss_error_set(&err, SS_EIO, "%s: cannot open the metrics log: %s", o.log_path, strerror(errno));
        goto fail;
    }

    b.pixels = malloc((size_t)2 * (size_t)o.batch * b.image_bytes);
    b.rows = malloc((size_t)2 * (size_t)o.batch * sizeof *b.rows);
    if (!b.pixels || !b.rows) {
        ss_error_set(&err, SS_ENOMEM, "out of memory for a batch of %d images", o.batch);
        goto fail;
    }
    /* The record already read is the first of the first batch. */
    memcpy(b.pixels, v0->data, b.image_bytes);
    const tsf_field *v1 = tsf_record_find(rec, "view1");
    if (!v1 || v1->nbytes != b.image_bytes) {
        ss_error_set(&err, SS_EDATA, "%s: record 0: view1 must match view0's shape", tsf_reader_name(r));
        goto fail;
    }
    memcpy(b.pixels + (size_t)o.batch * b.image_bytes, v1->data, b.image_bytes);
    int pending = 1;

    double flops_per_view = 3.0 * ss_net_forward_flops(net);
    double start = ss_now(), train_time = 0;
    uint64_t steps_this_run = 0;
    double last_loss = nan("");
    ss_progress progress;
    ss_progress_start(&progress, "steps");
    for (;;) {
        if (o.steps_set && tr.step >= (uint64_t)o.steps)
            break;
        if (o.max_time > 0 && train_time >= o.max_time) {
            ss_log_info("stopping at --max-time after %.0f s", train_time);
            break;
        }
        /* Read the rest of the batch into the slots after the pending ones. */
        int more = 0;
        if (pending < o.batch) {
            while (pending + more < o.batch) {
                int rc2 = tsf_reader_next(r, rec);
                if (rc2 < 0) {
                    err = *tsf_reader_error(r);
                    goto fail;
                }
                if (rc2 == 0)
                    break;
                const tsf_field *f0 = tsf_record_find(rec, "view0"), *f1 = tsf_record_find(rec, "view1");
                if (!f0 || !f1 || f0->nbytes != b.image_bytes || f1->nbytes != b.image_bytes ||
                    f0->dtype != TSF_UINT8 || f1->dtype != TSF_UINT8) {
                    ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": needs uint8 view0 and view1 of shape "
                                 "%dx%dx%d like the first record", tsf_reader_name(r), rec->index, b.h, b.w, b.c);
                    goto fail;
                }
                int slot = pending + more;
                memcpy(b.pixels + (size_t)slot * b.image_bytes, f0->data, b.image_bytes);
                memcpy(b.pixels + (size_t)(o.batch + slot) * b.image_bytes, f1->data, b.image_bytes);
                more++;
            }
        }
        int n = pending + more;
        pending = 0;
        if (n < o.batch) {
            if (n > 0)
                ss_log_detail("dropping the last %d records: fewer than --batch %d", n, o.batch);
            break;
        }
        pack_rows(&b, o.batch, n);

        double t0 = ss_now();
        ss_loss_result res;
        double lr;
        ss_status st = ss_trainer_step(&tr, b.rows, 2 * n, NULL, &res, &lr, &err);
        double dt = ss_now() - t0;
        if (st != SS_OK)
            goto fail;
        train_time += dt;
        steps_this_run++;
        views += 2 * (uint64_t)n;
        last_loss = res.loss;

        double knn = -1;
        if (o.monitor_every > 0 && tr.step % (uint64_t)o.monitor_every == 0)
            knn = knn_accuracy(net, &mon_ref, &mon_val, 2 * o.batch);
        if (log) {
            fprintf(log, "{\"step\":%" PRIu64 ",\"loss\":%.6f,\"chance_loss\":%.6f,\"top1\":%.4f,\"lr\":%.6g,"
                         "\"views_per_s\":%.1f,\"gflops\":%.2f,\"time\":%.3f",
                    tr.step, res.loss, res.chance_loss, res.accuracy, lr, 2.0 * n / dt,
                    2.0 * n * flops_per_view / dt * 1e-9, ss_now() - start);
            if (knn >= 0)
                fprintf(log, ",\"knn_accuracy\":%.4f", knn);
            fprintf(log, "}\n");
            fflush(log);
        }
        if (knn >= 0)
            ss_log_info("step %" PRIu64 ": loss %.4f, kNN accuracy %.4f", tr.step, res.loss, knn);
        ss_progress_update(&progress, tr.step, o.steps > 0 ? (uint64_t)o.steps : 0);
        if (tr.step % (uint64_t)o.save_every == 0) {
            ss_json *meta = run_metadata(&o, &tr, views, last_loss, argc, argv);
            st = meta ? ss_ckpt_save(o.output, net, meta, 1, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
            ss_json_free(meta);
            if (st != SS_OK)
                goto fail;
        }
    }
    ss_progress_end(&progress);
    if (steps_this_run == 0 && !o.resume && !(o.steps_set && o.steps == 0)) {
        ss_error_set(&err, SS_EDATA, "%s: fewer records than one batch of %d; nothing was trained",
                     tsf_reader_name(r), o.batch);
        goto fail;
    }
    {
        ss_json *meta = run_metadata(&o, &tr, views, last_loss, argc, argv);
        ss_status st = meta ? ss_ckpt_save(o.output, net, meta, 1, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
        ss_json_free(meta);
        if (st != SS_OK)
            goto fail;
    }
    ss_log_detail("%" PRIu64 " steps, %.1f views/s, %.1f GFLOP/s", steps_this_run,
                  train_time > 0 ? (double)steps_this_run * 2 * o.batch / train_time : 0,
                  train_time > 0 ? (double)steps_this_run * 2 * o.batch * flops_per_view / train_time * 1e-9 : 0);
    goto done;
fail:
    status = tool_fail(&err);
done:
    if (log && fclose(log) != 0 && status == SS_EXIT_OK) {
        ss_log_error("%s: write failed: %s", o.log_path, strerror(errno));
        status = SS_EXIT_FAILURE;
    }
    free_labelled(&mon_ref);
    free_labelled(&mon_val);
    free(b.pixels);
    free(b.rows);
    ss_trainer_free(&tr);
    ss_net_free(net);
    ss_par_destroy(pool);
    ss_json_free(resumed);
    free(rec);
    if (r)
        tsf_reader_close(r);
    return tool_finish(status);
}

int main(int argc, char **argv)
{
    tool_start("selfsup-pretrain");
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage: selfsup-pretrain METHOD [OPTION]... [INPUT]\n"
               "Pretrain a representation on unlabelled data.\n\n"
               "Methods:\n"
               "  simclr   contrastive learning on two augmented views per image\n\n"
               "Run 'selfsup-pretrain METHOD --help' for its options.\n");
        return tool_finish(SS_EXIT_OK);
    }
    if (argc >= 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("selfsup-pretrain %s\n", SS_VERSION);
        return tool_finish(SS_EXIT_OK);
    }
    if (argc < 2)
        return tool_usage("selfsup-pretrain", "missing METHOD (simclr)");
    if (strcmp(argv[1], "simclr") == 0) {
        ss_log_init("selfsup-pretrain simclr", 1);
        return run_simclr(argc - 1, argv + 1);
    }
    return tool_usage("selfsup-pretrain", "unknown method '%s' (expected simclr)", argv[1]);
}
