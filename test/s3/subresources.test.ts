// Subresources S3 tools read as routine (ACLs, policy, CORS, lifecycle...): AWS's answers for an unconfigured bucket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteBucketCorsCommand, DeleteBucketEncryptionCommand, DeleteBucketLifecycleCommand, DeleteBucketOwnershipControlsCommand,
  DeleteBucketPolicyCommand, DeleteBucketReplicationCommand, DeleteBucketTaggingCommand, DeleteBucketWebsiteCommand,
  DeletePublicAccessBlockCommand, GetBucketAccelerateConfigurationCommand, GetBucketAclCommand, GetBucketCorsCommand,
  GetBucketEncryptionCommand, GetBucketLifecycleConfigurationCommand, GetBucketLoggingCommand,
  GetBucketNotificationConfigurationCommand, GetBucketOwnershipControlsCommand, GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand, GetBucketReplicationCommand, GetBucketRequestPaymentCommand, GetBucketTaggingCommand,
  GetBucketWebsiteCommand, GetObjectAclCommand, GetObjectCommand, GetObjectLockConfigurationCommand, GetPublicAccessBlockCommand,
  HeadBucketCommand, PutBucketAccelerateConfigurationCommand, PutBucketAclCommand, PutBucketCorsCommand,
  PutBucketEncryptionCommand, PutBucketLifecycleConfigurationCommand, PutBucketLoggingCommand,
  PutBucketNotificationConfigurationCommand, PutBucketOwnershipControlsCommand, PutBucketPolicyCommand,
  PutBucketReplicationCommand, PutBucketRequestPaymentCommand, PutBucketTaggingCommand, PutBucketWebsiteCommand,
  PutObjectAclCommand, PutObjectCommand, PutObjectLockConfigurationCommand, PutPublicAccessBlockCommand, S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ACCESS_KEY, startFerry, type TestServer } from '../helpers/server.ts';
import { errorOf } from '../helpers/sdk.ts';
import { assertS3Error, send } from '../helpers/protocol.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'subres';
const K = 'photo.jpg';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: K, Body: 'jpeg bytes' }));
});
after(async () => srv.stop());

async function assertStillThere(): Promise<void> {
  await s3.send(new HeadBucketCommand({ Bucket: B }));
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: K }));
  assert.equal(await got.Body?.transformToString(), 'jpeg bytes');
}

