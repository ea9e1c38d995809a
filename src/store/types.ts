// The seam between the S3 layer and storage: operations in, typed values out. No paths or LevelDB keys cross it.
import type { Readable } from 'node:stream';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** base64 of the digest, as S3 prints it; a composite value carries its "-N" suffix. */
  value: string;
  type: ChecksumType;
}

/** HTTP headers S3 stores as sent and returns on GET/HEAD. */
export interface StoredHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
}

export interface ObjectMeta {
  headers: StoredHeaders;
  /** x-amz-meta-* names, lower-cased, without the prefix. */
  userMeta: Record<string, string>;
  /** Object tags in the order the client gave them. */
  tags: Array<[string, string]>;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Unquoted: 32 hex digits, or "<hex>-N" for a multipart object. */
  etag: string;
  /** Milliseconds since the epoch. */
  lastModified: number;
  meta: ObjectMeta;
  checksum?: Checksum;
  /** Number of parts for an object made by CompleteMultipartUpload. */
  partsCount?: number;
  /** Each part's size in bytes, in order (multipart objects; set by headObject and getObject only): GET/HEAD ?partNumber. */
  partSizes?: number[];
  /** Each part's own checksum (COMPOSITE multipart objects; set with partSizes). */
  partChecksums?: string[];
}

export interface BucketInfo {
  name: string;
  /** Milliseconds since the epoch. */
  created: number;
  region: string;
  /** PutBucketTagging's tags; absent when none were set. */
  tags?: Array<[string, string]>;
}

