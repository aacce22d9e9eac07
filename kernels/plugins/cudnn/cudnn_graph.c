/* The graph builder over cuDNN's backend descriptors (see cudnn_graph.h). */
#include "cudnn_graph.h"

#include <stdio.h>
#include <string.h>

/* The operation graph's and the plan's handle attributes: marked deprecated in the 9.19 headers
 * (a device-properties descriptor can stand in), yet what 9.14 needs; set by number. */
#define ATTR_GRAPH_HANDLE ((cudnnBackendAttributeName_t)800)
#define ATTR_PLAN_HANDLE ((cudnnBackendAttributeName_t)400)

static void fail(struct cg *g, cudnnStatus_t st, const char *what)
{
    if (g->failed) return;
    g->failed = true;
    char last[160] = "";
    if (g->lib->get_last_error_string) g->lib->get_last_error_string(last, sizeof last);
    snprintf(g->err, sizeof g->err, "%s: %s%s%.150s", what, g->lib->get_error_string(st), last[0] ? ": " : "", last);
}

static bool ok(struct cg *g, cudnnStatus_t st, const char *what)
{
    if (st != CUDNN_STATUS_SUCCESS) fail(g, st, what);
    return !g->failed;
}

static cudnnBackendDescriptor_t create(struct cg *g, cudnnBackendDescriptorType_t type, const char *what)
{
    if (g->failed) return NULL;
    if (g->n_descs == CG_MAX_DESCRIPTORS) {
        fail(g, CUDNN_STATUS_INTERNAL_ERROR, "graph too large");
        return NULL;
    }
    cudnnBackendDescriptor_t d = NULL;
    if (!ok(g, g->lib->create_descriptor(type, &d), what)) return NULL;
    g->descs[g->n_descs++] = d;
    return d;
}

static void set(struct cg *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendAttributeType_t type, int64_t count, const void *value, const char *what)
{
    if (!g->failed) ok(g, g->lib->set_attribute(d, name, type, count, value), what);
}

static void set_desc(struct cg *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                     const struct cg_tensor *t, const char *what)
{
    if (t) set(g, d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t->desc, what);
}

static void finalize(struct cg *g, cudnnBackendDescriptor_t d, const char *what)
{
    if (!g->failed) ok(g, g->lib->finalize(d), what);
}

static void add_op(struct cg *g, cudnnBackendDescriptor_t op, const char *what)
{
    finalize(g, op, what);
    if (g->failed) return;
    if (g->n_ops == CG_MAX_OPS) fail(g, CUDNN_STATUS_INTERNAL_ERROR, "too many operations");
    else g->ops[g->n_ops++] = op;
}

void cg_init(struct cg *g, const struct cudnn_lib *lib, cudnnHandle_t handle)
{
    memset(g, 0, sizeof *g);
    g->lib = lib;
    g->handle = handle;
    g->next_virtual_uid = 1000;
}

void cg_destroy(struct cg *g)
{
    for (int i = g->n_descs - 1; i >= 0; i--) g->lib->destroy_descriptor(g->descs[i]);
    g->n_descs = 0;
}

