#include "experiments/loader.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "architectures/architecture.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "datasets/dataset.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "metrics/probe.h"

namespace replearn {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// "registered architectures: [mlp]" for the plugin oneof messages, "" otherwise.
std::string RegisteredPlugins(const Descriptor* type) {
  if (type == ArchitectureSpec::descriptor()) {
    return absl::StrCat("registered architectures: [",
                        absl::StrJoin(ArchitectureRegistry().Names(), ", "), "]");
  }
  if (type == DatasetSpec::descriptor()) {
    return absl::StrCat("registered datasets: [", absl::StrJoin(DatasetRegistry().Names(), ", "),
                        "]");
  }
  if (type == ProbeSpec::descriptor()) {
    return absl::StrCat("registered probes: [", absl::StrJoin(ProbeRegistry().Names(), ", "), "]");
  }
  return "";
}

// An extension of `type` (a plugin's options declared outside experiment.proto) whose
// field name is `name`, or nullptr.
const FieldDescriptor* FindExtensionByShortName(const Descriptor* type, const std::string& name) {
  if (type->extension_range_count() == 0) return nullptr;
  std::vector<const FieldDescriptor*> extensions;
  type->file()->pool()->FindAllExtensions(type, &extensions);
  for (const FieldDescriptor* e : extensions) {
    if (e->name() == name) return e;
  }
  return nullptr;
}

std::string FieldNames(const Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
  return absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(absl::string_view source) : source_(source) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    std::string text = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
    for (const Descriptor* type :
         {ArchitectureSpec::descriptor(), DatasetSpec::descriptor(), ProbeSpec::descriptor()}) {
      if (message.find(absl::StrCat("\"", type->full_name(), "\" has no field named")) !=
          std::string::npos) {
        absl::StrAppend(&text, " (", RegisteredPlugins(type), ")");
      }
    }
    errors_.push_back(std::move(text));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {}
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

absl::Status PathError(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": ", problem));
}

