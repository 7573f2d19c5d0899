/**
 * A multipart/form-data parser (RFC 7578) over a body already in memory. Parts are located with Buffer.indexOf,
 * so a 200 MB file costs one linear scan, and a part's data is a view of the body (no copy).
 */

export interface MultipartPart {
  name: string;
  /** Present for file parts. */
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export class MultipartError extends Error {}

/** The boundary of a `multipart/form-data; boundary=...` content type, or undefined for any other type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const params = parseHeaderParams(contentType.slice(contentType.indexOf(';') + 1));
  return params.get('boundary') || undefined;
}

export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];

  let pos = body.indexOf(delimiter);
  if (pos === -1) throw new MultipartError('the body does not contain the multipart boundary');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // "--": the closing delimiter
    // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new MultipartError('a boundary is not followed by CRLF');
    pos += 2;

    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd === -1) throw new MultipartError('a part has no end of headers');
    const headers = parseHeaders(body.toString('utf8', pos, headerEnd));
    const dataStart = headerEnd + 4;
    const dataEnd = body.indexOf(nextDelimiter, dataStart);
    if (dataEnd === -1) throw new MultipartError('the body ends without its closing boundary');

    const disposition = headers.get('content-disposition');
    if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) throw new MultipartError('a part has no Content-Disposition: form-data');
    const params = parseHeaderParams(disposition.slice(disposition.indexOf(';') + 1));
    const name = params.get('name');
    if (name === undefined) throw new MultipartError('a part has no name');
    const filename = params.has('filename*') ? decodeExtValue(params.get('filename*')!) : params.get('filename');
    parts.push({ name, filename, contentType: headers.get('content-type'), data: body.subarray(dataStart, dataEnd) });

    pos = dataEnd + 2; // at the delimiter after the CRLF that belongs to it
  }
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** `; key=value; key="quoted \" value"` parameters of a header, keys lower-cased. */
function parseHeaderParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))\s*;?/gy;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null && match[0] !== '') {
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3].trim();
    params.set(match[1].toLowerCase(), value);
  }
  return params;
}

/** RFC 5987 `UTF-8''percent-encoded` value. */
function decodeExtValue(value: string): string {
  const quote = value.indexOf("''");
  try {
    return decodeURIComponent(quote === -1 ? value : value.slice(quote + 2));
  } catch {
    return value;
  }
}
