// The respondent page's evaluator of the survey rule language: the twin of
// tenant_apps/surveys/logic/evaluator.py (authoritative on submit). See tenant_apps/surveys/logic/SPEC.md.
// Both must give the same result for every case in tenant_apps/surveys/logic/vectors.json
// (logic.test.mjs beside this file runs them; tests/tenant_apps/surveys/logic/test_crosscheck.py compares the
// two evaluators on random surveys).
//
// A plain ES module: no build step, no dependencies; runs in browsers and in Node >= 20.
//
// Where the two languages differ, this file reproduces Python's behaviour:
// - JSON values: Python's None/bool/int/float/str/list/dict are null/boolean/number/string/Array/Object here,
//   and Python truthiness (`if question.get("required")`: 0, "", [], {}, null and false are false) is kept.
// - `matches`: Python compiles the pattern (after rewriting `$` outside classes as `\Z`) with re.ASCII. Here
//   the same rewrite is done, the result is parsed with the rules of Python 3.11's `re` parser (so exactly the
//   patterns Python rejects are invalid, and an invalid pattern never matches) and translated into an
//   equivalent ECMAScript expression with the `u` flag: `.` excludes only "\n" (ECMAScript's also excludes
//   "\r", U+2028, U+2029), `\s` is ASCII whitespace, `\B` never matches in an empty string, Python-only
//   escapes (`\a`, `\-`, octal, `\Z`...) and braces that are not a repeat are literal, a back-reference to a
//   group that did not take part fails, inline flags (`(?i)`, `(?s:...)`, `(?x)`...) mean what they mean
//   with re.ASCII (so `(?u)` throws, as Python's ValueError is not caught by the evaluator either).
//   Not translated (the pattern then never matches): conditionals `(?(1)a|b)`, `\N{name}`, and inside a
//   `(?u:...)` group `\d`, `\w`, `\b` and ignoring case; a back-reference ignoring case. Publishing rejects
//   all of them (`(?`). Known remaining difference: a back-reference to a group inside a repeat (`*`, `+`,
//   `{m,n}` with n > 1) that some repetition may skip, or whose repeated part can match "" (ECMAScript
//   forgets the group at each repetition and refuses an empty one; Python keeps the group and takes one last
//   empty repetition).
// - Piping renders numbers like Python (`repr` of a float: "1e-05", not "0.00001"; integral values in full).

export const OTHER = "__other__";

/** A Python exception the authoritative evaluator would raise on the same input (malformed definitions). */
export class PyError extends Error {
  constructor(type, message) {
    super(`${type}: ${message}`);
    this.name = type;
  }
}

const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isList = (v) => Array.isArray(v);
const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

function pyType(v) {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "str";
  return isList(v) ? "list" : "dict";
}

/** Python truthiness of a JSON value. */
function truthy(v) {
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string" || isList(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

function hashable(key) {
  if (isList(key) || isDict(key)) throw new PyError("TypeError", `unhashable type: '${pyType(key)}'`);
  return key;
}

/** `obj.get(key, fallback)` on a JSON object. */
function dget(obj, key, fallback = null) {
  if (!isDict(obj)) throw new PyError("AttributeError", `'${pyType(obj)}' object has no attribute 'get'`);
  hashable(key);
  return typeof key === "string" && hasOwn(obj, key) ? obj[key] : fallback;
}

/** `obj[key]` on a JSON object. */
function ditem(obj, key) {
  if (!isDict(obj)) throw new PyError("TypeError", `'${pyType(obj)}' object is not subscriptable by str`);
  hashable(key);
  if (typeof key === "string" && hasOwn(obj, key)) return obj[key];
  throw new PyError("KeyError", JSON.stringify(key));
}

/** `key in obj` on a JSON object. */
function din(obj, key) {
  return typeof key === "string" && hasOwn(obj, key);
}

/** Python iteration over a JSON value (`for x in value`). */
function iter(v) {
  if (isList(v)) return v;
  if (typeof v === "string") return Array.from(v);
  if (isDict(v)) return Object.keys(v);
  throw new PyError("TypeError", `'${pyType(v)}' object is not iterable`);
}

/** `dict.get(key)` on a Map standing in for a Python dict. */
function mget(map, key, fallback = null) {
  hashable(key);
  return map.has(key) ? map.get(key) : fallback;
}

function mapToObject(map) {
  return Object.fromEntries(Array.from(map, ([k, v]) => [String(k), v]));
}

// --- values -------------------------------------------------------------------------------------

export function isEmpty(value) {
  return (
    value === null ||
    value === undefined ||
    value === "" ||
    (isList(value) && value.length === 0) ||
    (isDict(value) && Object.keys(value).length === 0)
  );
}

export function jsonEquals(a, b) {
  if (isNumber(a) && isNumber(b)) return a === b;
  if (typeof a === "boolean" || typeof b === "boolean") {
    return typeof a === "boolean" && typeof b === "boolean" && a === b;
  }
  if (typeof a === "string" && typeof b === "string") return a === b;
  if (isList(a) && isList(b)) {
    return a.every((x) => b.some((y) => jsonEquals(x, y))) && b.every((y) => a.some((x) => jsonEquals(y, x)));
  }
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => hasOwn(b, k)) && ka.every((k) => jsonEquals(a[k], b[k]));
  }
  return (a === null || a === undefined) && (b === null || b === undefined);
}

function asList(value) {
  if (isList(value)) return value;
  return isEmpty(value) ? [] : [value];
}

const isHighSurrogate = (u) => u >= 0xd800 && u <= 0xdbff;
const isLowSurrogate = (u) => u >= 0xdc00 && u <= 0xdfff;

/** `needle in hay` by code points (a match may not split a surrogate pair). */
function includesCodePoints(hay, needle) {
  if (needle === "") return true;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    const splitsStart = i > 0 && isHighSurrogate(hay.charCodeAt(i - 1)) && isLowSurrogate(hay.charCodeAt(i));
    const splitsEnd =
      end < hay.length && isHighSurrogate(hay.charCodeAt(end - 1)) && isLowSurrogate(hay.charCodeAt(end));
    if (!splitsStart && !splitsEnd) return true;
  }
  return false;
}

// --- Python `re` (3.11) translated to ECMAScript --------------------------------------------------

const MAXREPEAT = 4294967295;
const MAXCODE = 4294967295;
const MAXWIDTH = 2 ** 64;

class ReError extends Error {} // Python: re.error (the pattern is invalid: `matches` is false)
class ReUnsupported extends Error {} // valid in Python, not translated (`matches` is false)
class ReOverflow extends Error {} // Python: OverflowError, which the evaluator does not catch
class ReValueError extends Error {} // Python: ValueError (inline (?u) with re.ASCII), not caught either

