#include "metrics/automaton.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

std::string SequenceName(const std::vector<int>& s) {
  if (s.empty()) return "the empty sequence";
  return absl::StrCat("[", absl::StrJoin(s, ","), "]");
}

// Canonical order of step 2: lexicographic, the empty sequence last.
bool CanonicalLess(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.empty() != b.empty()) return b.empty();
  return a < b;
}

// States reachable from the initial state, in breadth-first order (symbols increasing).
std::vector<int> ReachableInBfsOrder(const MooreMachine& m) {
  std::vector<char> seen(m.num_states(), 0);
  std::vector<int> order = {m.initial};
  seen[m.initial] = 1;
  for (size_t i = 0; i < order.size(); ++i) {
    for (int a = 0; a < m.num_symbols; ++a) {
      const int to = m.Next(order[i], a);
      if (to != kNoState && !seen[to]) {
        seen[to] = 1;
        order.push_back(to);
      }
    }
  }
  return order;
}

absl::Status ValidateSequenceStates(const SequenceStates& data, const ExtractOptions& options) {
  if (!(options.merge_fraction > 0.0) || !std::isfinite(options.merge_fraction)) {
    return absl::InvalidArgumentError(
        absl::StrCat("merge_fraction = ", options.merge_fraction, "; must be finite and > 0"));
  }
  if (options.reference_std.has_value() &&
      (!(*options.reference_std > 0.0) || !std::isfinite(*options.reference_std))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reference_std = ", *options.reference_std,
        "; must be finite and > 0 (leave it unset to use the std of the given hidden states)"));
  }
  if (data.num_symbols < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_symbols = ", data.num_symbols, "; must be >= 1"));
  }
  const size_t n = data.sequences.size();
  if (static_cast<size_t>(data.hidden.rows()) != n) {
    return absl::InvalidArgumentError(absl::StrCat("hidden has ", data.hidden.rows(),
                                                   " rows; expected one per sequence (", n, ")"));
  }
  if (data.hidden.cols() < 1) {
    return absl::InvalidArgumentError("hidden has 0 columns; expected >= 1 hidden unit");
  }
  if (data.outputs.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outputs has ", data.outputs.size(), " entries; expected one per sequence (", n, ")"));
  }
  if (data.future_class.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("future_class has ", data.future_class.size(),
                                                   " entries; expected one per sequence (", n,
                                                   ")"));
  }
  for (size_t i = 0; i < n; ++i) {
    for (int a : data.sequences[i]) {
      if (a < 0 || a >= data.num_symbols) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequences[", i, "] = ", SequenceName(data.sequences[i]), " has symbol ",
                         a, "; symbols must be in 0..", data.num_symbols - 1));
      }
    }
    if (data.outputs[i] < kNoOutput) {
      return absl::InvalidArgumentError(
          absl::StrCat("outputs[", i, "] = ", data.outputs[i], "; must be >= 0 or kNoOutput (-1)"));
    }
    if (!data.hidden.row(i).allFinite()) {
      return absl::InvalidArgumentError(
          absl::StrCat("hidden row ", i, " (", SequenceName(data.sequences[i]), ") is not finite"));
    }
  }
  return absl::OkStatus();
}

// Input indices in canonical order; checks distinctness, the empty sequence and prefixes.
absl::StatusOr<std::vector<int>> CanonicalOrder(const SequenceStates& data,
                                                std::vector<int>* prefix_of) {
  const int n = static_cast<int>(data.sequences.size());
  std::map<std::vector<int>, int> index;
  for (int i = 0; i < n; ++i) {
    const auto [it, inserted] = index.emplace(data.sequences[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("sequences[", i,
                                                     "] = ", SequenceName(data.sequences[i]),
                                                     " repeats sequences[", it->second, "]"));
    }
  }
  if (index.count(std::vector<int>()) == 0) {
    return absl::InvalidArgumentError(
        "sequences lacks the empty sequence; it is needed for the initial state");
  }
  prefix_of->assign(n, -1);
  for (int i = 0; i < n; ++i) {
    const std::vector<int>& s = data.sequences[i];
    if (s.empty()) continue;
    const auto it = index.find(std::vector<int>(s.begin(), s.end() - 1));
    if (it == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequences[", i, "] = ", SequenceName(s), " has no entry for its prefix ",
                       SequenceName(std::vector<int>(s.begin(), s.end() - 1)),
                       "; the sequences must be prefix-closed"));
    }
    (*prefix_of)[i] = it->second;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&data](int a, int b) { return CanonicalLess(data.sequences[a], data.sequences[b]); });
  return order;
}

