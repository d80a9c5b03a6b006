/* selfsup-finetune: supervised training of a pretrained encoder with a
 * linear classification head, and prediction with the result.
 *
 * The encoder starts from a pretraining checkpoint; the head is fresh or
 * taken from a probe model (its standardisation folded into the weights).
 * Encoder and head have their own learning rates, and the first encoder
 * layers can be frozen. Training records come as a stream, usually from
 * `selfsup-augment --views 1 --epochs E --shuffle`, so augmentation runs
 * beside training. Checkpoints, resume and the non-finite rule are those of
 * selfsup-pretrain. `selfsup-finetune predict` applies a finetuned network
 * to images and writes a predictions stream. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_ckpt.h"
#include "ss_linmodel.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "ss_trainer.h"
#include "tool.h"

/* Returns the image field of a record: the named one, or view0, or image. */
static const tsf_field *image_field(const tsf_record *rec, const char *name)
{
    if (name)
        return tsf_record_find(rec, name);
    const tsf_field *f = tsf_record_find(rec, "view0");
    return f ? f : tsf_record_find(rec, "image");
}

static int classes_in(const ss_json *meta)
{
    const ss_json *c = ss_json_get(meta, "classes");
    return c && c->type == SS_JSON_ARRAY ? (int)c->len : 0;
}

/* Copies the encoder parameters and running statistics of src into dst,
 * whose encoder has the same layers. */
static ss_status copy_encoder(ss_net *dst, const ss_net *src, ss_error *err)
{
    if (strcmp(dst->encoder_spec, src->encoder_spec) != 0)
        return ss_error_set(err, SS_EINVAL, "encoders differ");
    for (int p = 0; p < dst->n_params; p++) {
        const ss_param *d = &dst->params[p];
        if (strncmp(d->name, "encoder.", 8) != 0)
            continue;
        for (int q = 0; q < src->n_params; q++)
            if (strcmp(src->params[q].name, d->name) == 0 && src->params[q].n == d->n)
                memcpy(d->w, src->params[q].w, d->n * sizeof(float));
    }
    for (int i = 0; i < dst->n_encoder; i++)
        if (dst->layers[i].kind == SS_LAYER_BN) {
            memcpy(dst->layers[i].running_mean, src->layers[i].running_mean, (size_t)dst->layers[i].in_c * sizeof(float));
            memcpy(dst->layers[i].running_var, src->layers[i].running_var, (size_t)dst->layers[i].in_c * sizeof(float));
        }
    dst->input_mean = src->input_mean;
    dst->input_std = src->input_std;
    return SS_OK;
}

/* Sets the head from a probe: logits = W ((x - mean) / std) + b becomes
 * W' x + b' with W' = W / std and b' = b - W' mean. */
static ss_status head_from_probe(ss_net *net, const ss_linmodel *m, const char *path, ss_error *err)
{
    const ss_param *w = &net->params[net->n_params - 2], *b = &net->params[net->n_params - 1];
    int k = ss_net_output_dim(net), d = ss_net_encoder_dim(net);
    if (m->k != k || m->d != d)
        return ss_error_set(err, SS_EDATA, "%s: the probe maps %d features to %d classes; the network needs %d to %d",
                            path, m->d, m->k, d, k);
    for (int c = 0; c < k; c++) {
        double bias = (double)m->bias[c];
        for (int j = 0; j < d; j++) {
            float wj = m->weight[(size_t)c * (size_t)d + (size_t)j] / m->std[j];
            w->w[(size_t)c * (size_t)d + (size_t)j] = wj;
            bias -= (double)wj * (double)m->mean[j];
        }
        b->w[c] = (float)bias;
    }
    return SS_OK;
}

typedef struct {
    const char *output, *pretrained, *probe, *field, *log_path, *optimizer;
    int batch, resume, freeze, classes;
    double lr_head, lr_encoder, final_lr, weight_decay, momentum, max_time;
    int64_t steps, warmup, save_every, schedule;
    int steps_set;
} ft_options;

