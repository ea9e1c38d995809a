// Table tests for src/s3/checksums.ts: known vectors, incremental hashing, validity, composite and full-object values.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Crc32 } from '@aws-crypto/crc32';
import { Crc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import type { ChecksumAlgorithm } from '../../src/store/types.ts';
import {
  CHECKSUM_ALGORITHMS,
  checksumHeaderName,
  combineFullObjectChecksum,
  compositeChecksum,
  createHasher,
  isValidChecksumValue,
  parseChecksumAlgorithm,
  supportsFullObject,
} from '../../src/s3/checksums.ts';

function oneShot(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const h = createHasher(algorithm);
  h.update(data);
  return h.digest().toString('base64');
}

function be32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

/** Independent implementations, used as oracles. */
async function oracle(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  switch (algorithm) {
    case 'CRC32': return be32(new Crc32().update(data).digest());
    case 'CRC32C': return be32(new Crc32c().update(data).digest());
    case 'CRC64NVME': {
      const h = new Crc64Nvme();
      h.update(data);
      return Buffer.from(await h.digest()).toString('base64');
    }
    case 'SHA1': return createHash('sha1').update(data).digest('base64');
    case 'SHA256': return createHash('sha256').update(data).digest('base64');
  }
}

const hex = (h: string): string => Buffer.from(h, 'hex').toString('base64');

describe('createHasher', () => {
  const vectors: Array<[ChecksumAlgorithm, string, string]> = [
    // "123456789" check values from the CRC catalogue (reveng.sourceforge.io/crc-catalogue).
    ['CRC32', '123456789', hex('cbf43926')],
    ['CRC32C', '123456789', hex('e3069283')],
    ['CRC64NVME', '123456789', hex('ae8b14860a799888')],
    ['CRC32', 'hello world', 'DUoRhQ=='],
    ['CRC32C', 'hello world', hex('c99465aa')],
    ['SHA1', 'hello world', hex('2aae6c35c94fcfb415dbe95f408b9ce91ee846ed')],
    ['SHA256', 'hello world', hex('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9')],
    ['CRC32', '', 'AAAAAA=='],
    ['CRC32C', '', 'AAAAAA=='],
    ['CRC64NVME', '', 'AAAAAAAAAAA='],
    ['SHA1', '', hex('da39a3ee5e6b4b0d3255bfef95601890afd80709')],
    ['SHA256', '', hex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')],
  ];
  for (const [algorithm, input, expected] of vectors) {
    it(`gives the known ${algorithm} of ${JSON.stringify(input)}`, () => {
      assert.equal(oneShot(algorithm, Buffer.from(input)), expected);
    });
  }

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`matches an independent ${algorithm} implementation on random data`, async () => {
      for (const size of [1, 7, 8, 9, 63, 4096 + 5, 100_003]) {
        const data = randomBytes(size);
        assert.equal(oneShot(algorithm, data), await oracle(algorithm, data), `size ${size}`);
      }
    });

    it(`gives the same ${algorithm} fed in uneven chunks (empty, 1-byte, unaligned) as in one piece`, () => {
      const data = randomBytes(200_000);
      const h = createHasher(algorithm);
      let at = 0;
      const sizes = [0, 1, 3, 7, 8, 9, 0, 15, 16, 17];
      for (let i = 0; at < data.length; i++) {
        const n = i < sizes.length ? sizes[i]! : randomInt(0, 70_000);
        h.update(data.subarray(at, at + n));
        at += n;
      }
      assert.equal(h.digest().toString('base64'), oneShot(algorithm, data));
    });

    it(`returns the same ${algorithm} digest when asked twice`, () => {
      const h = createHasher(algorithm);
      h.update(Buffer.from('abc'));
      assert.deepEqual(h.digest(), h.digest());
    });
  }
});

describe('parseChecksumAlgorithm', () => {
  const cases: Array<[string, ChecksumAlgorithm | undefined]> = [
    ['CRC32', 'CRC32'], ['crc32', 'CRC32'], ['Crc32c', 'CRC32C'], ['crc64nvme', 'CRC64NVME'],
    ['sha1', 'SHA1'], ['SHA256', 'SHA256'], [' sha256 ', 'SHA256'],
    ['md5', undefined], ['CRC-32', undefined], ['CRC64', undefined], ['', undefined], ['SHA-256', undefined],
  ];
  for (const [name, expected] of cases) {
    it(`reads ${JSON.stringify(name)} as ${expected ?? 'unknown'}`, () => {
      assert.equal(parseChecksumAlgorithm(name), expected);
    });
  }
});

describe('checksumHeaderName and supportsFullObject', () => {
  const table: Array<[ChecksumAlgorithm, string, boolean]> = [
    ['CRC32', 'x-amz-checksum-crc32', true],
    ['CRC32C', 'x-amz-checksum-crc32c', true],
    ['CRC64NVME', 'x-amz-checksum-crc64nvme', true],
    ['SHA1', 'x-amz-checksum-sha1', false],
    ['SHA256', 'x-amz-checksum-sha256', false],
  ];
  for (const [algorithm, header, fullObject] of table) {
    it(`names ${algorithm}'s header ${header} and ${fullObject ? 'allows' : 'refuses'} FULL_OBJECT`, () => {
      assert.equal(checksumHeaderName(algorithm), header);
      assert.equal(supportsFullObject(algorithm), fullObject);
    });
  }

  it('lists the five algorithms S3 supports', () => {
    assert.deepEqual([...CHECKSUM_ALGORITHMS].sort(), ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);
  });
});

