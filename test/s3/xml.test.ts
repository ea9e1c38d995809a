// XML request parsing as clients send it: Go's encoder escapes quotes as &#34;, keys may carry any character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, renderXml } from '../../src/s3/xml.ts';
import { S3Error } from '../../src/s3/errors.ts';

test('numeric character references are decoded (Go clients send ETags as &#34;...&#34;)', () => {
  const doc = parseXml(Buffer.from('<CompleteMultipartUpload><Part><ETag>&#34;abc&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>'), 'CompleteMultipartUpload', ['CompleteMultipartUpload.Part']);
  assert.deepEqual(doc.Part, [{ ETag: '"abc"', PartNumber: '1' }]);
  const keys = parseXml(Buffer.from('<Delete><Object><Key>  a&amp;b &#x1F600;&lt;</Key></Object></Delete>'), 'Delete', ['Delete.Object']);
  assert.deepEqual(keys.Object, [{ Key: '  a&b 😀<' }]);
});

test('DTDs, entities, junk and the wrong root are MalformedXML', () => {
  const bad = ['', '   ', '<a>', '<Delete><Object></Delete>', '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete>&x;</Delete>', '<Other/>'];
  for (const text of bad) {
    assert.throws(() => parseXml(Buffer.from(text), 'Delete'), (err: unknown) => err instanceof S3Error && err.code === 'MalformedXML', text);
  }
});

test('rendering escapes markup in values and drops undefined fields', () => {
  const xml = renderXml('R', { Key: 'a<b>&"c"', Gone: undefined, List: [{ N: 1 }, { N: 2 }] });
  assert.match(xml, /<Key>a&lt;b&gt;&amp;&quot;c&quot;<\/Key>/);
  assert.doesNotMatch(xml, /Gone/);
  assert.match(xml, /<List><N>1<\/N><\/List><List><N>2<\/N><\/List>/);
});
