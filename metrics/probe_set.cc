#include "metrics/probe_set.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace replearn {

absl::StatusOr<ProbeSet> ResolveProbeSet(const ExampleSetSpec& spec, const Dataset& data,
                                         absl::string_view field) {
  const int n = data.size();
  const int ways = (spec.indices_size() > 0) + (spec.count() != 0) + (spec.per_class() != 0);
  if (ways == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": empty probe set; set one of indices, count or per_class, e.g. ",
                     field, " { count: ", std::min(n, 4), " }"));
  }
  if (ways > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": indices (", spec.indices_size(), " given), count = ", spec.count(),
        " and per_class = ", spec.per_class(), " choose the probe set in different ways; set one"));
  }
  std::vector<std::string> problems;
  std::vector<int> rows;
  if (spec.indices_size() > 0) {
    std::vector<int> first_at(n, -1);
    for (int k = 0; k < spec.indices_size(); ++k) {
      const int i = spec.indices(k);
      if (i < 0 || i >= n) {
        problems.push_back(absl::StrCat(field, ".indices[", k, "] = ", i,
                                        "; the training set has examples 0..", n - 1));
      } else if (first_at[i] >= 0) {
        problems.push_back(absl::StrCat(field, ".indices[", k, "] = ", i, " repeats ", field,
                                        ".indices[", first_at[i], "]; list each example once"));
      } else {
        first_at[i] = k;
        rows.push_back(i);
      }
    }
    if (problems.empty() && rows.size() < 2) {
      problems.push_back(absl::StrCat(field, ".indices: ", rows.size(),
                                      " example; a distance needs at least two"));
    }
  } else if (spec.count() != 0) {
    if (spec.count() < 2 || spec.count() > n) {
      problems.push_back(absl::StrCat(field, ".count = ", spec.count(), "; must be in 2..", n,
                                      " (the training set's size)"));
    } else {
      for (int i = 0; i < spec.count(); ++i) rows.push_back(i);
    }
  } else {
    const int per_class = spec.per_class();
    if (data.labels.empty()) {
      problems.push_back(absl::StrCat(field, ".per_class = ", per_class,
                                      ": the dataset has no class labels; use indices or count"));
    } else if (per_class < 1) {
      problems.push_back(absl::StrCat(field, ".per_class = ", per_class, "; must be >= 1"));
    } else {
      const int classes = *std::max_element(data.labels.begin(), data.labels.end()) + 1;
      for (int c = 0; c < classes; ++c) {
        int taken = 0;
        for (int i = 0; i < n && taken < per_class; ++i) {
          if (data.labels[i] == c) {
            rows.push_back(i);
            ++taken;
          }
        }
        if (taken < per_class) {
          problems.push_back(absl::StrCat(field, ".per_class = ", per_class, ": class ", c,
                                          " has only ", taken, " training examples"));
        }
      }
      if (problems.empty() && rows.size() < 2) {
        problems.push_back(absl::StrCat(field, ".per_class = ", per_class, ": ", rows.size(),
                                        " example in all; a distance needs at least two"));
      }
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));

  ProbeSet set;
  set.indices = std::move(rows);
  const int m = set.size();
  set.x.resize(m, data.input_dim());
  set.y.resize(m, data.output_dim());
  bool whole = m == n;
  for (int k = 0; k < m; ++k) {
    set.x.row(k) = data.x.row(set.indices[k]);
    set.y.row(k) = data.y.row(set.indices[k]);
    if (!data.labels.empty()) set.labels.push_back(data.labels[set.indices[k]]);
    whole &= set.indices[k] == k;
  }
  if (whole) set.whole_data_x = data.x.data();
  return set;
}

std::vector<int> ResolveLayers(const google::protobuf::RepeatedField<int32_t>& layers,
                               int num_hidden, absl::string_view field,
                               std::vector<std::string>& problems) {
  std::vector<int> out(layers.begin(), layers.end());
  if (out.empty()) out.push_back(num_hidden / 2);
  for (int l : out) {
    if (l < 0 || l >= num_hidden) {
      problems.push_back(absl::StrCat(field, ": layer ", l,
                                      " does not exist; the network has hidden layers 0..",
                                      num_hidden - 1));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

StepSchedule StepSchedule::Create(const google::protobuf::RepeatedField<int64_t>& steps, int every,
                                  bool at_end, absl::string_view field,
                                  std::vector<std::string>& problems) {
  StepSchedule schedule;
  for (int k = 0; k < steps.size(); ++k) {
    if (steps.Get(k) < 0) {
      problems.push_back(absl::StrCat(field, ".steps[", k, "] = ", steps.Get(k), "; must be >= 0"));
    }
    schedule.steps_.push_back(steps.Get(k));
  }
  if (every < 0) {
    problems.push_back(
        absl::StrCat(field, ".every = ", every, "; must be >= 0 (0 = only the listed steps)"));
  }
  std::sort(schedule.steps_.begin(), schedule.steps_.end());
  schedule.every_ = every;
  schedule.at_end_ = at_end;
  return schedule;
}

bool StepSchedule::Observes(int64_t step, int64_t last_step) const {
  return step == 0 || (at_end_ && step == last_step) || (every_ > 0 && step % every_ == 0) ||
         std::binary_search(steps_.begin(), steps_.end(), step);
}

Eigen::MatrixXd PairwiseDistances(const float* rows, int n, int dim) {
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(n, n);
  for (int i = 0; i < n; ++i) {
    const float* a = rows + static_cast<int64_t>(i) * dim;
    for (int j = i + 1; j < n; ++j) {
      const float* b = rows + static_cast<int64_t>(j) * dim;
      double sum = 0;
      for (int k = 0; k < dim; ++k) {
        const double diff = static_cast<double>(a[k]) - b[k];
        sum += diff * diff;
      }
      d(i, j) = d(j, i) = std::sqrt(sum);
    }
  }
  return d;
}

}  // namespace replearn
