/** promptfoo's model-graded assertions that batch-evals grades in a second batch (src/grade). */
export const MODEL_GRADED_TYPES = new Set(['llm-rubric', 'factuality', 'model-graded-factuality', 'model-graded-closedqa', 'answer-relevance', 'g-eval', 'similar']);

export function isModelGraded(type: string): boolean {
  return MODEL_GRADED_TYPES.has(type);
}
