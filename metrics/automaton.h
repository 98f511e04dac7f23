// Finite automata read off a recurrent network's hidden states, and Moore-machine minimisation.
//
// Extraction follows the analysis of van Rossem & Saxe, "Algorithm Development in Neural
// Networks: Insights from the Streaming Parity Task" (ICML 2025, App. A), as the authors' code
// performs it. Every analysis sequence s (a word over the input symbols 0 .. K-1, the empty
// word included) has the network's final hidden state h(s) and an output symbol o(s) (the
// argmax of the network's output). Then:
//
//  1. Merge distance. sigma = || std(H) ||_2, where std(H) is the column-wise sample standard
//     deviation (divisor n - 1) of the stacked hidden states H (one row per state vector, all
//     rows given, the empty sequence's included) and the norm runs over the hidden units. The
//     merge distance is d_merge = merge_fraction * sigma. The reference uses merge_fraction =
//     0.01 for the main run and 0.1 for the phase diagram; for the per-epoch history it takes
//     sigma over the hidden states of all epochs together (HiddenStateStd accepts several
//     snapshots; pass the result as ExtractOptions::reference_std).
//  2. Canonical order. Sequences are sorted lexicographically by their symbols, a proper
//     prefix before its extensions ("0" < "00" < "01" < "1"), with the empty sequence LAST.
//     For alphabets of at most 10 symbols this is the reference's order (it sorts the strings
//     "0", "01", ..., and "initial" sorts after every digit). Everything below runs in this
//     order, so the result does not depend on the order of the input.
//  3. Greedy leader clustering (not single linkage). Walking the canonical order, a sequence
//     joins the FIRST existing cluster (in creation order) whose leader, the cluster's first
//     member, lies at Euclidean distance strictly less than d_merge; otherwise it founds a new
//     cluster. Members are only compared with leaders, so two members of one cluster can be up
//     to 2 d_merge apart, and two sequences closer than d_merge can land in different
//     clusters. States are the clusters, numbered in creation order.
//  4. Transitions. For every non-empty sequence s = p a (prefix p, last symbol a), the state
//     of p goes to the state of s on a. Assignments are made walking the states in creation
//     order and each state's members in canonical order; when the members of one state
//     disagree on where a symbol leads, the LAST assignment wins (as in the reference), and
//     the (state, symbol) slot is counted in num_conflicts. A slot that no sequence provides
//     stays missing (a partial automaton): e.g. states whose members all have the maximal
//     length have no outgoing transitions.
//  5. Outputs. A state's output is the output of its first member other than the empty
//     sequence. A state holding only the empty sequence gets the empty sequence's output as
//     given, which may be kNoOutput (the reference records none for the initial state; its
//     reduction then treats it as symbol 0, numpy's argmax of None, so to reproduce the
//     reference's reduced sizes pass 0, the parity of the empty word, instead).
//  6. The initial state is the state of the empty sequence.
//
// The input must hold the empty sequence and be prefix-closed (every prefix of a given
// sequence is given too), as the reference's analysis set (all words of length 0 .. 10) is.
//
// Minimisation (MinimizeMoore) is Moore's partition refinement on the part reachable from the
// initial state, correct on partial machines: a missing transition is read as a move to an
// implicit sink state whose output differs from every real output and that loops to itself.
// Two states are therefore equivalent iff they have the same output and, for every symbol,
// either both lack the transition or both have it and move to equivalent states. (The
// reference's Hopcroft implementation is only reliable on complete machines; on complete
// machines both give the unique minimal machine.) kNoOutput is an output value of its own.
#ifndef REPLEARN_METRICS_AUTOMATON_H_
#define REPLEARN_METRICS_AUTOMATON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace replearn {

// A missing transition.
inline constexpr int kNoState = -1;
// A state (or sequence) without an output symbol.
inline constexpr int kNoOutput = -1;

// A deterministic Moore machine over input symbols 0 .. num_symbols - 1, possibly partial.
// Outputs are symbols >= 0 or kNoOutput.
struct MooreMachine {
  int num_symbols = 0;
  int initial = 0;
  std::vector<int> output;  // [num_states]
  std::vector<int> next;    // [num_states * num_symbols]: state after symbol a from q, or kNoState

  int num_states() const { return static_cast<int>(output.size()); }
  int Next(int q, int a) const { return next[static_cast<size_t>(q) * num_symbols + a]; }
  void SetNext(int q, int a, int to) { next[static_cast<size_t>(q) * num_symbols + a] = to; }
};

// num_states states without transitions, outputs kNoOutput, initial state 0.
MooreMachine EmptyMooreMachine(int num_states, int num_symbols);

// InvalidArgumentError naming the offending field unless: num_symbols >= 1, at least one state,
// initial in range, next has num_states * num_symbols entries each in range or kNoState, and
// every output >= kNoOutput.
absl::Status ValidateMooreMachine(const MooreMachine& m);

// True iff every state has a transition on every symbol (the reference's "is_finite").
bool IsComplete(const MooreMachine& m);
// Number of states lacking a transition on at least one symbol (the reference's "n_exit").
int NumExitStates(const MooreMachine& m);

// The minimal machine and how the input's states map onto it.
struct MinimizedMachine {
  // The minimal machine. Canonical numbering: breadth-first from the initial state (state
  // 0), trying symbols in increasing order, so machines that are equivalent (same output on
  // every word) minimise to identical structs whatever their state numbering.
  MooreMachine machine;
  std::vector<int> block_of;  // per input state: its state in `machine`, kNoState if unreachable
  int num_unreachable = 0;    // input states not reachable from the initial state
};

