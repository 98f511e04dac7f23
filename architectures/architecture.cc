#include "architectures/architecture.h"

#include "absl/strings/str_cat.h"
#include "core/oneof.h"
#include "core/status_macros.h"

namespace replearn {

Registry<ArchitectureFactory>& ArchitectureRegistry() {
  static auto* registry = new Registry<ArchitectureFactory>("architecture");
  return *registry;
}

absl::StatusOr<std::unique_ptr<Architecture>> CreateArchitecture(const ArchitectureSpec& spec,
                                                                 const BuildContext& ctx) {
  const std::string arm = SetOneofArm(spec);
  if (arm.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("architecture: no architecture set; expected one of [",
                     absl::StrJoin(OneofArms(ArchitectureSpec::descriptor()), ", "), "]"));
  }
  ASSIGN_OR_RETURN(const ArchitectureFactory* factory, ArchitectureRegistry().Find(arm));
  return (*factory)(spec, ctx);
}

}  // namespace replearn
