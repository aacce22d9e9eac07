/* A small builder over cuDNN's backend C API: tensors, pointwise / matmul / reduction / reshape
 * nodes, and the execution plan the heuristics pick for the whole graph. The first failure is
 * kept (with cuDNN's own message) and every later call does nothing, so a graph is written as a
 * straight list of nodes and checked once. */
#ifndef LC_CUDNN_GRAPH_H
#define LC_CUDNN_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "cudnn_lib.h"

#define CG_MAX_DESCRIPTORS 256
#define CG_MAX_OPS 64
#define CG_MAX_BOUND 24 /* tensors given at execution: device buffers and by-value scalars */

struct cg_tensor {
    cudnnBackendDescriptor_t desc;
    int64_t uid;
    int64_t dims[4], strides[4];
    cudnnDataType_t type;
};

struct cg {
    const struct cudnn_lib *lib;
    cudnnHandle_t handle;
    cudnnBackendDescriptor_t descs[CG_MAX_DESCRIPTORS]; /* all created, destroyed together */
    int n_descs;
    cudnnBackendDescriptor_t ops[CG_MAX_OPS];
    int n_ops;
    struct cg_tensor tensors[CG_MAX_DESCRIPTORS / 2];
    int n_tensors;
    int64_t next_virtual_uid;
    /* By-value scalars: their uids and values, given to every execution. */
    int64_t scalar_uid[CG_MAX_BOUND];
    union {
        float f;
        int32_t i;
    } scalar[CG_MAX_BOUND];
    int n_scalars;
    int64_t device_uid[CG_MAX_BOUND]; /* the device tensors the graph names */
    int n_device;
    cudnnBackendDescriptor_t plan;
    int64_t workspace_bytes;
    bool failed;
    char err[256];
};

void cg_init(struct cg *g, const struct cudnn_lib *lib, cudnnHandle_t handle);
void cg_destroy(struct cg *g);

/* A tensor of 4 dims; uid 0 makes a virtual one (an intermediate the engine keeps on chip);
 * ragged: the offsets tensor of a packed (THD) layout, or NULL. */
struct cg_tensor *cg_tensor(struct cg *g, int64_t uid, const int64_t dims[4], const int64_t strides[4],
                            cudnnDataType_t type, const struct cg_tensor *ragged);
struct cg_tensor *cg_float(struct cg *g, float value); /* a by-value scalar */
struct cg_tensor *cg_int(struct cg *g, int32_t value);
/* A virtual tensor shaped like x (dims and strides) of another type. */
struct cg_tensor *cg_like(struct cg *g, const struct cg_tensor *x, cudnnDataType_t type);

/* y = mode(x[, b[, t]]) with math in compute; y NULL: a virtual one like x of type out_type.
 * axis >= 0 for GEN_INDEX (and the index arithmetic that follows it). */
struct cg_tensor *cg_pointwise(struct cg *g, cudnnPointwiseMode_t mode, const struct cg_tensor *x,
                               const struct cg_tensor *b, const struct cg_tensor *t, struct cg_tensor *y,
                               cudnnDataType_t out_type, cudnnDataType_t compute, int axis);
/* c = a x b (fp32 math); m/n/k overrides: per-batch sequence lengths, or NULL; padding: fill the
 * rows and columns past them with 0. */
void cg_matmul(struct cg *g, const struct cg_tensor *a, const struct cg_tensor *b, const struct cg_tensor *c,
               const struct cg_tensor *m_override, const struct cg_tensor *n_override,
               const struct cg_tensor *k_override, bool padding);
void cg_reduction(struct cg *g, cudnnReduceTensorOp_t op, const struct cg_tensor *x, const struct cg_tensor *y);
void cg_reshape(struct cg *g, const struct cg_tensor *x, const struct cg_tensor *y);
/* Any other operation whose attributes are tensors: names[i] takes tensors[i]. */
void cg_operation(struct cg *g, cudnnBackendDescriptorType_t type, const cudnnBackendAttributeName_t *names,
                  struct cg_tensor *const *tensors, int n, const char *what);

/* Finalizes the operation graph and takes the first engine config of the heuristics (mode A)
 * that makes an execution plan; false with g->err when none does. */
bool cg_build(struct cg *g);

/* Runs the plan on the handle's stream: the device pointers of uids[0..n) that the graph names
 * (others are passed over), the scalars, the workspace. */
cudnnStatus_t cg_execute(struct cg *g, const int64_t *uids, void *const *pointers, int n, void *workspace);

#endif
