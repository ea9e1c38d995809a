// Reads a POST Object multipart/form-data body: the fields before `file` into memory (bounded), the file as a stream.
// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { BusboyInstance } from '@fastify/busboy';
import { S3Error } from '../errors.ts';

/** AWS: "the fields preceding the upload file" may be 20 KB at most (MaxPostPreDataLengthExceededError). */
export const MAX_PRE_DATA_BYTES = 20 * 1024;
/** A count bound as well, so that thousands of empty fields cannot be sent either. */
const MAX_FIELDS = 1000;
/** One part's own headers (Content-Disposition with the field name); busboy's default is 80 KB. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

export interface PostForm {
  /** Field names lower-cased (S3 matches them case-insensitively), in the order sent. */
  fields: Map<string, string>;
  /** The `file` part's bytes, still unread; reading it drives the parser. */
  file: Readable;
  /** The file name the part carried, if any (`${filename}` in the key). */
  filename?: string;
}

function malformed(cause?: unknown): S3Error {
  return new S3Error('MalformedPOSTRequest', cause === undefined ? {} : { cause });
}

function tooLarge(): S3Error {
  return new S3Error('MaxPostPreDataLengthExceededError', { detail: { MaxPostPreDataLengthBytes: MAX_PRE_DATA_BYTES } });
}

/**
 * Pipes the request into the parser and resolves at the `file` part with the fields before it; S3 ignores every part
 * after the file. Rejects with MalformedPOSTRequest, MaxPostPreDataLengthExceededError, or
 * IncorrectNumberOfFilesInPostRequest when the form ends without a file.
 */
export async function readPostForm(headers: IncomingHttpHeaders, body: Readable): Promise<PostForm> {
  const contentType = headers['content-type'];
  if (contentType === undefined) throw malformed();
  // Loaded on the first form: its code is not held in memory by an edge box that never sees one (build.mjs LAZY_PACKAGES).
  const { Busboy } = await import('@fastify/busboy');
  let parser: BusboyInstance;
  try {
    parser = Busboy({
      headers: { ...headers, 'content-type': contentType },
      // The part named "file" is the upload whatever its headers; every other part is a field, even with a filename
      // (python-requests sends every field as a file part).
      isPartAFile: (name) => name?.toLowerCase() === 'file',
      limits: { fieldSize: MAX_PRE_DATA_BYTES + 1, fields: MAX_FIELDS, files: 1, headerSize: MAX_PART_HEADER_BYTES },
    });
  } catch (cause) {
    // No boundary in the Content-Type.
    throw malformed(cause);
  }
  return new Promise<PostForm>((resolve, reject) => {
    const fields = new Map<string, string>();
    let size = 0;
    let settled = false;
    let file: Readable | undefined;
    const fail = (err: S3Error): void => {
      if (settled) return;
      settled = true;
      body.unpipe(parser);
      reject(err);
    };
    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (settled || name === undefined) return;
      size += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (valueTruncated || size > MAX_PRE_DATA_BYTES) return fail(tooLarge());
      const lower = name.toLowerCase();
      if (fields.has(lower)) {
        // One value per field: the policy and the object must see the same one.
        return fail(new S3Error('InvalidArgument', { message: `The form field ${name} was given more than once.`, detail: { ArgumentName: name } }));
      }
      fields.set(lower, value);
    });
    parser.on('fieldsLimit', () => fail(tooLarge()));
    parser.on('file', (_name, stream, filename) => {
      if (settled) {
        stream.resume();
        return;
      }
      settled = true;
      file = stream;
      resolve({ fields, file: stream, ...(filename !== undefined && filename !== '' ? { filename } : {}) });
    });
    // An error after the file started reaches the file stream (busboy forwards it); before, it is the form's.
    parser.on('error', (cause: unknown) => fail(malformed(cause)));
    parser.on('finish', () => fail(new S3Error('IncorrectNumberOfFilesInPostRequest', { detail: { ArgumentName: 'file', ArgumentValue: 0 } })));
    body.on('error', (cause: unknown) => fail(malformed(cause)));
    // A client gone mid-upload ends nothing: the file stream must fail, or the store would wait for it forever.
    body.once('close', () => {
      if (body.readableEnded) return;
      fail(malformed());
      file?.destroy(new Error('request closed before its body ended'));
    });
    body.pipe(parser);
  });
}