PairCounts CountPairs(const SequenceStates& data, const std::vector<std::vector<int>>& members) {
  int max_len = 0;
  for (const auto& s : data.sequences) max_len = std::max(max_len, static_cast<int>(s.size()));
  const int dim = max_len + 1;
  PairCounts c;
  c.merged_agreeing = PairCountMatrix::Zero(dim, dim);
  c.merged_disagreeing = PairCountMatrix::Zero(dim, dim);
  c.agreeing = PairCountMatrix::Zero(dim, dim);
  c.disagreeing = PairCountMatrix::Zero(dim, dim);

  auto add = [](PairCountMatrix& m, int a, int b, int64_t k) {
    m(a, b) += k;
    if (a != b) m(b, a) += k;
  };
  for (const std::vector<int>& group : members) {
    for (size_t i = 0; i < group.size(); ++i) {
      for (size_t j = i + 1; j < group.size(); ++j) {
        const int a = static_cast<int>(data.sequences[group[i]].size());
        const int b = static_cast<int>(data.sequences[group[j]].size());
        const bool agree = data.future_class[group[i]] == data.future_class[group[j]];
        add(agree ? c.merged_agreeing : c.merged_disagreeing, a, b, 1);
      }
    }
  }
  // All pairs, from the number of sequences per (length, class).
  std::map<int, std::vector<int64_t>> per_class;  // class -> count per length
  std::vector<int64_t> per_length(dim, 0);
  for (size_t i = 0; i < data.sequences.size(); ++i) {
    auto& counts = per_class[data.future_class[i]];
    counts.resize(dim, 0);
    ++counts[data.sequences[i].size()];
    ++per_length[data.sequences[i].size()];
  }
  for (int a = 0; a < dim; ++a) {
    for (int b = a; b < dim; ++b) {
      int64_t agreeing = 0;
      for (const auto& [cls, counts] : per_class) {
        agreeing += a == b ? counts[a] * (counts[a] - 1) / 2 : counts[a] * counts[b];
      }
      const int64_t all =
          a == b ? per_length[a] * (per_length[a] - 1) / 2 : per_length[a] * per_length[b];
      add(c.agreeing, a, b, agreeing);
      add(c.disagreeing, a, b, all - agreeing);
    }
  }
  c.num_merged_agreeing = SumPairs(c.merged_agreeing);
  c.num_merged_disagreeing = SumPairs(c.merged_disagreeing);
  c.num_agreeing = SumPairs(c.agreeing);
  c.num_disagreeing = SumPairs(c.disagreeing);
  return c;
}

}  // namespace

MooreMachine EmptyMooreMachine(int num_states, int num_symbols) {
  MooreMachine m;
  m.num_symbols = num_symbols;
  m.initial = 0;
  m.output.assign(num_states, kNoOutput);
  m.next.assign(static_cast<size_t>(num_states) * num_symbols, kNoState);
  return m;
}

