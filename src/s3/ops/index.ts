// The dispatch table: one handler per operation name.
import type { Handler } from '../context.ts';
import type { Operation } from '../route.ts';
import { CreateBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning, HeadBucket, ListBuckets } from './bucket.ts';
import { CopyObject, UploadPartCopy } from './copy.ts';
import { DeleteObjects } from './delete.ts';
import { ListObjects, ListObjectsV2 } from './list.ts';
import { AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, ListMultipartUploads, ListParts, UploadPart } from './multipart.ts';
import { DeleteObject, DeleteObjectTagging, GetObject, GetObjectTagging, HeadObject, PutObject, PutObjectTagging } from './object.ts';

export const HANDLERS: Record<Operation, Handler> = {
  ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning,
  ListObjects, ListObjectsV2, ListMultipartUploads, DeleteObjects,
  PutObject, CopyObject, GetObject, HeadObject, DeleteObject,
  GetObjectTagging, PutObjectTagging, DeleteObjectTagging,
  CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
};
