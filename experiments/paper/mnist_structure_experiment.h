// The MNIST-structure experiment (docs/theory.md section 7, "MNIST structure"): the hidden
// distance matrix of 100 training images (10 per class, sorted by label) after training,
// averaged over several networks, against a class-block prediction.
//
// Spec: experiments/paper/specs/mnist_structure.pbtxt (the MNIST settings of mnist_two_point.pbtxt:
// leaky-ReLU 784 -> 4 x 200 -> 10, gain 0.5, SGD lr 0.003, batch 64; fewer epochs, see the
// spec). The networks differ only in their initialisation: network k >= 1 starts from the
// parameters the architecture draws with seed Rng::DeriveSeed(training.seed, k) (network 0:
// training.seed), written to init/seed_<k>.npz and loaded through architecture.init_npz,
// while training.seed itself stays fixed. So every network sees the same train/test split,
// the same minibatch order and the same 100 probe images (the JSON digits' split and
// shuffles are drawn from training.seed), and the average is over initialisations only.
//
// Predictions, compared by Pearson's r over the 4950 pairs above the diagonal:
//   block    0 within a class, 1 between classes (any two-valued block matrix gives the same r)
//   [FINAL]  per network, docs/theory.md section 4 for every pair with D_y* = 0 within a class and
//            sqrt(2) between (one-hot targets), from that network's step-0 distances and the
//            eta_h / eta_y of its own theory fit (the two_point probe on a 0 and a 1), then
//            averaged over the networks like the measurement.
// For scale, r of the block prediction is also reported for the inputs and for the averaged
// initial hidden matrix (MNIST pixels already cluster by class).
//
// Output folder:
//   seed_<k>/                  each network's run folder
//   init/seed_<k>.npz          the initial parameters of network k
//   mnist_structure_{initial,measured,predicted,block}.{npy,csv}   averaged matrices
//   mnist_structure.{png,svg}  heat maps of the four
//   summary.json               pearson_r_block, pearson_r_final, pearson_r_block_initial,
//                              pearson_r_block_input, mean within- and between-class distance,
//                              per-network r, test accuracy and eta_h / eta_y, init_seeds,
//                              epochs, networks
// Smoke (--smoke): 2 networks of width 16, 1 epoch on 1000 training images; seconds.
#ifndef REPLEARN_EXPERIMENTS_MNIST_STRUCTURE_EXPERIMENT_H_
#define REPLEARN_EXPERIMENTS_MNIST_STRUCTURE_EXPERIMENT_H_

#include "absl/status/statusor.h"
#include "experiments/paper/structure_util.h"

namespace replearn {

// options.specs: the spec file (default experiments/paper/specs/mnist_structure.pbtxt);
// options.seeds: networks (default 10).
absl::StatusOr<StructureResult> RunMnistStructure(const StructureOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_MNIST_STRUCTURE_EXPERIMENT_H_
