// The dispatch table: one handler per operation name.
import type { Handler } from '../context.ts';
import type { Operation } from '../route.ts';
import {
  CreateBucket, DeleteBucket, DeleteBucketTagging, GetBucketLocation, GetBucketTagging, GetBucketVersioning, HeadBucket, ListBuckets, PutBucketTagging,
} from './bucket.ts';
import { CopyObject, UploadPartCopy } from './copy.ts';
import { DeleteObjects } from './delete.ts';
import { ListObjectVersions, ListObjects, ListObjectsV2 } from './list.ts';
import { AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, ListMultipartUploads, ListParts, UploadPart } from './multipart.ts';
import { DeleteObject, DeleteObjectTagging, GetObject, GetObjectTagging, HeadObject, PutObject, PutObjectTagging } from './object.ts';
import { PostObject } from './post-object.ts';
import {
  DeleteBucketCors, DeleteBucketEncryption, DeleteBucketLifecycle, DeleteBucketOwnershipControls, DeleteBucketPolicy,
  DeleteBucketReplication, DeleteBucketWebsite, DeletePublicAccessBlock, GetBucketAccelerateConfiguration,
  GetBucketAcl, GetBucketCors, GetBucketEncryption, GetBucketLifecycleConfiguration, GetBucketLogging,
  GetBucketNotificationConfiguration, GetBucketOwnershipControls, GetBucketPolicy, GetBucketPolicyStatus, GetBucketReplication,
  GetBucketRequestPayment, GetBucketWebsite, GetObjectAcl, GetObjectLockConfiguration, GetPublicAccessBlock,
  GetObjectLegalHold, GetObjectRetention, PutBucketAcl, PutObjectAcl, PutObjectLegalHold, PutObjectRetention,
} from './subresources.ts';

export const HANDLERS: Record<Operation, Handler> = {
  ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning,
  ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads, DeleteObjects,
  PutObject, PostObject, CopyObject, GetObject, HeadObject, DeleteObject,
  GetObjectTagging, PutObjectTagging, DeleteObjectTagging,
  CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
  GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl,
  GetBucketPolicy, GetBucketPolicyStatus, GetBucketCors, GetBucketLifecycleConfiguration, GetBucketEncryption,
  GetBucketTagging, PutBucketTagging, GetBucketWebsite, GetObjectLockConfiguration, GetBucketReplication, GetPublicAccessBlock,
  GetObjectRetention, PutObjectRetention, GetObjectLegalHold, PutObjectLegalHold,
  GetBucketOwnershipControls, GetBucketLogging, GetBucketNotificationConfiguration,
  GetBucketAccelerateConfiguration, GetBucketRequestPayment,
  DeleteBucketPolicy, DeleteBucketCors, DeleteBucketLifecycle, DeleteBucketEncryption, DeleteBucketTagging,
  DeleteBucketWebsite, DeletePublicAccessBlock, DeleteBucketOwnershipControls, DeleteBucketReplication,
};