describe('ACLs: the owner with FULL_CONTROL, and only the private ACL can be set', () => {
  it('GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL as a CanonicalUser grantee', async () => {
    for (const acl of [await s3.send(new GetBucketAclCommand({ Bucket: B })), await s3.send(new GetObjectAclCommand({ Bucket: B, Key: K }))]) {
      assert.equal(acl.Owner?.ID, ACCESS_KEY);
      assert.equal(acl.Grants?.length, 1);
      assert.deepEqual(acl.Grants?.[0], { Grantee: { ID: ACCESS_KEY, DisplayName: 'ferry', Type: 'CanonicalUser' }, Permission: 'FULL_CONTROL' });
    }
  });

  it('GetObjectAcl of a missing key is NoSuchKey; ACLs of a missing bucket are NoSuchBucket', async () => {
    assert.deepEqual(await errorOf(s3.send(new GetObjectAclCommand({ Bucket: B, Key: 'missing' }))), { name: 'NoSuchKey', status: 404 });
    assert.deepEqual(await errorOf(s3.send(new PutObjectAclCommand({ Bucket: B, Key: 'missing', ACL: 'private' }))), { name: 'NoSuchKey', status: 404 });
    assert.deepEqual(await errorOf(s3.send(new GetBucketAclCommand({ Bucket: 'no-such-bucket' }))), { name: 'NoSuchBucket', status: 404 });
    assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: 'no-such-bucket', ACL: 'private' }))), { name: 'NoSuchBucket', status: 404 });
  });

  it('the private canned ACL is accepted on buckets and objects (and bucket-owner-full-control on objects)', async () => {
    await s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'private' }));
    await s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, ACL: 'private' }));
    await s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, ACL: 'bucket-owner-full-control' }));
  });

  it('any other canned ACL is 501 NotImplemented, and the ACL stays private', async () => {
    for (const ACL of ['public-read', 'public-read-write', 'authenticated-read'] as const) {
      assert.deepEqual(await errorOf(s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, ACL }))), { name: 'NotImplemented', status: 501 }, ACL);
      assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: B, ACL }))), { name: 'NotImplemented', status: 501 }, ACL);
    }
    assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'bucket-owner-full-control' as never }))), { name: 'NotImplemented', status: 501 });
    // A name that is no canned ACL at all is a bad request, before anything about what ferry supports.
    assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'public-ready' as never }))), { name: 'InvalidArgument', status: 400 });
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: B, Key: K }));
    assert.deepEqual(acl.Grants?.map((g) => g.Permission), ['FULL_CONTROL']);
  });

  it('x-amz-grant-* headers are refused; together with a canned ACL they are InvalidRequest', async () => {
    assert.deepEqual(await errorOf(s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }))), { name: 'NotImplemented', status: 501 });
    assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'private', GrantRead: `id="${ACCESS_KEY}"` }))), { name: 'InvalidRequest', status: 400 });
  });

  it('an AccessControlPolicy body granting only the owner FULL_CONTROL round-trips; granting more is NotImplemented', async () => {
    const current = await s3.send(new GetObjectAclCommand({ Bucket: B, Key: K }));
    const policy = { Owner: current.Owner!, Grants: current.Grants! };
    await s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, AccessControlPolicy: policy }));
    await s3.send(new PutBucketAclCommand({ Bucket: B, AccessControlPolicy: policy }));
    const publicRead = { Owner: policy.Owner, Grants: [...policy.Grants, { Grantee: { Type: 'Group' as const, URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' as const }] };
    assert.deepEqual(await errorOf(s3.send(new PutObjectAclCommand({ Bucket: B, Key: K, AccessControlPolicy: publicRead }))), { name: 'NotImplemented', status: 501 });
    const otherUser = { Owner: policy.Owner, Grants: [{ Grantee: { Type: 'CanonicalUser' as const, ID: 'someone-else' }, Permission: 'FULL_CONTROL' as const }] };
    assert.deepEqual(await errorOf(s3.send(new PutBucketAclCommand({ Bucket: B, AccessControlPolicy: otherUser }))), { name: 'NotImplemented', status: 501 });
  });

  it('a PUT ?acl with neither header nor body is MissingSecurityHeader; a broken body is MalformedACLError', async () => {
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}/${K}?acl` }), 400, 'MissingSecurityHeader');
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}?acl`, body: '<AccessControlPolicy><Owner>' }), 400, 'MalformedACLError');
    await assertStillThere();
  });

  it('x-amz-acl on CreateBucket, PutObject, CopyObject and CreateMultipartUpload is accepted (and ignored, as MinIO does)', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'subres-acl', ACL: 'private' }));
    await s3.send(new PutObjectCommand({ Bucket: 'subres-acl', Key: 'a', Body: 'a', ACL: 'private' }));
    await s3.send(new PutObjectCommand({ Bucket: 'subres-acl', Key: 'b', Body: 'b', ACL: 'public-read' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'subres-acl', Key: 'c', CopySource: 'subres-acl/a', ACL: 'private' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'subres-acl', Key: 'd', ACL: 'private' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'subres-acl', Key: 'd', UploadId, PartNumber: 1, Body: 'd' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'subres-acl', Key: 'd', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    for (const Key of ['a', 'b', 'c', 'd']) {
      const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'subres-acl', Key }));
      assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission]), [[ACCESS_KEY, 'FULL_CONTROL']], Key);
    }
  });

  it('the ACL document has the AWS shape: namespaced root, Owner, xsi:type on the Grantee', async () => {
    const res = await send(srv.port, { method: 'GET', path: `/${B}?acl` });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /application\/xml/);
    assert.equal(
      res.text,
      '<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Owner><ID>${ACCESS_KEY}</ID><DisplayName>ferry</DisplayName></Owner><AccessControlList><Grant>` +
        `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${ACCESS_KEY}</ID><DisplayName>ferry</DisplayName></Grantee>` +
        '<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>',
    );
  });
});

