/**
 * fast-check generators of manifest documents as an attacker would write them: numbers JSON cannot
 * hold exactly, values nested 10^4 deep, paths with `..`, backslashes, NUL, lone surrogates and
 * 100 000 characters, duplicate ids, overlapping ranges of one path, unknown fields, wrong types.
 *
 * A document is a JSON value whose leaves may be `Raw` text, spliced verbatim into the JSON text
 * (`renderText`): number literals such as `1e309` that JSON.stringify cannot write, and nesting deep
 * enough to overflow JSON.stringify, which recurses (JSON.parse does not).
 */
import fc from 'fast-check';

export class Raw {
  constructor(readonly text: string) {}
}

const DEPTH = 10_000;

/** Values nested DEPTH deep: objects, arrays, and a mix, each ending in a leaf. */
export const deepValue: fc.Arbitrary<Raw> = fc.constantFrom('{"a":', '[', '{"":[').map((open) => {
  const close = open === '[' ? ']' : open === '{"a":' ? '}' : ']}';
  return new Raw(`${open.repeat(DEPTH)}1${close.repeat(DEPTH)}`);
});

/** Number literals that parse to something else than they say: rounded, infinite, -0. */
const rawNumber = fc
  .constantFrom(
    '1e309',
    '-1e309',
    '1e-400',
    '9007199254740993',
    '123456789012345678901234567890',
    '-0.0',
    '1.0',
    '1E2',
    '0.1e1',
  )
  .map((text) => new Raw(text));

export const hugeNumber: fc.Arbitrary<number | Raw> = fc.oneof(
  fc.constantFrom(
    2 ** 53,
    2 ** 53 - 1,
    2 ** 53 + 2,
    2 ** 64,
    1e308,
    -1e308,
    -0,
    0,
    1,
    -1,
    0.5,
    1.5,
    5e-324,
    1e21,
    2 ** 31,
    2 ** 32,
  ),
  fc.integer(),
  fc.maxSafeNat(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  rawNumber,
);

const numberLikeString = fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '1e3', '0x10', '10', ' 1', '');

/** Anything of the wrong type for most fields. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  hugeNumber,
  numberLikeString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  deepValue,
);

/** Any single code unit or code point, lone surrogates included (fast-check's units leave them out). */
const anyChar = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);

const LONG_NAME = 'n'.repeat(300);
const VERY_LONG_PATH = 'x'.repeat(100_000);

/** Segments a file name may have, odd but allowed: unicode, spaces, URL syntax, 255-byte names. */
const safeSegment = fc.oneof(
  fc.constantFrom(
    'a',
    'model.bin',
    'layer.0',
    '...',
    '.hidden',
    'a b',
    '%2e%2e',
    '%',
    '?x',
    '#h',
    'é',
    '模型',
    '😀',
    '\u202e',
    'x\ny',
    '~',
    "it's",
    LONG_NAME.slice(0, 255),
  ),
  fc.stringMatching(/^[\w.~-]{1,12}$/).filter((s) => s !== '.' && s !== '..'),
);

/** Segments that make a path unsafe, or that no file name should have. */
const unsafeSegment = fc.oneof(
  fc.constantFrom('..', '.', '', '\\', 'a\\b', '\0', 'a\0b', '\ud800', 'x\udfffy', 'C:', 'c:x'),
  fc.string({ unit: anyChar, minLength: 1, maxLength: 6 }),
  fc.constant(LONG_NAME),
);

