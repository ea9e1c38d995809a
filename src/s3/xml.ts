// S3's XML both ways, with fast-xml-parser: render response documents, parse (bounded, entity-free) request bodies.
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Renders `{ Root: {...} }`; undefined fields are dropped, arrays repeat their element. */
export function renderXml(rootName: string, body: XmlNode, namespaced = true): string {
  const root: XmlNode = namespaced ? { '@xmlns': S3_NS, ...body } : body;
  return DECLARATION + builder.build({ [rootName]: prune(root) });
}

function prune(value: XmlValue): XmlValue {
  if (Array.isArray(value)) return value.map(prune);
  if (value && typeof value === 'object') {
    const out: XmlNode = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = prune(v);
    return out;
  }
  return value;
}

/**
 * Parses a request body into a plain object; anything not well-formed, or with a DOCTYPE, is MalformedXML.
 * `listPaths` names elements that must always come back as arrays (e.g. "Delete.Object").
 */
export function parseXml(bytes: Buffer, expectedRoot: string, listPaths: string[] = []): Record<string, unknown> {
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw new S3Error('MalformedXML');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML', { message: 'DTDs and entities are not allowed.' });
  if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  let doc: Record<string, unknown>;
  try {
    doc = new XMLParser({ ...parserOptions, isArray: (_name, jpath) => typeof jpath === "string" && listPaths.includes(jpath) }).parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new S3Error('MalformedXML', { cause });
  }
  // XML 1.0 section 2.1: exactly one root element. fast-xml-parser accepts several and folds repeats into an
  // array, which let "<Root>..</Root><Root/>" through as an empty document.
  const elements = Object.keys(doc).filter((name) => !name.startsWith('?'));
  const root = doc[expectedRoot];
  if (elements.length !== 1 || root === undefined || Array.isArray(root)) throw new S3Error('MalformedXML');
  // An empty element parses as '' : treat it as an empty object.
  return root && typeof root === 'object' ? (root as Record<string, unknown>) : {};
}

const parserOptions = {
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
} as const;

