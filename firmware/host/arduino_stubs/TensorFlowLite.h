/* Host stand-in: the library's TensorFlowLite.h only makes the Arduino build compile the library. */
#ifndef KWS_STUB_TENSORFLOWLITE_H
#define KWS_STUB_TENSORFLOWLITE_H
#endif
