// gMock matchers for absl::Status and absl::StatusOr<T> (tests only).
//
//   EXPECT_THAT(LoadExperiment("x"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("x")));
//   EXPECT_THAT(Half(3), StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(Half(4), IsOk());
//
// StatusIs(code, message_matcher) matches a Status, or the status() of a StatusOr, whose
// code equals `code` and whose message matches `message_matcher` (any message when it is
// left out). The failure text shows the actual code and message.
#ifndef REPLEARN_CORE_STATUS_MATCHERS_H_
#define REPLEARN_CORE_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace replearn {
namespace status_matchers_internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

class StatusIsMatcher {
 public:
  using is_gtest_matcher = void;

  StatusIsMatcher(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusLike>
  bool MatchAndExplain(const StatusLike& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    *listener << "whose status is " << status;
    if (status.code() != code_) return false;
    return message_.MatchAndExplain(std::string(status.message()), listener);
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_) << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace status_matchers_internal

inline status_matchers_internal::StatusIsMatcher StatusIs(
    absl::StatusCode code,
    ::testing::Matcher<const std::string&> message = ::testing::A<const std::string&>()) {
  return status_matchers_internal::StatusIsMatcher(code, std::move(message));
}

inline status_matchers_internal::StatusIsMatcher IsOk() { return StatusIs(absl::StatusCode::kOk); }

}  // namespace replearn

#endif  // REPLEARN_CORE_STATUS_MATCHERS_H_
