/**
 * How a batch create is retried by the providers themselves, not by the SDKs: an SDK's retry after an answer lost on
 * the way back (a dropped connection, a timeout, a 5xx from a proxy) creates a second batch, run and billed in full
 * beside the first. The rules are the SDKs' own (both SDKs share them), so only what is looked at before a retry
 * differs.
 */

/** Tries of a create after the first, as the SDKs' `maxRetries: 4` would make. */
export const CREATE_RETRIES = 4;

/** A failed HTTP call as the retry rules see it; undefined for an error that is not one (a bug, a bad argument). */
export interface HttpFailure {
  /** No answer came: the connection failed or timed out. */
  connection: boolean;
  status?: number;
  headers?: Headers;
}

/** An SDK's error classes: both SDKs have an `APIError` with `status` and `headers`, and an `APIConnectionError` below it. */
export interface SdkErrors {
  APIError: abstract new (...args: never[]) => { status?: number; headers?: Headers };
  APIConnectionError: abstract new (...args: never[]) => unknown;
}

/** An SDK error as the retry rules see it; undefined for anything else. */
export function failureOf(err: unknown, sdk: SdkErrors): HttpFailure | undefined {
  if (err instanceof sdk.APIConnectionError) return { connection: true };
  if (err instanceof sdk.APIError) return { connection: false, status: err.status, headers: err.headers };
  return undefined;
}

/** The SDKs' rule: connection errors, 408, 409, 429 and 5xx are tried again, unless `x-should-retry` says otherwise. */
export function retryable(failure: HttpFailure | undefined): boolean {
  if (!failure) return false;
  if (failure.connection) return true;
  if (failure.status === undefined) return false;
  const header = failure.headers?.get('x-should-retry');
  if (header === 'true' || header === 'false') return header === 'true';
  return failure.status === 408 || failure.status === 409 || failure.status === 429 || failure.status >= 500;
}

/**
 * Whether the create may have taken effect though it failed: no answer came, or a 5xx did (a proxy's, or the API's
 * after the batch was made). A 4xx, 429 included, is the API refusing it.
 */
export function mayHaveCreated(failure: HttpFailure | undefined): boolean {
  return failure !== undefined && (failure.connection || (failure.status ?? 0) >= 500);
}

/** The wait the SDKs make before another try: `retry-after-ms` or `retry-after` up to a minute, else 0.5 s doubling up to 8 s, with jitter. */
export function retryDelayMs(failure: HttpFailure | undefined, attempt: number): number {
  const headers = failure?.headers;
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  const seconds = Number.parseFloat(headers?.get('retry-after') ?? '');
  const date = Date.parse(headers?.get('retry-after') ?? '');
  const given = Number.isFinite(ms) ? ms : Number.isFinite(seconds) ? seconds * 1000 : Number.isFinite(date) ? date - Date.now() : NaN;
  if (given >= 0 && given < 60_000) return given;
  return Math.min(500 * 2 ** (attempt - 1), 8_000) * (1 - Math.random() * 0.25);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