static ss_json *run_metadata(const ft_options *o, const ss_trainer *t, const ss_json *classes, uint64_t seen,
                             double loss, int argc, char **argv)
{
    ss_json *meta = ss_meta_derive(NULL, ss_log_prog(), argc - 1, argv + 1);
    ss_json *config = ss_json_new_object(), *state = ss_json_new_object();
    if (!meta || !config || !state) {
        ss_json_free(meta);
        ss_json_free(config);
        ss_json_free(state);
        return NULL;
    }
    ss_json_set(config, "task", ss_json_new_string("classifier"));
    ss_json_set(config, "pretrained", ss_json_new_string(o->pretrained ? o->pretrained : ""));
    ss_json_set(config, "batch", ss_json_new_int(o->batch));
    ss_json_set(config, "optimizer", ss_json_new_string(o->optimizer));
    ss_json_set(config, "lr_head", ss_json_new_double(o->lr_head));
    ss_json_set(config, "lr_encoder", ss_json_new_double(o->lr_encoder));
    ss_json_set(config, "freeze", ss_json_new_int(o->freeze));
    ss_json_set(meta, "config", config);
    ss_json_set(state, "step", ss_json_new_int((int64_t)t->step));
    ss_json_set(state, "records", ss_json_new_int((int64_t)seen));
    ss_json_set(state, "optimizer_step", ss_json_new_int((int64_t)t->optim.step));
    if (isfinite(loss))
        ss_json_set(state, "loss", ss_json_new_double(loss));
    ss_json_set(meta, "train_state", state);
    if (classes)
        ss_json_set(meta, "classes", ss_json_clone(classes));
    return meta;
}

static const char *const optim_names[] = {"adamw", "sgd", "lars", NULL};