absl::Status ValidateMooreMachine(const MooreMachine& m) {
  if (m.num_symbols < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_symbols = ", m.num_symbols, "; must be >= 1"));
  }
  const int n = m.num_states();
  if (n < 1) return absl::InvalidArgumentError("the machine has 0 states; expected >= 1");
  if (m.initial < 0 || m.initial >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial = ", m.initial, "; must be in 0..", n - 1));
  }
  if (m.next.size() != static_cast<size_t>(n) * m.num_symbols) {
    return absl::InvalidArgumentError(absl::StrCat(
        "next has ", m.next.size(),
        " entries; expected num_states * num_symbols = ", static_cast<size_t>(n) * m.num_symbols));
  }
  for (int q = 0; q < n; ++q) {
    if (m.output[q] < kNoOutput) {
      return absl::InvalidArgumentError(
          absl::StrCat("output[", q, "] = ", m.output[q], "; must be >= 0 or kNoOutput (-1)"));
    }
    for (int a = 0; a < m.num_symbols; ++a) {
      const int to = m.Next(q, a);
      if (to != kNoState && (to < 0 || to >= n)) {
        return absl::InvalidArgumentError(absl::StrCat("next of state ", q, " on symbol ", a, " = ",
                                                       to, "; must be in 0..", n - 1,
                                                       " or kNoState (-1)"));
      }
    }
  }
  return absl::OkStatus();
}

bool IsComplete(const MooreMachine& m) { return NumExitStates(m) == 0; }

int NumExitStates(const MooreMachine& m) {
  int exits = 0;
  for (int q = 0; q < m.num_states(); ++q) {
    for (int a = 0; a < m.num_symbols; ++a) {
      if (m.Next(q, a) == kNoState) {
        ++exits;
        break;
      }
    }
  }
  return exits;
}

absl::StatusOr<MinimizedMachine> MinimizeMoore(const MooreMachine& m) {
  RETURN_IF_ERROR(ValidateMooreMachine(m));
  const std::vector<int> reach = ReachableInBfsOrder(m);
  const int k = m.num_symbols;

  // block[q] for reachable q; refined until the number of blocks stops growing. Block ids are
  // given in order of first appearance along `reach`, so they do not depend on state ids.
  std::vector<int> block(m.num_states(), kNoState);
  int num_blocks = 0;
  {
    std::map<int, int> by_output;
    for (int q : reach) {
      const auto [it, inserted] = by_output.emplace(m.output[q], num_blocks);
      if (inserted) ++num_blocks;
      block[q] = it->second;
    }
  }
  while (true) {
    std::map<std::vector<int>, int> by_signature;
    std::vector<int> refined(m.num_states(), kNoState);
    std::vector<int> signature(k + 1);
    for (int q : reach) {
      signature[0] = block[q];
      for (int a = 0; a < k; ++a) {
        const int to = m.Next(q, a);
        signature[a + 1] = to == kNoState ? kNoState : block[to];  // the sink is its own class
      }
      const auto [it, inserted] =
          by_signature.emplace(signature, static_cast<int>(by_signature.size()));
      refined[q] = it->second;
    }
    const int refined_blocks = static_cast<int>(by_signature.size());
    block.swap(refined);
    if (refined_blocks == num_blocks) break;  // a refinement with as many blocks is the same
    num_blocks = refined_blocks;
  }

  // Canonical numbering: breadth-first over the quotient machine.
  std::vector<int> representative(num_blocks, kNoState);
  for (int q : reach) {
    if (representative[block[q]] == kNoState) representative[block[q]] = q;
  }
  std::vector<int> canonical(num_blocks, kNoState);
  std::vector<int> order = {block[m.initial]};
  canonical[block[m.initial]] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    for (int a = 0; a < k; ++a) {
      const int to = m.Next(representative[order[i]], a);
      if (to == kNoState || canonical[block[to]] != kNoState) continue;
      canonical[block[to]] = static_cast<int>(order.size());
      order.push_back(block[to]);
    }
  }
  CHECK_EQ(static_cast<int>(order.size()), num_blocks);

  MinimizedMachine result;
  result.machine = EmptyMooreMachine(num_blocks, k);
  result.machine.initial = 0;
  for (int b = 0; b < num_blocks; ++b) {
    const int q = representative[order[b]];
    result.machine.output[b] = m.output[q];
    for (int a = 0; a < k; ++a) {
      const int to = m.Next(q, a);
      result.machine.SetNext(b, a, to == kNoState ? kNoState : canonical[block[to]]);
    }
  }
  result.block_of.assign(m.num_states(), kNoState);
  for (int q : reach) result.block_of[q] = canonical[block[q]];
  result.num_unreachable = m.num_states() - static_cast<int>(reach.size());
  return result;
}