// Moore partition refinement with the partial-machine semantics of the file comment. Removes
// unreachable states first. InvalidArgumentError if ValidateMooreMachine fails.
absl::StatusOr<MinimizedMachine> MinimizeMoore(const MooreMachine& m);

// True iff a and b (same num_symbols) give the same output on every word from their initial
// states, under the same semantics (a missing transition leads to the sink, and only the sink
// matches the sink). Breadth-first search over pairs of states; independent of MinimizeMoore.
absl::StatusOr<bool> EquivalentMoore(const MooreMachine& a, const MooreMachine& b);

// Hidden states of one network on the analysis sequences. Row i of `hidden` and entries i of
// `outputs` and `future_class` belong to sequences[i].
struct SequenceStates {
  int num_symbols = 2;
  std::vector<std::vector<int>> sequences;  // distinct, prefix-closed, empty sequence included
  Eigen::MatrixXd hidden;                   // [num_sequences, hidden units]
  std::vector<int> outputs;                 // output symbol (>= 0) or kNoOutput
  // The task's own classes of sequences: two sequences agree on the task's output after
  // every possible continuation iff their classes are equal (for streaming parity: the
  // parity of the sequence; for a task given by a Moore machine: the state of its minimal
  // machine). Any integers.
  std::vector<int> future_class;
};

struct ExtractOptions {
  double merge_fraction = 0.01;  // d_merge = merge_fraction * sigma; must be > 0
  // sigma; when unset, HiddenStateStd of the given hidden states. Must be finite and > 0.
  std::optional<double> reference_std;
};

// Unordered pairs of distinct sequences by length: entry (a, b) counts the pairs {s, t} with
// |s| = a and |t| = b, so the matrices are symmetric ([max length + 1] square, length 0 being
// the empty sequence). "agreeing" = equal future_class.
using PairCountMatrix = Eigen::Matrix<int64_t, Eigen::Dynamic, Eigen::Dynamic>;
struct PairCounts {
  PairCountMatrix merged_agreeing;     // pairs in the same state with equal future_class
  PairCountMatrix merged_disagreeing;  // pairs in the same state with different future_class
  PairCountMatrix agreeing;            // all pairs with equal future_class
  PairCountMatrix disagreeing;         // all pairs with different future_class
  // Sums over all pairs (the upper triangle, diagonal included). The reference's totals
  // leave out the empty sequence: use SumPairs(matrix, 1).
  int64_t num_merged_agreeing = 0;
  int64_t num_merged_disagreeing = 0;
  int64_t num_agreeing = 0;
  int64_t num_disagreeing = 0;
};
// Number of pairs in `counts` whose two lengths are both >= min_length.
int64_t SumPairs(const PairCountMatrix& counts, int min_length = 0);

struct ExtractedAutomaton {
  MooreMachine machine;       // states in creation order; initial = state of the empty sequence
  std::vector<int> state_of;  // per input sequence (input order), its state
  // Per state, its members as input indices in canonical order; members[q][0] is the leader.
  std::vector<std::vector<int>> members;
  double reference_std = 0.0;   // sigma
  double merge_distance = 0.0;  // d_merge
  bool is_finite = false;       // IsComplete(machine)
  int num_exit_states = 0;      // NumExitStates(machine)
  // (state, symbol) slots that received more than one distinct target (step 4).
  int num_conflicts = 0;
  PairCounts pairs;
};

// Steps 1-6 of the file comment. InvalidArgumentError naming the value for: merge_fraction
// <= 0 or not finite, reference_std <= 0 or not finite (given or computed), num_symbols < 1,
// sizes of hidden / outputs / future_class that differ from the number of sequences, no
// hidden units, non-finite hidden states, a symbol outside 0 .. num_symbols - 1, an output
// below kNoOutput, a duplicate sequence, a missing empty sequence or a missing prefix.
absl::StatusOr<ExtractedAutomaton> ExtractAutomaton(const SequenceStates& data,
                                                    const ExtractOptions& options);

// sigma of step 1 over the rows of all snapshots stacked (e.g. the hidden states of every
// epoch): the Euclidean norm of the column-wise sample standard deviations (divisor n - 1).
// InvalidArgumentError if the snapshots differ in width, hold fewer than 2 rows in all, or
// hold a non-finite value.
absl::StatusOr<double> HiddenStateStd(absl::Span<const Eigen::MatrixXd> snapshots);

// Per row, the index of its largest entry, the first one on ties (numpy's argmax); kNoOutput
// for a row with a NaN or no columns.
std::vector<int> ArgmaxRows(const Eigen::MatrixXd& outputs);

// Graphviz rendering.
struct DotOptions {
  std::string graph_name = "automaton";
  // Names of the input symbols, output symbols and states; an index without a name is shown
  // as its number (states as "q<index>"). kNoOutput is shown as "-".
  std::vector<std::string> symbol_names;
  std::vector<std::string> output_names;
  std::vector<std::string> state_names;
};
// A `digraph` with one node per state (ids s0, s1, ...; label "<state> / <output>", double
// circle for the initial state, which an arrow from an invisible point node enters) and one
// edge per (state, next state) pair, labelled by its symbols in increasing order joined by
// ",". Every label is escaped with EscapeDotString. Requires ValidateMooreMachine(m) to pass
// (CHECK).
std::string ToDot(const MooreMachine& m, const DotOptions& options = DotOptions());

// Text to put between double quotes in Graphviz: backslash -> \\, double quote -> \",
// newline -> \n (a centred line break), other control characters -> space.
std::string EscapeDotString(absl::string_view text);

}  // namespace replearn

#endif  // REPLEARN_METRICS_AUTOMATON_H_
