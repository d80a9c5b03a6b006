/* ss_ckpt: network checkpoints as TSF streams of kind "checkpoint".
 *
 * The metadata holds everything needed to rebuild the network:
 * config.arch = {"encoder": spec, "head": spec, "input": [H, W, C],
 * "input_mean": m, "input_std": s}, plus whatever config and train_state
 * the trainer adds. Each parameter is one record: `name` (utf8) and `value`
 * (float32 in the parameter's shape: convolution weights [Cout, Cin, K, K],
 * linear weights [Dout, Din], vectors [D]), with the optimiser state as `m`
 * and `v` of the same shape when saved. Batch-normalisation running
 * statistics are records named LAYER.running_mean and LAYER.running_var.
 * A parameter is named PART.I.WHAT: PART is encoder or head, I the layer's
 * 0-based position in that part's spec string, WHAT weight or bias (gamma
 * or beta for bn); "encoder.6.weight" is the weight of the seventh layer of
 * the encoder spec. */
#ifndef SS_CKPT_H
#define SS_CKPT_H

#include "ss_error.h"
#include "ss_json.h"
#include "ss_net.h"

/* Writes a checkpoint of net to path, atomically (a temporary file renamed
 * into place). extra is merged into the metadata (its "config" object
 * gains "arch"); with_state adds the optimiser moments. */
ss_status ss_ckpt_save(const char *path, const ss_net *net, const ss_json *extra, int with_state, ss_error *err);

/* Reads a checkpoint and rebuilds its network. *meta (if not NULL)
 * receives the metadata, which the caller frees. With load_state, the
 * optimiser moments are loaded when present (allocating them). Every
 * parameter must appear exactly once with its exact shape. */
ss_net *ss_ckpt_load(const char *path, ss_json **meta, int load_state, ss_error *err);

/* Returns the integer train_state.KEY of checkpoint metadata, or 0 when it
 * is absent or not an integer (a run that has not trained yet). */
int64_t ss_ckpt_state_int(const ss_json *meta, const char *key);

/* Shape of parameter p: returns ndim and fills dims. */
int ss_net_param_shape(const ss_net *net, int p, uint64_t dims[4]);

#endif
