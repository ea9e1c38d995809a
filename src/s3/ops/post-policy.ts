// POST Object policies: who signed the form (SigV4 or SigV2 over the base64 policy), and whether the form obeys it.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/HTTPPOSTForms.html (SigV2)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ALGORITHM, hmacHex, parseAmzDate, parseCredential, signaturesMatch, signingKey } from '../auth/canonical.ts';
import { S3Error } from '../errors.ts';

export interface PolicyCondition {
  op: 'eq' | 'starts-with';
  /** Lower-case field name, without the '$'. */
  field: string;
  value: string;
  /** The condition as AWS prints it when it fails. */
  text: string;
}

export interface PostPolicy {
  /** Milliseconds since the epoch. */
  expiration: number;
  conditions: PolicyCondition[];
  /** Inclusive bounds on the file size, from content-length-range (intersected when repeated). */
  minSize: number;
  maxSize: number;
}

/** Form fields that a policy never has to name: the signature's own and the file. */
const UNCOVERED = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file']);
const V4_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'];
const V2_FIELDS = ['awsaccesskeyid', 'signature'];
/** How AWS spells each in "Bucket POST must contain a field named '...'". */
const DISPLAY: Record<string, string> = {
  'x-amz-algorithm': 'X-Amz-Algorithm',
  'x-amz-credential': 'X-Amz-Credential',
  'x-amz-date': 'X-Amz-Date',
  'x-amz-signature': 'X-Amz-Signature',
  awsaccesskeyid: 'AWSAccessKeyId',
  signature: 'Signature',
  key: 'key',
};
/** "2026-11-25T12:00:00Z" or with milliseconds, as the policy examples write it. */
const EXPIRATION = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** InvalidArgument for a required field that is missing, worded as AWS words it. */
export function missingField(name: string): S3Error {
  const shown = DISPLAY[name] ?? name;
  return new S3Error('InvalidArgument', {
    message: `Bucket POST must contain a field named '${shown}'.  If it is specified, please check the order of the fields.`,
    detail: { ArgumentName: shown, ArgumentValue: '' },
  });
}

function invalidPolicy(reason: string): S3Error {
  return new S3Error('InvalidPolicyDocument', { message: `Invalid Policy: ${reason}` });
}

function denied(reason: string): S3Error {
  return new S3Error('AccessDenied', { message: `Invalid according to Policy: ${reason}` });
}

/**
 * Verifies the form's signature over the base64 policy and returns the access key that signed it. A form with no
 * signature fields at all is anonymous, which no ferry bucket allows.
 */
