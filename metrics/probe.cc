#include "metrics/probe.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/oneof.h"
#include "core/status_macros.h"

namespace replearn {

Registry<ProbeFactory>& ProbeRegistry() {
  static auto* registry = new Registry<ProbeFactory>("probe");
  return *registry;
}

absl::StatusOr<std::unique_ptr<Probe>> CreateProbe(const ProbeSpec& spec,
                                                   const ProbeBuildContext& ctx) {
  const std::string arm = SetOneofArm(spec);
  if (arm.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe: no probe kind set; expected one of [",
                     absl::StrJoin(OneofArms(ProbeSpec::descriptor()), ", "), "]"));
  }
  ASSIGN_OR_RETURN(const ProbeFactory* factory, ProbeRegistry().Find(arm));
  return (*factory)(spec, ctx);
}

}  // namespace replearn
