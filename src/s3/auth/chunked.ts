// Decodes aws-chunked bodies: verifies the chained chunk signatures and the trailer, passing data through as it comes.
// Signed chunks: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
// Trailers: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { S3Error } from '../errors.ts';
import { EMPTY_SHA256, hmacHex, sha256Hex, signaturesMatch } from './canonical.ts';
import type { SigningContext } from './canonical.ts';

export const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
/** Longest chunk-header or trailer line accepted (MinIO uses the same bound). */
const MAX_LINE = 4096;
/** All trailer lines together. */
const MAX_TRAILER_BYTES = 16 * 1024;

export interface ChunkedDecoderOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): every chunk signature is checked against it. */
  signing?: SigningContext;
  /** Whether the payload mode allows a trailer section (the *-TRAILER modes). */
  trailers: boolean;
  /** The one trailer the client announced in x-amz-trailer (lower-case), if any. */
  expectedTrailer?: string;
}

/** String to sign of one chunk: the previous signature chains the chunks in order. */
export function signChunk(signing: SigningContext, previous: string, chunkSha256: string): string {
  return hmacHex(
    signing.key,
    `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n${previous}\n${EMPTY_SHA256}\n${chunkSha256}`,
  );
}

/** Trailer headers as signed: "name:value\n" per header, names lower-case and sorted. */
export function canonicalTrailers(trailers: ReadonlyMap<string, string>): string {
  return [...trailers.keys()].sort().map((name) => `${name}:${trailers.get(name)}\n`).join('');
}

export function signTrailer(signing: SigningContext, previous: string, canonical: string): string {
  return hmacHex(
    signing.key,
    `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${previous}\n${sha256Hex(canonical)}`,
  );
}

// Every framing fault is IncompleteBody, as AWS answers for a bad size, a missing CRLF, or a short chunk.
function framing(message: string): S3Error {
  return new S3Error('IncompleteBody', { message: `The aws-chunked body is malformed: ${message}` });
}

function malformedTrailer(message: string): S3Error {
  return new S3Error('MalformedTrailerError', { message: `${message} The request contained trailing data that was not well-formed or did not conform to our published schema.` });
}

const HEADER = 0;
const DATA = 1;
const DATA_CR = 2;
const DATA_LF = 3;
const TRAILER = 4;
const DONE = 5;

const HEX_SIZE = /^[0-9a-fA-F]{1,13}$/;
const CHUNK_SIGNATURE = /^chunk-signature=([0-9a-fA-F]{64})$/;

/**
 * A push parser for aws-chunked: write() hands each payload slice (a view into the input, never a copy) to
 * `onData` as soon as it arrives, hashing it for the chunk signature on the way; the signature is checked when
 * the chunk's closing CRLF arrives, before any later byte is passed on. Holds at most one header line.
 */
export class AwsChunkedDecoder {
  readonly #signing: SigningContext | undefined;
  readonly #allowTrailers: boolean;
  readonly #expectedTrailer: string | undefined;
  #state = HEADER;
  #line: Buffer[] = [];
  #lineLength = 0;
  #remaining = 0;
  #chunkHash: Hash | undefined;
  #chunkSignature = '';
  #previous: string;
  #trailerBytes = 0;
  #trailerLines = 0;
  readonly #trailers = new Map<string, string>();

