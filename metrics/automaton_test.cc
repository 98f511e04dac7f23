// Moore minimisation against a brute-force oracle (outputs on every word up to the number of
// states) and known machines; extraction from synthetic hidden states placed at known cluster
// centres; the clustering, transition and output rules of the header; Graphviz text.
#include "metrics/automaton.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kNoise = 1e-4;    // per-coordinate noise around a cluster centre
constexpr double kRelTol = 1e-12;  // HiddenStateStd against the two-pass formula

bool SameMachine(const MooreMachine& a, const MooreMachine& b) {
  return a.num_symbols == b.num_symbols && a.initial == b.initial && a.output == b.output &&
         a.next == b.next;
}

// Builds a machine from rows {output, next on 0, next on 1, ...}.
MooreMachine Machine(int num_symbols, int initial, const std::vector<std::vector<int>>& rows) {
  MooreMachine m = EmptyMooreMachine(static_cast<int>(rows.size()), num_symbols);
  m.initial = initial;
  for (size_t q = 0; q < rows.size(); ++q) {
    m.output[q] = rows[q][0];
    for (int a = 0; a < num_symbols; ++a) m.SetNext(static_cast<int>(q), a, rows[q][a + 1]);
  }
  return m;
}

// The 2-state streaming-parity machine: output = parity so far; 1 toggles, 0 stays.
MooreMachine Parity() { return Machine(2, 0, {{0, 0, 1}, {1, 1, 0}}); }

// Number of 1s mod 3, output 1 iff it is 0: minimal with 3 states (states 1 and 2 share an
// output but differ after reading a 1).
MooreMachine Mod3() { return Machine(2, 0, {{1, 0, 1}, {0, 1, 2}, {0, 2, 0}}); }

// The same machine with state ids permuted: new id of old state q is perm[q].
MooreMachine Permute(const MooreMachine& m, const std::vector<int>& perm) {
  MooreMachine p = EmptyMooreMachine(m.num_states(), m.num_symbols);
  p.initial = perm[m.initial];
  for (int q = 0; q < m.num_states(); ++q) {
    p.output[perm[q]] = m.output[q];
    for (int a = 0; a < m.num_symbols; ++a) {
      const int to = m.Next(q, a);
      p.SetNext(perm[q], a, to == kNoState ? kNoState : perm[to]);
    }
  }
  return p;
}

std::vector<int> RandomPermutation(int n, Rng& rng) {
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.UniformInt(i + 1)]);
  return perm;
}

// Oracle: the outputs a state produces on every word of length <= max_len, in a fixed word
// order; -2 marks the sink (a missing transition on the way).
std::vector<int> Trace(const MooreMachine& m, int q, int max_len) {
  std::vector<int> trace;
  std::vector<int> frontier = {q};
  for (int len = 0; len <= max_len; ++len) {
    std::vector<int> next;
    for (int s : frontier) {
      trace.push_back(s == kNoState ? -2 : m.output[s]);
      for (int a = 0; a < m.num_symbols; ++a)
        next.push_back(s == kNoState ? kNoState : m.Next(s, a));
    }
    frontier.swap(next);
  }
  return trace;
}

std::vector<int> Reachable(const MooreMachine& m) {
  std::vector<char> seen(m.num_states(), 0);
  std::vector<int> stack = {m.initial}, out;
  seen[m.initial] = 1;
  while (!stack.empty()) {
    const int q = stack.back();
    stack.pop_back();
    out.push_back(q);
    for (int a = 0; a < m.num_symbols; ++a) {
      const int to = m.Next(q, a);
      if (to != kNoState && !seen[to]) {
        seen[to] = 1;
        stack.push_back(to);
      }
    }
  }
  return out;
}

MooreMachine RandomMachine(int n, int k, int num_outputs, double p_missing, Rng& rng) {
  MooreMachine m = EmptyMooreMachine(n, k);
  m.initial = static_cast<int>(rng.UniformInt(n));
  for (int q = 0; q < n; ++q) {
    m.output[q] = static_cast<int>(rng.UniformInt(num_outputs));
    for (int a = 0; a < k; ++a) {
      m.SetNext(q, a, rng.Uniform() < p_missing ? kNoState : static_cast<int>(rng.UniformInt(n)));
    }
  }
  return m;
}