static int run_train(int argc, char **argv)
{
    ft_options o = {.optimizer = "adamw", .batch = 256, .lr_head = 1e-3, .lr_encoder = 1e-4, .final_lr = 0,
                    .weight_decay = 1e-4, .momentum = 0.9, .warmup = 20, .save_every = 200};
    const ss_option opts[] = {
        {"output", 'o', SS_ARG_STRING, &o.output, "FILE", "checkpoint to write (required), replaced atomically", 0, 0, NULL, NULL},
        {"pretrained", 'c', SS_ARG_STRING, &o.pretrained, "FILE", "pretraining checkpoint whose encoder starts the training (required unless --resume)", 0, 0, NULL, NULL},
        {"head-from", 0, SS_ARG_STRING, &o.probe, "PROBE", "start the head from a selfsup-probe model instead of at random", 0, 0, NULL, NULL},
        {"resume", 'r', SS_ARG_FLAG, &o.resume, NULL, "continue from the checkpoint in -o FILE", 0, 0, NULL, NULL},
        {"classes", 'k', SS_ARG_INT, &o.classes, "K", "number of classes (default: the input's class names, else the --head-from probe's)", 2, 1 << 20, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &o.field, "NAME", "image field (default view0, else image)", 0, 0, NULL, NULL},
        {"batch", 'b', SS_ARG_INT, &o.batch, "N", "images per step (default 256)", 1, 1 << 16, NULL, NULL},
        {"optimizer", 0, SS_ARG_CHOICE, &o.optimizer, "NAME", "adamw, sgd or lars (default adamw)", 0, 0, optim_names, NULL},
        {"lr-head", 0, SS_ARG_DOUBLE, &o.lr_head, "RATE", "peak learning rate of the head (default 0.001)", 0, 1e3, NULL, NULL},
        {"lr-encoder", 0, SS_ARG_DOUBLE, &o.lr_encoder, "RATE", "peak learning rate of the encoder (default 0.0001)", 0, 1e3, NULL, NULL},
        {"final-lr", 0, SS_ARG_DOUBLE, &o.final_lr, "RATE", "head learning rate at the end of the cosine (default 0)", 0, 1e3, NULL, NULL},
        {"weight-decay", 0, SS_ARG_DOUBLE, &o.weight_decay, "WD", "weight decay (default 0.0001)", 0, 10, NULL, NULL},
        {"momentum", 0, SS_ARG_DOUBLE, &o.momentum, "M", "momentum of sgd and lars (default 0.9)", 0, 0.9999, NULL, NULL},
        {"freeze", 0, SS_ARG_INT, &o.freeze, "N", "keep the first N parameterised encoder layers fixed (default 0)", 0, 1000, NULL, NULL},
        {"warmup", 0, SS_ARG_INT64, &o.warmup, "STEPS", "linear warmup steps (default 20)", 0, 1e12, NULL, NULL},
        {"steps", 'n', SS_ARG_INT64, &o.steps, "N", "stop after N steps; also the cosine length (default: until input ends); 0 writes the initial weights", 0, 1e12, NULL, &o.steps_set},
        {"schedule", 0, SS_ARG_INT64, &o.schedule, "N", "cosine length in steps when it differs from --steps", 0, 1e12, NULL, NULL},
        {"max-time", 0, SS_ARG_DOUBLE, &o.max_time, "SECONDS", "stop cleanly after this much training time", 0, 1e9, NULL, NULL},
        {"save-every", 0, SS_ARG_INT64, &o.save_every, "N", "write the checkpoint every N steps (default 200)", 1, 1e12, NULL, NULL},
        {"log", 'l', SS_ARG_STRING, &o.log_path, "FILE", "write one JSON line of metrics per step to FILE", 0, 0, NULL, NULL},
        {0}};
    const ss_command cmd = {
        "selfsup-finetune", "-c PRETRAINED -o CHECKPOINT [OPTION]... [SAMPLES]",
        "Train a pretrained encoder and a linear head on labelled images (records\n"
        "with an image or view0 field and an int64 label) with softmax cross-entropy.",
        "A non-finite loss or gradient stops training with status 3, leaving the last\n"
        "checkpoint as it was. 'selfsup-finetune predict --help' describes prediction.",
        opts, SS_CLI_SEED | SS_CLI_THREADS_ALL | SS_CLI_TRAINS, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!o.output)
        return tool_usage(cmd.name, "the checkpoint file -o FILE is required");
    if (!o.pretrained && !o.resume)
        return tool_usage(cmd.name, "give the pretrained checkpoint with -c FILE, or --resume");

    ss_error err;
    int status = SS_EXIT_OK;
    tsf_reader *r = tsf_reader_open_path(first < argc ? argv[first] : "-", NULL, &err);
    tsf_record *rec = malloc(sizeof *rec);
    ss_net *net = NULL, *pre = NULL;
    ss_json *resumed = NULL, *classes = NULL;
    ss_linmodel probe;
    int have_probe = 0;
    ss_par *pool = NULL;
    ss_trainer tr;
    memset(&tr, 0, sizeof tr);
    uint8_t *pixels = NULL;
    const uint8_t **rows = NULL;
    int64_t *labels = NULL;
    FILE *log = NULL;
    if (!r || !rec)
        goto fail;
    if (tsf_reader_start(r) <= 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    const ss_json *cl = ss_json_get(tsf_reader_meta(r), "classes");
    if (cl && cl->type == SS_JSON_ARRAY)
        classes = ss_json_clone(cl);
    int k = o.classes ? o.classes : classes_in(tsf_reader_meta(r));
    /* The --head-from probe supplies the class count and names when the input
     * has none. */
    if (o.probe && !o.resume) {
        if (ss_linmodel_load(&probe, o.probe, NULL, &err) != SS_OK)
            goto fail;
        have_probe = 1;
        if (!k)
            k = probe.k;
        if (!classes && probe.classes)
            classes = ss_json_clone(probe.classes);
    }

    if (o.resume) {
        net = ss_ckpt_load(o.output, &resumed, 1, &err);
        if (!net)
            goto fail;
        k = ss_net_output_dim(net);
    } else {
        if (k < 2) {
            ss_error_set(&err, SS_EINVAL, "%s: the input names no classes; give their number with --classes K",
                         tsf_reader_name(r));
            goto fail;
        }
        pre = ss_ckpt_load(o.pretrained, NULL, 0, &err);
        if (!pre)
            goto fail;
        char head[32];
        snprintf(head, sizeof head, "linear:%d", k);
        net = ss_net_create(pre->encoder_spec, head, pre->in_h, pre->in_w, pre->in_c, common.seed, &err);
        if (!net || copy_encoder(net, pre, &err) != SS_OK)
            goto fail;
        if (have_probe && head_from_probe(net, &probe, o.probe, &err) != SS_OK)
            goto fail;
    }
    /* Learning rates: the head's is the base rate, the encoder's a scale of it. */
    int frozen = 0;
    for (int p = 0; p < net->n_params; p++) {
        ss_param *q = &net->params[p];
        int enc = strncmp(q->name, "encoder.", 8) == 0;
        q->lr_scale = 1.0f;
        if (enc)
            q->lr_scale = o.lr_head > 0 ? (float)(o.lr_encoder / o.lr_head) : 0.0f;
        if (enc && p / 2 < o.freeze) {
            q->frozen = 1;
            frozen++;
        }
    }
    if (frozen < 2 * o.freeze)
        ss_log_warn("--freeze %d is more than the encoder's %d parameterised layers", o.freeze, frozen / 2);

    pool = ss_par_create(common.threads, &err);
    if (!pool || ss_net_prepare(net, pool, o.batch, &err) != SS_OK)
        goto fail;
    tr.net = net;
    ss_optim_kind kind;
    ss_optim_kind_from_name(o.optimizer, &kind);
    ss_optim_defaults(&tr.optim, kind);
    tr.optim.weight_decay = o.weight_decay;
    tr.optim.momentum = o.momentum;
    tr.loss = SS_LOSS_XENT;
    tr.base_lr = o.lr_head;
    tr.final_lr = o.final_lr;
    tr.warmup = (uint64_t)o.warmup;
    tr.total = (uint64_t)(o.schedule ? o.schedule : o.steps);
    uint64_t seen = 0;
    if (resumed) {
        tr.step = (uint64_t)ss_ckpt_state_int(resumed, "step");
        tr.optim.step = (uint64_t)ss_ckpt_state_int(resumed, "optimizer_step");
        seen = (uint64_t)ss_ckpt_state_int(resumed, "records");
        ss_log_info("resuming at step %" PRIu64 " after %" PRIu64 " records", tr.step, seen);
    }
    if (ss_trainer_init(&tr, &err) != SS_OK)
        goto fail;
    if (o.log_path && !(log = fopen(o.log_path, o.resume ? "a" : "w"))) {
        ss_error_set(&err, SS_EIO, "%s: cannot open the metrics log: %s", o.log_path, strerror(errno));
        goto fail;
    }
    size_t bytes = (size_t)net->in_h * (size_t)net->in_w * (size_t)net->in_c;
    pixels = malloc((size_t)o.batch * bytes);
    rows = malloc((size_t)o.batch * sizeof *rows);
    labels = malloc((size_t)o.batch * sizeof *labels);
    if (!pixels || !rows || !labels) {
        ss_error_set(&err, SS_ENOMEM, "out of memory for a batch of %d images", o.batch);
        goto fail;
    }
    for (int i = 0; i < o.batch; i++)
        rows[i] = pixels + (size_t)i * bytes;

    double start = ss_now(), train_time = 0, last_loss = nan("");
    uint64_t steps_this_run = 0;
    ss_progress progress;
    ss_progress_start(&progress, "steps");
    int eof = 0;
    while (!eof) {
        if (o.steps_set && tr.step >= (uint64_t)o.steps)
            break;
        if (o.max_time > 0 && train_time >= o.max_time)
            break;
        int n = 0;
        while (n < o.batch) {
            int got = tsf_reader_next(r, rec);
            if (got < 0) {
                err = *tsf_reader_error(r);
                goto fail;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            const tsf_field *img = image_field(rec, o.field), *lab = tsf_record_find(rec, "label");
            if (!img || img->dtype != TSF_UINT8 || img->nbytes != bytes || img->ndim != 3) {
                ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": needs a uint8 image of shape [%d, %d, %d]",
                             tsf_reader_name(r), rec->index, net->in_h, net->in_w, net->in_c);
                goto fail;
            }
            if (!lab || lab->dtype != TSF_INT64 || lab->count != 1) {
                ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": has no int64 'label'; finetuning needs "
                             "labelled records", tsf_reader_name(r), rec->index);
                goto fail;
            }
            int64_t label;
            memcpy(&label, lab->data, sizeof label);
            if (label < 0 || label >= k) {
                ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": label %" PRId64 " is outside 0..%d",
                             tsf_reader_name(r), rec->index, label, k - 1);
                goto fail;
            }
            memcpy(pixels + (size_t)n * bytes, img->data, bytes);
            labels[n++] = label;
        }
        if (n == 0)
            break;
        double t0 = ss_now();
        ss_loss_result res;
        double lr;
        if (ss_trainer_step(&tr, rows, n, labels, &res, &lr, &err) != SS_OK)
            goto fail;
        double dt = ss_now() - t0;
        train_time += dt;
        steps_this_run++;
        seen += (uint64_t)n;
        last_loss = res.loss;
        if (log) {
            fprintf(log, "{\"step\":%" PRIu64 ",\"loss\":%.6f,\"accuracy\":%.4f,\"lr\":%.6g,\"images_per_s\":%.1f,"
                         "\"time\":%.3f}\n", tr.step, res.loss, res.accuracy, lr, n / dt, ss_now() - start);
            fflush(log);
        }
        ss_progress_update(&progress, tr.step, o.steps > 0 ? (uint64_t)o.steps : 0);
        if (tr.step % (uint64_t)o.save_every == 0) {
            ss_json *meta = run_metadata(&o, &tr, classes, seen, last_loss, argc, argv);
            ss_status st = meta ? ss_ckpt_save(o.output, net, meta, 1, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
            ss_json_free(meta);
            if (st != SS_OK)
                goto fail;
        }
    }
    ss_progress_end(&progress);
    if (steps_this_run == 0 && !o.resume && !(o.steps_set && o.steps == 0)) {
        ss_error_set(&err, SS_EDATA, "%s: no records to train on", tsf_reader_name(r));
        goto fail;
    }
    {
        ss_json *meta = run_metadata(&o, &tr, classes, seen, last_loss, argc, argv);
        ss_status st = meta ? ss_ckpt_save(o.output, net, meta, 1, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
        ss_json_free(meta);
        if (st != SS_OK)
            goto fail;
    }
    goto done;
fail:
    status = tool_fail(&err);
done:
    if (log && fclose(log) != 0 && status == SS_EXIT_OK) {
        ss_log_error("%s: write failed: %s", o.log_path, strerror(errno));
        status = SS_EXIT_FAILURE;
    }
    free(pixels);
    free(rows);
    free(labels);
    ss_trainer_free(&tr);
    ss_net_free(net);
    ss_net_free(pre);
    ss_par_destroy(pool);
    ss_json_free(resumed);
    ss_json_free(classes);
    if (have_probe)
        ss_linmodel_free(&probe);
    free(rec);
    if (r)
        tsf_reader_close(r);
    return tool_finish(status);
}

/* ---- predict ------------------------------------------------------------------ */

static ss_status write_predictions(tsf_writer *w, const float *logits, int n, int k, char **keys, const size_t *key_len,
                                   const int64_t *targets, const int *has_target, float *probs)
{
    ss_softmax_rows(probs, logits, n, k);
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * (size_t)k;
        int64_t pred = 0;
        for (int c = 1; c < k; c++)
            if (p[c] > p[pred])
                pred = c;
        tsf_field f[5];
        int nf = 0;
        uint64_t kd[1] = {key_len[i]}, cd[1] = {(uint64_t)k};
        if (keys[i])
            tsf_field_set(&f[nf++], "key", TSF_UTF8, 1, kd, keys[i]);
        tsf_field_set(&f[nf++], "label", TSF_INT64, 0, NULL, &pred);
        tsf_field_set(&f[nf++], "logits", TSF_FLOAT32, 1, cd, logits + (size_t)i * (size_t)k);
        tsf_field_set(&f[nf++], "probs", TSF_FLOAT32, 1, cd, p);
        if (has_target[i])
            tsf_field_set(&f[nf++], "target", TSF_INT64, 0, NULL, &targets[i]);
        ss_status st = tsf_writer_write(w, f, nf);
        if (st != SS_OK)
            return st;
    }
    return SS_OK;
}

