/**
 * What model-graded assertions need from the emulators: OpenAI embeddings through the Batch API (for `similar`), and
 * grading requests (rubric / factuality prompts) answered like a grader, by the default heuristic or a `grade:` rule.
 * Everything goes through the official SDKs over real HTTP.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from './anthropic-emulator.ts';
import { cosineSimilarity, embeddingVector } from './embeddings.ts';
import { parseScript, startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from './openai-emulator.ts';
import { heuristicGrade } from './responder.ts';

// ---- helpers -------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
let running: (OpenAIEmulator | AnthropicEmulator)[] = [];

afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

async function openai(options: OpenAIEmulatorOptions = {}) {
  const emulator = await startOpenAIEmulator({ clock: () => T0, instant: true, ...options });
  running.push(emulator);
  return { emulator, client: new OpenAI({ apiKey: 'test', baseURL: emulator.url, maxRetries: 0 }) };
}

async function anthropic(options: AnthropicEmulatorOptions = {}) {
  const emulator = await startAnthropicEmulator({ clock: () => T0, instant: true, ...options });
  running.push(emulator);
  return { emulator, client: new Anthropic({ apiKey: 'test', baseURL: emulator.url, maxRetries: 0 }) };
}

type EmbeddingBody = OpenAI.Embeddings.EmbeddingCreateParams;

function embeddingLine(customId: string, body: Partial<EmbeddingBody> & Record<string, unknown>) {
  return { custom_id: customId, method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-large', ...body } };
}

function chatLine(customId: string, content: string, model = 'gpt-4.1-mini') {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }] } };
}

/** Uploads the lines, creates a batch for the endpoint, and reads it back (completed at once: `instant`). */
async function runBatch(client: OpenAI, endpoint: '/v1/embeddings' | '/v1/chat/completions', lines: unknown[]) {
  const content = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const file = await client.files.create({ file: await toFile(Buffer.from(content), 'requests.jsonl'), purpose: 'batch' });
  const created = await client.batches.create({ input_file_id: file.id, endpoint, completion_window: '24h' });
  expect(created.status).toBe('validating');
  return client.batches.retrieve(created.id);
}