TEST(MinimizeMoore, ParityWithRedundantCopiesMinimisesToTwo) {
  // Three copies of each parity state; 0 hops between copies of the same parity, 1 to a copy
  // of the other parity. State 6 is unreachable.
  const MooreMachine m =
      Machine(2, 0, {{0, 2, 1}, {1, 3, 2}, {0, 4, 5}, {1, 5, 0}, {0, 0, 3}, {1, 1, 4}, {1, 6, 6}});
  const auto min = MinimizeMoore(m);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_TRUE(SameMachine(min->machine, Parity()));
  EXPECT_THAT(min->block_of, ElementsAre(0, 1, 0, 1, 0, 1, kNoState));
  EXPECT_EQ(min->num_unreachable, 1);
  EXPECT_TRUE(*EquivalentMoore(m, Parity()));
}

TEST(MinimizeMoore, ThreeStateMachineWithDuplicatesMinimisesToThree) {
  // Mod3 with a duplicate of every state (q and q + 3), the transitions spread over both.
  const MooreMachine m =
      Machine(2, 0, {{1, 3, 4}, {0, 4, 5}, {0, 5, 0}, {1, 0, 1}, {0, 1, 2}, {0, 2, 3}});
  const auto min = MinimizeMoore(m);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_EQ(min->machine.num_states(), 3);
  EXPECT_TRUE(SameMachine(min->machine, Mod3()));
  EXPECT_THAT(min->block_of, ElementsAre(0, 1, 2, 0, 1, 2));
  EXPECT_TRUE(*EquivalentMoore(m, Mod3()));
  // Already minimal machines stay as they are.
  EXPECT_TRUE(SameMachine(MinimizeMoore(Mod3())->machine, Mod3()));
  EXPECT_TRUE(SameMachine(MinimizeMoore(Parity())->machine, Parity()));
}

TEST(MinimizeMoore, MissingTransitionIsDistinguishedFromAnyRealState) {
  // 0 and 1 have the same output and both loop on 0; only 1 has a transition on 1.
  const auto a = MinimizeMoore(Machine(2, 0, {{0, 0, 1}, {0, 1, kNoState}}));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->machine.num_states(), 2);
  // A real state without output or transitions is still not the sink: 1 moves to it on 0,
  // 2 has no transition on 0.
  const auto b = MinimizeMoore(Machine(
      2, 0,
      {{0, 1, 2}, {0, 3, kNoState}, {0, kNoState, kNoState}, {kNoOutput, kNoState, kNoState}}));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->machine.num_states(), 4);
  // Missing in the same places: equivalent.
  const auto c = MinimizeMoore(Machine(2, 0, {{0, 1, kNoState}, {0, 0, kNoState}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(SameMachine(c->machine, Machine(2, 0, {{0, 0, kNoState}})));
}

TEST(MinimizeMoore, TruncatedParityTreeKeepsOneStatePerDepthAndParity) {
  // The tree of all words up to length 4 with parity outputs (the automaton of the tree
  // phase): states at different depths differ in where transitions run out, states at the
  // same depth with the same parity are equivalent.
  constexpr int kDepth = 4;
  const int n = (1 << (kDepth + 1)) - 1;
  MooreMachine tree = EmptyMooreMachine(n, 2);
  for (int q = 0; q < n; ++q) {
    int ones = 0;
    for (int v = q + 1; v > 1; v /= 2) ones += (v & 1);  // heap index: bit = symbol
    tree.output[q] = ones % 2;
    for (int a = 0; a < 2; ++a) {
      if (2 * q + 1 + a < n) tree.SetNext(q, a, 2 * q + 1 + a);
    }
  }
  const auto min = MinimizeMoore(tree);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_EQ(min->machine.num_states(), 1 + 2 * kDepth);
  EXPECT_TRUE(*EquivalentMoore(tree, min->machine));
}

TEST(MinimizeMoore, AgreesWithBruteForceOracleOnRandomPartialMachines) {
  Rng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng.UniformInt(8));
    const MooreMachine m = RandomMachine(n, 2, 2, trial % 2 == 0 ? 0.0 : 0.25, rng);
    const auto min = MinimizeMoore(m);
    ASSERT_TRUE(min.ok()) << min.status();
    std::map<std::vector<int>, int> classes;
    const std::vector<int> reach = Reachable(m);
    for (int q : reach) classes.emplace(Trace(m, q, n + 1), static_cast<int>(classes.size()));
    EXPECT_EQ(min->machine.num_states(), static_cast<int>(classes.size())) << "trial " << trial;
    EXPECT_EQ(min->num_unreachable, n - static_cast<int>(reach.size()));
    for (int p : reach) {
      for (int q : reach) {
        EXPECT_EQ(min->block_of[p] == min->block_of[q], Trace(m, p, n + 1) == Trace(m, q, n + 1))
            << "trial " << trial << " states " << p << ", " << q;
      }
    }
    EXPECT_TRUE(*EquivalentMoore(m, min->machine)) << "trial " << trial;
  }
}

