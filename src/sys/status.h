// Description: Status, the one error type: ok, an error, "not applicable"
// (a combination the kernel or the model does not support, with the reason),
// or "invalid" (bad input found only when acting on it, e.g. a --file that
// holds something else; the CLI exits 2 for it as for a bad flag).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace iomodels {

class Status {
 public:
  enum class Code { kOk, kError, kNotApplicable, kInvalid };

  Status() = default;
  static Status error(std::string message) { return Status(Code::kError, std::move(message)); }
  static Status not_applicable(std::string reason) {
    return Status(Code::kNotApplicable, std::move(reason));
  }
  static Status invalid(std::string message) { return Status(Code::kInvalid, std::move(message)); }
  // "what: strerror(-neg_errno)".
  static Status from_errno(long neg_errno, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  bool not_applicable() const { return code_ == Code::kNotApplicable; }
  bool invalid() const { return code_ == Code::kInvalid; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// strerror for a negative errno, thread-safe.
std::string errno_text(long neg_errno);

}  // namespace iomodels