static int run_predict(int argc, char **argv)
{
    const char *model = NULL, *field = NULL;
    int batch = 512;
    tool_output_opts out;
    tool_output_opts_default(&out);
    const ss_option opts[] = {
        {"model", 'm', SS_ARG_STRING, &model, "FILE", "finetuned checkpoint (required)", 0, 0, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "image field (default image, else view0)", 0, 0, NULL, NULL},
        {"batch", 'b', SS_ARG_INT, &batch, "N", "images per batch (default 512)", 1, 1 << 20, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(out), {0}};
    const ss_command cmd = {
        "selfsup-finetune predict", "-m MODEL [OPTION]... [SAMPLES]",
        "Classify the images of a samples stream with a finetuned network and write a\n"
        "predictions stream: key, label (the predicted class), logits, probs, and\n"
        "target when the input is labelled.",
        NULL, opts, SS_CLI_THREADS_ALL, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!model)
        return tool_usage(cmd.name, "the model -m FILE is required");
    ss_error err;
    ss_json *mmeta = NULL;
    ss_net *net = ss_ckpt_load(model, &mmeta, 0, &err);
    if (!net)
        return tool_finish(tool_fail(&err));
    const char *task = ss_json_get_string(ss_json_get(mmeta, "config"), "task");
    if (!task || strcmp(task, "classifier") != 0) {
        ss_error_set(&err, SS_EDATA, "%s: not a finetuned classifier (config.task is '%s'); predict with a "
                     "checkpoint from selfsup-finetune, or embed and probe a pretrained one", model, task ? task : "none");
        ss_json_free(mmeta);
        ss_net_free(net);
        return tool_finish(tool_fail(&err));
    }
    int k = ss_net_output_dim(net);
    size_t bytes = (size_t)net->in_h * (size_t)net->in_w * (size_t)net->in_c;
    ss_par *pool = ss_par_create(common.threads, &err);
    tsf_reader *r = NULL;
    tsf_record *rec = malloc(sizeof *rec);
    tool_output o = {0};
    int status = SS_EXIT_OK;
    uint8_t *pixels = malloc((size_t)batch * bytes);
    const uint8_t **rows = malloc((size_t)batch * sizeof *rows);
    char **keys = calloc((size_t)batch, sizeof *keys);
    size_t *key_len = calloc((size_t)batch, sizeof *key_len);
    int64_t *targets = calloc((size_t)batch, sizeof *targets);
    int *has_target = calloc((size_t)batch, sizeof *has_target);
    float *logits = malloc((size_t)batch * (size_t)k * sizeof *logits);
    float *probs = malloc((size_t)batch * (size_t)k * sizeof *probs);
    if (!rec || !pixels || !rows || !keys || !key_len || !targets || !has_target || !logits || !probs) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < batch; i++)
        rows[i] = pixels + (size_t)i * bytes;
    if (!pool || ss_net_prepare(net, pool, batch, &err) != SS_OK)
        goto fail;
    r = tsf_reader_open_path(first < argc ? argv[first] : "-", NULL, &err);
    if (!r)
        goto fail;
    if (tsf_reader_start(r) <= 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    ss_json *meta = ss_meta_derive(tsf_reader_meta(r), ss_log_prog(), argc - 1, argv + 1);
    if (!meta) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    ss_json_set(meta, "kind", ss_json_new_string("predictions"));
    ss_json_remove(meta, "schema");
    const ss_json *mc = ss_json_get(mmeta, "classes");
    if (mc)
        ss_json_set(meta, "classes", ss_json_clone(mc));
    ss_status st = tool_output_open(&o, &out, meta, &err);
    ss_json_free(meta);
    if (st != SS_OK)
        goto fail;
    int n = 0, got;
    while ((got = tsf_reader_next(r, rec)) >= 0) {
        if (got == 1) {
            const tsf_field *img = field ? tsf_record_find(rec, field) : tsf_record_find(rec, "image");
            if (!img && !field)
                img = tsf_record_find(rec, "view0");
            if (!img || img->dtype != TSF_UINT8 || img->ndim != 3 || (int)img->dims[0] != net->in_h ||
                (int)img->dims[1] != net->in_w || (int)img->dims[2] != net->in_c) {
                ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": needs a uint8 image of shape [%d, %d, %d]",
                             tsf_reader_name(r), rec->index, net->in_h, net->in_w, net->in_c);
                goto fail;
            }
            memcpy(pixels + (size_t)n * bytes, img->data, bytes);
            const tsf_field *key = tsf_record_find(rec, "key"), *lab = tsf_record_find(rec, "label");
            free(keys[n]);
            keys[n] = NULL;
            if (key && key->dtype == TSF_UTF8 && (keys[n] = malloc(key->nbytes + 1))) {
                memcpy(keys[n], key->data, key->nbytes);
                key_len[n] = key->nbytes;
            }
            has_target[n] = lab && lab->dtype == TSF_INT64 && lab->count == 1;
            if (has_target[n])
                memcpy(&targets[n], lab->data, sizeof targets[n]);
            n++;
        }
        if (n > 0 && (n == batch || got == 0)) {
            ss_net_infer(net, rows, n, net->n_layers, logits);
            if (write_predictions(o.w, logits, n, k, keys, key_len, targets, has_target, probs) != SS_OK) {
                err = *tsf_writer_error(o.w);
                goto fail;
            }
            n = 0;
        }
        if (got == 0)
            break;
    }
    if (got < 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    if (tool_output_finish(&o, &err) != SS_OK)
        goto fail;
    goto done;
fail:
    tool_output_abort(&o, &err);
    status = tool_fail(&err);
done:
    for (int i = 0; keys && i < batch; i++)
        free(keys[i]);
    free(keys);
    free(key_len);
    free(targets);
    free(has_target);
    free(logits);
    free(probs);
    free(pixels);
    free(rows);
    free(rec);
    if (r)
        tsf_reader_close(r);
    ss_json_free(mmeta);
    ss_net_free(net);
    ss_par_destroy(pool);
    return tool_finish(status);
}

int main(int argc, char **argv)
{
    tool_start("selfsup-finetune");
    if (argc >= 2 && strcmp(argv[1], "predict") == 0) {
        ss_log_init("selfsup-finetune predict", 1);
        return run_predict(argc - 1, argv + 1);
    }
    return run_train(argc, argv);
}