async function fileLines(client: OpenAI, fileId: string | null | undefined): Promise<any[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** The output lines' bodies by custom_id. */
async function outputBodies(client: OpenAI, batch: OpenAI.Batches.Batch): Promise<Record<string, any>> {
  return Object.fromEntries((await fileLines(client, batch.output_file_id)).map((l) => [l.custom_id, l.response.body]));
}

/** A grading prompt shaped like batch-evals' own: instructions (mentioning the tags) first, then the tagged data. */
function gradingPrompt(output: string, criterion: { rubric: string } | { reference: string }, question?: string): string {
  return [
    'You are grading output according to a user-specified rubric. The output is between <Output> and </Output> tags.',
    'Reply with JSON only: {"reason": string, "pass": boolean, "score": number}.',
    ...(question === undefined ? [] : [`<Question>\n${question}\n</Question>`]),
    `<Output>\n${output}\n</Output>`,
    'rubric' in criterion ? `<Rubric>\n${criterion.rubric}\n</Rubric>` : `<Reference>\n${criterion.reference}\n</Reference>`,
  ].join('\n');
}

const RUBRIC = 'The response mentions the refund policy and the thirty day return window.';
const GOOD = 'Our refund policy: you may return any item within a thirty day window.';
const BAD = 'Thanks for reaching out! Have a nice day.';

// ---- embeddings ----------------------------------------------------------------------------------------------------

describe('OpenAI emulator: embeddings through the Batch API', () => {
  it('round-trips an embeddings batch: documented response shape, deterministic vectors that reflect meaning', async () => {
    const { emulator, client } = await openai();
    const texts = {
      paris: 'The capital of France is Paris.',
      parisAgain: 'Paris is the capital of France',
      berlin: 'The capital of Germany is Berlin.',
      shoes: 'Our running shoes ship free within thirty days.',
    };
    const batch = await runBatch(client, '/v1/embeddings', [
      embeddingLine('one', { input: texts.paris }),
      embeddingLine('many', { input: [texts.paris, texts.parisAgain, texts.berlin, texts.shoes], encoding_format: 'float' }),
      embeddingLine('short', { input: texts.paris, dimensions: 256, model: 'text-embedding-3-small' }),
      embeddingLine('b64', { input: texts.paris, dimensions: 256, encoding_format: 'base64' }),
      embeddingLine('tokens', { input: [[1, 2, 3], [1, 2, 4]], model: 'text-embedding-ada-002' }),
    ]);
    expect(batch).toMatchObject({ status: 'completed', endpoint: '/v1/embeddings', model: 'text-embedding-3-large', request_counts: { total: 5, completed: 5, failed: 0 }, error_file_id: null });
    const bodies = await outputBodies(client, batch);

    const one = bodies.one as OpenAI.Embeddings.CreateEmbeddingResponse;
    const tokens = Math.ceil(texts.paris.length / 4);
    expect(Object.keys(one).sort()).toEqual(['data', 'model', 'object', 'usage']);
    expect(one).toMatchObject({ object: 'list', model: 'text-embedding-3-large', usage: { prompt_tokens: tokens, total_tokens: tokens } });
    expect(one.data).toHaveLength(1);
    expect(Object.keys(one.data[0]).sort()).toEqual(['embedding', 'index', 'object']);
    expect(one.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(one.data[0].embedding).toHaveLength(3072); // text-embedding-3-large's native length
    expect(Math.hypot(...one.data[0].embedding)).toBeCloseTo(1, 5);

    const many = bodies.many as OpenAI.Embeddings.CreateEmbeddingResponse;
    expect(many.data.map((d) => d.index)).toEqual([0, 1, 2, 3]);
    expect(many.usage.prompt_tokens).toBe(Object.values(texts).reduce((sum, t) => sum + Math.ceil(t.length / 4), 0));
    const [paris, parisAgain, berlin, shoes] = many.data.map((d) => d.embedding);
    expect(paris).toEqual(one.data[0].embedding); // deterministic, whatever the request it comes in
    expect(paris).toEqual(embeddingVector(texts.paris, 3072)); // and the same as the exported function's
    const same = cosineSimilarity(paris, parisAgain);
    const related = cosineSimilarity(paris, berlin);
    const unrelated = cosineSimilarity(paris, shoes);
    expect(same).toBeGreaterThan(0.85);
    expect(related).toBeLessThan(same);
    expect(related).toBeGreaterThan(unrelated);
    expect(Math.abs(unrelated)).toBeLessThan(0.15);

    expect(bodies.short.data[0].embedding).toHaveLength(256);
    expect(bodies.short.model).toBe('text-embedding-3-small');
    // base64 is the little-endian float32 array of the same vector.
    const b64 = bodies.b64.data[0].embedding as string;
    expect(typeof b64).toBe('string');
    const decoded = Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer));
    expect(decoded).toEqual(embeddingVector(texts.paris, 256));
    // Token arrays: one vector per array, usage counts the tokens.
    expect(bodies.tokens.data).toHaveLength(2);
    expect(bodies.tokens.data[0].embedding).toHaveLength(1536);
    expect(bodies.tokens.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });

    expect(batch.usage).toMatchObject({ output_tokens: 0, input_tokens: Object.values(bodies).reduce((sum, b) => sum + b.usage.prompt_tokens, 0) });
    expect(emulator.state.billed.get('many')).toBe(1);
  });

  it('fails the batch for a line whose url is not the batch endpoint, and for a chat body without input', async () => {
    const { emulator, client } = await openai();
    const batch = await runBatch(client, '/v1/embeddings', [
      embeddingLine('ok', { input: 'fine' }),
      { ...embeddingLine('wrong-url', { input: 'x' }), url: '/v1/chat/completions' },
      { ...chatLine('chat-body', 'What is 2+2?'), url: '/v1/embeddings' },
    ]);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data).toEqual([
      { code: 'invalid_url', line: 2, message: 'The URL provided for this request does not match the batch endpoint.', param: 'url' },
      { code: 'invalid_request', line: 3, message: 'Input parameter is required.', param: 'body.input' },
    ]);
    expect(emulator.state.answered.size).toBe(0);

    // The other way round: an embeddings line in a chat batch.
    const chat = await runBatch(client, '/v1/chat/completions', [chatLine('ok', 'hi'), embeddingLine('emb', { input: 'x' })]);
    expect(chat.status).toBe('failed');
    expect(chat.errors?.data?.map((e) => [e.code, e.line])).toEqual([
      ['invalid_url', 2],
      ['invalid_request', 2],
    ]);
  });

  it('answers a body the embeddings endpoint refuses with a 400 in the error file', async () => {
    const { emulator, client } = await openai();
    const batch = await runBatch(client, '/v1/embeddings', [
      embeddingLine('ok', { input: 'fine' }),
      embeddingLine('extra', { input: 'x', messages: [{ role: 'user', content: 'x' }] }),
      embeddingLine('empty', { input: '' }),
      embeddingLine('zero', { input: 'x', dimensions: 0 }),
      embeddingLine('too-many-dims', { input: 'x', dimensions: 4096 }),
      embeddingLine('ada-dims', { input: 'x', dimensions: 64, model: 'text-embedding-ada-002' }),
      embeddingLine('format', { input: 'x', encoding_format: 'int8' as 'float' }),
      embeddingLine('too-long', { input: 'word '.repeat(8000) }),
    ]);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 8, completed: 1, failed: 7 } });
    const errors: Record<string, any> = Object.fromEntries((await fileLines(client, batch.error_file_id)).map((l) => [l.custom_id, l.response]));
    expect(Object.values(errors).every((r) => r.status_code === 400 && r.body.error.type === 'invalid_request_error')).toBe(true);
    expect(errors.extra.body.error.message).toBe('Unrecognized request argument supplied: messages');
    expect(errors.empty.body.error.message).toMatch(/^'\$\.input' is invalid/);
    expect(errors.zero.body.error).toMatchObject({ param: 'dimensions', code: 'integer_below_min_value' });
    expect(errors['too-many-dims'].body.error).toMatchObject({ param: 'dimensions', code: 'integer_above_max_value' });
    expect(errors['ada-dims'].body.error.message).toBe('This model does not support specifying dimensions.');
    expect(errors.format.body.error).toMatchObject({ param: 'encoding_format', code: 'invalid_value' });
    expect(errors['too-long'].body.error.message).toMatch(/maximum context length is 8192 tokens, however you requested 10000 tokens/);
    expect([...emulator.state.billed.keys()]).toEqual(['ok']);
  });

  it('lets a script fail an embeddings request, by custom_id or by its input text, once or always', async () => {
    const { emulator, client } = await openai({
      script: parseScript(`
- customId: flaky
  error: { status: 429, type: requests, code: rate_limit_exceeded, message: Rate limit reached. }
  failTimes: 1
- match: /forbidden/
  error: { status: 400, message: Input refused. }
`),
    });
    const lines = [embeddingLine('flaky', { input: 'hello there' }), embeddingLine('refused', { input: ['fine', 'a forbidden text'] }), embeddingLine('ok', { input: 'hello' })];
    const first = await runBatch(client, '/v1/embeddings', lines);
    expect(first.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const errors = Object.fromEntries((await fileLines(client, first.error_file_id)).map((l) => [l.custom_id, l.response]));
    expect(errors.flaky).toMatchObject({ status_code: 429, body: { error: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached.' } } });
    expect(errors.refused).toMatchObject({ status_code: 400, body: { error: { type: 'invalid_request_error', message: 'Input refused.' } } });
    const second = await runBatch(client, '/v1/embeddings', lines);
    expect(Object.keys(await outputBodies(client, second)).sort()).toEqual(['flaky', 'ok']);
    expect(emulator.state.doubleBilled()).toEqual(['ok']);
  });
});

// ---- grading requests ----------------------------------------------------------------------------------------------

describe('heuristicGrade', () => {
  it('scores the share of the rubric content words found in the output', () => {
    expect(heuristicGrade(gradingPrompt(GOOD, { rubric: RUBRIC }))).toEqual({ reason: 'The output has all 5 content words of the rubric.', pass: true, score: 1 });
    expect(heuristicGrade(gradingPrompt('Our refund policy is generous.', { rubric: RUBRIC }))).toEqual({
      reason: 'The output has 2 of the 5 content words of the rubric; missing: "thirty", "return", "window".',
      pass: false,
      score: 0.4,
    });
    expect(heuristicGrade(gradingPrompt('Paris.', { reference: 'Paris is the capital of France' }, 'What is the capital of France?'))).toEqual({
      reason: 'The output has 1 of the 3 content words of the reference; missing: "capital", "france".',
      pass: false,
      score: 0.33,
      category: 'D',
    });
    expect(heuristicGrade('What is in <Output>x</Output>?')).toBeUndefined();
    expect(heuristicGrade('Plain question.')).toBeUndefined();
  });
});

describe('grading requests on the OpenAI emulator', () => {
  it('answers an unscripted grading request with the heuristic JSON verdict, and other requests as before', async () => {
    const { client } = await openai({ script: parseScript('- match: /Customer:/\n  reply: scripted\n') });
    const batch = await runBatch(client, '/v1/chat/completions', [
      chatLine('pass', gradingPrompt(GOOD, { rubric: RUBRIC })),
      chatLine('fail', gradingPrompt(BAD, { rubric: RUBRIC })),
      chatLine('factual', gradingPrompt('The capital of France is Paris.', { reference: 'Paris is the capital of France.' }, 'Capital of France?'), 'gpt-4.1'),
      chatLine('plain', 'What is 2+2?'),
      chatLine('scripted', 'Customer: hello'),
    ]);
    const bodies = await outputBodies(client, batch);
    const verdict = (id: string) => JSON.parse(bodies[id].choices[0].message.content);
    expect(verdict('pass')).toEqual({ reason: 'The output has all 5 content words of the rubric.', pass: true, score: 1 });
    expect(verdict('fail')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('fail').reason).toContain('"refund"');
    expect(verdict('factual')).toEqual({ reason: 'The output has all 3 content words of the reference.', pass: true, score: 1, category: 'C' });
    expect(bodies.pass.choices[0].message.content).toBe(JSON.stringify(verdict('pass'))); // JSON text only, no prose
    expect(bodies.plain.choices[0].message.content).toBe('[emulated gpt-4.1-mini] You asked: "What is 2+2?"');
    expect(bodies.scripted.choices[0].message.content).toBe('scripted');
  });

  it('answers a scripted grade: rule with its JSON, and keeps reply: rules that script a verdict', async () => {
    const { client } = await openai({
      script: parseScript(`
- customId: /^lenient-/
  match: /<Rubric>[\\s\\S]*refund/
  grade: { pass: true, score: 0.9, reason: "{{customId}} is fine by {{model}}" }
- match: /<Reference>[\\s\\S]*thirty/
  grade: { pass: false, reason: Contradicts the reference., category: D }
- match: /<Reference>/
  grade: { category: B, reason: A superset of the reference. }
- customId: raw
  reply: '{"pass": false, "score": 0.1, "reason": "hand-written"}'
`),
    });
    const batch = await runBatch(client, '/v1/chat/completions', [
      chatLine('lenient-1', gradingPrompt(BAD, { rubric: RUBRIC })),
      chatLine('factual', gradingPrompt(GOOD, { reference: GOOD })),
      chatLine('superset', gradingPrompt(GOOD, { reference: 'Refunds are possible.' })),
      chatLine('raw', gradingPrompt(GOOD, { rubric: RUBRIC })),
      chatLine('unscripted', gradingPrompt(GOOD, { rubric: RUBRIC })),
    ]);
    const bodies = await outputBodies(client, batch);
    const text = (id: string) => bodies[id].choices[0].message.content as string;
    expect(text('lenient-1')).toBe('{"reason":"lenient-1 is fine by gpt-4.1-mini","pass":true,"score":0.9}');
    expect(text('factual')).toBe('{"reason":"Contradicts the reference.","pass":false,"category":"D"}');
    expect(text('superset')).toBe('{"reason":"A superset of the reference.","category":"B"}');
    expect(JSON.parse(text('raw'))).toEqual({ pass: false, score: 0.1, reason: 'hand-written' });
    expect(JSON.parse(text('unscripted'))).toMatchObject({ pass: true, score: 1 });
  });

  it('refuses malformed grade: rules when the script is loaded', () => {
    expect(() => parseScript('- grade: { reason: x }')).toThrow(/"grade" needs "pass" \(or, for factuality, "category"\)/);
    expect(() => parseScript('- grade: { reason: x, pass: "yes" }')).toThrow(/"grade.pass" must be true or false/);
    expect(() => parseScript('- grade: { pass: true }')).toThrow(/"grade.reason" must be a string/);
    expect(() => parseScript('- grade: { pass: true, reason: x, score: high }')).toThrow(/"grade.score" must be a number/);
    expect(() => parseScript('- grade: { pass: true, reason: x, category: F }')).toThrow(/"grade.category" must be one of A, B, C, D, E/);
    expect(() => parseScript('- grade: { pass: true, reason: x, verdict: ok }')).toThrow(/unknown key "grade.verdict"/);
    expect(() => parseScript('- grade: { pass: true, reason: x }\n  reply: y')).toThrow(/exactly one of "reply", "grade" and "error"/);
    expect(() => parseScript('- grade: yes')).toThrow(/"grade" must be an object/);
  });
});

describe('grading requests on the Anthropic emulator', () => {
  type Request = Anthropic.Messages.BatchCreateParams.Request;
  const request = (customId: string, content: string, system?: string): Request => ({
    custom_id: customId,
    params: { model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content }], ...(system ? { system } : {}) },
  });

  async function replies(client: Anthropic, requests: Request[]): Promise<Record<string, string>> {
    const batch = await client.messages.batches.create({ requests });
    expect((await client.messages.batches.retrieve(batch.id)).processing_status).toBe('ended');
    const out: Record<string, string> = {};
    for await (const { custom_id, result } of await client.messages.batches.results(batch.id)) {
      out[custom_id] = result.type === 'succeeded' ? (result.message.content[0] as Anthropic.TextBlock).text : result.type;
    }
    return out;
  }

  it('answers an unscripted grading request with the heuristic JSON verdict (pass and fail)', async () => {
    const { client } = await anthropic();
    const out = await replies(client, [
      request('pass', gradingPrompt(GOOD, { rubric: RUBRIC }), 'You are a strict grader. Reply with JSON only.'),
      request('fail', gradingPrompt(BAD, { rubric: RUBRIC })),
      request('factual', gradingPrompt(BAD, { reference: GOOD })),
      request('plain', 'What is 2+2?'),
    ]);
    expect(JSON.parse(out.pass)).toEqual({ reason: 'The output has all 5 content words of the rubric.', pass: true, score: 1 });
    expect(JSON.parse(out.fail)).toMatchObject({ pass: false, score: 0 });
    expect(JSON.parse(out.factual)).toMatchObject({ pass: false, score: 0, category: 'D' });
    expect(out.plain).toBe('[emulated claude-haiku-4-5] You asked: "What is 2+2?"');
  });

  it('answers a scripted grade: rule with its JSON', async () => {
    const { client } = await anthropic({ script: [{ model: 'claude-haiku-4-5', match: /<Rubric>/, grade: { pass: false, score: 0.2, reason: 'Too vague.' } }] });
    const out = await replies(client, [request('graded', gradingPrompt(GOOD, { rubric: RUBRIC })), request('plain', 'Hi')]);
    expect(out.graded).toBe('{"reason":"Too vague.","pass":false,"score":0.2}');
    expect(out.plain).toContain('You asked: "Hi"');
  });
});
