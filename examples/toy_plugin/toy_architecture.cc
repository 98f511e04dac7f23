// An example architecture plugin that lives outside architectures/ and touches nothing
// else in the tree: its options extend ArchitectureSpec (toy.proto), and this file
// registers the factory. Plain loops, no oneDNN: a plugin only has to implement the
// Architecture interface. Selected in a spec with
//   architecture { [toy.toy] { width: 16 scale: 1.0 } }
// and overridden with --set=architecture.toy.width=8.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "architectures/architecture.h"
#include "core/rng.h"
#include "examples/toy_plugin/toy.pb.h"

namespace toy {
namespace {

using replearn::Architecture;
using replearn::ArchitectureSpec;
using replearn::BuildContext;
using replearn::Optimizer;
using replearn::Parameter;
using replearn::Tap;

class Toy final : public Architecture {
 public:
  static absl::StatusOr<std::unique_ptr<Architecture>> Create(const ArchitectureSpec& spec,
                                                              const BuildContext& ctx) {
    const ToySpec& o = spec.GetExtension(toy);
    std::vector<std::string> problems;
    if (o.width() < 1)
      problems.push_back(absl::StrCat("architecture.toy.width = ", o.width(), "; must be >= 1"));
    if (!(o.scale() > 0))
      problems.push_back(absl::StrCat("architecture.toy.scale = ", o.scale(), "; must be > 0"));
    if (!(o.init_std() > 0)) {
      problems.push_back(
          absl::StrCat("architecture.toy.init_std = ", o.init_std(), "; must be > 0"));
    }
    if (ctx.input_dim < 1 || ctx.output_dim < 1)
      problems.push_back("architecture.toy: the dataset has no inputs or outputs");
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, ". "));
    return std::unique_ptr<Architecture>(new Toy(ctx.input_dim, o.width(), ctx.output_dim,
                                                 static_cast<float>(o.scale()), o.init_std(),
                                                 ctx.seed));
  }

  int input_dim() const override { return in_; }
  int output_dim() const override { return out_; }
  int num_hidden() const override { return 1; }

  absl::Status Forward(const float* x, int batch, bool /*train*/) override {
    if (batch < 1) return absl::InvalidArgumentError("toy Forward: batch must be >= 1");
    batch_ = batch;
    x_.assign(x, x + batch * in_);
    t_.resize(batch * width_);
    h_.resize(batch * width_);
    y_.resize(batch * out_);
    for (int b = 0; b < batch; ++b) {
      for (int j = 0; j < width_; ++j) {
        float z = b0_[j];
        for (int i = 0; i < in_; ++i) z += w0_[j * in_ + i] * x[b * in_ + i];
        t_[b * width_ + j] = std::tanh(z);
        h_[b * width_ + j] = scale_ * t_[b * width_ + j];
      }
      for (int k = 0; k < out_; ++k) {
        float y = b1_[k];
        for (int j = 0; j < width_; ++j) y += w1_[k * width_ + j] * h_[b * width_ + j];
        y_[b * out_ + k] = y;
      }
    }
    return absl::OkStatus();
  }

  const float* output() const override { return y_.data(); }
  Tap hidden(int /*layer*/) const override { return Tap{"hidden_0", width_, h_.data()}; }

  absl::Status Backward(const float* d_output, Optimizer& optimizer) override {
    if (batch_ == 0) return absl::FailedPreconditionError("toy Backward: no Forward");
    std::vector<float> dw0(w0_.size(), 0.0f), db0(width_, 0.0f), dw1(w1_.size(), 0.0f),
        db1(out_, 0.0f);
    for (int b = 0; b < batch_; ++b) {
      for (int k = 0; k < out_; ++k) {
        const float g = d_output[b * out_ + k];
        db1[k] += g;
        for (int j = 0; j < width_; ++j) dw1[k * width_ + j] += g * h_[b * width_ + j];
      }
      for (int j = 0; j < width_; ++j) {
        float dh = 0.0f;
        for (int k = 0; k < out_; ++k) dh += d_output[b * out_ + k] * w1_[k * width_ + j];
        const float t = t_[b * width_ + j];
        const float dz = dh * scale_ * (1.0f - t * t);
        db0[j] += dz;
        for (int i = 0; i < in_; ++i) dw0[j * in_ + i] += dz * x_[b * in_ + i];
      }
    }
    optimizer.Apply(0, w0_.data(), dw0.data(), dw0.size());
    optimizer.Apply(1, b0_.data(), db0.data(), db0.size());
    optimizer.Apply(2, w1_.data(), dw1.data(), dw1.size());
    optimizer.Apply(3, b1_.data(), db1.data(), db1.size());
    batch_ = 0;
    return absl::OkStatus();
  }

  std::vector<Parameter> parameters() override {
    return {{"W0", {width_, in_}, w0_.data()},
            {"b0", {width_}, b0_.data()},
            {"W1", {out_, width_}, w1_.data()},
            {"b1", {out_}, b1_.data()}};
  }

 private:
  Toy(int in, int width, int out, float scale, double init_std, uint64_t seed)
      : in_(in),
        width_(width),
        out_(out),
        scale_(scale),
        w0_(width * in),
        b0_(width, 0.0f),
        w1_(out * width),
        b1_(out, 0.0f) {
    replearn::Rng rng(seed);
    for (float& w : w0_) w = static_cast<float>(init_std / std::sqrt(in) * rng.Normal());
    for (float& w : w1_) w = static_cast<float>(init_std / std::sqrt(width) * rng.Normal());
  }

  int in_, width_, out_;
  float scale_;
  std::vector<float> w0_, b0_, w1_, b1_;
  int batch_ = 0;
  std::vector<float> x_, t_, h_, y_;
};

}  // namespace

REGISTER_ARCHITECTURE("toy", Toy::Create);

}  // namespace toy