describe('configurations a bucket does not have', () => {
  const ABSENT: Array<[string, (Bucket: string) => Promise<unknown>, string]> = [
    ['GetBucketPolicy', (Bucket) => s3.send(new GetBucketPolicyCommand({ Bucket })), 'NoSuchBucketPolicy'],
    ['GetBucketPolicyStatus', (Bucket) => s3.send(new GetBucketPolicyStatusCommand({ Bucket })), 'NoSuchBucketPolicy'],
    ['GetBucketCors', (Bucket) => s3.send(new GetBucketCorsCommand({ Bucket })), 'NoSuchCORSConfiguration'],
    ['GetBucketLifecycleConfiguration', (Bucket) => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })), 'NoSuchLifecycleConfiguration'],
    ['GetBucketEncryption', (Bucket) => s3.send(new GetBucketEncryptionCommand({ Bucket })), 'ServerSideEncryptionConfigurationNotFoundError'],
    ['GetBucketTagging', (Bucket) => s3.send(new GetBucketTaggingCommand({ Bucket })), 'NoSuchTagSet'],
    ['GetBucketWebsite', (Bucket) => s3.send(new GetBucketWebsiteCommand({ Bucket })), 'NoSuchWebsiteConfiguration'],
    ['GetObjectLockConfiguration', (Bucket) => s3.send(new GetObjectLockConfigurationCommand({ Bucket })), 'ObjectLockConfigurationNotFoundError'],
    ['GetBucketReplication', (Bucket) => s3.send(new GetBucketReplicationCommand({ Bucket })), 'ReplicationConfigurationNotFoundError'],
    ['GetPublicAccessBlock', (Bucket) => s3.send(new GetPublicAccessBlockCommand({ Bucket })), 'NoSuchPublicAccessBlockConfiguration'],
    ['GetBucketOwnershipControls', (Bucket) => s3.send(new GetBucketOwnershipControlsCommand({ Bucket })), 'OwnershipControlsNotFoundError'],
  ];

  for (const [op, call, code] of ABSENT) {
    it(`${op} is 404 ${code}, and NoSuchBucket for a missing bucket`, async () => {
      assert.deepEqual(await errorOf(call(B)), { name: code, status: 404 });
      assert.deepEqual(await errorOf(call('no-such-bucket')), { name: 'NoSuchBucket', status: 404 });
    });
  }

  it('the 404 document carries the code, AWS message and bucket name', async () => {
    const res = await send(srv.port, { method: 'GET', path: `/${B}?policy` });
    assertS3Error(res, 404, 'NoSuchBucketPolicy');
    assert.match(res.text, /<Message>The bucket policy does not exist<\/Message><BucketName>subres<\/BucketName>/);
    assertS3Error(await send(srv.port, { method: 'GET', path: `/${B}?lifecycle` }), 404, 'NoSuchLifecycleConfiguration');
  });

  it('logging, notification, acceleration and request payment answer their empty defaults', async () => {
    const logging = await s3.send(new GetBucketLoggingCommand({ Bucket: B }));
    assert.equal(logging.LoggingEnabled, undefined);
    const notification = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: B }));
    assert.equal(notification.TopicConfigurations, undefined);
    assert.equal(notification.QueueConfigurations, undefined);
    assert.equal(notification.LambdaFunctionConfigurations, undefined);
    const accelerate = await s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket: B }));
    assert.equal(accelerate.Status, undefined);
    const payment = await s3.send(new GetBucketRequestPaymentCommand({ Bucket: B }));
    assert.equal(payment.Payer, 'BucketOwner');
    assert.deepEqual(await errorOf(s3.send(new GetBucketLoggingCommand({ Bucket: 'no-such-bucket' }))), { name: 'NoSuchBucket', status: 404 });
  });

  it('the default documents are namespaced XML as S3 sends them', async () => {
    const payment = await send(srv.port, { method: 'GET', path: `/${B}?requestPayment` });
    assert.equal(payment.status, 200);
    assert.equal(payment.text, '<?xml version="1.0" encoding="UTF-8"?>\n<RequestPaymentConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Payer>BucketOwner</Payer></RequestPaymentConfiguration>');
    const logging = await send(srv.port, { method: 'GET', path: `/${B}?logging` });
    assert.equal(logging.text, '<?xml version="1.0" encoding="UTF-8"?>\n<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></BucketLoggingStatus>');
  });

  it('deleting a configuration that is not there is 204 and leaves the bucket and its objects alone', async () => {
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: B }));
    await s3.send(new DeleteBucketCorsCommand({ Bucket: B }));
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: B }));
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: B }));
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: B }));
    await s3.send(new DeleteBucketWebsiteCommand({ Bucket: B }));
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: B }));
    await s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket: B }));
    await s3.send(new DeleteBucketReplicationCommand({ Bucket: B }));
    const raw = await send(srv.port, { method: 'DELETE', path: `/${B}?cors` });
    assert.equal(raw.status, 204);
    assert.deepEqual(await errorOf(s3.send(new DeleteBucketPolicyCommand({ Bucket: 'no-such-bucket' }))), { name: 'NoSuchBucket', status: 404 });
    await assertStillThere();
  });

  it('DELETE of a subresource ferry has no delete for is NotImplemented, never DeleteBucket', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'subres-empty' }));
    for (const sub of ['logging', 'notification', 'accelerate', 'requestPayment', 'acl', 'versioning', 'no-such-thing']) {
      assertS3Error(await send(srv.port, { method: 'DELETE', path: `/subres-empty?${sub}` }), 501, 'NotImplemented');
    }
    await s3.send(new HeadBucketCommand({ Bucket: 'subres-empty' }));
  });

  it('setting a configuration ferry cannot honour is 501 NotImplemented, never a fake success', async () => {
    const Bucket = B;
    const puts: Array<[string, () => Promise<unknown>]> = [
      ['PutBucketPolicy', () => s3.send(new PutBucketPolicyCommand({ Bucket, Policy: '{"Version":"2012-10-17","Statement":[]}' }))],
      ['PutBucketCors', () => s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }] } }))],
      ['PutBucketLifecycleConfiguration', () => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] } }))],
      ['PutBucketEncryption', () => s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }))],
      ['PutBucketWebsite', () => s3.send(new PutBucketWebsiteCommand({ Bucket, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } } }))],
      ['PutObjectLockConfiguration', () => s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }))],
      ['PutBucketReplication', () => s3.send(new PutBucketReplicationCommand({ Bucket, ReplicationConfiguration: { Role: 'r', Rules: [{ Status: 'Enabled', Destination: { Bucket: 'arn:aws:s3:::x' } }] } }))],
      ['PutPublicAccessBlock', () => s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true } }))],
      ['PutBucketOwnershipControls', () => s3.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }))],
      ['PutBucketLogging', () => s3.send(new PutBucketLoggingCommand({ Bucket, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: B, TargetPrefix: 'log/' } } }))],
      ['PutBucketNotificationConfiguration', () => s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: {} }))],
      ['PutBucketAccelerateConfiguration', () => s3.send(new PutBucketAccelerateConfigurationCommand({ Bucket, AccelerateConfiguration: { Status: 'Enabled' } }))],
      ['PutBucketRequestPayment', () => s3.send(new PutBucketRequestPaymentCommand({ Bucket, RequestPaymentConfiguration: { Payer: 'Requester' } }))],
    ];
    for (const [op, call] of puts) assert.deepEqual(await errorOf(call()), { name: 'NotImplemented', status: 501 }, op);
    assert.deepEqual(await errorOf(s3.send(new GetBucketPolicyCommand({ Bucket }))), { name: 'NoSuchBucketPolicy', status: 404 });
    assert.equal((await s3.send(new GetBucketRequestPaymentCommand({ Bucket }))).Payer, 'BucketOwner');
    await assertStillThere();
  });

  it('bucket tagging: set, read back sorted, replaced, deleted; NoSuchTagSet when untagged; bad tags refused', async () => {
    const Bucket = B;
    await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'site', Value: 'north' }, { Key: 'env', Value: 'edge' }] } }));
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet, [{ Key: 'env', Value: 'edge' }, { Key: 'site', Value: 'north' }]);
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: fifty } }));
    assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet?.length, 50);
    assert.deepEqual(await errorOf(s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [...fifty, { Key: 'k50', Value: 'v' }] } }))), { name: 'InvalidTag', status: 400 });
    assert.deepEqual(await errorOf(s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'aws:x', Value: 'v' }] } }))), { name: 'InvalidTag', status: 400 });
    await s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    assert.deepEqual(await errorOf(s3.send(new GetBucketTaggingCommand({ Bucket }))), { name: 'NoSuchTagSet', status: 404 });
    assert.deepEqual(await errorOf(s3.send(new PutBucketTaggingCommand({ Bucket: 'no-such-bucket-here', Tagging: { TagSet: [] } }))), { name: 'NoSuchBucket', status: 404 });
    await assertStillThere();
  });

  it('authentication comes first: a bad signature is 403 even where the answer would be a 404', async () => {
    assertS3Error(await send(srv.port, { method: 'GET', path: `/${B}?policy`, secret: 'wrong-secret-key' }), 403, 'SignatureDoesNotMatch');
    assertS3Error(await send(srv.port, { method: 'GET', path: `/${B}?acl`, secret: 'wrong-secret-key' }), 403, 'SignatureDoesNotMatch');
    assertS3Error(await send(srv.port, { method: 'DELETE', path: `/${B}?cors`, secret: 'wrong-secret-key' }), 403, 'SignatureDoesNotMatch');
  });
});
