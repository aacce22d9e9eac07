/* libcudnn loaded at run time (dlopen), so longca and this plugin start where cuDNN is absent:
 * LONGCA_CUDNN_LIB if set, else the newest libcudnn.so.9 found in the system folders or in a
 * PyTorch install's nvidia/cudnn/lib. Only the functions the backend API needs. */
#ifndef LC_CUDNN_LIB_H
#define LC_CUDNN_LIB_H

#include <cudnn_graph.h>
#include <stdbool.h>
#include <stddef.h>

struct cudnn_lib {
    bool loaded;
    size_t version; /* cudnnGetVersion(): 91900 for 9.19.0 */
    char path[512];
    char describe[160]; /* "cuDNN 9.19.0 (/path/libcudnn.so.9)" or why it is missing */
    size_t (*get_version)(void);
    const char *(*get_error_string)(cudnnStatus_t);
    void (*get_last_error_string)(char *, size_t);
    cudnnStatus_t (*create)(cudnnHandle_t *);
    cudnnStatus_t (*destroy)(cudnnHandle_t);
    cudnnStatus_t (*set_stream)(cudnnHandle_t, cudaStream_t);
    cudnnStatus_t (*create_descriptor)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
    cudnnStatus_t (*destroy_descriptor)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*finalize)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*set_attribute)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t, cudnnBackendAttributeType_t,
                                   int64_t, const void *);
    cudnnStatus_t (*get_attribute)(cudnnBackendDescriptor_t const, cudnnBackendAttributeName_t,
                                   cudnnBackendAttributeType_t, int64_t, int64_t *, void *);
    cudnnStatus_t (*execute)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
};

/* The library, loaded on first use (once per process); ->loaded false with ->describe saying why. */
const struct cudnn_lib *cudnn_lib(void);

#endif