TEST(MinimizeMoore, ResultIndependentOfStateNumbering) {
  Rng machines(11);
  for (int trial = 0; trial < 20; ++trial) {
    const MooreMachine m = RandomMachine(9, 2, 2, trial % 2 == 0 ? 0.0 : 0.2, machines);
    const auto base = MinimizeMoore(m);
    ASSERT_TRUE(base.ok()) << base.status();
    for (uint64_t seed : {1, 2, 3, 4, 5}) {
      Rng rng(seed);
      const std::vector<int> perm = RandomPermutation(m.num_states(), rng);
      const auto shuffled = MinimizeMoore(Permute(m, perm));
      ASSERT_TRUE(shuffled.ok()) << shuffled.status();
      EXPECT_TRUE(SameMachine(shuffled->machine, base->machine))
          << "trial " << trial << " seed " << seed;
      for (int q = 0; q < m.num_states(); ++q) {
        EXPECT_EQ(shuffled->block_of[perm[q]], base->block_of[q]);
      }
    }
  }
}

TEST(MinimizeMoore, RejectsMalformedMachines) {
  MooreMachine bad_next = Parity();
  bad_next.SetNext(1, 0, 5);
  EXPECT_THAT(MinimizeMoore(bad_next).status().message(),
              HasSubstr("next of state 1 on symbol 0 = 5; must be in 0..1"));
  MooreMachine bad_initial = Parity();
  bad_initial.initial = 2;
  EXPECT_THAT(MinimizeMoore(bad_initial).status().message(), HasSubstr("initial = 2"));
  MooreMachine bad_size = Parity();
  bad_size.next.pop_back();
  EXPECT_EQ(MinimizeMoore(bad_size).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MinimizeMoore(bad_size).status().message(), HasSubstr("next has 3 entries"));
  MooreMachine bad_output = Parity();
  bad_output.output[0] = -3;
  EXPECT_THAT(MinimizeMoore(bad_output).status().message(), HasSubstr("output[0] = -3"));
}

TEST(EquivalentMoore, TellsMachinesApart) {
  EXPECT_TRUE(*EquivalentMoore(Parity(), Permute(Parity(), {1, 0})));
  EXPECT_FALSE(*EquivalentMoore(Parity(), Mod3()));
  // Same outputs where both are defined, but one runs out of transitions.
  EXPECT_FALSE(*EquivalentMoore(Parity(), Machine(2, 0, {{0, 0, 1}, {1, 1, kNoState}})));
  EXPECT_THAT(EquivalentMoore(Parity(), Machine(3, 0, {{0, 0, 0, 0}})).status().message(),
              HasSubstr("num_symbols = 2 and 3"));
}

TEST(MooreMachine, CompletenessAndExitStates) {
  EXPECT_TRUE(IsComplete(Parity()));
  EXPECT_EQ(NumExitStates(Parity()), 0);
  const MooreMachine partial =
      Machine(2, 0, {{0, 1, kNoState}, {1, kNoState, kNoState}, {0, 0, 0}});
  EXPECT_FALSE(IsComplete(partial));
  EXPECT_EQ(NumExitStates(partial), 2);
}

// ---------------------------------------------------------------------------------------
// Extraction.