export const safePath: fc.Arbitrary<string> = fc
  .array(safeSegment, { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join('/'))
  .filter((path) => !/^[A-Za-z]:/.test(path));

export const anyPath: fc.Arbitrary<unknown> = fc.oneof(
  safePath,
  fc.array(fc.oneof(safeSegment, unsafeSegment), { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
  fc.tuple(fc.constantFrom('/', '//', './', '../', 'C:/', 'C:\\'), safePath).map(([a, b]) => a + b),
  safePath.map((path) => `${path}/`),
  fc.constant(VERY_LONG_PATH),
  fc.string({ unit: anyChar, maxLength: 10 }),
  wrongType,
);

const SHA256_EMPTY = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const validIntegrity = fc.constantFrom(
  SHA256_EMPTY,
  'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
  'sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==',
  'sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb',
);
const anyIntegrity = fc.oneof(
  validIntegrity,
  fc.constantFrom(
    'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=', // stray low bits
    'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU', // no padding
    'sha256-',
    'sha256-====',
    'md5-1B2M2Y8AsgTpgAmY7PhCfg==',
    'sha256:zz',
    'sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709',
    `sha256-${'A'.repeat(100_000)}`,
  ),
  fc.string({ unit: anyChar, maxLength: 12 }),
  wrongType,
);

const validUrl = fc.constantFrom(
  'https://cdn.example.com/m/',
  'https://cdn.example.com/m',
  'http://127.0.0.1:8080/a/b/?token=t',
  'https://user:pw@cdn.example.com/private/',
  'HTTPS://CDN.EXAMPLE.COM/X/#frag',
  'https://[::1]/v6/',
  'https://xn--bcher-kva.example/%7E/',
);
const anyUrl = fc.oneof(
  validUrl,
  fc.constantFrom(
    'http://%ZZ@cdn.example.com/',
    'https://u:%C3@cdn.example.com/',
    'ftp://cdn.example.com/',
    'http://',
    'not a url',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'http://[::1/',
    'https://h/😀/',
    'https://h/%/',
  ),
  fc.string({ unit: anyChar, maxLength: 10 }),
  wrongType,
);

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'dtype', 'shape', 'x\0', ''];
const unknownFields = fc.dictionary(
  fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })),
  fc.oneof(wrongType, fc.string()),
  { maxKeys: 3 },
);

/** A small pool of ids and paths, so that duplicates and overlaps come often. */
const pooledId = fc.oneof(
  fc.constantFrom('a', 'b', 'a#0', 'model.bin', 'x\ny', ''),
  fc.string({ maxLength: 4 }),
);
const pooledPath = fc.constantFrom('a', 'b', 'model.bin');

const offsetOrSize = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 4096 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53 - 1, 2 ** 53 - 2, 2 ** 52) },
);

/** Fragments a careful writer would emit, with every odd but valid value. */
export const validFragment = fc
  .record(
    {
      path: fc.oneof({ weight: 3, arbitrary: safePath }, { weight: 1, arbitrary: pooledPath }),
      url: validUrl.map((url) => `${url.replace(/[?#].*$/, '')}obj`),
      offset: offsetOrSize,
      size: offsetOrSize,
      integrity: validIntegrity,
      priority: fc.constantFrom('critical', 'high', 'normal', 'low', 'background'),
      importance: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, -0)),
      id: fc.oneof(
        { weight: 3, arbitrary: safePath },
        { weight: 1, arbitrary: pooledId.filter((id) => id !== '') },
      ),
    },
    { requiredKeys: ['path'] },
  )
  // An offset without a size is refused; hostile fragments try that often enough.
  .map((fragment) =>
    fragment.offset !== undefined && fragment.size === undefined ? { ...fragment, size: 1 } : fragment,
  );

export const anyFragment = fc
  .tuple(
    fc.record(
      {
        path: fc.oneof(anyPath, pooledPath),
        url: anyUrl,
        offset: fc.oneof(offsetOrSize, hugeNumber, wrongType),
        size: fc.oneof(offsetOrSize, hugeNumber, wrongType),
        integrity: anyIntegrity,
        priority: fc.oneof(fc.constantFrom('critical', 'normal', 'urgent', 'NORMAL', ''), wrongType),
        importance: fc.oneof(hugeNumber, wrongType),
        id: fc.oneof(pooledId, wrongType),
      },
      { requiredKeys: [] },
    ),
    unknownFields,
  )
  .map(([known, unknown]) => ({ ...unknown, ...known }));

function document(fragment: fc.Arbitrary<unknown>, hostile: boolean): fc.Arbitrary<unknown> {
  const wrong = hostile ? [wrongType] : [];
  return fc
    .tuple(
      fc.record(
        {
          version: hostile ? fc.oneof(fc.constant(1), wrongType) : fc.constant(1),
          name: fc.oneof(fc.string({ unit: anyChar, maxLength: 8 }), ...wrong),
          baseUrls: hostile
            ? fc.oneof(fc.array(anyUrl, { maxLength: 3 }), wrongType)
            : fc.array(validUrl, { minLength: 1, maxLength: 3 }),
          fragments: fc.oneof(fc.array(fragment, { minLength: hostile ? 0 : 1, maxLength: 6 }), ...wrong),
        },
        { requiredKeys: hostile ? [] : ['version', 'baseUrls', 'fragments'] },
      ),
      unknownFields,
    )
    .map(([known, unknown]) => ({ ...unknown, ...known }));
}

