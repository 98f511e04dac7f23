// The context-dependent ("orthogonal") task (docs/theory.md section 7): a 27 -> 4 x 100 -> 1
// leaky-ReLU MLP learns the blob's x in context 1 and its y in context 2 from three initial
// scales, one spec each in experiments/paper/specs/context/:
//
//   spec          gain    lr     steps   regime
//   gain_2.0      2.0     0.01   2000    lazy
//   gain_0.5      0.5     0.1    4000    intermediate
//   gain_0.275    0.275   0.5    6000    rich
//
// The paper gives no learning rates or lengths for this task; these were chosen so that each
// run leaves its initial plateau and ends with a full-batch loss below 1e-2 (about 0.17 at
// the start); smaller gains start closer to the saddle at zero and need larger steps.
// Every spec probes the same 200 examples: the 10 x 10 sub-grid of centres i, j in
// {0, 3, .., 27} of both contexts (rows ctx * 900 + i * 30 + j), with the distance matrix of
// every hidden layer and its 2-D classical MDS, at step 0 and at the end.
//
// Collapse measure, per hidden layer and context, from the distance matrix D of that
// context's probe examples grouped by their relevant coordinate (x in context 1, y in 2):
//   T = sum_{a<b} D_ab^2 / m,  W = sum_groups sum_{a<b in group} D_ab^2 / m_group,  B = T - W
// (the total, within-group and between-group sums of squares of the representations), and
//   irrelevant_over_relevant = sqrt(W / B),
// the spread along the irrelevant coordinate (relevant one fixed) over the spread of the
// group means along the relevant one. It is about 1 for the inputs; the rich regime's
// collapse of the irrelevant coordinate drives it towards 0. Reported as the mean over the
// two contexts.
//
// Output folder:
//   gain_<g>/                  each run folder (distance_matrix_*, mds_* files)
//   context_collapse.csv       gain,layer,step,context,irrelevant_over_relevant (context 0 =
//                              mean of the two)
//   context_mds.csv            gain,step,position,index,context,x_centre,y_centre,target,x1,x2
//                              for the reported layer at step 0 and at the end
//   context_mds.{png,svg}      per gain: the final MDS coloured by context and by target, and
//                              the step-0 MDS coloured by target
//   summary.json               per gain: learning rate, steps, final loss and
//                              irrelevant_over_relevant per layer at step 0 and at the end;
//                              headline rich_irrelevant_over_relevant (gain 0.275, reported
//                              layer), its step-0 value, and the lazy and intermediate ones
// The reported layer is the middle hidden layer (num_hidden / 2 = 2), as the project's
// default tracked layer. Smoke (--smoke): width 16, 20 steps; seconds.
#ifndef REPLEARN_EXPERIMENTS_CONTEXT_EXPERIMENT_H_
#define REPLEARN_EXPERIMENTS_CONTEXT_EXPERIMENT_H_

#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "experiments/paper/structure_util.h"

namespace replearn {

// sqrt(W / B) as above for the examples of one context: `d` their distance matrix, `group`
// each one's relevant coordinate (any integer key). NaN when B = 0.
double IrrelevantOverRelevant(const Eigen::MatrixXd& d, const std::vector<int>& group);

// options.specs: the folder of the three specs (default experiments/paper/specs/context).
absl::StatusOr<StructureResult> RunContext(const StructureOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_CONTEXT_EXPERIMENT_H_