// All words over {0 .. k-1} of length 0 .. max_len, in an order that is not canonical
// (by length, then lexicographic).
std::vector<std::vector<int>> AllSequences(int max_len, int k) {
  std::vector<std::vector<int>> all = {{}};
  for (size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int>(all[i].size()) == max_len) continue;
    for (int a = 0; a < k; ++a) {
      std::vector<int> s = all[i];
      s.push_back(a);
      all.push_back(s);
    }
  }
  return all;
}

int Run(const MooreMachine& m, const std::vector<int>& s) {
  int q = m.initial;
  for (int a : s) q = m.Next(q, a);
  return q;
}

// Hidden state of each sequence = centre of the state `task` reaches + noise; outputs and
// future classes from `task` (a minimal machine, so its states are the future classes).
SequenceStates Synthetic(const MooreMachine& task, int max_len, const Eigen::MatrixXd& centres,
                         uint64_t seed) {
  Rng rng(seed);
  SequenceStates d;
  d.num_symbols = task.num_symbols;
  d.sequences = AllSequences(max_len, task.num_symbols);
  const int n = static_cast<int>(d.sequences.size());
  d.hidden.resize(n, centres.cols());
  for (int i = 0; i < n; ++i) {
    const int q = Run(task, d.sequences[i]);
    d.outputs.push_back(task.output[q]);
    d.future_class.push_back(q);
    for (int j = 0; j < centres.cols(); ++j) d.hidden(i, j) = centres(q, j) + kNoise * rng.Normal();
  }
  return d;
}

// Brute-force pair counts over all unordered pairs, lengths >= min_length.
std::pair<int64_t, int64_t> MergedPairsByBruteForce(const SequenceStates& d,
                                                    const std::vector<int>& state_of) {
  int64_t agree = 0, disagree = 0;
  for (size_t i = 0; i < d.sequences.size(); ++i) {
    for (size_t j = i + 1; j < d.sequences.size(); ++j) {
      if (state_of[i] != state_of[j]) continue;
      (d.future_class[i] == d.future_class[j] ? agree : disagree) += 1;
    }
  }
  return {agree, disagree};
}

TEST(ExtractAutomaton, RecoversParityFromClusteredStates) {
  Eigen::MatrixXd centres(2, 4);
  centres << 1, 0, 0, 0,  //
      0, 1, 0, 0;
  SequenceStates d = Synthetic(Parity(), 7, centres, 1);
  const auto a = ExtractAutomaton(d, ExtractOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->machine.num_states(), 2);
  EXPECT_TRUE(a->is_finite);
  EXPECT_EQ(a->num_exit_states, 0);
  EXPECT_EQ(a->num_conflicts, 0);
  // The canonical walk starts at "0" (even), so the even state is created first.
  EXPECT_TRUE(SameMachine(a->machine, Parity()));
  EXPECT_NEAR(a->merge_distance, 0.01 * a->reference_std, 1e-15);

  const auto [agree, disagree] = MergedPairsByBruteForce(d, a->state_of);
  EXPECT_EQ(a->pairs.num_merged_agreeing, agree);
  EXPECT_EQ(a->pairs.num_merged_disagreeing, 0);
  EXPECT_EQ(disagree, 0);
  // Every agreeing pair merged: 255 sequences, 128 even (the empty one included) and 127 odd.
  EXPECT_EQ(a->pairs.num_agreeing, 128 * 127 / 2 + 127 * 126 / 2);
  EXPECT_EQ(a->pairs.num_disagreeing, 128 * 127);
  EXPECT_EQ(a->pairs.merged_agreeing, a->pairs.agreeing);
  // Lengths 3 and 5: 4 even x 16 even + 4 odd x 16 odd.
  EXPECT_EQ(a->pairs.merged_agreeing(3, 5), 4 * 16 + 4 * 16);
  EXPECT_EQ(a->pairs.merged_agreeing(5, 3), 4 * 16 + 4 * 16);
  // Without the empty sequence (the reference's totals): 127 even, 127 odd.
  EXPECT_EQ(SumPairs(a->pairs.merged_agreeing, 1), 2 * (127 * 126 / 2));
}

