/**
 * A strict little XML 1.0 reader for the tests, and a checker of the JUnit schema's shape.
 *
 * Why not a dependency: package.json is shared by several people working at once, and this reader
 * only needs what a JUnit report uses (declaration, elements, attributes, text, the five entities and
 * character references). It is written from the XML spec, not from the renderer, and it rejects what
 * a CI parser would choke on: raw `<` or `&`, unknown entities, forbidden characters, bad nesting.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Character data directly inside the element, entities decoded. */
  text: string;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function allowedChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

export function parseXml(source: string): XmlElement {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`invalid XML at ${at}: ${why} (near ${JSON.stringify(source.slice(at, at + 30))})`);
  };
  for (const char of source)
    if (!allowedChar(char.codePointAt(0)!))
      fail(`forbidden character U+${char.codePointAt(0)!.toString(16)}`);
  // A lone surrogate survives the for-of above as its own code point in the D800-DFFF range.

  const skipSpace = () => {
    while (at < source.length && ' \t\r\n'.includes(source[at]!)) at++;
  };
  const name = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(source);
    if (match === null) return fail('expected a name');
    at += match[0].length;
    return match[0];
  };
  const decode = (raw: string): string =>
    raw.replace(/&([^;]*);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) return fail('a bare & (not an entity reference)');
      if (ENTITIES[ref] !== undefined) return ENTITIES[ref];
      const numeric = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(ref);
      if (numeric === null) return fail(`unknown entity ${whole}`);
      const code = numeric[1] === undefined ? Number(numeric[2]) : Number.parseInt(numeric[1], 16);
      if (!allowedChar(code)) return fail(`character reference to a forbidden character ${whole}`);
      return String.fromCodePoint(code);
    });

  const element = (): XmlElement => {
    if (source[at] !== '<') fail('expected <');
    at++;
    const el: XmlElement = { name: name(), attributes: {}, children: [], text: '' };
    for (;;) {
      const before = at;
      skipSpace();
      if (source.startsWith('/>', at)) {
        at += 2;
        return el;
      }
      if (source[at] === '>') {
        at++;
        break;
      }
      if (at === before) fail('expected white space before an attribute');
      const attribute = name();
      if (attribute in el.attributes) fail(`duplicate attribute ${attribute}`);
      skipSpace();
      if (source[at] !== '=') fail('expected =');
      at++;
      skipSpace();
      const quote = source[at];
      if (quote !== '"' && quote !== "'") return fail('expected a quoted value');
      const end = source.indexOf(quote, at + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = source.slice(at + 1, end);
      if (raw.includes('<')) fail('< in an attribute value');
      // Attribute-value normalisation (XML 1.0 §3.3.3): literal white space becomes a space.
      el.attributes[attribute] = decode(raw.replace(/[\t\n\r]/g, ' '));
      at = end + 1;
    }
    for (;;) {
      const next = source.indexOf('<', at);
      if (next < 0) fail(`unclosed <${el.name}>`);
      const raw = source.slice(at, next);
      if (raw.includes(']]>')) fail(']]> in text');
      el.text += decode(raw);
      at = next;
      if (source.startsWith('</', at)) {
        at += 2;
        if (name() !== el.name) fail(`mismatched end tag for <${el.name}>`);
        skipSpace();
        if (source[at] !== '>') fail('expected >');
        at++;
        return el;
      }
      if (source.startsWith('<!', at) || source.startsWith('<?', at))
        fail('comments, CDATA and PIs are not expected');
      el.children.push(element());
    }
  };

  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    if (!/^<\?xml version="1\.0"( encoding="UTF-8")?\s*\?>$/.test(source.slice(0, end + 2)))
      fail('bad declaration');
    at = end + 2;
  }
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== source.length) fail('content after the root element');
  return root;
}

const INT = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;
/** xs:dateTime without a zone, as the Ant/Jenkins JUnit schema constrains `timestamp`. */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;

/**
 * The shape the usual JUnit schemas (Ant's, Jenkins' junit-10.xsd) give a report, with the counts
 * checked against the content. Returns the problems; an empty list means the report conforms.
 */
export function junitProblems(root: XmlElement): string[] {
  const problems: string[] = [];
  const need = (el: XmlElement, attribute: string, pattern?: RegExp) => {
    const value = el.attributes[attribute];
    if (value === undefined) problems.push(`<${el.name}> lacks ${attribute}`);
    else if (pattern && !pattern.test(value))
      problems.push(`<${el.name} ${attribute}="${value}"> is malformed`);
  };
  const only = (el: XmlElement, names: string[]) => {
    for (const child of el.children)
      if (!names.includes(child.name)) problems.push(`<${child.name}> is not allowed in <${el.name}>`);
  };
  if (root.name !== 'testsuites') return [`root is <${root.name}>, expected <testsuites>`];
  only(root, ['testsuite']);
  for (const attribute of ['tests', 'failures', 'errors']) need(root, attribute, INT);
  need(root, 'time', DECIMAL);
  const totals = { tests: 0, failures: 0, errors: 0 };
  for (const suite of root.children) {
    need(suite, 'name');
    for (const attribute of ['tests', 'failures', 'errors']) need(suite, attribute, INT);
    need(suite, 'time', DECIMAL);
    need(suite, 'timestamp', TIMESTAMP);
    need(suite, 'hostname');
    only(suite, ['properties', 'testcase', 'system-out', 'system-err']);
    const cases = suite.children.filter((c) => c.name === 'testcase');
    let failures = 0;
    let errors = 0;
    for (const testcase of cases) {
      need(testcase, 'name');
      need(testcase, 'classname');
      need(testcase, 'time', DECIMAL);
      only(testcase, ['skipped', 'error', 'failure', 'system-out', 'system-err']);
      for (const failure of testcase.children.filter((c) => c.name === 'failure' || c.name === 'error')) {
        need(failure, 'message');
        need(failure, 'type');
      }
      if (testcase.children.some((c) => c.name === 'failure')) failures++;
      if (testcase.children.some((c) => c.name === 'error')) errors++;
    }
    const counted = { tests: cases.length, failures, errors };
    for (const [key, value] of Object.entries(counted)) {
      if (suite.attributes[key] !== String(value))
        problems.push(
          `<testsuite name="${suite.attributes.name}"> says ${key}=${suite.attributes[key]}, has ${value}`,
        );
      totals[key as keyof typeof totals] += value;
    }
  }
  for (const [key, value] of Object.entries(totals)) {
    if (root.attributes[key] !== String(value))
      problems.push(`<testsuites> says ${key}=${root.attributes[key]}, has ${value}`);
  }
  return problems;
}