/** What the S3 layer learnt about a body once it has been read to the end and verified. */
export interface BodyDigest {
  /** Hex MD5 of the bytes: the ETag of a single-part object or of a part. */
  md5: string;
  size: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/**
 * A request body already wrapped in the S3 layer's decoding and verifying streams.
 * The store reads `stream` to its end; a bad signature, checksum or a truncated body surfaces as a
 * stream error, and then the store must commit nothing. `digest()` is valid only after the stream ended.
 */
interface BodyBase {
  /** The byte count the body declares, when known: the store makes sure the disk can take it before writing. */
  readonly size?: number;
  digest(): BodyDigest;
  /** Lets go of a body that will not be (fully) read: a refused request, a store shutting down. */
  abort(err?: Error): void;
}

/** A body the store reads as a stream. */
export interface StreamedBody extends BodyBase {
  readonly stream: Readable;
  /**
   * Every chunk of `stream` is its own memory, read by nothing else: the store frees each once it is written,
   * instead of leaving tens of MB to the garbage collector under concurrent large uploads.
   */
  readonly disposable?: boolean;
}

/**
 * A small body read at once, with no stream in between: `read()` resolves to its bytes once every check has passed
 * (or rejects as a stream of it would fail). Streams cost a small PUT ~20% of its CPU (ingest.ts WHOLE_MAX_BYTES).
 */
export interface WholeBody extends BodyBase {
  read(): Promise<Buffer[]>;
}

export type IncomingBody = StreamedBody | WholeBody;

/** A conditional write, checked atomically with the commit (PUT and CompleteMultipartUpload). */
export interface WriteCondition {
  /** Unquoted ETag the current object must have; a missing object fails with NoSuchKey. */
  ifMatch?: string;
  /** Only "*": the key must not exist; otherwise PreconditionFailed. */
  ifNoneMatch?: '*';
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** An open object: its metadata, pinned so that the bytes stay readable even if the key is overwritten meanwhile. */
export interface ObjectReader {
  readonly info: ObjectInfo;
  /**
   * Streams the whole object or one range of it; call at most once. Its chunks are fresh Buffers that nothing
   * else reads (`disposableChunks: true` on the stream): whoever sends one on may free it (release-buffer.ts).
   */
  stream(range?: ByteRange): Readable & { readonly disposableChunks?: true };
  /** Releases the pin when stream() is never called (stream() releases on its own close). */
  close(): void;
}

export interface ListObjectsInput {
  prefix?: string;
  delimiter?: string;
  /** Return keys strictly after this one (marker, start-after or decoded continuation token). */
  after?: string;
  /** 0..1000 */
  maxKeys: number;
}

export interface ListObjectsResult {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, from which the next page starts. */
  lastReturned?: string;
}

export interface UploadInfo {
  bucket: string;
  key: string;
  uploadId: string;
  /** Milliseconds since the epoch. */
  initiated: number;
  meta: ObjectMeta;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

export interface PartInfo {
  partNumber: number;
  /** Unquoted hex MD5. */
  etag: string;
  size: number;
  lastModified: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface ListPartsInput {
  /** Return parts with a number greater than this. */
  partNumberMarker?: number;
  maxParts: number;
}

export interface ListPartsResult {
  upload: UploadInfo;
  parts: PartInfo[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface ListUploadsInput {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsResult {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/** Decides the final object from the parts the store holds; throws S3Error (InvalidPart, EntityTooSmall...) to refuse. */
export type CompletePlanner = (stored: PartInfo[], upload: UploadInfo) => {
  /** The stored parts to assemble, in order. */
  parts: PartInfo[];
  etag: string;
  checksum?: Checksum;
};

/** x-amz-replication-status of a source object. https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html */
export type ReplicationStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

export interface Store {
  listBuckets(): Promise<BucketInfo[]>;
  /** Throws BucketAlreadyOwnedByYou if it exists. */
  createBucket(name: string, region: string): Promise<BucketInfo>;
  /** Throws NoSuchBucket. */
  headBucket(name: string): Promise<BucketInfo>;
  /** Throws NoSuchBucket, or BucketNotEmpty while it holds objects; aborts its multipart uploads in progress (as S3). */
  deleteBucket(name: string): Promise<void>;
  /** Replaces the bucket's tags (an empty list removes them). Throws NoSuchBucket. */
  putBucketTags(name: string, tags: Array<[string, string]>): Promise<void>;

  /** Streams the body to disk durably, then commits; resolves only once the object survives a crash. */
  putObject(bucket: string, key: string, body: IncomingBody, meta: ObjectMeta, condition?: WriteCondition): Promise<ObjectInfo>;
  /** Throws NoSuchBucket / NoSuchKey. */
  headObject(bucket: string, key: string): Promise<ObjectInfo>;
  /** Throws NoSuchBucket / NoSuchKey. The caller must stream() or close() the reader. */
  getObject(bucket: string, key: string): Promise<ObjectReader>;
  /** Idempotent: deleting a missing key succeeds. Throws NoSuchBucket. Returns whether a key was removed. */
  deleteObject(bucket: string, key: string): Promise<boolean>;
  /** Replaces the tag set of an existing object (an empty array deletes the tags). */
  putObjectTags(bucket: string, key: string, tags: Array<[string, string]>): Promise<ObjectInfo>;
  /** Keys in UTF-8 byte order, from LevelDB range reads: the cost follows the page, not the bucket. */
  listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsResult>;

  createMultipartUpload(bucket: string, key: string, meta: ObjectMeta, checksum?: { algorithm: ChecksumAlgorithm; type: ChecksumType }): Promise<UploadInfo>;
  /** Throws NoSuchUpload when the upload id does not belong to this bucket and key. */
  getUpload(bucket: string, key: string, uploadId: string): Promise<UploadInfo>;
  /** Replaces an earlier part with the same number. */
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody): Promise<PartInfo>;
  listParts(bucket: string, key: string, uploadId: string, input: ListPartsInput): Promise<ListPartsResult>;
  /** Assembles the planned parts into the object without copying their bytes; frees the parts left out. */
  completeMultipartUpload(bucket: string, key: string, uploadId: string, plan: CompletePlanner, condition?: WriteCondition): Promise<ObjectInfo>;
  /** The object a finished upload made, while the key still holds it: a retried Complete answers it again, as S3. */
  completedUpload(bucket: string, key: string, uploadId: string): Promise<ObjectInfo | undefined>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listMultipartUploads(bucket: string, input: ListUploadsInput): Promise<ListUploadsResult>;

  /** Undefined when the bucket replicates nowhere (or the key is outside every target's prefix). */
  replicationStatus(bucket: string, key: string): Promise<ReplicationStatus | undefined>;

  close(): Promise<void>;
}