TEST(ExtractAutomaton, SeparateInitialStateAndItsOutput) {
  // The empty sequence sits apart (like h_0 = ones far from the trained states).
  Eigen::MatrixXd centres(2, 3);
  centres << 1, 0, 0,  //
      0, 1, 0;
  SequenceStates d = Synthetic(Parity(), 6, centres, 2);
  d.hidden.row(0) = Eigen::RowVector3d(3, 3, 3);  // sequences[0] is the empty one
  d.outputs[0] = kNoOutput;
  const auto a = ExtractAutomaton(d, ExtractOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->machine.num_states(), 3);
  EXPECT_EQ(a->machine.initial, 2);  // the empty sequence comes last in the canonical walk
  EXPECT_EQ(a->machine.output[2], kNoOutput);
  EXPECT_EQ(a->machine.Next(2, 0), 0);
  EXPECT_EQ(a->machine.Next(2, 1), 1);
  EXPECT_TRUE(a->is_finite);
  // Without an output the initial state is a state of its own ...
  EXPECT_EQ(MinimizeMoore(a->machine)->machine.num_states(), 3);
  // ... with the empty word's parity it merges into the even state.
  d.outputs[0] = 0;
  const auto b = ExtractAutomaton(d, ExtractOptions());
  ASSERT_TRUE(b.ok()) << b.status();
  const auto min = MinimizeMoore(b->machine);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_TRUE(SameMachine(min->machine, Parity()));
}

TEST(ExtractAutomaton, RecoversThreeStateMachine) {
  Eigen::MatrixXd centres(3, 5);
  centres << 0.2, 0.1, 0.0, 0.4, 0.0,  //
      0.0, 0.5, 0.3, 0.0, 0.1,         //
      0.3, 0.0, 0.6, 0.1, 0.2;
  const SequenceStates d = Synthetic(Mod3(), 6, centres, 3);
  const auto a = ExtractAutomaton(d, ExtractOptions{0.05, std::nullopt});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->machine.num_states(), 3);
  EXPECT_TRUE(a->is_finite);
  EXPECT_TRUE(*EquivalentMoore(a->machine, Mod3()));
  const auto min = MinimizeMoore(a->machine);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_TRUE(SameMachine(min->machine, Mod3()));
  EXPECT_EQ(a->pairs.num_merged_disagreeing, 0);
  EXPECT_EQ(a->pairs.num_merged_agreeing, a->pairs.num_agreeing);
}

TEST(ExtractAutomaton, DistinctStatesGiveTheTree) {
  // Far-apart random hidden states: nothing merges, the automaton is the prefix tree.
  constexpr int kLen = 5;
  SequenceStates d = Synthetic(Parity(), kLen, Eigen::MatrixXd::Zero(2, 6), 4);
  Rng rng(5);
  for (int i = 0; i < d.hidden.rows(); ++i) {
    for (int j = 0; j < d.hidden.cols(); ++j) d.hidden(i, j) = rng.Normal();
  }
  const auto a = ExtractAutomaton(d, ExtractOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->machine.num_states(), (1 << (kLen + 1)) - 1);
  EXPECT_FALSE(a->is_finite);
  EXPECT_EQ(a->num_exit_states, 1 << kLen);  // the leaves
  EXPECT_EQ(a->pairs.num_merged_agreeing + a->pairs.num_merged_disagreeing, 0);
  EXPECT_EQ(MinimizeMoore(a->machine)->machine.num_states(), 1 + 2 * kLen);
}

TEST(ExtractAutomaton, CollapsedStatesMergeDisagreeingPairs) {
  // All hidden states within d_merge of each other (the collapse at small initial weights).
  SequenceStates d = Synthetic(Parity(), 4, Eigen::MatrixXd::Zero(2, 3), 6);
  const auto a = ExtractAutomaton(d, ExtractOptions{0.01, 1.0});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->machine.num_states(), 1);
  EXPECT_TRUE(a->is_finite);
  EXPECT_EQ(a->pairs.num_merged_disagreeing, a->pairs.num_disagreeing);
  EXPECT_EQ(a->pairs.num_merged_agreeing, a->pairs.num_agreeing);
  // The state's output is its leader's, "0": even.
  EXPECT_EQ(a->machine.output[0], 0);
}

