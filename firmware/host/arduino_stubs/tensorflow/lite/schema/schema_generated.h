/* Host stand-in: tflite::GetModel and Model::version(). */
#ifndef KWS_STUB_SCHEMA_GENERATED_H
#define KWS_STUB_SCHEMA_GENERATED_H

#include <stdint.h>

namespace tflite {

struct Model {
    const void *buffer;
    uint32_t version() const { return 3; }
};

const Model *GetModel(const void *buf);

}  // namespace tflite

#endif
