/* The TensorFlow Lite Micro model backend's return codes. The backend (kws_model_tflm.cpp) implements
 * kws_nano_model.h: the generated model (model_data.h) in a static arena of KWS_TENSOR_ARENA_SIZE bytes
 * (kws_settings.h), ops registered with the generated KWS_FOR_EACH_OP. */
#ifndef KWS_MODEL_TFLM_H
#define KWS_MODEL_TFLM_H

/* Return codes (kws_nano_model_init, and model_invoke, which the core reports as "model invoke failed, code N"). */
#define KWS_TFLM_OK 0
#define KWS_TFLM_ERR_NOT_READY 1 /* init failed or was not called */
#define KWS_TFLM_ERR_SCHEMA 2    /* the flatbuffer's schema version is not this TFLM's */
#define KWS_TFLM_ERR_OPS 3       /* registering the generated op list failed (more ops than KWS_OP_COUNT?) */
#define KWS_TFLM_ERR_ARENA 4     /* AllocateTensors failed: KWS_TENSOR_ARENA_SIZE is too small on this build */
#define KWS_TFLM_ERR_INPUT 5     /* the input tensor is not int8 KWS_MODEL_INPUT_SIZE with the frontend's quantization */
#define KWS_TFLM_ERR_OUTPUT 6    /* the output tensor is not int8 with KWS_NUM_LABELS scores */
#define KWS_TFLM_ERR_SIZE 7      /* model_invoke called with other sizes than the tensors' */
#define KWS_TFLM_ERR_INVOKE 8    /* Invoke() failed */

#endif /* KWS_MODEL_TFLM_H */