TEST(ExtractAutomaton, IndependentOfInputOrder) {
  Eigen::MatrixXd centres(3, 4);
  centres << 1, 0, 0, 0,  //
      0, 1, 0, 0,         //
      0, 0, 1, 0;
  SequenceStates d = Synthetic(Mod3(), 5, centres, 8);
  // Noise large enough that the clustering is not trivial (several states per centre).
  Rng noise(9);
  for (int i = 0; i < d.hidden.rows(); ++i) d.hidden(i, 3) = 0.02 * noise.Normal();
  const auto base = ExtractAutomaton(d, ExtractOptions{0.02, std::nullopt});
  ASSERT_TRUE(base.ok()) << base.status();
  EXPECT_GT(base->machine.num_states(), 3);
  for (uint64_t seed : {1, 2, 3}) {
    Rng rng(seed);
    const std::vector<int> perm = RandomPermutation(static_cast<int>(d.sequences.size()), rng);
    SequenceStates p = d;
    for (size_t i = 0; i < perm.size(); ++i) {
      p.sequences[perm[i]] = d.sequences[i];
      p.hidden.row(perm[i]) = d.hidden.row(i);
      p.outputs[perm[i]] = d.outputs[i];
      p.future_class[perm[i]] = d.future_class[i];
    }
    // The same sigma, so only the order differs (the std is order-independent up to rounding).
    const auto shuffled = ExtractAutomaton(p, ExtractOptions{0.02, base->reference_std});
    ASSERT_TRUE(shuffled.ok()) << shuffled.status();
    EXPECT_TRUE(SameMachine(shuffled->machine, base->machine)) << "seed " << seed;
    ASSERT_EQ(shuffled->members.size(), base->members.size());
    for (size_t q = 0; q < base->members.size(); ++q) {
      ASSERT_EQ(shuffled->members[q].size(), base->members[q].size());
      for (size_t j = 0; j < base->members[q].size(); ++j) {
        EXPECT_EQ(shuffled->members[q][j], perm[base->members[q][j]]);
      }
    }
    EXPECT_EQ(shuffled->pairs.merged_agreeing, base->pairs.merged_agreeing);
    EXPECT_EQ(shuffled->pairs.merged_disagreeing, base->pairs.merged_disagreeing);
  }
}

// Three one-dimensional states for the words "", "0", "1" (canonical order "0", "1", "").
SequenceStates ThreePoints(double x0, double x1, double x_empty) {
  SequenceStates d;
  d.sequences = {{}, {0}, {1}};
  d.hidden.resize(3, 1);
  d.hidden << x_empty, x0, x1;
  d.outputs = {0, 0, 1};
  d.future_class = {0, 0, 1};
  return d;
}

TEST(ExtractAutomaton, LeaderClusteringIsNotSingleLinkage) {
  const ExtractOptions half{0.5, 1.0};  // d_merge = 0.5
  // "1" is within 0.5 of the leader "0"; "" is within 0.5 of "1" but not of the leader.
  const auto a = ExtractAutomaton(ThreePoints(0.0, 0.3, 0.6), half);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->state_of, ElementsAre(1, 0, 0));
  EXPECT_EQ(a->machine.output[0], 0);  // from the leader "0", not from "1"
  EXPECT_EQ(a->machine.initial, 1);
  // The threshold is strict: a distance of exactly d_merge does not merge.
  const auto b = ExtractAutomaton(ThreePoints(0.0, 0.5, 0.25), half);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->state_of, ElementsAre(0, 0, 1));
  EXPECT_EQ(b->machine.num_states(), 2);
}