absl::Status SetScalar(Message& msg, const FieldDescriptor* field, absl::string_view value,
                       absl::string_view path) {
  const Reflection* r = msg.GetReflection();
  const bool rep = field->is_repeated();
  auto bad = [&](absl::string_view expected) {
    return PathError(path, absl::StrCat("value \"", value, "\" is not ", expected));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a 32-bit integer");
      rep ? r->AddInt32(&msg, field, v) : r->SetInt32(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("an integer");
      rep ? r->AddInt64(&msg, field, v) : r->SetInt64(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a non-negative 32-bit integer");
      rep ? r->AddUInt32(&msg, field, v) : r->SetUInt32(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a non-negative integer");
      rep ? r->AddUInt64(&msg, field, v) : r->SetUInt64(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(value, &v)) return bad("a number");
      rep ? r->AddDouble(&msg, field, v) : r->SetDouble(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(value, &v)) return bad("a number");
      rep ? r->AddFloat(&msg, field, v) : r->SetFloat(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (!absl::SimpleAtob(value, &v)) return bad("a boolean (true/false)");
      rep ? r->AddBool(&msg, field, v) : r->SetBool(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v(value);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      rep ? r->AddString(&msg, field, v) : r->SetString(&msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* ev =
          field->enum_type()->FindValueByName(absl::AsciiStrToUpper(value));
      if (ev == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < field->enum_type()->value_count(); ++i) {
          names.push_back(field->enum_type()->value(i)->name());
        }
        return bad(absl::StrCat("one of [", absl::StrJoin(names, ", "), "]"));
      }
      rep ? r->AddEnum(&msg, field, ev) : r->SetEnum(&msg, field, ev);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return PathError(path, "is a message; set one of its fields");
  }
  return absl::OkStatus();
}

// Every string field of `msg` (recursively) that is not valid UTF-8, as
// "<path> is not valid UTF-8 (byte <offset>)". Names and values reach JSON and CSV outputs,
// which must be valid UTF-8.
void CollectNonUtf8(const Message& msg, const std::string& prefix,
                    std::vector<std::string>& problems) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string name = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    const int count = f->is_repeated() ? r->FieldSize(msg, f) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string where = f->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        CollectNonUtf8(f->is_repeated() ? r->GetRepeatedMessage(msg, f, i) : r->GetMessage(msg, f),
                       where, problems);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        const std::string v =
            f->is_repeated() ? r->GetRepeatedString(msg, f, i) : r->GetString(msg, f);
        size_t at = 0;
        if (!IsValidUtf8(v, &at)) {
          problems.push_back(absl::StrCat(where, " is not valid UTF-8 (byte ", at,
                                          "); names, paths and values must be UTF-8 text"));
        }
      }
    }
  }
}

absl::Status CheckUtf8(const Experiment& experiment, absl::string_view source) {
  std::vector<std::string> problems;
  CollectNonUtf8(experiment, "", problems);
  if (problems.empty()) return absl::OkStatus();
  for (std::string& p : problems) p = absl::StrCat(source, ": ", p);
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace

absl::StatusOr<Experiment> ParseExperiment(absl::string_view text, absl::string_view source) {
  Experiment experiment;
  Collector collector(source);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(std::string(text), &experiment)) {
    if (collector.errors().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": cannot parse the spec"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(collector.errors(), "\n"));
  }
  RETURN_IF_ERROR(CheckUtf8(experiment, source));
  return experiment;
}

absl::StatusOr<Experiment> LoadExperiment(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseExperiment(text, path);
}

absl::Status ApplyOverride(Experiment& experiment, absl::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", assignment, ": expected path=value, e.g. training.steps=100"));
  }
  const absl::string_view path = absl::StripAsciiWhitespace(assignment.substr(0, eq));
  const absl::string_view value = absl::StripAsciiWhitespace(assignment.substr(eq + 1));
  const std::vector<std::string> segments = absl::StrSplit(path, '.');
  Message* msg = &experiment;
  std::string walked;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    const Descriptor* type = msg->GetDescriptor();
    const Reflection* r = msg->GetReflection();
    const FieldDescriptor* field = type->FindFieldByName(seg);
    if (field == nullptr) field = FindExtensionByShortName(type, seg);
    if (field == nullptr) {
      std::string hint =
          absl::StrCat("fields of ", walked.empty() ? "the spec" : walked, ": ", FieldNames(type));
      const std::string plugins = RegisteredPlugins(type);
      if (!plugins.empty()) absl::StrAppend(&hint, "; ", plugins);
      return PathError(path, absl::StrCat("no field \"", seg, "\" (", hint, ")"));
    }
    if (const auto* oneof = field->containing_oneof()) {
      const FieldDescriptor* set = r->GetOneofFieldDescriptor(*msg, oneof);
      if (set != nullptr && set != field) {
        const std::string prefix = walked.empty() ? "" : absl::StrCat(walked, ".");
        return PathError(path, absl::StrCat("the spec uses ", prefix, set->name(), ", not ", prefix,
                                            seg, "; edit the spec to switch"));
      }
    }
    walked = walked.empty() ? seg : absl::StrCat(walked, ".", seg);
    const bool last = i + 1 == segments.size();
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!last) return PathError(path, absl::StrCat(walked, " is a value, not a message"));
      if (!field->is_repeated()) return SetScalar(*msg, field, value, path);
      absl::string_view list = value;
      if (absl::ConsumePrefix(&list, "[") != absl::ConsumeSuffix(&list, "]")) {
        return PathError(path, absl::StrCat("unbalanced brackets in \"", value, "\""));
      }
      r->ClearField(msg, field);
      if (absl::StripAsciiWhitespace(list).empty()) return absl::OkStatus();  // "[]"
      int position = 0;
      for (absl::string_view item : absl::StrSplit(list, ',')) {
        item = absl::StripAsciiWhitespace(item);
        if (item.empty()) {
          return PathError(path, absl::StrCat("empty item ", position, " in \"", value,
                                              "\"; expected a comma-separated list"));
        }
        RETURN_IF_ERROR(SetScalar(*msg, field, item, path));
        ++position;
      }
      return absl::OkStatus();
    }
    if (last) {
      return PathError(path, absl::StrCat(walked, " is a message; set one of its fields ",
                                          FieldNames(field->message_type())));
    }
    if (!field->is_repeated()) {
      msg = r->MutableMessage(msg, field);
      continue;
    }
    const int size = r->FieldSize(*msg, field);
    int index;
    if (absl::SimpleAtoi(segments[i + 1], &index)) {
      if (index < 0 || index >= size) {
        return PathError(path, absl::StrCat(walked, " has ", size, " entries; index ", index,
                                            " is out of range"));
      }
      ++i;
      walked = absl::StrCat(walked, ".", index);
    } else if (size == 1) {
      index = 0;
    } else {
      return PathError(path, absl::StrCat(walked, " has ", size,
                                          " entries; name one by index, e.g. ", walked, ".0"));
    }
    if (i + 1 == segments.size()) {
      return PathError(path, absl::StrCat(walked, " is a message; set one of its fields"));
    }
    msg = r->MutableRepeatedMessage(msg, field, index);
  }
  return absl::OkStatus();
}

absl::Status ApplyOverrides(Experiment& experiment, const std::vector<std::string>& assignments) {
  std::vector<std::string> problems;
  for (const std::string& a : assignments) {
    const absl::Status status = ApplyOverride(experiment, a);
    if (!status.ok()) problems.emplace_back(status.message());
  }
  if (problems.empty()) return CheckUtf8(experiment, "--set");
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

std::string ExperimentToText(const Experiment& experiment) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.PrintToString(experiment, &text);
  return text;
}

}  // namespace replearn
