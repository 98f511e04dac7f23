// A name -> factory registry for plugins (architectures, datasets, probes). Keys are the
// snake_case names of the spec's oneof arms. Plugins register at static-initialisation
// time from an alwayslink library:
//
//   REPLEARN_REGISTER(ArchitectureRegistry, "mlp", Mlp::Create);
//
// Lookups of unknown names fail with NotFoundError listing what is registered.
#ifndef REPLEARN_CORE_REGISTRY_H_
#define REPLEARN_CORE_REGISTRY_H_

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace replearn {

template <typename Factory>
class Registry {
 public:
  // kind: what the registry holds, for messages ("architecture").
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Returns true so it can initialise a static; a second factory under one name aborts at
  // start-up (two plugins claiming one spec arm is a build error, not a runtime choice).
  bool Register(absl::string_view name, Factory factory) {
    const auto [it, inserted] = factories_.emplace(std::string(name), std::move(factory));
    if (!inserted) {
      std::fprintf(stderr, "replearn: two %s plugins registered as \"%s\"\n", kind_.c_str(),
                   it->first.c_str());
      std::abort();
    }
    return true;
  }

  absl::StatusOr<const Factory*> Find(absl::string_view name) const {
    const auto it = factories_.find(std::string(name));
    if (it == factories_.end()) {
      return absl::NotFoundError(absl::StrCat("unknown ", kind_, " \"", name, "\"; registered: [",
                                              absl::StrJoin(Names(), ", "), "]"));
    }
    return &it->second;
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, factory] : factories_) names.push_back(name);
    return names;
  }

  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Factory> factories_;
};

}  // namespace replearn

#define REPLEARN_REGISTER_CONCAT_INNER_(a, b) a##b
#define REPLEARN_REGISTER_CONCAT_(a, b) REPLEARN_REGISTER_CONCAT_INNER_(a, b)
// registry_fn: a function returning the Registry& (a function-local static, so
// registration order across translation units does not matter).
#define REPLEARN_REGISTER(registry_fn, name, factory)                           \
  static const bool REPLEARN_REGISTER_CONCAT_(replearn_registered_, __LINE__) = \
      registry_fn().Register(name, factory)

#endif  // REPLEARN_CORE_REGISTRY_H_
