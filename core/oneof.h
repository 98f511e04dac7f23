// Protobuf reflection helpers for the plugin oneofs (ArchitectureSpec.kind etc.).
#ifndef REPLEARN_CORE_ONEOF_H_
#define REPLEARN_CORE_ONEOF_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace replearn {

// Name of the set arm of oneof `oneof_name` in `message`; else the name of a set
// message-typed extension field (how plugins outside experiment.proto add their options,
// e.g. ArchitectureSpec's `extensions 1000 to max`); else "".
inline std::string SetOneofArm(const google::protobuf::Message& message,
                               const std::string& oneof_name = "kind") {
  const auto* oneof = message.GetDescriptor()->FindOneofByName(oneof_name);
  if (oneof != nullptr) {
    const auto* field = message.GetReflection()->GetOneofFieldDescriptor(message, oneof);
    if (field != nullptr) return field->name();
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->is_extension() &&
        field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      return field->name();
    }
  }
  return "";
}

// Every arm name of oneof `oneof_name` of a message type.
inline std::vector<std::string> OneofArms(const google::protobuf::Descriptor* descriptor,
                                          const std::string& oneof_name = "kind") {
  std::vector<std::string> names;
  const auto* oneof = descriptor->FindOneofByName(oneof_name);
  if (oneof == nullptr) return names;
  for (int i = 0; i < oneof->field_count(); ++i) names.push_back(oneof->field(i)->name());
  return names;
}

}  // namespace replearn

#endif  // REPLEARN_CORE_ONEOF_H_