describe('isValidChecksumValue', () => {
  const cases: Array<[ChecksumAlgorithm, string, boolean, string]> = [
    ['CRC32', 'DUoRhQ==', true, 'a CRC32'],
    ['CRC32C', 'AAAAAA==', true, 'zero'],
    ['CRC64NVME', 'AAAAAAAAAAA=', true, 'a CRC64NVME'],
    ['SHA1', hex('2aae6c35c94fcfb415dbe95f408b9ce91ee846ed'), true, 'a SHA1'],
    ['SHA256', hex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'), true, 'a SHA256'],
    ['CRC32', 'DUoRhQ', false, 'missing padding'],
    ['CRC32', 'DUoRhQ=', false, 'short padding'],
    ['CRC32', 'DUoRhR==', false, 'non-zero trailing bits (non-canonical)'],
    ['CRC32', 'DUoR hQ=', false, 'a space'],
    ['CRC32', 'DUoR-Q==', false, 'the URL-safe alphabet'],
    ['CRC32', '', false, 'empty'],
    ['CRC32', 'AAAAAAAAAAA=', false, '8 bytes for a 4-byte digest'],
    ['CRC64NVME', 'DUoRhQ==', false, '4 bytes for an 8-byte digest'],
    ['SHA256', hex('2aae6c35c94fcfb415dbe95f408b9ce91ee846ed'), false, 'a SHA1 given as SHA256'],
    ['SHA1', 'DUoRhQ==', false, 'a CRC32 given as SHA1'],
    ['CRC32', 'DUoRhQ==-2', false, 'a composite suffix'],
  ];
  for (const [algorithm, value, valid, why] of cases) {
    it(`${valid ? 'accepts' : 'refuses'} ${algorithm} ${JSON.stringify(value)} (${why})`, () => {
      assert.equal(isValidChecksumValue(algorithm, value), valid);
    });
  }
});

describe('compositeChecksum', () => {
  for (const algorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
    it(`hashes the concatenated raw ${algorithm} part digests and appends -N`, async () => {
      const parts = [randomBytes(1000), randomBytes(1), Buffer.alloc(0)];
      const values = parts.map((p) => oneShot(algorithm, p));
      const raw = Buffer.concat(values.map((v) => Buffer.from(v, 'base64')));
      assert.equal(compositeChecksum(algorithm, values), `${await oracle(algorithm, raw)}-3`);
    });
  }

  it('gives a known composite for the AWS-style two-part CRC32 case', () => {
    // crc32(0x0d4a1185 || 0x00000000) computed independently with @aws-crypto/crc32.
    const expected = be32(new Crc32().update(Buffer.from('0d4a118500000000', 'hex')).digest());
    assert.equal(compositeChecksum('CRC32', ['DUoRhQ==', 'AAAAAA==']), `${expected}-2`);
  });

  it('refuses a malformed stored part value', () => {
    assert.throws(() => compositeChecksum('CRC32', ['DUoRhQ']), /invalid stored CRC32 checksum value/);
  });
});

describe('combineFullObjectChecksum', () => {
  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    it(`equals the ${algorithm} of the whole object over random splits with empty and 1-byte parts`, () => {
      const data = randomBytes(300_000);
      for (let round = 0; round < 5; round++) {
        const cuts = new Set<number>([0, data.length]);
        for (let i = 0; i < 6; i++) cuts.add(randomInt(0, data.length + 1));
        const points = [...cuts].sort((a, b) => a - b);
        const bounds: Array<[number, number]> = [[0, 0], [0, 1]]; // a zero-length part, then a 1-byte part
        for (let i = 0; i + 1 < points.length; i++) bounds.push([Math.max(1, points[i]!), Math.max(1, points[i + 1]!)]);
        bounds.push([data.length, data.length]); // a zero-length last part
        const parts = bounds.map(([from, to]) => {
          const slice = data.subarray(from, to);
          return { value: oneShot(algorithm, slice), size: slice.length };
        });
        assert.equal(parts.reduce((n, p) => n + p.size, 0), data.length);
        assert.equal(combineFullObjectChecksum(algorithm, parts), oneShot(algorithm, data), `round ${round}`);
      }
    });

    it(`gives the ${algorithm} of an empty object for no parts`, () => {
      assert.equal(combineFullObjectChecksum(algorithm, []), oneShot(algorithm, new Uint8Array(0)));
    });

    it(`combines many equal ${algorithm} parts like a client's fixed part size`, () => {
      const part = randomBytes(4099);
      const n = 200;
      const value = oneShot(algorithm, part);
      const whole = createHasher(algorithm);
      for (let i = 0; i < n; i++) whole.update(part);
      const parts = Array.from({ length: n }, () => ({ value, size: part.length }));
      assert.equal(combineFullObjectChecksum(algorithm, parts), whole.digest().toString('base64'));
    });
  }

  it('refuses a negative or fractional part size', () => {
    assert.throws(() => combineFullObjectChecksum('CRC32', [{ value: 'AAAAAA==', size: -1 }]), /invalid part size/);
    assert.throws(() => combineFullObjectChecksum('CRC32', [{ value: 'AAAAAA==', size: 1.5 }]), /invalid part size/);
  });
});