// re.ASCII: the contents of the classes \d, \s (str.isspace() below 128) and \w
const CATEGORY_CLASSES = { d: "0-9", s: "\\t-\\r ", w: "0-9A-Z_a-z" };
// Unicode \s (str.isspace()), for a (?u:...) group; its \d, \w, \b and case folding are not translated
const UNICODE_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const cpEscape = (c) => `\\u{${c.toString(16)}}`;

const DIGITS = new Set("0123456789");
const OCTDIGITS = new Set("01234567");
const HEXDIGITS = new Set("0123456789abcdefABCDEF");
const ASCII_LETTER = /^[A-Za-z]$/;
const SPECIAL_CHARS = new Set(".\\[{()*+?^$|");
const REPEAT_CHARS = new Set("*+?{");
// sre flags
const TEMPLATE = 1;
const IGNORECASE = 2;
const LOCALE = 4;
const MULTILINE = 8;
const DOTALL = 16;
const UNICODE = 32;
const VERBOSE = 64;
const ASCII = 256;
const FLAGS = new Map([
  ["i", IGNORECASE], ["L", LOCALE], ["m", MULTILINE], ["s", DOTALL], ["x", VERBOSE], ["a", ASCII], ["t", TEMPLATE],
  ["u", UNICODE],
]);
const TYPE_FLAGS = ASCII | LOCALE | UNICODE;
const GLOBAL_FLAGS = TEMPLATE; // and DEBUG, which has no letter
const WHITESPACE = new Set(" \t\n\r\v\f");
const combineFlags = (flags, add, del) => ((add & TYPE_FLAGS ? flags & ~TYPE_FLAGS : flags) | add) & ~del;
const ESCAPES = new Map([
  ["\\a", 7], ["\\b", 8], ["\\f", 12], ["\\n", 10], ["\\r", 13], ["\\t", 9], ["\\v", 11], ["\\\\", 92],
]);
const inCategory = (cat) => ({ op: "IN", neg: false, items: [{ op: "CAT", cat }] });
const CATEGORIES = new Map([
  ["\\A", { op: "AT", at: "BEGINNING_STRING" }],
  ["\\b", { op: "AT", at: "BOUNDARY" }],
  ["\\B", { op: "AT", at: "NON_BOUNDARY" }],
  ["\\d", inCategory("d")],
  ["\\D", inCategory("D")],
  ["\\s", inCategory("s")],
  ["\\S", inCategory("S")],
  ["\\w", inCategory("w")],
  ["\\W", inCategory("W")],
  ["\\Z", { op: "AT", at: "END_STRING" }],
]);
const lit = (c) => ({ op: "LIT", c });

class Source {
  // re._parser.Tokenizer over code points: `next` is one character or a backslash and one character.
  constructor(pattern) {
    this.s = Array.from(pattern);
    this.index = 0;
    this.next = null;
    this.nextLength = 0;
    this.advance();
  }

  advance() {
    const start = this.index;
    let i = start;
    if (i >= this.s.length) {
      this.next = null;
      this.nextLength = 0;
      return;
    }
    let char = this.s[i];
    if (char === "\\") {
      i += 1;
      if (i >= this.s.length) throw new ReError("bad escape (end of pattern)");
      char += this.s[i];
    }
    this.index = i + 1;
    this.next = char;
    this.nextLength = this.index - start;
  }

  match(char) {
    if (char === this.next) {
      this.advance();
      return true;
    }
    return false;
  }

  get() {
    const current = this.next;
    this.advance();
    return current;
  }

  getwhile(n, charset) {
    let result = "";
    for (let k = 0; k < n; k += 1) {
      const c = this.next;
      if (c === null || !charset.has(c)) break;
      result += c;
      this.advance();
    }
    return result;
  }

  getuntil(terminator, name) {
    let result = "";
    for (;;) {
      const c = this.next;
      this.advance();
      if (c === null) throw new ReError(`missing ${result ? terminator : name}`);
      if (c === terminator) {
        if (!result) throw new ReError(`missing ${name}`);
        return result;
      }
      result += c;
    }
  }

  tell() {
    return this.index - this.nextLength;
  }

  seek(index) {
    this.index = index;
    this.advance();
  }
}

class ReState {
  constructor(flags) {
    this.flags = flags;
    this.groupwidths = [null];
    this.groupdict = new Map();
    this.lookbehindgroups = null;
    this.referenced = new Set(); // groups with a back-reference
  }

  get groups() {
    return this.groupwidths.length;
  }

  opengroup(name) {
    const gid = this.groups;
    this.groupwidths.push(null);
    if (name !== null) {
      if (this.groupdict.has(name)) throw new ReError(`redefinition of group name ${name}`);
      this.groupdict.set(name, gid);
    }
    return gid;
  }

  closegroup(gid, seq) {
    this.groupwidths[gid] = getwidth(seq, this);
  }

  checkgroup(gid) {
    return gid < this.groups && this.groupwidths[gid] !== null;
  }

  checklookbehindgroup(gid) {
    if (this.lookbehindgroups !== null) {
      if (!this.checkgroup(gid)) throw new ReError("cannot refer to an open group");
      if (gid >= this.lookbehindgroups) {
        throw new ReError("cannot refer to group defined in the same lookbehind subpattern");
      }
    }
  }
}

function getwidth(seq, state) {
  let lo = 0;
  let hi = 0;
  for (const node of seq) {
    if (node.op === "BRANCH") {
      let i = MAXWIDTH;
      let j = 0;
      for (const alt of node.alts) {
        const [l, h] = getwidth(alt, state);
        i = Math.min(i, l);
        j = Math.max(j, h);
      }
      lo += i;
      hi += j;
    } else if (node.op === "GROUP" || node.op === "ATOMIC") {
      const [i, j] = getwidth(node.seq, state);
      lo += i;
      hi += j;
    } else if (node.op === "REPEAT") {
      const [i, j] = getwidth(node.item, state);
      lo += i * node.min;
      hi = node.max === MAXREPEAT && j ? MAXWIDTH : hi + j * node.max;
    } else if (node.op === "LIT" || node.op === "ANY" || node.op === "IN") {
      lo += 1;
      hi += 1;
    } else if (node.op === "GROUPREF") {
      const [i, j] = state.groupwidths[node.g];
      lo += i;
      hi += j;
    }
  }
  return [Math.min(lo, MAXWIDTH), Math.min(hi, MAXWIDTH)];
}

function unicodeEscape(source, escape, c) {
  // \x, \u, \U and \N (the same inside and outside a class); undefined for other escapes
  if (c === "x" || c === "u" || c === "U") {
    const digits = { x: 2, u: 4, U: 8 }[c];
    const hex = source.getwhile(digits, HEXDIGITS);
    if (hex.length !== digits) throw new ReError(`incomplete escape ${escape}${hex}`);
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) throw new ReError(`bad escape ${escape}${hex}`);
    return lit(code);
  }
  if (c === "N") {
    if (!source.match("{")) throw new ReError("missing {");
    source.getuntil("}", "character name");
    throw new ReUnsupported("\\N{...}");
  }
  return undefined;
}