absl::StatusOr<bool> EquivalentMoore(const MooreMachine& a, const MooreMachine& b) {
  RETURN_IF_ERROR(ValidateMooreMachine(a));
  RETURN_IF_ERROR(ValidateMooreMachine(b));
  if (a.num_symbols != b.num_symbols) {
    return absl::InvalidArgumentError(absl::StrCat("num_symbols = ", a.num_symbols, " and ",
                                                   b.num_symbols, "; the machines must agree"));
  }
  // kNoState stands for the sink in a pair.
  std::set<std::pair<int, int>> seen = {{a.initial, b.initial}};
  std::deque<std::pair<int, int>> queue = {{a.initial, b.initial}};
  while (!queue.empty()) {
    const auto [p, q] = queue.front();
    queue.pop_front();
    if ((p == kNoState) != (q == kNoState)) return false;
    if (p == kNoState) continue;
    if (a.output[p] != b.output[q]) return false;
    for (int s = 0; s < a.num_symbols; ++s) {
      const std::pair<int, int> next = {a.Next(p, s), b.Next(q, s)};
      if (seen.insert(next).second) queue.push_back(next);
    }
  }
  return true;
}

int64_t SumPairs(const PairCountMatrix& counts, int min_length) {
  int64_t sum = 0;
  for (int a = std::max(min_length, 0); a < counts.rows(); ++a) {
    for (int b = a; b < counts.cols(); ++b) sum += counts(a, b);
  }
  return sum;
}

absl::StatusOr<double> HiddenStateStd(absl::Span<const Eigen::MatrixXd> snapshots) {
  int64_t rows = 0;
  const Eigen::Index cols = snapshots.empty() ? 0 : snapshots[0].cols();
  for (size_t i = 0; i < snapshots.size(); ++i) {
    if (snapshots[i].cols() != cols) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot ", i, " has ", snapshots[i].cols(),
                                                     " columns; snapshot 0 has ", cols));
    }
    if (!snapshots[i].allFinite()) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot ", i, " holds a non-finite value"));
    }
    rows += snapshots[i].rows();
  }
  if (rows < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the snapshots hold ", rows, " rows; the sample std needs >= 2"));
  }
  // Two passes (mean, then squared deviations) for accuracy.
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(cols);
  for (const Eigen::MatrixXd& s : snapshots) mean += s.colwise().sum().transpose();
  mean /= static_cast<double>(rows);
  Eigen::VectorXd sq = Eigen::VectorXd::Zero(cols);
  for (const Eigen::MatrixXd& s : snapshots) {
    sq += (s.rowwise() - mean.transpose()).array().square().colwise().sum().matrix().transpose();
  }
  // ||std||_2 = sqrt(sum_j var_j).
  return std::sqrt(sq.sum() / static_cast<double>(rows - 1));
}

std::vector<int> ArgmaxRows(const Eigen::MatrixXd& outputs) {
  std::vector<int> result(outputs.rows(), kNoOutput);
  for (Eigen::Index i = 0; i < outputs.rows(); ++i) {
    if (outputs.cols() == 0 || outputs.row(i).hasNaN()) continue;
    int best = 0;
    for (Eigen::Index j = 1; j < outputs.cols(); ++j) {
      if (outputs(i, j) > outputs(i, best)) best = static_cast<int>(j);
    }
    result[i] = best;
  }
  return result;
}

