// prerank/cascade: a seeded cascade simulator over real logs (recall -> production pre-ranker -> teacher ranker ->
// impressions, plus random samples), with aggregated labels, for training and evaluating pre-rankers (docs/CASCADE.md).
export { CascadeConfigSchema, parseCascadeConfig, loadCascadeConfig, checkCascadeConfig, checkCorpus, cascadeConfigJsonSchema,
  CascadeConfigError, type CascadeConfig, type CascadeConfigInput, type StageModelSpec } from './config.js';
export { splitPeriods, sampleRequests, firstSeen, type Periods, type Request, type EventLog, type GroundTruth } from './periods.js';
export { CooccurrenceRecall } from './recall.js';
export { aggregateLabel, levelNames, STAGES, type Stage } from './labels.js';
export { periodOneDataset, trainStageModel, PairScorer } from './stage-models.js';
export { ruleLabel } from '../data/spec.js';
export { RequestHistories } from './history.js';
export { simulateCascade, ingestEvents, resolveDataConfig, type CascadeResult, type RequestLog } from './simulate.js';
export { writeCascade, manifestOf, type CascadeManifest, type CascadeFormat } from './writer.js';
export { inspectCascade, formatCascadeInspect, cascadeLogDir } from './inspect.js';
export { CascadeLists, PAD_STAGE, type CascadeListBatch, type CascadeListOptions, type StageCaps } from './lists.js';
export { listLogits, cascadeLoss, type CascadeObjective } from './train.js';
export { listRun, listSource, listObjective, type ListValidation } from './list-run.js';
export { fitOnCascade, type CascadeFitOptions, type CascadeFitResult, type CascadeEpoch } from './fit.js';
export { evaluateRequests, evaluateOnCascade, modelScorer, loggedPrerankScorer, recallIndex, relevanceOf, type RecallScorer,
  type CascadeEvalOptions, type CascadeEvalResult } from './evaluate.js';