function classEscape(source, escape) {
  if (ESCAPES.has(escape)) return lit(ESCAPES.get(escape));
  const category = CATEGORIES.get(escape);
  if (category && category.op === "IN") return category;
  const c = Array.from(escape)[1];
  const code = unicodeEscape(source, escape, c);
  if (code) return code;
  if (OCTDIGITS.has(c)) {
    const value = parseInt(c + source.getwhile(2, OCTDIGITS), 8);
    if (value > 0o377) throw new ReError("octal escape value outside of range 0-0o377");
    return lit(value);
  }
  if (DIGITS.has(c) || ASCII_LETTER.test(c)) throw new ReError(`bad escape ${escape}`);
  return lit(c.codePointAt(0));
}

function escapeCode(source, escape, state) {
  const category = CATEGORIES.get(escape);
  if (category) return category;
  if (ESCAPES.has(escape)) return lit(ESCAPES.get(escape));
  const c = Array.from(escape)[1];
  const code = unicodeEscape(source, escape, c);
  if (code) return code;
  if (c === "0") return lit(parseInt(c + source.getwhile(2, OCTDIGITS), 8));
  if (DIGITS.has(c)) {
    // octal escape *or* decimal group reference (sigh)
    let digits = c;
    if (DIGITS.has(source.next)) {
      digits += source.get();
      if (OCTDIGITS.has(digits[0]) && OCTDIGITS.has(digits[1]) && OCTDIGITS.has(source.next)) {
        digits += source.get();
        const value = parseInt(digits, 8);
        if (value > 0o377) throw new ReError("octal escape value outside of range 0-0o377");
        return lit(value);
      }
    }
    const group = parseInt(digits, 10);
    if (group < state.groups) {
      if (!state.checkgroup(group)) throw new ReError("cannot refer to an open group");
      state.checklookbehindgroup(group);
      state.referenced.add(group);
      return { op: "GROUPREF", g: group };
    }
    throw new ReError(`invalid group reference ${group}`);
  }
  if (ASCII_LETTER.test(c)) throw new ReError(`bad escape ${escape}`);
  return lit(c.codePointAt(0));
}

const IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

function checkGroupName(name) {
  if (!IDENTIFIER.test(name)) throw new ReError(`bad character in group name ${name}`);
}

function parseSub(source, state, verbose, nested) {
  const items = [];
  for (;;) {
    items.push(parseSeq(source, state, verbose, nested + 1, !nested && !items.length));
    if (!source.match("|")) break;
    if (!nested) verbose = Boolean(state.flags & VERBOSE);
  }
  return items.length === 1 ? items[0] : [{ op: "BRANCH", alts: items }];
}

function parseClass(source) {
  const items = [];
  const negate = source.match("^");
  for (;;) {
    const current = source.get();
    if (current === null) throw new ReError("unterminated character set");
    if (current === "]" && items.length) break;
    let code1 = current[0] === "\\" ? classEscape(source, current) : lit(current.codePointAt(0));
    if (source.match("-")) {
      const that = source.get();
      if (that === null) throw new ReError("unterminated character set");
      if (that === "]") {
        items.push(code1.op === "IN" ? code1.items[0] : code1, lit(45));
        break;
      }
      const code2 = that[0] === "\\" ? classEscape(source, that) : lit(that.codePointAt(0));
      if (code1.op !== "LIT" || code2.op !== "LIT" || code2.c < code1.c) {
        throw new ReError(`bad character range ${current}-${that}`);
      }
      items.push({ op: "RANGE", lo: code1.c, hi: code2.c });
    } else {
      if (code1.op === "IN") code1 = code1.items[0];
      items.push(code1);
    }
  }
  return { op: "IN", neg: negate, items };
}

function repeatBound(digits) {
  const value = Number(digits);
  if (value >= MAXREPEAT) throw new ReOverflow("the repetition number is too large");
  return value;
}