export async function verifyPolicySignature(
  fields: ReadonlyMap<string, string>,
  region: string,
  lookupSecret: (accessKeyId: string) => string | undefined | Promise<string | undefined>,
): Promise<string> {
  const policy = fields.get('policy');
  const isV4 = V4_FIELDS.some((f) => fields.has(f));
  const isV2 = V2_FIELDS.some((f) => fields.has(f));
  if (policy === undefined || (!isV4 && !isV2)) throw new S3Error('AccessDenied');
  for (const name of isV4 ? V4_FIELDS : V2_FIELDS) if (!fields.has(name)) throw missingField(name);

  if (isV4) {
    const algorithm = fields.get('x-amz-algorithm')!;
    if (algorithm !== ALGORITHM) {
      throw new S3Error('InvalidArgument', {
        message: 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
        detail: { ArgumentName: 'X-Amz-Algorithm', ArgumentValue: algorithm },
      });
    }
    const bad = (message: string): S3Error =>
      new S3Error('InvalidArgument', { message: `Error parsing the X-Amz-Credential parameter; ${message}`, detail: { ArgumentName: 'X-Amz-Credential' } });
    const credential = parseCredential(fields.get('x-amz-credential')!, region, bad);
    const amzDate = fields.get('x-amz-date')!;
    if (parseAmzDate(amzDate) === undefined) {
      throw new S3Error('InvalidArgument', { message: 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"', detail: { ArgumentName: 'X-Amz-Date', ArgumentValue: amzDate } });
    }
    const secret = await lookupSecret(credential.accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', { detail: { AWSAccessKeyId: credential.accessKeyId } });
    // The string to sign is the base64 policy itself, signed with the credential's day and region.
    const expected = hmacHex(signingKey(secret, credential.date, credential.region), policy);
    const provided = fields.get('x-amz-signature')!;
    if (!signaturesMatch(expected, provided)) {
      throw new S3Error('SignatureDoesNotMatch', { detail: { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy, SignatureProvided: provided } });
    }
    return credential.accessKeyId;
  }

  const accessKeyId = fields.get('awsaccesskeyid')!;
  const secret = await lookupSecret(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', { detail: { AWSAccessKeyId: accessKeyId } });
  const expected = createHmac('sha1', secret).update(policy).digest();
  const provided = Buffer.from(fields.get('signature')!, 'base64');
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new S3Error('SignatureDoesNotMatch', { detail: { AWSAccessKeyId: accessKeyId, StringToSign: policy, SignatureProvided: fields.get('signature')! } });
  }
  return accessKeyId;
}

function sizeBound(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  // Some clients write the bounds as strings.
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  return undefined;
}

/** AWS prints a failed condition as its array form: ["starts-with", "$key", "user/"]. */
function conditionText(op: string, field: string, value: string): string {
  return `[${[op, '$' + field, value].map((s) => JSON.stringify(s)).join(', ')}]`;
}

/** Decodes and validates the policy document; InvalidPolicyDocument for anything AWS would not accept. */
export function parsePolicy(base64: string): PostPolicy {
  // Line-wrapped base64 (76 columns, as older libraries write it) is still base64.
  const compact = base64.replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw invalidPolicy('Invalid Base64 Encoding.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(compact, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  // Keys are case-sensitive: "EXPIRATION" and "CONDITIONS" do not count (ceph s3-tests *_is_case_sensitive).
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expiresAt = typeof expiration === 'string' && EXPIRATION.test(expiration) ? Date.parse(expiration) : NaN;
  if (Number.isNaN(expiresAt)) throw invalidPolicy(`Invalid 'expiration' value: '${String(expiration)}'`);
  if (conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a list.");

  const policy: PostPolicy = { expiration: expiresAt, conditions: [], minSize: 0, maxSize: Number.MAX_SAFE_INTEGER };
  for (const c of conditions as unknown[]) {
    if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
      // {"field": "value"} is an exact match.
      const entries = Object.entries(c);
      if (entries.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
      const [name, value] = entries[0]!;
      if (typeof value !== 'string') throw invalidPolicy(`Invalid Simple-Condition: value of ${name} must be a string.`);
      const field = name.toLowerCase();
      policy.conditions.push({ op: 'eq', field, value, text: conditionText('eq', field, value) });
      continue;
    }
    if (!Array.isArray(c) || c.length === 0 || typeof c[0] !== 'string') throw invalidPolicy('Invalid Condition: must be an object or a list.');
    const op = c[0].toLowerCase();
    if (op === 'content-length-range') {
      const min = sizeBound(c[1]);
      const max = sizeBound(c[2]);
      if (c.length !== 3 || min === undefined || max === undefined || min > max) {
        throw invalidPolicy('Invalid content-length-range Condition: needs a minimum and a maximum, 0 <= min <= max.');
      }
      policy.minSize = Math.max(policy.minSize, min);
      policy.maxSize = Math.min(policy.maxSize, max);
      continue;
    }
    if (op !== 'eq' && op !== 'starts-with') throw invalidPolicy(`Invalid Condition: unknown operation ${JSON.stringify(c[0])}.`);
    const [, name, value] = c as unknown[];
    if (c.length !== 3 || typeof name !== 'string' || !name.startsWith('$') || typeof value !== 'string') {
      throw invalidPolicy(`Invalid Condition: ${op} needs a "$field" and a string value.`);
    }
    const field = name.slice(1).toLowerCase();
    policy.conditions.push({ op, field, value, text: conditionText(op, field, value) });
  }
  return policy;
}

function satisfies(c: PolicyCondition, actual: string): boolean {
  if (c.op === 'eq') return actual === c.value;
  // Each type of a comma-separated Content-Type must start with the prefix (sigv4-HTTPPOSTConstructPolicy.html).
  if (c.field === 'content-type') return actual.split(',').every((t) => t.trim().startsWith(c.value));
  return actual.startsWith(c.value);
}

/**
 * Checks the policy against the form. `values` holds every field as the object will get it (lower-case names),
 * with `bucket` set to the bucket posted to and `key` after `${filename}` substitution. A condition on a field
 * that is absent is checked against "".
 */
export function checkPolicy(policy: PostPolicy, values: ReadonlyMap<string, string>, now: number): void {
  if (policy.expiration <= now) throw denied('Policy expired.');
  for (const c of policy.conditions) {
    if (!satisfies(c, values.get(c.field) ?? '')) throw denied(`Policy Condition failed: ${c.text}`);
  }
  // "Each form field that you specify in a form (except x-amz-signature, file, policy, and field names that have an
  // x-ignore- prefix) must appear in the list of conditions." (sigv4-HTTPPOSTConstructPolicy.html)
  const named = new Set(policy.conditions.map((c) => c.field));
  const extra = [...values.keys()].filter((f) => !UNCOVERED.has(f) && !f.startsWith('x-ignore-') && !named.has(f));
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
}