TEST(ExtractAutomaton, LastTransitionWinsOnConflict) {
  // "0" and "1" share a state; their children "00" and "10" land in different states.
  SequenceStates d;
  d.sequences = {{}, {0}, {1}, {0, 0}, {1, 0}};
  d.hidden.resize(5, 1);
  d.hidden << 10.0, 0.0, 0.1, 3.0, 6.0;
  d.outputs = {kNoOutput, 0, 1, 0, 1};
  d.future_class = {0, 0, 1, 0, 1};
  const auto a = ExtractAutomaton(d, ExtractOptions{0.5, 1.0});
  ASSERT_TRUE(a.ok()) << a.status();
  // Creation order: {"0", "1"} = 0, {"00"} = 1, {"10"} = 2, {""} = 3.
  EXPECT_THAT(a->state_of, ElementsAre(3, 0, 0, 1, 2));
  EXPECT_EQ(a->machine.Next(0, 0), 2);  // "10" is assigned after "00"
  EXPECT_EQ(a->machine.Next(0, 1), kNoState);
  EXPECT_EQ(a->num_conflicts, 1);
  EXPECT_EQ(a->machine.output[3], kNoOutput);
  EXPECT_EQ(a->pairs.num_merged_disagreeing, 1);  // "0" with "1"
  EXPECT_EQ(a->pairs.merged_disagreeing(1, 1), 1);
  EXPECT_FALSE(a->is_finite);
}

TEST(ExtractAutomaton, RejectsBadInput) {
  const SequenceStates good = ThreePoints(0.0, 1.0, 2.0);
  auto message = [](const SequenceStates& d, const ExtractOptions& o) {
    const auto a = ExtractAutomaton(d, o);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(a.status().message());
  };
  EXPECT_THAT(message(good, ExtractOptions{0.0, std::nullopt}), HasSubstr("merge_fraction = 0;"));
  EXPECT_THAT(message(good, ExtractOptions{-0.5, std::nullopt}),
              HasSubstr("merge_fraction = -0.5; must be finite and > 0"));
  EXPECT_THAT(message(good, ExtractOptions{0.1, 0.0}), HasSubstr("reference_std = 0;"));

  SequenceStates rows = good;
  rows.hidden.resize(2, 1);
  EXPECT_THAT(message(rows, ExtractOptions()),
              HasSubstr("hidden has 2 rows; expected one per sequence (3)"));
  SequenceStates outputs = good;
  outputs.outputs.pop_back();
  EXPECT_THAT(message(outputs, ExtractOptions()), HasSubstr("outputs has 2 entries"));
  SequenceStates classes = good;
  classes.future_class.push_back(0);
  EXPECT_THAT(message(classes, ExtractOptions()), HasSubstr("future_class has 4 entries"));
  SequenceStates symbol = good;
  symbol.sequences[2] = {2};
  EXPECT_THAT(message(symbol, ExtractOptions()),
              HasSubstr("has symbol 2; symbols must be in 0..1"));
  SequenceStates no_empty = good;
  no_empty.sequences[0] = {1, 1};
  EXPECT_THAT(message(no_empty, ExtractOptions()), HasSubstr("lacks the empty sequence"));
  SequenceStates no_prefix = good;
  no_prefix.sequences[2] = {1, 0};
  EXPECT_THAT(message(no_prefix, ExtractOptions()),
              HasSubstr("[1,0] has no entry for its prefix [1]"));
  SequenceStates duplicate = good;
  duplicate.sequences[2] = {0};
  EXPECT_THAT(message(duplicate, ExtractOptions()), HasSubstr("repeats sequences[1]"));
  SequenceStates nan = good;
  nan.hidden(1, 0) = std::nan("");
  EXPECT_THAT(message(nan, ExtractOptions()), HasSubstr("hidden row 1 ([0]) is not finite"));
  SequenceStates same = good;
  same.hidden.setConstant(1.0);
  EXPECT_THAT(message(same, ExtractOptions()), HasSubstr("std of the hidden states = 0"));
}