function parseFlags(source, state, first) {
  // re._parser._parse_flags: null for global flags, else [add, del]
  let char = first;
  let add = 0;
  let del = 0;
  const unknown = (c, missing) => new ReError(/^\p{L}$/u.test(c) ? "unknown flag" : missing);
  if (char !== "-") {
    for (;;) {
      const flag = FLAGS.get(char);
      if (char === "L") throw new ReError("bad inline flags: cannot use 'L' flag with a str pattern");
      add |= flag;
      if (flag & TYPE_FLAGS && (add & TYPE_FLAGS) !== flag) {
        throw new ReError("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
      }
      char = source.get();
      if (char === null) throw new ReError("missing -, : or )");
      if (char === ")" || char === "-" || char === ":") break;
      if (!FLAGS.has(char)) throw unknown(char, "missing -, : or )");
    }
  }
  if (char === ")") {
    state.flags |= add;
    return null;
  }
  if (add & GLOBAL_FLAGS) throw new ReError("bad inline flags: cannot turn on global flag");
  if (char === "-") {
    char = source.get();
    if (char === null) throw new ReError("missing flag");
    if (!FLAGS.has(char)) throw unknown(char, "missing flag");
    for (;;) {
      const flag = FLAGS.get(char);
      if (flag & TYPE_FLAGS) throw new ReError("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
      del |= flag;
      char = source.get();
      if (char === null) throw new ReError("missing :");
      if (char === ":") break;
      if (!FLAGS.has(char)) throw unknown(char, "missing :");
    }
  }
  if (del & GLOBAL_FLAGS) throw new ReError("bad inline flags: cannot turn off global flag");
  if (add & del) throw new ReError("bad inline flags: flag turned on and off");
  return [add, del];
}

function parseGroup(source, state, verbose, nested, first, sub) {
  // after "(": appends the group (or assertion, back-reference) to sub; returns the verbose flag
  let capture = true;
  let atomic = false;
  let name = null;
  let addFlags = 0;
  let delFlags = 0;
  if (source.match("?")) {
    const char = source.get();
    if (char === null) throw new ReError("unexpected end of pattern");
    if (char === "P") {
      if (source.match("<")) {
        name = source.getuntil(">", "group name");
        checkGroupName(name);
      } else if (source.match("=")) {
        name = source.getuntil(")", "group name");
        checkGroupName(name);
        const gid = state.groupdict.get(name);
        if (gid === undefined) throw new ReError(`unknown group name ${name}`);
        if (!state.checkgroup(gid)) throw new ReError("cannot refer to an open group");
        state.checklookbehindgroup(gid);
        state.referenced.add(gid);
        sub.push({ op: "GROUPREF", g: gid });
        return verbose;
      } else {
        const next = source.get();
        if (next === null) throw new ReError("unexpected end of pattern");
        throw new ReError(`unknown extension ?P${next}`);
      }
    } else if (char === ":") {
      capture = false;
    } else if (char === "#") {
      for (;;) {
        if (source.next === null) throw new ReError("missing ), unterminated comment");
        if (source.get() === ")") return verbose;
      }
    } else if (char === "=" || char === "!" || char === "<") {
      let kind = char;
      let dir = 1;
      let lookbehindgroups = null;
      if (kind === "<") {
        kind = source.get();
        if (kind === null) throw new ReError("unexpected end of pattern");
        if (kind !== "=" && kind !== "!") throw new ReError(`unknown extension ?<${kind}`);
        dir = -1;
        lookbehindgroups = state.lookbehindgroups;
        if (lookbehindgroups === null) state.lookbehindgroups = state.groups;
      }
      const seq = parseSub(source, state, verbose, nested + 1);
      if (dir < 0 && lookbehindgroups === null) state.lookbehindgroups = null;
      if (!source.match(")")) throw new ReError("missing ), unterminated subpattern");
      sub.push({ op: "ASSERT", dir, neg: kind === "!", seq });
      return verbose;
    } else if (char === "(") {
      throw new ReUnsupported("conditional group");
    } else if (char === ">") {
      capture = false;
      atomic = true;
    } else if (FLAGS.has(char) || char === "-") {
      const flags = parseFlags(source, state, char);
      if (flags === null) {
        if (!first || sub.length) throw new ReError("global flags not at the start of the expression");
        return Boolean(state.flags & VERBOSE);
      }
      [addFlags, delFlags] = flags;
      capture = false;
    } else {
      throw new ReError(`unknown extension ?${char}`);
    }
  }
  const group = capture ? state.opengroup(name) : null;
  const subVerbose = Boolean((verbose || addFlags & VERBOSE) && !(delFlags & VERBOSE));
  const seq = parseSub(source, state, subVerbose, nested + 1);
  if (!source.match(")")) throw new ReError("missing ), unterminated subpattern");
  if (group !== null) state.closegroup(group, seq);
  sub.push(atomic ? { op: "ATOMIC", seq } : { op: "GROUP", group, addFlags, delFlags, seq });
  return verbose;
}

function parseRepeat(source, current, sub) {
  // after a repeat character: replaces the last item of sub with its repetition, or appends a literal "{"
  const here = source.tell();
  let min;
  let max;
  if (current === "?") [min, max] = [0, 1];
  else if (current === "*") [min, max] = [0, MAXREPEAT];
  else if (current === "+") [min, max] = [1, MAXREPEAT];
  else {
    if (source.next === "}") {
      sub.push(lit(123));
      return;
    }
    [min, max] = [0, MAXREPEAT];
    let lo = "";
    let hi = "";
    while (DIGITS.has(source.next)) lo += source.get();
    if (source.match(",")) {
      while (DIGITS.has(source.next)) hi += source.get();
    } else {
      hi = lo;
    }
    if (!source.match("}")) {
      sub.push(lit(123));
      source.seek(here);
      return;
    }
    if (lo) min = repeatBound(lo);
    if (hi) {
      max = repeatBound(hi);
      if (max < min) throw new ReError("min repeat greater than max repeat");
    }
  }
  const item = sub.length ? sub[sub.length - 1] : null;
  if (item === null || item.op === "AT") throw new ReError("nothing to repeat");
  if (item.op === "REPEAT") throw new ReError("multiple repeat");
  const plain = item.op === "GROUP" && item.group === null && !item.addFlags && !item.delFlags;
  const body = plain ? item.seq : [item];
  let kind = "MAX";
  if (source.match("?")) kind = "MIN";
  else if (source.match("+")) kind = "POSSESSIVE";
  sub[sub.length - 1] = { op: "REPEAT", kind, min, max, item: body };
}

function parseSeq(source, state, verbose, nested, first) {
  const sub = [];
  for (;;) {
    const current = source.next;
    if (current === null || current === "|" || current === ")") break;
    source.get();
    if (verbose) {
      // skip whitespace and comments
      if (WHITESPACE.has(current)) continue;
      if (current === "#") {
        for (let c = source.get(); c !== null && c !== "\n"; c = source.get());
        continue;
      }
    }
    if (current[0] === "\\") sub.push(escapeCode(source, current, state));
    else if (!SPECIAL_CHARS.has(current)) sub.push(lit(current.codePointAt(0)));
    else if (current === "[") sub.push(parseClass(source));
    else if (REPEAT_CHARS.has(current)) parseRepeat(source, current, sub);
    else if (current === ".") sub.push({ op: "ANY" });
    else if (current === "(") verbose = parseGroup(source, state, verbose, nested, first, sub);
    else if (current === "^") sub.push({ op: "AT", at: "BEGINNING" });
    else sub.push({ op: "AT", at: "END" }); // "$"
  }
  return sub;
}

const isAsciiLetter = (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

function swapcaseRanges(lo, hi) {
  // the other case of the ASCII letters in lo..hi (re.IGNORECASE with re.ASCII folds only those)
  const out = [];
  const upper = [Math.max(lo, 65), Math.min(hi, 90)];
  const lower = [Math.max(lo, 97), Math.min(hi, 122)];
  if (upper[0] <= upper[1]) out.push([upper[0] + 32, upper[1] + 32]);
  if (lower[0] <= lower[1]) out.push([lower[0] - 32, lower[1] - 32]);
  return out;
}

function emitClass(node, flags) {
  const unicode = flags & UNICODE;
  if (unicode && flags & IGNORECASE) throw new ReUnsupported("Unicode case folding");
  const category = (cat) => {
    if (!unicode) return CATEGORY_CLASSES[cat];
    if (cat !== "s") throw new ReUnsupported("Unicode \\d and \\w");
    return UNICODE_SPACE;
  };
  const positive = [];
  const negated = []; // \D, \S, \W: the contents of the sets they exclude
  const range = ([lo, hi]) => (lo === hi ? cpEscape(lo) : `${cpEscape(lo)}-${cpEscape(hi)}`);
  for (const item of node.items) {
    if (item.op === "LIT" || item.op === "RANGE") {
      // ignoring case, a character matches when its lowercase is in the lowercased set
      const bounds = item.op === "LIT" ? [item.c, item.c] : [item.lo, item.hi];
      positive.push(range(bounds));
      if (flags & IGNORECASE) positive.push(...swapcaseRanges(...bounds).map(range));
    } else if (item.cat === item.cat.toLowerCase()) positive.push(category(item.cat));
    else negated.push(category(item.cat.toLowerCase()));
  }
  const set = positive.join("");
  if (!negated.length) return node.neg ? `[^${set}]` : `[${set}]`;
  if (!node.neg) {
    // in one of the positive items, or outside one of the excluded sets
    return `(?:${[...(set ? [`[${set}]`] : []), ...negated.map((n) => `[^${n}]`)].join("|")})`;
  }
  // in none of the positive items, and inside every excluded set
  return `(?:${set ? `(?![${set}])` : ""}${negated.map((n) => `(?=[${n}])`).join("")}[^])`;
}

function emitAt(at, flags) {
  switch (at) {
    case "BEGINNING":
      return flags & MULTILINE ? "(?<![^\\n])" : "^";
    case "BEGINNING_STRING":
      return "^";
    case "END":
      return flags & MULTILINE ? "(?![^\\n])" : "(?=\\n?$)";
    case "END_STRING":
      return "$";
    case "BOUNDARY":
      if (flags & UNICODE) throw new ReUnsupported("Unicode \\b");
      return "\\b"; // ASCII words in both (the u flag without i)
    default: // NON_BOUNDARY: Python's never matches in an empty string
      if (flags & UNICODE) throw new ReUnsupported("Unicode \\B");
      return "(?:\\B(?:(?<=[^])|(?=[^])))";
  }
}

function quantifier(min, max) {
  if (max === MAXREPEAT) return min === 0 ? "*" : min === 1 ? "+" : `{${min},}`;
  if (min === 0 && max === 1) return "?";
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

function within(ctx, scope, emit) {
  const saved = { loops: ctx.loops, optional: ctx.optional, flags: ctx.flags };
  Object.assign(ctx, scope);
  try {
    return emit();
  } finally {
    Object.assign(ctx, saved);
  }
}

function emitSeq(seq, ctx) {
  return seq.map((node) => emitNode(node, ctx)).join("");
}

function emitNode(node, ctx) {
  switch (node.op) {
    case "LIT":
      if (ctx.flags & IGNORECASE && ctx.flags & UNICODE) throw new ReUnsupported("Unicode case folding");
      return ctx.flags & IGNORECASE && isAsciiLetter(node.c) ? emitClass({ items: [node] }, ctx.flags) : cpEscape(node.c);
    case "ANY":
      return ctx.flags & DOTALL ? "[^]" : "[^\\n]";
    case "IN":
      return emitClass(node, ctx.flags);
    case "AT":
      return emitAt(node.at, ctx.flags);
    case "BRANCH":
      return `(?:${node.alts.map((alt) => within(ctx, { optional: true }, () => emitSeq(alt, ctx))).join("|")})`;
    case "GROUP": {
      const flags = combineFlags(ctx.flags, node.addFlags, node.delFlags);
      const content = () => within(ctx, { flags }, () => emitSeq(node.seq, ctx));
      if (node.group === null) return `(?:${content()})`;
      ctx.groups[node.group] = ++ctx.count; // numbered in the order of their "(", like Python's
      const group = `(${content()})`;
      if (!ctx.state.referenced.has(node.group) || (ctx.loops && ctx.optional)) return group;
      // Python's back-reference to a group that did not take part fails; ECMAScript's matches "". So a
      // referenced group is followed by a marker that captures the whole input (empty only when it is).
      // Not for a group that a repetition of an enclosing loop may skip: ECMAScript forgets the group at each
      // repetition, Python keeps it, and the marker would fail a reference that Python's may match.
      ctx.markers[node.group] = ++ctx.count;
      return `${group}(?<=^(?=([^]*))[^]*)`;
    }
    case "ATOMIC": {
      const index = ++ctx.count;
      return `(?:(?=(${emitSeq(node.seq, ctx)}))\\${index})`;
    }
    case "GROUPREF": {
      if (ctx.flags & IGNORECASE) throw new ReUnsupported("a back-reference ignoring case");
      const marker = ctx.markers[node.g]; // it holds the whole input when the group took part
      const check = marker === undefined ? "" : `(?<=^(?=\\${marker}$)[^]*)`;
      return `(?:${check}\\${ctx.groups[node.g]})`;
    }
    case "ASSERT": {
      if (node.dir < 0) {
        const [lo, hi] = getwidth(node.seq, ctx.state);
        if (lo > MAXCODE) throw new ReError("looks too much behind");
        if (lo !== hi) throw new ReError("look-behind requires fixed-width pattern");
      }
      const inner = within(ctx, { optional: ctx.optional || node.neg }, () => emitSeq(node.seq, ctx));
      return `(?${node.dir < 0 ? "<" : ""}${node.neg ? "!" : "="}${inner})`;
    }
    default: {
      // REPEAT
      if (ctx.flags & TEMPLATE) throw new ReError("internal: unsupported template operator");
      const q = quantifier(node.min, node.max) + (node.kind === "MIN" ? "?" : "");
      const index = node.kind === "POSSESSIVE" ? ++ctx.count : 0;
      // `optional`: whether a repetition of the enclosing loops may leave the item out, or be empty (Python
      // takes one last empty repetition, ECMAScript none)
      let scope = { optional: ctx.optional || node.min === 0 };
      if (node.max > 1) {
        const emptyRepetition = getwidth(node.item, ctx.state)[0] === 0;
        scope = { loops: ctx.loops + 1, optional: (ctx.loops ? scope.optional : false) || emptyRepetition };
      }
      const item = within(ctx, scope, () => emitSeq(node.item, ctx));
      // X? as an alternation: ECMAScript refuses an optional repetition that matches "", Python takes it (and
      // the groups inside it take part)
      const optional = node.kind === "MIN" ? `(?:|${item})` : `(?:${item}|)`;
      const repeated = node.min === 0 && node.max === 1 ? optional : `(?:${item})${q}`;
      if (node.kind !== "POSSESSIVE") return repeated;
      return `(?:(?=(${repeated}))\\${index})`;
    }
  }
}

/**
 * Translates a Python regular expression into ECMAScript source (for the `u` flag). Throws ReError where
 * Python's re.compile raises re.error, ReUnsupported for what is not translated, ReOverflow for OverflowError.
 */
function translateRegex(pattern) {
  const source = new Source(pattern);
  const state = new ReState(ASCII); // the evaluator compiles with re.ASCII
  const seq = parseSub(source, state, false, 0);
  if (state.flags & UNICODE) throw new ReValueError("ASCII and UNICODE flags are incompatible"); // fix_flags
  if (source.next !== null) throw new ReError("unbalanced parenthesis");
  const ctx = { state, count: 0, groups: [], markers: [], loops: 0, optional: false, flags: state.flags };
  return { source: emitSeq(seq, ctx), seq, state };
}

/**
 * Whether the parsed pattern matches the empty string, following sre: the ways through are tried in its order
 * and each is the set of groups that took part so far (all of them hold ""). Used for patterns with
 * back-references, where ECMAScript cannot tell a group that matched "" from one that did not take part.
 */
function matchesEmptyString(seq, state) {
  const first = (ways) => ways.slice(0, 1);
  const key = (way) => [...way].sort((a, b) => a - b).join(",");
  const unique = (ways) => {
    const seen = new Set();
    return ways.filter((way) => (seen.has(key(way)) ? false : (seen.add(key(way)), true)));
  };
  const matchSeq = (nodes, ways) =>
    nodes.reduce((current, node) => unique(current.flatMap((way) => matchNode(node, way))), ways);
  const repeat = (node, way) => {
    // the min repetitions are required; then one more may run at the same position (zero-width protection)
    let ways = [way];
    for (let k = 0; k < node.min && ways.length; k += 1) {
      const next = matchSeq(node.item, ways);
      const unchanged = next.map(key).join("|") === ways.map(key).join("|");
      ways = next;
      if (unchanged) break; // the same ways again: so are all further repetitions
    }
    if (node.max <= node.min) return ways;
    const more = (w) => matchSeq(node.item, [w]);
    if (node.kind === "MIN") return unique(ways.flatMap((w) => [w, ...more(w)]));
    const greedy = unique(ways.flatMap((w) => [...more(w), w]));
    return node.kind === "POSSESSIVE" ? first(greedy) : greedy;
  };
  const matchNode = (node, way) => {
    switch (node.op) {
      case "AT": // in an empty string, \b and \B never match (sre), the other anchors always do
        return node.at === "BOUNDARY" || node.at === "NON_BOUNDARY" ? [] : [way];
      case "GROUP":
        return matchSeq(node.seq, [way]).map((w) => (node.group === null ? w : new Set([...w, node.group])));
      case "BRANCH":
        return unique(node.alts.flatMap((alt) => matchSeq(alt, [way])));
      case "GROUPREF":
        return way.has(node.g) ? [way] : [];
      case "ATOMIC":
        return first(matchSeq(node.seq, [way]));
      case "ASSERT": {
        const inner = node.dir < 0 && getwidth(node.seq, state)[0] > 0 ? [] : matchSeq(node.seq, [way]);
        if (node.neg) return inner.length ? [] : [way];
        return first(inner);
      }
      case "REPEAT":
        return repeat(node, way);
      default: // a character
        return [];
    }
  };
  return matchSeq(seq, [new Set()]).length > 0;
}

/** evaluator._ecmascript_dollars: `$` outside (what looks like) a class becomes `\Z`. */
function ecmascriptDollars(pattern) {
  let out = "";
  let escaped = false;
  let inClass = false;
  for (const char of pattern) {
    if (escaped) {
      out += char;
      escaped = false;
    } else if (char === "\\") {
      out += char;
      escaped = true;
    } else if (char === "[") {
      inClass = true;
      out += char;
    } else if (char === "]") {
      inClass = false;
      out += char;
    } else {
      out += char === "$" && !inClass ? "\\Z" : char;
    }
  }
  return out;
}

const regexCache = new Map();

/**
 * The equivalent of the evaluator's `_regex(pattern)`: re.compile(_ecmascript_dollars(pattern), re.ASCII) as
 * an ECMAScript RegExp, or null when Python rejects the pattern (compiled once per pattern).
 */
export function compileRegex(pattern) {
  return compiled(pattern).regexp;
}

function compiled(pattern) {
  if (regexCache.has(pattern)) return regexCache.get(pattern);
  let entry = { regexp: null };
  try {
    const translated = translateRegex(ecmascriptDollars(pattern));
    // The search is spelled out (`^[^]*?`): V8 otherwise tries some patterns at positions inside a
    // surrogate pair (/(?!(a*)(?=\1))/u.exec("\u{1F600}").index is 1); Python's positions are code points.
    entry = { regexp: new RegExp(`^[^]*?(?:${translated.source})`, "u"), ...translated };
  } catch (error) {
    // Python raises OverflowError (not re.error) for a repeat count of 2**32 - 1 or more, ValueError for (?u)
    if (error instanceof ReOverflow) throw new PyError("OverflowError", error.message);
    if (error instanceof ReValueError) throw new PyError("ValueError", error.message);
    if (!(error instanceof ReError || error instanceof ReUnsupported || error instanceof SyntaxError)) throw error;
  }
  regexCache.set(pattern, entry);
  return entry;
}

/** `_regex(pattern).search(text) is not None` (false for an invalid pattern). */
export function regexSearch(pattern, text) {
  const { regexp, seq, state } = compiled(pattern);
  if (regexp === null) return false;
  if (text === "" && state.referenced.size) return matchesEmptyString(seq, state);
  return regexp.test(text);
}

// _DATE_RE.fullmatch (re.ASCII) and _PIPE_RE (spaces only around the id)
const DATE_RE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$/;
const PIPE_RE = /\{\{ *(var\.)?([A-Za-z][A-Za-z0-9_]{0,63}) *(?:\|([^}]*))?\}\}/gu;

// --- comparisons ----------------------------------------------------------------------------------

export function compare(op, left, right) {
  if (left === undefined) left = null;
  if (right === undefined) right = null;
  switch (op) {
    case "is_empty":
      return isEmpty(left);
    case "is_answered":
      return !isEmpty(left);
    case "equals":
      return !isEmpty(left) && jsonEquals(left, right);
    case "not_equals":
      return !(!isEmpty(left) && jsonEquals(left, right));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (!(isNumber(left) && isNumber(right))) return false;
      return { gt: left > right, gte: left >= right, lt: left < right, lte: left <= right }[op];
    case "between":
      return (
        isNumber(left) &&
        isList(right) &&
        right.length === 2 &&
        right.every(isNumber) &&
        right[0] <= left &&
        left <= right[1]
      );
    case "in":
      return isList(right) && !isList(left) && !isEmpty(left) && right.some((item) => jsonEquals(left, item));
    case "contains":
      if (typeof left === "string" && typeof right === "string") return includesCodePoints(left, right);
      return isList(left) && left.some((item) => jsonEquals(item, right));
    case "contains_any": {
      const items = asList(left);
      return isList(right) && items.some((a) => right.some((b) => jsonEquals(a, b)));
    }
    case "contains_all": {
      const items = asList(left);
      return isList(right) && items.length > 0 && right.every((b) => items.some((a) => jsonEquals(a, b)));
    }
    case "matches": {
      if (!(typeof left === "string" && typeof right === "string")) return false;
      return regexSearch(right, left);
    }
    case "date_before":
    case "date_after": {
      if (!(typeof left === "string" && typeof right === "string" && DATE_RE.test(left) && DATE_RE.test(right))) {
        return false;
      }
      return op === "date_before" ? left < right : left > right; // ASCII only
    }
    default:
      return false;
  }
}

// --- numbers --------------------------------------------------------------------------------------

/** Python's format_number: an integral value in full ("30", "1000000000000000000000"), else repr(float). */
export function formatNumber(value) {
  if (Number.isInteger(value)) {
    return Math.abs(value) < 2 ** 53 ? String(value === 0 ? 0 : value) : BigInt(value).toString();
  }
  return floatRepr(value);
}

/** Python's repr of a non-integral float: the shortest round-trip digits, exponent form below 1e-4. */
function floatRepr(value) {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const text = String(value);
  if (Math.abs(value) >= 1e-4) return text; // fixed notation in both (non-integral floats are below 2**53)
  const sign = value < 0 ? "-" : "";
  let digits;
  let exponent;
  const unsigned = text.replace(/^-/, "");
  if (unsigned.includes("e")) {
    const [mantissa, exp] = unsigned.split("e");
    digits = mantissa.replace(".", "");
    exponent = Number(exp);
  } else {
    // 0.0000ddd
    const fraction = unsigned.split(".")[1];
    const zeros = fraction.match(/^0*/)[0].length;
    digits = fraction.slice(zeros);
    exponent = -(zeros + 1);
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expText = String(Math.abs(exponent)).padStart(2, "0");
  return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${expText}`;
}

const PRINTABLE_EXCLUDED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function reprString(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const cp = char.codePointAt(0);
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\t") out += "\\t";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x7f || cp === 0x20 || !PRINTABLE_EXCLUDED.test(char)) out += char;
    else if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out + quote;
}

/** Python's repr() of a JSON value. */
function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return reprString(value);
  if (isList(value)) return `[${value.map(pyRepr).join(", ")}]`;
  return `{${Object.keys(value)
    .map((k) => `${reprString(k)}: ${pyRepr(value[k])}`)
    .join(", ")}}`;
}

/** Python's str() of a JSON value. */
function pyStr(value) {
  return typeof value === "string" ? value : pyRepr(value);
}

// Expressions are IEEE doubles, as in Python (whose ints, from `count` and integral `score`s, stay exact but are
// far below 2**53 there).

function sumItem(item) {
  // an item of Python's sum(): a bool counts as an int; anything else but a number is a TypeError
  if (typeof item === "boolean") return item ? 1 : 0;
  if (typeof item === "number") return item;
  throw new PyError("TypeError", `unsupported operand type(s) for +: 'int' and '${pyType(item)}'`);
}

const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

function roundHalfAwayFromZero(x, digits) {
  if (!Number.isFinite(x)) return 0;
  const factor = POWERS_OF_TEN[Number.isFinite(digits) ? Math.max(0, Math.min(15, Math.trunc(digits))) : 0];
  const scaled = Math.abs(x) * factor;
  if (!Number.isFinite(scaled)) return 0;
  const rounded = Math.floor(scaled + 0.5) / factor;
  if (rounded === 0) return 0;
  return x < 0 || Object.is(x, -0) ? -rounded : rounded; // math.copysign
}

/** evaluator._double: what set_variable stores (not finite, or -0, becomes 0). */
function storedDouble(value) {
  return !Number.isFinite(value) || value === 0 ? 0 : value;
}

// --- evaluation -----------------------------------------------------------------------------------

class State {
  constructor(definition, answers) {
    this.definition = definition;
    this.raw = answers;
    this.effective = new Map();
    this.variables = new Map();
    for (const v of iter(dget(definition, "variables", []))) {
      const id = ditem(v, "id");
      this.variables.set(hashable(id), dget(v, "initial", 0));
    }
    this.questions = new Map();
    for (const page of iter(dget(definition, "pages", []))) {
      for (const q of iter(dget(page, "questions", []))) this.questions.set(hashable(ditem(q, "id")), q);
    }
  }

  /** The effective answer of a question of the survey; anything else reads as empty. */
  answer(qid) {
    hashable(qid);
    return this.questions.has(qid) ? mget(this.effective, qid) : null;
  }

  // reading
  read(ref) {
    if (din(ref, "var")) return mget(this.variables, ref.var);
    const value = this.answer(dget(ref, "q", ""));
    if (din(ref, "row")) return isDict(value) ? dget(value, ref.row) : null;
    return value;
  }

  operand(value) {
    if (isDict(value)) {
      const size = Object.keys(value).length;
      if ((size === 1 || size === 2) && (din(value, "q") || din(value, "var"))) return this.read(value);
    }
    return value;
  }

  test(condition) {
    if (condition === null || condition === undefined) return true;
    if (!isDict(condition)) return false;
    if (din(condition, "all")) {
      for (const c of iter(condition.all)) if (!this.test(c)) return false;
      return true;
    }
    if (din(condition, "any")) {
      for (const c of iter(condition.any)) if (this.test(c)) return true;
      return false;
    }
    if (din(condition, "not")) return !this.test(condition.not);
    const op = dget(condition, "op", "");
    const left = this.read(condition);
    return compare(typeof op === "string" ? op : pyStr(op), left, this.operand(dget(condition, "value")));
  }

  // expressions
  expr(e) {
    if (isNumber(e)) return e;
    if (!isDict(e)) return 0;
    const keys = Object.keys(e);
    if (keys.length !== 1) return 0;
    const kind = keys[0];
    const arg = e[kind];
    if (kind === "q" || kind === "var") {
      const value = kind === "var" ? mget(this.variables, arg) : this.answer(arg);
      return isNumber(value) ? value : 0;
    }
    if (kind === "score") {
      const question = mget(this.questions, arg, {});
      const scores = new Map();
      for (const c of iter(dget(question, "choices", []))) scores.set(hashable(ditem(c, "id")), dget(c, "score", 0));
      let total = 0;
      for (const cid of asList(mget(this.effective, arg))) {
        if (typeof cid === "string") total += sumItem(scores.has(cid) ? scores.get(cid) : 0);
      }
      return total;
    }
    if (kind === "count") return asList(mget(this.effective, arg)).length;
    const values = isList(arg) ? arg.map((x) => this.expr(x)) : [];
    switch (kind) {
      case "add":
      case "sum":
        return values.reduce((a, b) => a + b, 0);
      case "mul":
        return values.reduce((a, b) => a * b, 1);
      case "sub":
      case "div": {
        if (values.length !== 2) return 0;
        const [a, b] = values;
        if (kind === "sub") return a - b;
        return b === 0 ? 0 : a / b;
      }
      case "min":
      case "max": {
        // Python's min()/max(): the first extreme item; a NaN is never replaced and never replaces
        if (!values.length) return 0;
        let best = values[0];
        for (const v of values.slice(1)) if (kind === "min" ? v < best : v > best) best = v;
        return best;
      }
      case "round":
        return values.length === 2 ? roundHalfAwayFromZero(values[0], values[1]) : 0;
      default:
        return 0;
    }
  }

  // piping
  render(qid) {
    const value = this.answer(qid);
    if (isEmpty(value)) return null;
    if (typeof value === "boolean") return value ? "Yes" : "No";
    if (isNumber(value)) return formatNumber(value);
    const question = mget(this.questions, qid, {});
    const labels = new Map();
    for (const c of iter(dget(question, "choices", []))) {
      const id = ditem(c, "id");
      labels.set(hashable(id), dget(c, "text", id));
    }
    const label = (v) => (labels.has(v) ? labels.get(v) : v);
    if (typeof value === "string") {
      if (value === OTHER) {
        const other = mget(this.effective, `${qid}__other`);
        return typeof other === "string" && other ? other : null;
      }
      return truthy(dget(question, "choices")) ? label(value) : value;
    }
    if (isList(value) && value.every((v) => typeof v === "string")) {
      return value
        .map((v) => (v !== OTHER ? pyStr(label(v)) : pyStr(mget(this.effective, `${qid}__other`, ""))))
        .join(", ");
    }
    return null;
  }

  pipe(text) {
    if (typeof text !== "string") throw new PyError("TypeError", "expected string or bytes-like object");
    return text.replace(PIPE_RE, (match, isVar, ident, fallback) => {
      fallback = fallback || "";
      if (isVar) {
        const value = mget(this.variables, ident);
        return isNumber(value) ? formatNumber(value) : fallback;
      }
      const rendered = this.render(ident);
      if (rendered === null) return fallback;
      if (typeof rendered !== "string") throw new PyError("TypeError", "expected str instance");
      return rendered;
    });
  }
}

function effectiveChoices(value, hidden) {
  if (!hidden.size) return value;
  if (isList(value)) return value.filter((v) => !(typeof hashable(v) === "string" && hidden.has(v)));
  if (typeof value === "string" && hidden.has(value)) return null;
  return value;
}

function pyEquals(a, b) {
  // Python == between JSON scalars (ids)
  if ((typeof a === "number" || typeof a === "boolean") && (typeof b === "number" || typeof b === "boolean")) {
    return Number(a) === Number(b);
  }
  if (isList(a) || isDict(a) || isList(b) || isDict(b)) return jsonEquals(a, b) && pyType(a) === pyType(b);
  return (a ?? null) === (b ?? null);
}

/**
 * Walks the survey as the respondent would with these answers. The result has the keys of Python's
 * evaluate(): pages, questions, required, hidden_choices, answers, variables, end_screen, texts.
 */
export function evaluate(definition, answers = {}) {
  const state = new State(definition, answers);
  const pages = dget(definition, "pages", []);
  if (!isList(pages)) throw new PyError("TypeError", "pages must be a list");
  const index = new Map();
  pages.forEach((page, i) => index.set(hashable(ditem(page, "id")), i));
  const endScreens = dget(definition, "end_screens", []);
  const visitedPages = [];
  const questions = [];
  const required = [];
  const hiddenChoices = new Map();
  const texts = new Map();
  let endScreen = truthy(endScreens) ? ditem(endScreens[0], "id") : null;
  let i = 0;
  while (i < pages.length) {
    const page = pages[i];
    i += 1;
    if (!state.test(dget(page, "visible_if"))) continue;
    visitedPages.push(page.id);
    if (truthy(dget(page, "title"))) texts.set(page.id, state.pipe(page.title));
    for (const question of iter(dget(page, "questions", []))) {
      const qid = ditem(question, "id");
      if (!state.test(dget(question, "visible_if"))) continue;
      questions.push(qid);
      if (
        truthy(dget(question, "required")) ||
        (truthy(dget(question, "required_if")) && state.test(question.required_if))
      ) {
        required.push(qid);
      }
      const hidden = [];
      for (const c of iter(dget(question, "choices", []))) {
        if (!state.test(dget(c, "visible_if"))) hidden.push(ditem(c, "id"));
      }
      if (hidden.length) hiddenChoices.set(qid, hidden);
      if (truthy(dget(question, "text"))) texts.set(qid, state.pipe(question.text)); // before its own answer counts
      let value = effectiveChoices(dget(answers, qid), new Set(hidden.map(hashable)));
      if (value === OTHER || (isList(value) && value.includes(OTHER))) {
        if (!truthy(dget(question, "other"))) {
          value = value === OTHER ? null : value.filter((v) => v !== OTHER);
        } else if (!isEmpty(dget(answers, `${qid}__other`))) {
          state.effective.set(`${qid}__other`, answers[`${qid}__other`]);
        }
      }
      if (!isEmpty(value)) state.effective.set(qid, value);
    }
    let navigation = null;
    for (const rule of iter(dget(page, "rules", []))) {
      if (!state.test(dget(rule, "when"))) continue;
      for (const action of iter(dget(rule, "then", []))) {
        const kind = dget(action, "type");
        if (kind === "set_variable") {
          const value = storedDouble(state.expr(dget(action, "expr", 0)));
          state.variables.set(hashable(ditem(action, "variable")), value);
        } else if ((kind === "skip_to" || kind === "end_survey") && navigation === null) {
          navigation = [kind, kind === "skip_to" ? dget(action, "page") : dget(action, "end_screen")];
        }
      }
    }
    if (navigation !== null) {
      const [kind, target] = navigation;
      if (kind === "end_survey") {
        endScreen = target;
        break;
      }
      hashable(target);
      if (index.has(target) && index.get(target) > i - 1) i = index.get(target);
    }
  }
  const screen = iter(endScreens).find((s) => pyEquals(ditem(s, "id"), endScreen));
  if (screen !== undefined && truthy(dget(screen, "text"))) texts.set(screen.id, state.pipe(screen.text));
  return {
    pages: visitedPages,
    questions,
    required,
    hidden_choices: mapToObject(hiddenChoices),
    answers: mapToObject(state.effective),
    variables: mapToObject(state.variables),
    end_screen: endScreen,
    texts: mapToObject(texts),
  };
}

// --- randomisation --------------------------------------------------------------------------------

export function mulberry32(seed) {
  if (typeof seed === "boolean") seed = Number(seed);
  if (!Number.isInteger(seed)) throw new PyError("TypeError", "the seed must be an integer");
  let state = Number(BigInt(seed) & 0xffffffffn);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state) >>> 0;
    t = (((t + (Math.imul(t ^ (t >>> 7), 61 | t) >>> 0)) >>> 0) ^ t) >>> 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The order a respondent sees, reproducible from a 32-bit unsigned seed (Fisher-Yates, last index down). */
export function shuffle(ids, seed) {
  const items = Array.from(ids);
  const rand = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