static struct cg_tensor *tensor(struct cg *g, int64_t uid, bool is_virtual, bool by_value, const int64_t dims[4],
                                const int64_t strides[4], cudnnDataType_t type, const struct cg_tensor *ragged)
{
    cudnnBackendDescriptor_t d = create(g, CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor");
    if (g->failed) return NULL;
    const int64_t alignment = 16;
    set(g, d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, "tensor type");
    set(g, d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, "tensor dims");
    set(g, d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides, "tensor strides");
    set(g, d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor uid");
    set(g, d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, "tensor alignment");
    if (is_virtual) set(g, d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, "virtual");
    if (by_value) set(g, d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "by value");
    if (ragged) set_desc(g, d, CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, ragged, "ragged offsets");
    finalize(g, d, "tensor");
    if (g->failed) return NULL;
    struct cg_tensor *t = &g->tensors[g->n_tensors++];
    *t = (struct cg_tensor){.desc = d, .uid = uid, .type = type};
    memcpy(t->dims, dims, sizeof t->dims);
    memcpy(t->strides, strides, sizeof t->strides);
    return t;
}

struct cg_tensor *cg_tensor(struct cg *g, int64_t uid, const int64_t dims[4], const int64_t strides[4],
                            cudnnDataType_t type, const struct cg_tensor *ragged)
{
    bool is_virtual = uid == 0;
    if (!is_virtual) {
        bool known = false;
        for (int i = 0; i < g->n_device && !known; i++) known = g->device_uid[i] == uid;
        if (!known && g->n_device < CG_MAX_BOUND) g->device_uid[g->n_device++] = uid;
    }
    return tensor(g, is_virtual ? g->next_virtual_uid++ : uid, is_virtual, false, dims, strides, type, ragged);
}

struct cg_tensor *cg_like(struct cg *g, const struct cg_tensor *x, cudnnDataType_t type)
{
    if (g->failed || !x) return NULL;
    return cg_tensor(g, 0, x->dims, x->strides, type, NULL);
}

static struct cg_tensor *scalar(struct cg *g, cudnnDataType_t type, float f, int32_t i)
{
    if (g->failed) return NULL;
    if (g->n_scalars == CG_MAX_BOUND) {
        fail(g, CUDNN_STATUS_INTERNAL_ERROR, "too many scalars");
        return NULL;
    }
    static const int64_t one[4] = {1, 1, 1, 1};
    int64_t uid = g->next_virtual_uid++;
    struct cg_tensor *t = tensor(g, uid, false, true, one, one, type, NULL);
    if (!t) return NULL;
    g->scalar_uid[g->n_scalars] = uid;
    if (type == CUDNN_DATA_FLOAT) g->scalar[g->n_scalars].f = f;
    else g->scalar[g->n_scalars].i = i;
    g->n_scalars++;
    return t;
}

struct cg_tensor *cg_float(struct cg *g, float value) { return scalar(g, CUDNN_DATA_FLOAT, value, 0); }
struct cg_tensor *cg_int(struct cg *g, int32_t value) { return scalar(g, CUDNN_DATA_INT32, 0, value); }

struct cg_tensor *cg_pointwise(struct cg *g, cudnnPointwiseMode_t mode, const struct cg_tensor *x,
                               const struct cg_tensor *b, const struct cg_tensor *t, struct cg_tensor *y,
                               cudnnDataType_t out_type, cudnnDataType_t compute, int axis)
{
    if (g->failed) return NULL;
    if (!y) y = cg_like(g, x, out_type);
    cudnnBackendDescriptor_t pw = create(g, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
    set(g, pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode");
    set(g, pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &compute, "pointwise precision");
    if (axis >= 0) {
        int64_t a = axis;
        set(g, pw, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &a, "pointwise axis");
    }
    finalize(g, pw, "pointwise descriptor");
    cudnnBackendDescriptor_t op = create(g, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise op");
    set(g, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw, "pointwise");
    set_desc(g, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, "pointwise x");
    set_desc(g, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, "pointwise b");
    set_desc(g, op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t, "pointwise t");
    set_desc(g, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, "pointwise y");
    add_op(g, op, "pointwise op");
    return g->failed ? NULL : y;
}

void cg_matmul(struct cg *g, const struct cg_tensor *a, const struct cg_tensor *b, const struct cg_tensor *c,
               const struct cg_tensor *m_override, const struct cg_tensor *n_override,
               const struct cg_tensor *k_override, bool padding)
{
    cudnnBackendDescriptor_t mm = create(g, CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    set(g, mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "matmul precision");
    if (padding) {
        double zero = 0.0;
        set(g, mm, CUDNN_ATTR_MATMUL_PADDING_VALUE, CUDNN_TYPE_DOUBLE, 1, &zero, "matmul padding");
    }
    finalize(g, mm, "matmul descriptor");
    cudnnBackendDescriptor_t op = create(g, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul op");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, "matmul a");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, "matmul b");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, "matmul c");
    set(g, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &mm, "matmul");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC, m_override, "matmul m");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC, n_override, "matmul n");
    set_desc(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC, k_override, "matmul k");
    add_op(g, op, "matmul op");
}

void cg_reduction(struct cg *g, cudnnReduceTensorOp_t reduce, const struct cg_tensor *x, const struct cg_tensor *y)
{
    cudnnBackendDescriptor_t r = create(g, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    set(g, r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &reduce, "reduction op");
    set(g, r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "reduction precision");
    finalize(g, r, "reduction descriptor");
    cudnnBackendDescriptor_t op = create(g, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction op");
    set_desc(g, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, "reduction x");
    set_desc(g, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, "reduction y");
    set(g, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &r, "reduction");
    add_op(g, op, "reduction op");
}

void cg_reshape(struct cg *g, const struct cg_tensor *x, const struct cg_tensor *y)
{
    cudnnBackendDescriptor_t op = create(g, CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, "reshape op");
    set_desc(g, op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x, "reshape x");
    set_desc(g, op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y, "reshape y");
    add_op(g, op, "reshape op");
}

void cg_operation(struct cg *g, cudnnBackendDescriptorType_t type, const cudnnBackendAttributeName_t *names,
                  struct cg_tensor *const *tensors, int n, const char *what)
{
    cudnnBackendDescriptor_t op = create(g, type, what);
    for (int i = 0; i < n; i++) set_desc(g, op, names[i], tensors[i], what);
    add_op(g, op, what);
}

bool cg_build(struct cg *g)
{
    cudnnBackendDescriptor_t graph = create(g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
    set(g, graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, g->n_ops, g->ops, "graph ops");
    set(g, graph, ATTR_GRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &g->handle, "graph handle");
    finalize(g, graph, "operation graph");
    cudnnBackendDescriptor_t heur = create(g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "heuristics");
    cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    set(g, heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, "heuristics graph");
    set(g, heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics mode");
    finalize(g, heur, "heuristics (no engine for this graph)");
    int64_t count = 0;
    if (!g->failed) ok(g, g->lib->get_attribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                                &count, NULL),
                       "heuristics results");
    if (g->failed) return false;
    if (count > 8) count = 8;
    cudnnBackendDescriptor_t cfgs[8];
    for (int64_t i = 0; i < count; i++) cfgs[i] = create(g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine config");
    int64_t got = 0;
    if (!g->failed)
        ok(g, g->lib->get_attribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got,
                                    cfgs),
           "heuristics results");
    char first_err[256] = "no engine config";
    for (int64_t i = 0; i < got && !g->failed; i++) {
        cudnnBackendDescriptor_t plan = create(g, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
        set(g, plan, ATTR_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &g->handle, "plan handle");
        set(g, plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i], "plan config");
        if (g->failed) return false;
        cudnnStatus_t st = g->lib->finalize(plan);
        if (st == CUDNN_STATUS_SUCCESS) {
            g->plan = plan;
            int64_t n = 0;
            return ok(g, g->lib->get_attribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                               &g->workspace_bytes),
                      "plan workspace");
        }
        if (i == 0) {
            fail(g, st, "execution plan");
            snprintf(first_err, sizeof first_err, "%s", g->err);
            g->failed = false; /* try the next config */
        }
    }
    if (!g->failed) {
        g->failed = true;
        snprintf(g->err, sizeof g->err, "no engine config of %lld makes a plan (%.200s)", (long long)got, first_err);
    }
    return false;
}

cudnnStatus_t cg_execute(struct cg *g, const int64_t *uids, void *const *pointers, int n, void *workspace)
{
    int64_t all_uids[2 * CG_MAX_BOUND];
    void *all_ptrs[2 * CG_MAX_BOUND];
    if (n + g->n_scalars > 2 * CG_MAX_BOUND) return CUDNN_STATUS_BAD_PARAM;
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->n_device; j++)
            if (g->device_uid[j] == uids[i]) {
                all_uids[k] = uids[i], all_ptrs[k++] = pointers[i];
                break;
            }
    for (int i = 0; i < g->n_scalars; i++) all_uids[k] = g->scalar_uid[i], all_ptrs[k++] = &g->scalar[i];
    const struct cudnn_lib *lib = g->lib;
    cudnnBackendDescriptor_t pack = NULL;
    cudnnStatus_t st = lib->create_descriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    if (st == CUDNN_STATUS_SUCCESS)
        st = lib->set_attribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, k, all_uids);
    if (st == CUDNN_STATUS_SUCCESS)
        st = lib->set_attribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, k, all_ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
        st = lib->set_attribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    if (st == CUDNN_STATUS_SUCCESS) st = lib->finalize(pack);
    if (st == CUDNN_STATUS_SUCCESS) st = lib->execute(g->handle, g->plan, pack);
    if (pack) lib->destroy_descriptor(pack);
    return st;
}
