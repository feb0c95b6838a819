/* The ONNX graph builder (see onnx_graph.h): protobuf-c structs from one arena. */
#include "onnx_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(onnx_graph *b, const char *why) {
    if (!b->failed) snprintf(b->why, sizeof b->why, "%s", why);
    b->failed = 1;
}

void onnx_graph_init(onnx_graph *b, const char *name) {
    memset(b, 0, sizeof *b);
    onnx__graph_proto__init(&b->graph);
    b->graph.node = b->nodes;
    b->graph.initializer = b->inits;
    b->graph.input = b->inputs;
    b->graph.output = b->outputs;
    b->graph.name = onnx_graph_strdup(b, name);
}

void onnx_graph_free(onnx_graph *b) {
    for (size_t i = 0; i < b->n_arena; i++) free(b->arena[i]);
    free(b->arena);
    memset(b, 0, sizeof *b);
}

void *onnx_graph_alloc(onnx_graph *b, size_t bytes) {
    if (b->n_arena == b->cap_arena) {
        const size_t cap = b->cap_arena ? 2 * b->cap_arena : 256;
        void **a = realloc(b->arena, cap * sizeof *a);
        if (!a) return fail(b, "out of memory"), NULL;
        b->arena = a;
        b->cap_arena = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return fail(b, "out of memory"), NULL;
    return b->arena[b->n_arena++] = p;
}

char *onnx_graph_strdup(onnx_graph *b, const char *s) {
    char *p = onnx_graph_alloc(b, strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

/* An initializer of n elements with shape dims; the caller fills its data. */
static Onnx__TensorProto *new_init(onnx_graph *b, const char *name, int type, int ndim, const int64_t *dims,
                                   size_t *n) {
    if (b->graph.n_initializer == ONNX_GRAPH_MAX_INITS) return fail(b, "too many initializers"), NULL;
    Onnx__TensorProto *t = onnx_graph_alloc(b, sizeof *t);
    int64_t *d = onnx_graph_alloc(b, (size_t)(ndim ? ndim : 1) * sizeof *d);
    if (!t || !d) return NULL;
    onnx__tensor_proto__init(t);
    *n = 1;
    for (int i = 0; i < ndim; i++) d[i] = dims[i], *n *= (size_t)dims[i];
    t->name = onnx_graph_strdup(b, name);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    b->inits[b->graph.n_initializer++] = t;
    return t;
}

const char *onnx_graph_f32(onnx_graph *b, const char *name, const float *data, int ndim, const int64_t *dims) {
    size_t n;
    Onnx__TensorProto *t = new_init(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims, &n);
    float *v = t ? onnx_graph_alloc(b, n * sizeof *v) : NULL;
    if (!v) return name;
    memcpy(v, data, n * sizeof *v);
    t->n_float_data = n;
    t->float_data = v;
    return t->name;
}

const char *onnx_graph_i64(onnx_graph *b, const char *name, const int64_t *data, int ndim, const int64_t *dims) {
    size_t n;
    Onnx__TensorProto *t = new_init(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, ndim, dims, &n);
    int64_t *v = t ? onnx_graph_alloc(b, n * sizeof *v) : NULL;
    if (!v) return name;
    memcpy(v, data, n * sizeof *v);
    t->n_int64_data = n;
    t->int64_data = v;
    return t->name;
}

static Onnx__NodeProto *new_node(onnx_graph *b, const char *op, int nin, va_list ap, int nout) {
    if (b->graph.n_node == ONNX_GRAPH_MAX_NODES) return fail(b, "too many nodes"), NULL;
    Onnx__NodeProto *n = onnx_graph_alloc(b, sizeof *n);
    char **in = onnx_graph_alloc(b, (size_t)(nin ? nin : 1) * sizeof *in);
    char **out = onnx_graph_alloc(b, (size_t)nout * sizeof *out);
    /* attributes: the most any op here takes (Conv / MaxPool: kernel_shape, pads, strides) */
    Onnx__AttributeProto **attrs = onnx_graph_alloc(b, 8 * sizeof *attrs);
    if (!n || !in || !out || !attrs) return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++) in[i] = onnx_graph_strdup(b, va_arg(ap, const char *));
    char nm[32];
    snprintf(nm, sizeof nm, "%s_%zu", op, b->graph.n_node);
    n->name = onnx_graph_strdup(b, nm);
    n->op_type = onnx_graph_strdup(b, op);
    n->n_input = (size_t)nin;
    n->input = in;
    n->n_output = (size_t)nout;
    n->output = out;
    n->attribute = attrs;
    b->nodes[b->graph.n_node++] = n;
    return b->last = n;
}

const char *onnx_graph_op(onnx_graph *b, const char *op, const char *out, int nin, ...) {
    va_list ap;
    va_start(ap, nin);
    Onnx__NodeProto *n = new_node(b, op, nin, ap, 1);
    va_end(ap);
    if (!n) return out;
    return n->output[0] = onnx_graph_strdup(b, out);
}

void onnx_graph_op2(onnx_graph *b, const char *op, const char *out0, const char *out1, int nin, ...) {
    va_list ap;
    va_start(ap, nin);
    Onnx__NodeProto *n = new_node(b, op, nin, ap, 2);
    va_end(ap);
    if (!n) return;
    n->output[0] = onnx_graph_strdup(b, out0);
    n->output[1] = onnx_graph_strdup(b, out1);
}

static Onnx__AttributeProto *new_attr(onnx_graph *b, const char *name, Onnx__AttributeProto__AttributeType type) {
    if (!b->last) return fail(b, "attribute without a node"), NULL;
    if (b->last->n_attribute == 8) return fail(b, "too many attributes"), NULL;
    Onnx__AttributeProto *a = onnx_graph_alloc(b, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = onnx_graph_strdup(b, name);
    a->has_type = 1;
    a->type = type;
    b->last->attribute[b->last->n_attribute++] = a;
    return a;
}

void onnx_graph_attr_int(onnx_graph *b, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

void onnx_graph_attr_float(onnx_graph *b, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}

void onnx_graph_attr_ints(onnx_graph *b, const char *name, const int64_t *v, int n) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = a ? onnx_graph_alloc(b, (size_t)n * sizeof *c) : NULL;
    if (!c) return;
    memcpy(c, v, (size_t)n * sizeof *c);
    a->n_ints = (size_t)n;
    a->ints = c;
}

void onnx_graph_io(onnx_graph *b, int output, const char *name, int ndim, const int64_t *dims, const char *dim_param) {
    Onnx__ValueInfoProto *vi = onnx_graph_alloc(b, sizeof *vi);
    Onnx__TypeProto *tp = onnx_graph_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = onnx_graph_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = onnx_graph_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dv = onnx_graph_alloc(b, (size_t)ndim * sizeof *dv);
    if (!vi || !tp || !tt || !sh || !dv) return;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = onnx_graph_alloc(b, sizeof *d);
        if (!d) return;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = onnx_graph_strdup(b, dim_param);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dv[i] = d;
    }
    sh->n_dim = (size_t)ndim;
    sh->dim = dv;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = onnx_graph_strdup(b, name);
    vi->type = tp;
    if (output) b->outputs[0] = vi, b->graph.n_output = 1;
    else b->inputs[0] = vi, b->graph.n_input = 1;
}
