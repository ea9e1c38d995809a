// Object-creating requests (PutObject, CopyObject, CreateMultipartUpload) that ask for what ferry cannot give are
// refused before anything is stored: silently dropping encryption or a retention lock would be a wrong success.
import { S3Error } from './errors.ts';

/**
 * Every class S3 accepts. ferry keeps one class of storage: any valid one is stored and listed as STANDARD (the
 * bytes are as safe and as available), an unknown one is refused as S3 refuses it.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#AmazonS3-PutObject-request-header-StorageClass
 */
const STORAGE_CLASSES = new Set([
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE',
  'OUTPOSTS', 'GLACIER_IR', 'SNOW', 'EXPRESS_ONEZONE', 'FSX_OPENZFS',
]);

/** Headers that ask for Object Lock; a bucket without an Object Lock configuration (all of ferry's) refuses them. */
const OBJECT_LOCK_HEADERS = ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold'];

/** Server-side encryption, by S3-managed or KMS keys, or with the client's key (SSE-C). */
const ENCRYPTION_HEADERS = ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-customer-algorithm'];

export function refuseUnsupportedWriteOptions(header: (name: string) => string | undefined): void {
  const storageClass = header('x-amz-storage-class');
  if (storageClass !== undefined && !STORAGE_CLASSES.has(storageClass)) throw new S3Error('InvalidStorageClass');
  for (const name of ENCRYPTION_HEADERS) {
    if (header(name) !== undefined) {
      throw new S3Error('NotImplemented', { message: `ferry does not encrypt objects itself (${name}); encrypt the disk or the data before upload.` });
    }
  }
  for (const name of OBJECT_LOCK_HEADERS) {
    // AWS's message for these three requests, spelled without spaces (unlike the retention and legal-hold calls).
    if (header(name) !== undefined) throw new S3Error('InvalidRequest', { message: 'Bucket is missing ObjectLockConfiguration' });
  }
}

/** A copy onto itself is legal when it changes the storage class (AWS's condition; here it rewrites the same bytes). */
export function changesStorageClass(header: (name: string) => string | undefined): boolean {
  return header('x-amz-storage-class') !== undefined;
}
