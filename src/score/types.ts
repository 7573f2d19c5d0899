import type { Assertion } from '../config/types.ts';
import type { Usage } from '../batch/types.ts';

/** What an assertion may look at besides the output. */
export interface AssertionContext {
  vars: Record<string, unknown>;
  prompt: string;
  provider: string;
  usage?: Usage;
  /** The request's cost in USD at batch prices; undefined when the model's price is unknown. */
  cost?: number;
}

export interface AssertionResult {
  assertion: Assertion;
  pass: boolean;
  score: number;
  reason: string;
  /** True for assertions a batch cannot measure (latency): neither passed nor failed. */
  notApplicable?: boolean;
  /** A model-graded assertion whose grade has not come back (yet): its case is pending, not passed. */
  awaitingGrade?: boolean;
}

export interface TestScore {
  pass: boolean;
  score: number;
  reason: string;
  /** Named metrics (assertion `metric`) to their scores. */
  namedScores: Record<string, number>;
  assertions: AssertionResult[];
}