/** Documents that are mostly accepted: the invariants of accepted manifests get exercised. */
export const plausibleDocument = document(validFragment, false);

type Plain = Record<string, unknown>;

/** One hostile value put in one place of a document: a field of a fragment, or of the document. */
const mutation = fc.oneof(
  fc.tuple(fc.constant('path'), anyPath),
  fc.tuple(fc.constant('url'), anyUrl),
  fc.tuple(fc.constant('offset'), fc.oneof(hugeNumber, wrongType)),
  fc.tuple(fc.constant('size'), fc.oneof(hugeNumber, wrongType)),
  fc.tuple(fc.constant('integrity'), anyIntegrity),
  fc.tuple(fc.constant('id'), fc.oneof(pooledId, wrongType)),
  fc.tuple(fc.constant('priority'), fc.oneof(fc.constantFrom('urgent', 'NORMAL', ''), wrongType)),
  fc.tuple(fc.constant('importance'), fc.oneof(hugeNumber, wrongType)),
  fc.tuple(fc.constant('unknown'), deepValue),
  fc.tuple(fc.constant('duplicate'), fc.constant(undefined)),
  fc.tuple(fc.constant('baseUrls'), fc.oneof(fc.array(anyUrl, { minLength: 1, maxLength: 3 }), wrongType)),
  fc.tuple(fc.constant('name'), fc.oneof(fc.string({ unit: anyChar, maxLength: 8 }), wrongType)),
  fc.tuple(fc.constant('version'), wrongType),
  fc.tuple(fc.constant('fragments'), wrongType),
);

const DOCUMENT_KEYS = new Set(['baseUrls', 'name', 'version', 'fragments']);

/** A copy of `document` with the mutation applied to its fragment number `at` (modulo their count). */
function mutate(document: Plain, [key, value]: [string, unknown], at: number): Plain {
  if (DOCUMENT_KEYS.has(key)) return { ...document, [key]: value };
  if (!Array.isArray(document.fragments)) return document; // replaced by an earlier mutation
  const fragments = [...(document.fragments as Plain[])];
  const index = at % fragments.length;
  const fragment = fragments[index]!;
  if (key === 'duplicate') fragments.push({ ...fragment });
  else fragments[index] = key === 'unknown' ? { ...fragment, extra: value } : { ...fragment, [key]: value };
  return { ...document, fragments };
}

/**
 * A plausible document with one or two hostile values: most of it valid, so that a hostile value
 * reaches the code that runs after validation (URL resolution, ids), not only the schema.
 */
const mutatedDocument = fc
  .tuple(plausibleDocument, fc.array(fc.tuple(mutation, fc.nat()), { minLength: 1, maxLength: 2 }))
  .map(([document, mutations]) =>
    mutations.reduce((doc, [change, at]) => mutate(doc, change, at), document as Plain),
  );

/** Documents where anything goes, down to the wrong top-level type. */
export const hostileDocument: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: mutatedDocument },
  { weight: 2, arbitrary: document(fc.oneof(validFragment, anyFragment), true) },
  { weight: 1, arbitrary: wrongType },
);

/**
 * JSON text of a document, with `Raw` leaves spliced in. JSON.stringify's replacer sees each Raw
 * first and leaves a placeholder no generator writes, replaced afterwards.
 */
export function renderText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (!(item instanceof Raw)) return item;
    raws.push(item.text);
    return `\u0001raw${raws.length - 1}\u0001`;
  });
  if (text === undefined) return 'null';
  return text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, index: string) => raws[Number(index)]!);
}

/** Whether a Raw leaf sits anywhere in the value (its JSON round trip is not the identity). */
export function hasRaw(value: unknown): boolean {
  if (value instanceof Raw) return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(hasRaw);
}

/** Text-level damage: a byte order mark, a cut anywhere, an unclosed 10^4-deep array. */
export const hostileText: fc.Arbitrary<string> = fc
  .tuple(
    hostileDocument.map(renderText),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('none' as const) },
      { weight: 1, arbitrary: fc.constant('bom' as const) },
      { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
      { weight: 1, arbitrary: fc.constant('unclosed' as const) },
    ),
  )
  .map(([text, damage]) => {
    if (damage === 'none') return text;
    if (damage === 'bom') return `\uFEFF${text}`;
    if (damage === 'unclosed') return `{"version":1,"fragments":${'['.repeat(DEPTH)}`;
    return text.slice(0, Math.floor(damage * text.length));
  });