TEST(HiddenStateStd, MatchesTwoPassFormulaOverStackedSnapshots) {
  Rng rng(12);
  std::vector<Eigen::MatrixXd> snapshots = {Eigen::MatrixXd(4, 3), Eigen::MatrixXd(6, 3)};
  for (Eigen::MatrixXd& s : snapshots) {
    for (int i = 0; i < s.rows(); ++i) {
      for (int j = 0; j < s.cols(); ++j) s(i, j) = 5.0 + rng.Normal() * (j + 1);
    }
  }
  double sum_var = 0.0;
  for (int j = 0; j < 3; ++j) {
    double mean = 0.0;
    for (const auto& s : snapshots) mean += s.col(j).sum();
    mean /= 10.0;
    double ss = 0.0;
    for (const auto& s : snapshots) {
      for (int i = 0; i < s.rows(); ++i) ss += (s(i, j) - mean) * (s(i, j) - mean);
    }
    sum_var += ss / 9.0;
  }
  const auto sigma = HiddenStateStd(snapshots);
  ASSERT_TRUE(sigma.ok()) << sigma.status();
  EXPECT_NEAR(*sigma, std::sqrt(sum_var), kRelTol * std::sqrt(sum_var));

  EXPECT_THAT(HiddenStateStd({Eigen::MatrixXd::Zero(1, 3)}).status().message(),
              HasSubstr("hold 1 rows; the sample std needs >= 2"));
  EXPECT_THAT(
      HiddenStateStd({Eigen::MatrixXd::Zero(2, 3), Eigen::MatrixXd::Zero(2, 2)}).status().message(),
      HasSubstr("snapshot 1 has 2 columns; snapshot 0 has 3"));
}

TEST(ArgmaxRows, FirstMaximumWins) {
  Eigen::MatrixXd y(3, 2);
  y << 0.2, 0.7,  //
      0.5, 0.5,   //
      std::nan(""), 1.0;
  EXPECT_THAT(ArgmaxRows(y), ElementsAre(1, 0, kNoOutput));
}

// ---------------------------------------------------------------------------------------
// Graphviz.

TEST(ToDot, WritesStatesEdgesAndStart) {
  DotOptions o;
  o.graph_name = "parity";
  o.state_names = {"even", "odd"};
  o.output_names = {"E", "O"};
  const std::string dot = ToDot(Parity(), o);
  EXPECT_THAT(dot, HasSubstr("digraph \"parity\" {\n"));
  EXPECT_THAT(dot, HasSubstr("  s0 [shape=doublecircle, label=\"even / E\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 [shape=circle, label=\"odd / O\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  __start -> s0;\n"));
  EXPECT_THAT(dot, HasSubstr("  s0 -> s0 [label=\"0\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s0 -> s1 [label=\"1\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 -> s0 [label=\"1\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 -> s1 [label=\"0\"];\n"));
  EXPECT_EQ(dot.back(), '\n');
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(ToDot, MergesParallelEdgesAndOmitsMissingOnes) {
  const std::string dot = ToDot(Machine(3, 1, {{kNoOutput, 1, 1, kNoState}, {2, 0, 1, 0}}));
  EXPECT_THAT(dot, HasSubstr("  s0 [shape=circle, label=\"q0 / -\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 [shape=doublecircle, label=\"q1 / 2\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s0 -> s1 [label=\"0,1\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 -> s0 [label=\"0,2\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  s1 -> s1 [label=\"1\"];\n"));
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '>'), 4);  // 3 edges + the start arrow
}

TEST(ToDot, EscapesLabels) {
  EXPECT_EQ(EscapeDotString("a\"b\\c\nd\te"), "a\\\"b\\\\c\\nd e");
  DotOptions o;
  o.graph_name = "g\"1";
  o.state_names = {"say \"hi\"\\", "x"};
  o.symbol_names = {"\"a\"", "b\nc"};
  const std::string dot = ToDot(Parity(), o);
  EXPECT_THAT(dot, HasSubstr("digraph \"g\\\"1\" {"));
  EXPECT_THAT(dot, HasSubstr("label=\"say \\\"hi\\\"\\\\ / 0\""));
  EXPECT_THAT(dot, HasSubstr("s0 -> s0 [label=\"\\\"a\\\"\"];"));
  EXPECT_THAT(dot, HasSubstr("s0 -> s1 [label=\"b\\nc\"];"));
  // Every quoted string ends at an unescaped quote on the same line.
  for (size_t pos = dot.find('"'); pos != std::string::npos; pos = dot.find('"', pos + 1)) {
    ++pos;
    while (pos < dot.size() && dot[pos] != '"') {
      ASSERT_NE(dot[pos], '\n');
      pos += dot[pos] == '\\' ? 2 : 1;
    }
    ASSERT_LT(pos, dot.size());
  }
}

}  // namespace
}  // namespace replearn