  constructor(options: ChunkedDecoderOptions) {
    this.#signing = options.signing;
    this.#allowTrailers = options.trailers;
    this.#expectedTrailer = options.expectedTrailer;
    this.#previous = options.signing?.seedSignature ?? '';
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  /** The trailer headers received (names lower-case), without x-amz-trailer-signature; complete once done. */
  get trailers(): ReadonlyMap<string, string> {
    return this.#trailers;
  }

  /** Throws an S3Error on the first fault; nothing after the faulty byte reaches onData. */
  write(buf: Buffer, onData: (slice: Buffer) => void): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case DATA: {
          const n = Math.min(this.#remaining, buf.length - i);
          const slice = buf.subarray(i, i + n);
          this.#chunkHash?.update(slice);
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = DATA_CR;
          onData(slice);
          break;
        }
        case DATA_CR:
          if (buf[i++] !== 0x0d) throw framing('chunk data is longer than its announced size.');
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          if (buf[i++] !== 0x0a) throw framing('chunk data is not followed by CRLF.');
          this.#endOfChunk();
          this.#state = HEADER;
          break;
        case HEADER:
        case TRAILER: {
          const nl = buf.indexOf(0x0a, i);
          const end = nl === -1 ? buf.length : nl;
          if (this.#lineLength + (end - i) > MAX_LINE) throw framing('a chunk header or trailer line is too long.');
          if (nl === -1) {
            this.#line.push(buf.subarray(i));
            this.#lineLength += buf.length - i;
            i = buf.length;
            break;
          }
          const piece = buf.subarray(i, nl);
          const bytes = this.#line.length === 0 ? piece : Buffer.concat([...this.#line, piece]);
          this.#line = [];
          this.#lineLength = 0;
          i = nl + 1;
          if (bytes[bytes.length - 1] !== 0x0d) throw framing('a line does not end with CRLF.');
          const line = bytes.toString('latin1', 0, bytes.length - 1);
          if (this.#state === HEADER) this.#header(line);
          else this.#trailerLine(line);
          break;
        }
        default:
          throw framing('data follows the final chunk.');
      }
    }
  }

  /** Call at the end of input: throws unless the body ended where it should. Returns the trailers. */
  end(): ReadonlyMap<string, string> {
    if (this.#state === DONE) return this.#trailers;
    // The SDK ends a body that has no checksum right after "0\r\n", with no closing CRLF (smithy getAwsChunkedEncodingStream).
    if (this.#state === TRAILER && this.#lineLength === 0 && this.#trailerLines === 0 && this.#expectedTrailer === undefined) {
      this.#state = DONE;
      return this.#trailers;
    }
    throw framing('the body ended before its final chunk.');
  }

  #header(line: string): void {
    const semi = line.indexOf(';');
    const hex = semi === -1 ? line : line.slice(0, semi);
    if (!HEX_SIZE.test(hex)) throw framing(`bad chunk size "${hex.slice(0, 32)}".`);
    const size = parseInt(hex, 16);
    if (this.#signing !== undefined) {
      const m = semi === -1 ? null : CHUNK_SIGNATURE.exec(line.slice(semi + 1));
      if (m === null) throw framing('a chunk header lacks its chunk-signature.');
      this.#chunkSignature = m[1]!;
    }
    if (size === 0) {
      if (this.#signing !== undefined) this.#verifyChunk(EMPTY_SHA256);
      this.#state = TRAILER;
      return;
    }
    this.#remaining = size;
    this.#chunkHash = this.#signing === undefined ? undefined : createHash('sha256');
    this.#state = DATA;
  }

  #endOfChunk(): void {
    if (this.#chunkHash === undefined) return;
    this.#verifyChunk(this.#chunkHash.digest('hex'));
    this.#chunkHash = undefined;
  }

  #verifyChunk(chunkSha256: string): void {
    const expected = signChunk(this.#signing!, this.#previous, chunkSha256);
    if (!signaturesMatch(expected, this.#chunkSignature)) throw new S3Error('SignatureDoesNotMatch');
    this.#previous = expected;
  }

  #trailerLine(line: string): void {
    if (line === '') {
      this.#finishTrailers();
      return;
    }
    this.#trailerLines++;
    this.#trailerBytes += line.length;
    if (this.#trailerBytes > MAX_TRAILER_BYTES) throw malformedTrailer('The trailer section is too large.');
    const colon = line.indexOf(':');
    const name = colon <= 0 ? '' : line.slice(0, colon).trim().toLowerCase();
    if (name === '') throw malformedTrailer('A trailer line has no header name.');
    this.#trailers.set(name, line.slice(colon + 1).trim());
  }

  #finishTrailers(): void {
    this.#state = DONE;
    const signature = this.#trailers.get(TRAILER_SIGNATURE);
    this.#trailers.delete(TRAILER_SIGNATURE);
    if (this.#trailers.size === 0 && signature === undefined) {
      if (this.#expectedTrailer !== undefined) throw malformedTrailer(`The trailer ${this.#expectedTrailer} announced in x-amz-trailer is missing.`);
      return;
    }
    if (!this.#allowTrailers) throw malformedTrailer('This payload mode does not allow trailers.');
    for (const name of this.#trailers.keys()) {
      if (name !== this.#expectedTrailer) throw malformedTrailer(`The trailer ${name} was not announced in x-amz-trailer.`);
    }
    if (this.#expectedTrailer !== undefined && !this.#trailers.has(this.#expectedTrailer)) {
      throw malformedTrailer(`The trailer ${this.#expectedTrailer} announced in x-amz-trailer is missing.`);
    }
    if (this.#signing === undefined) {
      if (signature !== undefined) throw malformedTrailer('An unsigned payload cannot carry x-amz-trailer-signature.');
      return;
    }
    if (signature === undefined) throw new S3Error('SignatureDoesNotMatch', { message: 'The trailer is not signed: x-amz-trailer-signature is missing.' });
    const expected = signTrailer(this.#signing, this.#previous, canonicalTrailers(this.#trailers));
    if (!signaturesMatch(expected, signature)) throw new S3Error('SignatureDoesNotMatch');
    this.#previous = expected;
  }
}

/** The decoder as a stream, for callers that have nothing else to do per byte (ingest folds it into its own Transform). */
export class ChunkedDecodeStream extends Transform {
  readonly decoder: AwsChunkedDecoder;
  readonly #push = (slice: Buffer): void => {
    this.push(slice);
  };

  constructor(options: ChunkedDecoderOptions) {
    super();
    this.decoder = new AwsChunkedDecoder(options);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.write(chunk, this.#push);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.end();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
