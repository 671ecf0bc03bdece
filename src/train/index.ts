// prerank/train: train a model from a config (or build the pieces yourself), run experiments over models x seeds,
// checkpoints, predictions and the training strategies (One Backpropagation, CS3).
export { runTraining, buildStrategy, type RunResult } from './run.js';
export { loadTrainConfig, loadData, buildModel, loadRunModel } from './build.js';
export { TrainConfigSchema, parseTrainConfig, resolveTrainConfig, type TrainConfig, type TrainConfigInput, type ResolvedTrainConfig,
  type OptimizerConfig } from './config.js';
export { autoBatchSize } from './small-epoch.js';
export { Trainer, createOptimizer, type TrainerOptions, type FitResult, type EpochRecord, type ValMetrics } from './trainer.js';
export { ExperimentSchema, parseExperiment, loadExperiment, runExperiment, type ExperimentConfig, type RunRecord,
  type ExperimentRunOptions } from './experiment.js';
export { saveCheckpoint, loadCheckpoint, hasCheckpoint, type CheckpointMeta } from './checkpoint.js';
export { collectPredictions, binaryMetrics, type Predictions, type BinaryMetrics } from './predict.js';
export { STRATEGIES, STRATEGY_CONFIGS, StrategySpecSchema, type StrategyName } from './strategies/registry.js';
export { TrainingStrategy, type StrategyContext, type StrategyFactory, type StrategyExport } from './strategies/types.js';