absl::StatusOr<ExtractedAutomaton> ExtractAutomaton(const SequenceStates& data,
                                                    const ExtractOptions& options) {
  RETURN_IF_ERROR(ValidateSequenceStates(data, options));
  std::vector<int> prefix_of;
  ASSIGN_OR_RETURN(const std::vector<int> order, CanonicalOrder(data, &prefix_of));

  ExtractedAutomaton result;
  if (options.reference_std.has_value()) {
    result.reference_std = *options.reference_std;
  } else {
    ASSIGN_OR_RETURN(result.reference_std, HiddenStateStd(absl::MakeConstSpan(&data.hidden, 1)));
    if (!(result.reference_std > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "std of the hidden states = ", result.reference_std,
          "; must be > 0 (all hidden states coincide; pass ExtractOptions::reference_std)"));
    }
  }
  result.merge_distance = options.merge_fraction * result.reference_std;

  // Step 3: greedy leader clustering.
  const int n = static_cast<int>(data.sequences.size());
  result.state_of.assign(n, kNoState);
  for (int i : order) {
    int state = kNoState;
    for (size_t g = 0; g < result.members.size(); ++g) {
      const int leader = result.members[g][0];
      if ((data.hidden.row(i) - data.hidden.row(leader)).norm() < result.merge_distance) {
        state = static_cast<int>(g);
        break;
      }
    }
    if (state == kNoState) {
      state = static_cast<int>(result.members.size());
      result.members.emplace_back();
    }
    result.members[state].push_back(i);
    result.state_of[i] = state;
  }

  // Steps 4-6.
  const int num_states = static_cast<int>(result.members.size());
  const int k = data.num_symbols;
  result.machine = EmptyMooreMachine(num_states, k);
  std::vector<char> conflict(static_cast<size_t>(num_states) * k, 0);
  for (int q = 0; q < num_states; ++q) {
    for (int i : result.members[q]) {
      const std::vector<int>& s = data.sequences[i];
      if (s.empty()) {
        result.machine.initial = q;
        continue;
      }
      const int from = result.state_of[prefix_of[i]];
      const int before = result.machine.Next(from, s.back());
      if (before != kNoState && before != q) conflict[static_cast<size_t>(from) * k + s.back()] = 1;
      result.machine.SetNext(from, s.back(), q);
    }
    const std::vector<int>& group = result.members[q];
    const auto first_non_empty = std::find_if(
        group.begin(), group.end(), [&data](int i) { return !data.sequences[i].empty(); });
    result.machine.output[q] =
        data.outputs[first_non_empty != group.end() ? *first_non_empty : group[0]];
  }
  result.num_conflicts = static_cast<int>(std::count(conflict.begin(), conflict.end(), 1));
  result.is_finite = IsComplete(result.machine);
  result.num_exit_states = NumExitStates(result.machine);
  result.pairs = CountPairs(data, result.members);
  return result;
}

std::string EscapeDotString(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string ToDot(const MooreMachine& m, const DotOptions& options) {
  CHECK(ValidateMooreMachine(m).ok()) << ValidateMooreMachine(m);
  auto name = [](const std::vector<std::string>& names, int i, absl::string_view prefix) {
    if (i >= 0 && static_cast<size_t>(i) < names.size()) return names[i];
    return absl::StrCat(prefix, i);
  };
  std::string dot = absl::StrCat("digraph \"", EscapeDotString(options.graph_name), "\" {\n",
                                 "  rankdir=LR;\n", "  __start [shape=point];\n");
  for (int q = 0; q < m.num_states(); ++q) {
    const std::string output =
        m.output[q] == kNoOutput ? "-" : name(options.output_names, m.output[q], "");
    absl::StrAppend(&dot, "  s", q, " [shape=", q == m.initial ? "doublecircle" : "circle",
                    ", label=\"", EscapeDotString(name(options.state_names, q, "q")), " / ",
                    EscapeDotString(output), "\"];\n");
  }
  absl::StrAppend(&dot, "  __start -> s", m.initial, ";\n");
  for (int q = 0; q < m.num_states(); ++q) {
    std::map<int, std::vector<std::string>> symbols_to;  // next state -> symbol names
    for (int a = 0; a < m.num_symbols; ++a) {
      if (m.Next(q, a) != kNoState) {
        symbols_to[m.Next(q, a)].push_back(name(options.symbol_names, a, ""));
      }
    }
    for (const auto& [to, symbols] : symbols_to) {
      absl::StrAppend(&dot, "  s", q, " -> s", to, " [label=\"",
                      EscapeDotString(absl::StrJoin(symbols, ",")), "\"];\n");
    }
  }
  dot += "}\n";
  return dot;
}

}  // namespace replearn
