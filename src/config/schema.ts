import { GRADED_ALIASES, GRADED_TYPE_NAMES, NEGATABLE_GRADED, SUPPORTED_ASSERTIONS } from './assertion-types.ts';

/**
 * JSON Schema of the eval YAML: the promptfoo subset batch-evals runs, plus its own keys (`threshold`,
 * `pricing`, `batch`). `npm run build` writes it to schema/batch-evals.schema.json for editors.
 */
const assertionTypes = [
  ...SUPPORTED_ASSERTIONS.flatMap((t) => [t, `not-${t}`]),
  ...GRADED_TYPE_NAMES.flatMap((t) => (NEGATABLE_GRADED.includes(GRADED_ALIASES[t] ?? t) ? [t, `not-${t}`] : [t])),
];

const stringMap = { type: 'object', additionalProperties: true } as const;

export const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://batch-evals.dev/schema/batch-evals.schema.json',
  title: 'batch-evals eval suite',
  description: 'An eval suite in the promptfoo format (supported subset) run through provider batch APIs.',
  type: 'object',
  required: ['prompts', 'providers'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', description: 'What the suite checks; shown in the report.' },
    prompts: {
      description: 'Prompts: strings, chat-message lists, file:// references, or {id, label} objects.',
      oneOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/prompt' } }],
    },
    providers: {
      description: 'Models to run every prompt against: openai:<model>, openai:chat:<model>, openai:responses:<model>, anthropic:messages:<model>, or objects.',
      oneOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/provider' } }],
    },
    tests: {
      description: 'Test cases inline, or a file:// reference to a CSV, JSONL or YAML file of them.',
      oneOf: [
        { type: 'string', pattern: '^file://' },
        { type: 'array', items: { oneOf: [{ type: 'string', pattern: '^file://' }, { $ref: '#/definitions/test' }] } },
      ],
    },
    defaultTest: { $ref: '#/definitions/test', description: 'Merged into every test.' },
    threshold: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      description: 'batch-evals: the minimum pass rate (0..1) for the run to pass; the action input min-pass-rate wins.',
    },
    batch: {
      type: 'object',
      description: 'batch-evals: how requests are split into provider batches. Past these, or the provider limits, a model gets several batches.',
      additionalProperties: false,
      properties: {
        maxRequests: { type: 'integer', minimum: 1, description: 'Requests per batch (the provider limit wins when lower: OpenAI 50,000, Anthropic 100,000).' },
        maxEnqueuedTokens: {
          description: 'Estimated input tokens per batch, for all models or per model: OpenAI fails a batch past the enqueued-token limit of the organisation (token_limit_exceeded).',
          oneOf: [{ type: 'integer', minimum: 1 }, { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } }],
        },
        maxRetries: { type: 'integer', minimum: 0, description: 'Rounds of retries for requests that failed for a retryable reason (the action input max-retries wins).' },
      },
    },
    pricing: {
      type: 'object',
      description: 'batch-evals: price overrides per model in USD per million tokens (real-time prices; batch is half).',
      additionalProperties: {
        type: 'object',
        required: ['input', 'output'],
        additionalProperties: false,
        properties: {
          input: { type: 'number', minimum: 0 },
          output: { type: 'number', minimum: 0 },
          cachedInput: { type: 'number', minimum: 0 },
          cacheWrite: { type: 'number', minimum: 0 },
        },
      },
    },
  },
  definitions: {
    chatMessage: {
      type: 'object',
      required: ['role', 'content'],
      additionalProperties: false,
      properties: {
        role: { enum: ['system', 'developer', 'user', 'assistant'] },
        content: { type: 'string' },
      },
    },
    prompt: {
      oneOf: [
        { type: 'string' },
        { type: 'array', minItems: 1, items: { $ref: '#/definitions/chatMessage' } },
        {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', description: 'The prompt text or a file:// reference.' },
            raw: { type: 'string' },
            label: { type: 'string' },
          },
        },
      ],
    },
    providerConfig: {
      type: 'object',
      description: 'Request parameters (temperature, max_tokens, top_p, seed, response_format, stop, ...); unknown ones go into the request body as written.',
      properties: {
        temperature: { type: 'number' },
        max_tokens: { type: 'integer', minimum: 1 },
        max_completion_tokens: { type: 'integer', minimum: 1 },
        top_p: { type: 'number' },
        seed: { type: 'integer' },
        stop: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        response_format: { type: 'object' },
        apiBaseUrl: { type: 'string', description: 'Base URL of an OpenAI-compatible batch API.' },
        promptCaching: {
          enum: [true, false, '5m', '1h'],
          description:
            'batch-evals, Anthropic models: put cache_control on the longest prefix (system prompt, leading messages) that requests share, ' +
            "so it is billed at the cache write and read prices. true or '5m': the 5-minute cache; '1h': the 1-hour cache (dearer writes, " +
            'more hits in a long batch). Not sent in the request. OpenAI caches prompts by itself.',
        },
      },
    },
    graderModel: {
      description: 'A grading model: openai:<model>, anthropic:messages:<model>, openai:embedding:<model> (for similar), or {id, config}.',
      oneOf: [
        { type: 'string' },
        {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { type: 'string' },
            label: { type: 'string' },
            config: { $ref: '#/definitions/providerConfig' },
          },
        },
      ],
    },
    grader: {
      description:
        'The model that grades model-graded assertions: a provider id, {id, config}, or one per purpose ({text: ..., embedding: ...}). ' +
        "The assertion's provider wins over the test's options.provider, which wins over defaultTest's.",
      oneOf: [
        { type: 'string' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            id: { type: 'string' },
            label: { type: 'string' },
            config: { $ref: '#/definitions/providerConfig' },
            text: { $ref: '#/definitions/graderModel', description: 'The chat model of llm-rubric, factuality, model-graded-closedqa, g-eval and answer-relevance.' },
            embedding: { $ref: '#/definitions/graderModel', description: 'The embeddings model of similar and answer-relevance.' },
            classification: { $ref: '#/definitions/graderModel', description: 'Not used by batch-evals.' },
            moderation: { $ref: '#/definitions/graderModel', description: 'Not used by batch-evals.' },
          },
        },
      ],
    },
    rubricPrompt: {
      description:
        'The grading prompt of model-graded assertions in place of the built-in one: text (a JSON list of chat messages is sent as chat), ' +
        'a list of {role, content} messages, or a file:// reference. Nunjucks, with output, rubric and the test vars.',
      oneOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/chatMessage' } }],
    },
    provider: {
      oneOf: [
        { type: 'string', pattern: '^[a-z]+:' },
        {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', pattern: '^[a-z]+:' },
            label: { type: 'string' },
            config: { $ref: '#/definitions/providerConfig' },
            prompts: { type: 'array', items: { type: 'string' }, description: 'Labels of the prompts this provider gets.' },
            reuse: {
              type: 'boolean',
              description: 'batch-evals: false to send every request of this provider again instead of reusing earlier outputs (e.g. when temperature > 0 and fresh samples matter). Default true.',
            },
          },
        },
      ],
    },
    assertion: {
      type: 'object',
      required: ['type'],
      additionalProperties: false,
      properties: {
        type: { enum: assertionTypes },
        value: {},
        threshold: { type: 'number' },
        weight: { type: 'number', minimum: 0 },
        metric: { type: 'string' },
        transform: { type: 'string' },
        provider: { $ref: '#/definitions/grader' },
        rubricPrompt: { $ref: '#/definitions/rubricPrompt' },
      },
    },
    test: {
      type: 'object',
      additionalProperties: false,
      properties: {
        description: { type: 'string' },
        vars: stringMap,
        assert: { type: 'array', items: { $ref: '#/definitions/assertion' } },
        threshold: { type: 'number', minimum: 0, maximum: 1 },
        metadata: stringMap,
        options: {
          type: 'object',
          additionalProperties: false,
          properties: {
            transform: { type: 'string' },
            provider: { $ref: '#/definitions/grader' },
            rubricPrompt: { $ref: '#/definitions/rubricPrompt' },
            factuality: {
              type: 'object',
              additionalProperties: false,
              description: "factuality: the score of each category (promptfoo's options.factuality); a category scoring above 0 passes. Defaults: 1, except disagree 0.",
              properties: Object.fromEntries(['subset', 'superset', 'agree', 'disagree', 'differButFactual'].map((k) => [k, { type: 'number', minimum: 0 }])),
            },
          },
        },
      },
    },
  },
} as const;
