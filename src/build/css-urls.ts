/**
 * Finding and rewriting the URL references of a stylesheet.
 *
 * A single-pass tokenizer that follows CSS Syntax Level 3 closely enough to tell real references
 * (`url(...)`, string arguments of `image-set()`, `@import "..."`) from look-alikes in comments,
 * strings, other functions and identifiers. Offsets are JavaScript string indices into the
 * original text; nothing is normalised before scanning, so edits land exactly where they belong.
 * `findCssRefs` scans once; `spliceCssRefs` rewrites the references it found without scanning
 * again (`rewriteCssRefs` is the two together).
 */
import { createRequire } from 'node:module'
import type { default as MagicStringClass, SourceMap } from 'magic-string'

/** magic-string, loaded the first time a source map is wanted (most builds never load it). */
let magicString: typeof MagicStringClass | undefined
const loadMagicString = (): typeof MagicStringClass =>
  (magicString ??= (createRequire(import.meta.url)('magic-string') as { default: typeof MagicStringClass }).default)

export interface CssRef {
  /** The reference as the browser reads it: quotes removed, CSS escapes decoded, surrounding whitespace trimmed. */
  url: string
  /**
   * 'url' = inside a url(...) function of any case (URL(, Url(), quoted or unquoted);
   * 'string' = a bare string argument of image-set()/-webkit-image-set() (top-level arguments only, not strings
   * nested in other functions like type("image/png")), or the string of `@import "x.css"`.
   */
  kind: 'url' | 'string'
  /** True if the value was written quoted (always true for kind 'string'). */
  quoted: boolean
  /** The quote character used, when quoted. */
  quote?: '"' | "'"
  /**
   * Span in the source of the raw value to replace: for url(...) the characters between the parens minus
   * surrounding whitespace (includes quotes if quoted); for a string, the whole string token including its quotes.
   */
  start: number
  end: number
  /** For kind 'url': span of the function name (e.g. `URL`), to allow normalising its case. */
  fnStart?: number
  fnEnd?: number
  /** 1-based line and 1-based column of `start`, worked out when first read. */
  readonly line: number
  readonly column: number
  /** True when inside an `@import` prelude. */
  isImport: boolean
}

export interface RewriteOptions {
  /** Also rename url functions written in another case (`URL(`, `Url(`) to lowercase `url(`, even when the value is not replaced. */
  lowercaseUrlFunctions?: boolean
  /** The url function name to write for a reference, when not the one written (or lowercased): wins over `lowercaseUrlFunctions`. */
  urlFunction?: (ref: CssRef) => string | undefined
  /** Produce a source map (magic-string hires: 'boundary') when the stylesheet changed. */
  sourcemap?: boolean
  /** Source file name recorded in the map. */
  filename?: string
}

export interface RewriteResult {
  code: string
  changed: boolean
  map?: SourceMap
}

// ---------------------------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------------------------

const CH_TAB = 9
const CH_LF = 10
const CH_FF = 12
const CH_CR = 13
const CH_SPACE = 32
const CH_DQUOTE = 34
const CH_HASH = 35
const CH_PERCENT = 37
const CH_SQUOTE = 39
const CH_LPAREN = 40
const CH_RPAREN = 41
const CH_STAR = 42
const CH_PLUS = 43
const CH_MINUS = 45
const CH_DOT = 46
const CH_SLASH = 47
const CH_SEMI = 59
const CH_AT = 64
const CH_LBRACKET = 91
const CH_BACKSLASH = 92
const CH_RBRACKET = 93
const CH_LBRACE = 123
const CH_RBRACE = 125

/** ASCII code points that may continue a name (NUL counts: the preprocessor turns it into U+FFFD). */
const NAME_CHAR = new Uint8Array(128)
/** ASCII code points that may start a name. */
const NAME_START = new Uint8Array(128)
/** Hex digit value + 1, 0 when not a hex digit. */
const HEX = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
  const digit = c >= 48 && c <= 57
  if (letter || c === 95 || c === 0) NAME_START[c] = 1
  if (letter || digit || c === 95 || c === CH_MINUS || c === 0) NAME_CHAR[c] = 1
  if (digit) HEX[c] = c - 48 + 1
  else if (c >= 65 && c <= 70) HEX[c] = c - 55 + 1
  else if (c >= 97 && c <= 102) HEX[c] = c - 87 + 1
}

/** What an ASCII code point starts, for the main loop's dispatch (non-ASCII starts a name). */
const T_OTHER = 0
const T_WS = 1
const T_NAME = 2
const T_DIGIT = 3
const T_QUOTE = 4
const T_SLASH = 5
const T_OPEN = 6
const T_CLOSE = 7
const T_SEMI = 8
const T_HASH = 9
const T_AT = 10
const T_PLUS_DOT = 11
const T_MINUS = 12
const T_BACKSLASH = 13
const TOKEN = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  if (NAME_START[c] === 1) TOKEN[c] = T_NAME
  else if (c >= 48 && c <= 57) TOKEN[c] = T_DIGIT
}
for (const c of [CH_TAB, CH_LF, CH_FF, CH_CR, CH_SPACE]) TOKEN[c] = T_WS
TOKEN[CH_DQUOTE] = TOKEN[CH_SQUOTE] = T_QUOTE
TOKEN[CH_SLASH] = T_SLASH
TOKEN[CH_LPAREN] = TOKEN[CH_LBRACKET] = TOKEN[CH_LBRACE] = T_OPEN
TOKEN[CH_RPAREN] = TOKEN[CH_RBRACKET] = TOKEN[CH_RBRACE] = T_CLOSE
TOKEN[CH_SEMI] = T_SEMI
TOKEN[CH_HASH] = T_HASH
TOKEN[CH_AT] = T_AT
TOKEN[CH_PLUS] = TOKEN[CH_DOT] = T_PLUS_DOT
TOKEN[CH_MINUS] = T_MINUS
TOKEN[CH_BACKSLASH] = T_BACKSLASH

/**
 * ASCII code points where exact mode stops: what opens or closes a block, function, string or
 * comment, ends a declaration, starts an at-rule, or escapes. No token made of other code points
 * takes one of these in, except through a backslash escape.
 */
const SIGNIFICANT = new Uint8Array(128)
for (const c of '()[]{};"\'/\\@') SIGNIFICANT[c.charCodeAt(0)] = 1

function isWhitespace(c: number): boolean {
  return c === CH_SPACE || c === CH_LF || c === CH_TAB || c === CH_CR || c === CH_FF
}

function isNewline(c: number): boolean {
  return c === CH_LF || c === CH_CR || c === CH_FF
}

function isHex(c: number): boolean {
  return c < 128 && HEX[c] !== 0
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function isNameStart(c: number): boolean {
  return c >= 128 || NAME_START[c] === 1
}

function isNameChar(c: number): boolean {
  return c >= 128 || NAME_CHAR[c] === 1
}

/**
 * ASCII code points an unquoted url token simply consumes (non-ASCII ones too): anything but `)`,
 * whitespace, quotes, `(`, a backslash and the non-printable ones below (NUL is consumed: it
 * reads as U+FFFD).
 */
const URL_PLAIN = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  URL_PLAIN[c] = isWhitespace(c) || c === CH_DQUOTE || c === CH_SQUOTE || c === CH_LPAREN || c === CH_RPAREN || c === CH_BACKSLASH || isNonPrintable(c) ? 0 : 1
}

/** Non-printable code points that make an unquoted url bad (NUL is excluded: it reads as U+FFFD). */
function isNonPrintable(c: number): boolean {
  return (c >= 1 && c <= 8) || c === 11 || (c >= 14 && c <= 31) || c === 127
}

/** Whether `css[i]` is a backslash that starts a valid escape. `i` must be < n. */
function isValidEscape(css: string, i: number, n: number): boolean {
  return css.charCodeAt(i) === CH_BACKSLASH && (i + 1 >= n || !isNewline(css.charCodeAt(i + 1)))
}

/** Whether an identifier sequence starts at `i`. */
function startsIdent(css: string, i: number, n: number): boolean {
  if (i >= n) return false
  const c = css.charCodeAt(i)
  if (isNameStart(c)) return true
  if (c === CH_MINUS) {
    if (i + 1 >= n) return false
    const d = css.charCodeAt(i + 1)
    return isNameStart(d) || d === CH_MINUS || isValidEscape(css, i + 1, n)
  }
  if (c === CH_BACKSLASH) return isValidEscape(css, i, n)
  return false
}

// ---------------------------------------------------------------------------------------------
// Token scanners. Each takes a position and returns the position after what it consumed; a few
// report extra facts through the module-level variables below (the scanner is not re-entrant).
// ---------------------------------------------------------------------------------------------

/** Set by scanName / scanString: the consumed text contains a backslash escape. */
let sawEscape = false
/** Set by scanString. */
let stringState = 0
const STRING_OK = 0
const STRING_BAD = 1 // unescaped newline: a <bad-string-token>
const STRING_EOF = 2 // ran to the end of the input

/** Skip an escaped code point; `p` is the position right after the backslash. */
function skipEscape(css: string, p: number, n: number): number {
  if (p >= n) return p
  if (!isHex(css.charCodeAt(p))) return p + 1
  const limit = p + 6 < n ? p + 6 : n
  p++
  while (p < limit && isHex(css.charCodeAt(p))) p++
  if (p < n) {
    const c = css.charCodeAt(p)
    if (c === CH_CR && p + 1 < n && css.charCodeAt(p + 1) === CH_LF) p += 2
    else if (isWhitespace(c)) p++
  }
  return p
}

/** Consume a name (identifier characters and escapes) starting at `i`. */
function scanName(css: string, i: number, n: number): number {
  sawEscape = false
  while (i < n) {
    const c = css.charCodeAt(i)
    if (c >= 128 || NAME_CHAR[c] === 1) {
      i++
    } else if (c === CH_BACKSLASH && (i + 1 >= n || !isNewline(css.charCodeAt(i + 1)))) {
      sawEscape = true
      i = skipEscape(css, i + 1, n)
    } else {
      break
    }
  }
  return i
}

/** Consume a numeric token (number, percentage or dimension) whose digits start at `i`. */
function scanNumber(css: string, i: number, n: number): number {
  while (i < n && isDigit(css.charCodeAt(i))) i++
  if (i + 1 < n && css.charCodeAt(i) === CH_DOT && isDigit(css.charCodeAt(i + 1))) {
    i += 2
    while (i < n && isDigit(css.charCodeAt(i))) i++
  }
  if (i + 1 < n) {
    const e = css.charCodeAt(i)
    if (e === 69 || e === 101) {
      const d = css.charCodeAt(i + 1)
      if (isDigit(d)) i += 1
      else if ((d === CH_PLUS || d === CH_MINUS) && i + 2 < n && isDigit(css.charCodeAt(i + 2))) i += 2
      if (i < n && isDigit(css.charCodeAt(i))) {
        while (i < n && isDigit(css.charCodeAt(i))) i++
      }
    }
  }
  if (startsIdent(css, i, n)) return scanName(css, i, n)
  if (i < n && css.charCodeAt(i) === CH_PERCENT) return i + 1
  return i
}

/** Consume a string token whose opening quote is at `i`. Sets stringState and sawEscape. */
function scanString(css: string, i: number, n: number, quote: number): number {
  sawEscape = false
  let k = i + 1
  while (k < n) {
    const c = css.charCodeAt(k)
    if (c === quote) {
      stringState = STRING_OK
      return k + 1
    }
    if (c === CH_BACKSLASH) {
      sawEscape = true
      if (k + 1 >= n) {
        k++
        break
      }
      const d = css.charCodeAt(k + 1)
      if (d === CH_CR && k + 2 < n && css.charCodeAt(k + 2) === CH_LF) k += 3
      else if (isNewline(d)) k += 2
      else k = skipEscape(css, k + 1, n)
    } else if (c === CH_LF || c === CH_CR || c === CH_FF) {
      stringState = STRING_BAD
      return k
    } else {
      k++
    }
  }
  stringState = STRING_EOF
  return n
}

/** Consume the remnants of a bad url starting at `i`: up to and including the next `)`, or to the end. */
function skipBadUrl(css: string, i: number, n: number): number {
  while (i < n) {
    const c = css.charCodeAt(i)
    if (c === CH_RPAREN) return i + 1
    if (c === CH_BACKSLASH && (i + 1 >= n || !isNewline(css.charCodeAt(i + 1)))) i = skipEscape(css, i + 1, n)
    else i++
  }
  return n
}

/** Skip whitespace and comments. */
function skipWhitespaceAndComments(css: string, i: number, n: number): number {
  while (i < n) {
    const c = css.charCodeAt(i)
    if (isWhitespace(c)) i++
    else if (c === CH_SLASH && i + 1 < n && css.charCodeAt(i + 1) === CH_STAR) {
      const e = css.indexOf('*/', i + 2)
      i = e < 0 ? n : e + 2
    } else break
  }
  return i
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** Decode CSS escapes (and string line continuations) in `css[from, to)`. */
function decodeEscapes(css: string, from: number, to: number): string {
  let out = ''
  let last = from
  let k = from
  while (k < to) {
    const c = css.charCodeAt(k)
    if (c === CH_BACKSLASH) {
      out += css.slice(last, k)
      k++
      if (k >= to) {
        out += '\uFFFD'
        last = k
        break
      }
      const d = css.charCodeAt(k)
      if (isNewline(d)) {
        k += d === CH_CR && k + 1 < to && css.charCodeAt(k + 1) === CH_LF ? 2 : 1
      } else if (isHex(d)) {
        let v = 0
        const limit = k + 6 < to ? k + 6 : to
        while (k < limit && isHex(css.charCodeAt(k))) {
          v = v * 16 + HEX[css.charCodeAt(k)] - 1
          k++
        }
        if (k < to) {
          const w = css.charCodeAt(k)
          if (w === CH_CR && k + 1 < to && css.charCodeAt(k + 1) === CH_LF) k += 2
          else if (isWhitespace(w)) k++
        }
        if (v === 0 || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) v = 0xfffd
        out += String.fromCodePoint(v)
      } else {
        out += d === 0 ? '\uFFFD' : css[k]
        k++
      }
      last = k
    } else if (c === 0) {
      out += css.slice(last, k) + '\uFFFD'
      k++
      last = k
    } else {
      k++
    }
  }
  return out + css.slice(last, to)
}

function valueOf(css: string, from: number, to: number, escaped: boolean): string {
  let v: string
  if (escaped) v = decodeEscapes(css, from, to)
  else {
    v = css.slice(from, to)
    if (v.indexOf('\0') >= 0) v = v.replaceAll('\0', '\uFFFD')
  }
  return trimControlAndSpace(v)
}

/** Trim leading and trailing C0 controls and spaces, as the URL parser does. */
function trimControlAndSpace(s: string): string {
  const n = s.length
  if (n === 0 || (s.charCodeAt(0) > 32 && s.charCodeAt(n - 1) > 32)) return s
  let a = 0
  let b = n
  while (a < b && s.charCodeAt(a) <= 32) a++
  while (b > a && s.charCodeAt(b - 1) <= 32) b--
  return s.slice(a, b)
}

function asciiLower(s: string): string {
  let out = ''
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k)
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[k]
  }
  return out
}

const FN_OTHER = 1
const FN_URL = 2
const FN_IMAGE_SET = 3

function functionKind(css: string, s: number, e: number, escaped: boolean): number {
  if (!escaped) {
    const len = e - s
    if (len === 3) {
      return (css.charCodeAt(s) | 0x20) === 117 &&
        (css.charCodeAt(s + 1) | 0x20) === 114 &&
        (css.charCodeAt(s + 2) | 0x20) === 108
        ? FN_URL
        : FN_OTHER
    }
    if (len !== 9 && len !== 17) return FN_OTHER
  }
  const name = asciiLower(escaped ? decodeEscapes(css, s, e) : css.slice(s, e))
  if (name === 'url') return FN_URL
  if (name === 'image-set' || name === '-webkit-image-set') return FN_IMAGE_SET
  return FN_OTHER
}

function isImportKeyword(css: string, s: number, e: number, escaped: boolean): boolean {
  if (!escaped && e - s !== 6) return false
  return asciiLower(escaped ? decodeEscapes(css, s, e) : css.slice(s, e)) === 'import'
}

// ---------------------------------------------------------------------------------------------
// Lines and columns
// ---------------------------------------------------------------------------------------------

/**
 * Where the lines of a stylesheet start (LF, CRLF and lone CR end a line). Found on the first
 * question only: most references are never asked for their line.
 */
class LineIndex {
  /** The position after each line break, in order. */
  private starts: number[] | undefined

  constructor(private readonly css: string) {}

  /** 1-based line of `at`. */
  line(at: number): number {
    return this.breaksBefore(at) + 1
  }

  /** 1-based column of `at` (in UTF-16 code units). */
  column(at: number): number {
    const k = this.breaksBefore(at)
    return at - (k === 0 ? 0 : this.starts![k - 1]) + 1
  }

  /** How many line breaks come before `at`. */
  private breaksBefore(at: number): number {
    const starts = (this.starts ??= lineStarts(this.css))
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid] <= at) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function lineStarts(css: string): number[] {
  const starts: number[] = []
  if (css.indexOf('\r') < 0) {
    for (let k = css.indexOf('\n'); k >= 0; k = css.indexOf('\n', k + 1)) starts.push(k + 1)
    return starts
  }
  for (let k = 0; k < css.length; k++) {
    const c = css.charCodeAt(k)
    if (c === CH_LF || (c === CH_CR && css.charCodeAt(k + 1) !== CH_LF)) starts.push(k + 1)
  }
  return starts
}

/** A reference as `findCssRefs` reports it: `line` and `column` are worked out when read. */
class FoundRef implements CssRef {
  readonly quoted: boolean
  readonly quote: '"' | "'" | undefined
  readonly fnStart: number | undefined
  readonly fnEnd: number | undefined
  readonly #lines: LineIndex

  constructor(
    readonly url: string,
    readonly kind: 'url' | 'string',
    quote: number,
    readonly start: number,
    readonly end: number,
    fnStart: number,
    fnEnd: number,
    readonly isImport: boolean,
    lines: LineIndex,
  ) {
    this.quoted = quote !== 0
    this.quote = quote === CH_DQUOTE ? '"' : quote === CH_SQUOTE ? "'" : undefined
    this.fnStart = fnStart >= 0 ? fnStart : undefined
    this.fnEnd = fnStart >= 0 ? fnEnd : undefined
    this.#lines = lines
  }

  get line(): number {
    return this.#lines.line(this.start)
  }

  get column(): number {
    return this.#lines.column(this.start)
  }
}

// ---------------------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------------------

/** Kinds of open blocks/functions. */
const F_BLOCK = 0
const F_FUNCTION = 1
const F_URL = 2
const F_IMAGE_SET = 3

/**
 * Position of the last `@` that may start an `@import` (its name is `import` in any case, or has
 * an escape in it), wherever it is (comments and strings included), or -1.
 */
function lastPossibleImport(css: string): number {
  let last = -1
  for (let at = css.indexOf('@'); at >= 0; at = css.indexOf('@', at + 1)) {
    let e = at + 1
    let escaped = false
    while (e < css.length) {
      const c = css.charCodeAt(e)
      if (c === CH_BACKSLASH) {
        escaped = true
        break
      }
      if (!isNameChar(c)) break
      e++
    }
    if (escaped || isImportKeyword(css, at + 1, e, false)) last = at
  }
  return last
}

/** Position of the next `ch` at or after `from`, or `css.length`. */
function nextOf(css: string, ch: string, from: number): number {
  const at = css.indexOf(ch, from)
  return at < 0 ? css.length : at
}

/**
 * One scan of one stylesheet.
 *
 * It runs in two modes. In **exact** mode it stops at every SIGNIFICANT code point and keeps the
 * stack of open blocks and functions. It is needed only inside a `url("…")` function (whose
 * reference counts once its `)` comes), an `image-set()` (whose top-level strings are
 * references), an `@import` prelude (which ends at a `;` or `{` of its own level, or with the
 * block around it), and before the last `@` that may start an `@import`. Everywhere else it is in
 * **plain** mode, where blocks do not matter: it jumps with `indexOf` from one `(`, quote, `/` or
 * backslash to the next, skipping strings and comments and looking at the name before each `(`;
 * at a backslash (which may escape a code point of a name) it goes back over the plain text
 * before it token by token. Blocks opened in plain mode are not pushed and closers are not looked
 * at, so the stack below an exact stretch that starts there may hold stale entries: exact mode
 * only ever looks at the top, and its stretch ends when it closes the function it started with.
 * The tests check that a scan gives the same references when an `@import` in a comment at the
 * end keeps it in exact mode throughout.
 */
class RefScanner {
  readonly refs: CssRef[] = []
  private readonly n: number
  private readonly lines: LineIndex
  /** Open blocks and functions: closing code point | kind << 8. */
  private readonly stack: number[] = []
  /** Kind of the innermost open block, or -1. */
  private top = -1
  /** How many url() and image-set() functions are open. */
  private special = 0
  /** For each open url("...") function, innermost last: the index of its reference, or -1. */
  private readonly pending: number[] = []
  /** Nesting depth of the current `@import` prelude, or -1 outside one. */
  private importDepth = -1
  /** Plain mode: the next `(`, `"`, `'`, `/` and backslash at or after where it looked last. */
  private nextParen = -1
  private nextDquote = -1
  private nextSquote = -1
  private nextSlash = -1
  private nextBackslash = -1

  constructor(private readonly css: string) {
    this.n = css.length
    this.lines = new LineIndex(css)
  }

  run(): CssRef[] {
    const n = this.n
    const exactUntil = lastPossibleImport(this.css)
    let i = 0
    while (i < n) {
      i = this.special === 0 && this.importDepth < 0 && i > exactUntil ? this.plain(i) : this.exact(i)
    }
    // A url("...") whose `)` never came is not a reference.
    const refs = this.refs
    let dropped = false
    for (const index of this.pending) {
      if (index >= 0) {
        refs[index] = undefined as unknown as CssRef
        dropped = true
      }
    }
    return dropped ? refs.filter((r) => r !== undefined) : refs
  }

  /** Plain mode from the token boundary `i`, until the end or until exact mode is needed. */
  private plain(i: number): number {
    const css = this.css
    const n = this.n
    while (i < n) {
      if (this.nextParen < i) this.nextParen = nextOf(css, '(', i)
      if (this.nextDquote < i) this.nextDquote = nextOf(css, '"', i)
      if (this.nextSquote < i) this.nextSquote = nextOf(css, "'", i)
      if (this.nextSlash < i) this.nextSlash = nextOf(css, '/', i)
      if (this.nextBackslash < i) this.nextBackslash = nextOf(css, '\\', i)
      let j = this.nextParen
      if (this.nextDquote < j) j = this.nextDquote
      if (this.nextSquote < j) j = this.nextSquote
      if (this.nextSlash < j) j = this.nextSlash
      if (this.nextBackslash < j) j = this.nextBackslash
      if (j >= n) return n
      const c = css.charCodeAt(j)
      if (c === CH_LPAREN) {
        const s = this.specialFunctionStart(i, j)
        if (s < 0) i = j + 1
        else {
          i = this.onFunction(s, j, false)
          if (this.special > 0) return i
        }
      } else if (c === CH_BACKSLASH) {
        while (i <= j) i = this.token(i)
        if (this.special > 0) return i
      } else {
        // a comment, or a string outside image-set() and @import: nothing to report
        i = this.token(j)
      }
    }
    return n
  }

  /** One step of exact mode from the token boundary `i`: up to and including the next significant token. */
  private exact(i: number): number {
    const css = this.css
    const n = this.n
    let j = i
    let c = 0
    while (j < n) {
      c = css.charCodeAt(j)
      if (c < 128 && SIGNIFICANT[c] === 1) break
      j++
    }
    if (j >= n) return n
    if (c === CH_LPAREN) {
      const s = this.specialFunctionStart(i, j)
      if (s >= 0) return this.onFunction(s, j, false)
      this.open(CH_RPAREN, F_BLOCK)
      return j + 1
    }
    if (c === CH_BACKSLASH) {
      while (i <= j) i = this.token(i)
      return i
    }
    return this.token(j)
  }

  /**
   * For a `(` at `at` reached over plain text from the token boundary `from`: where the name of
   * the url(), image-set() or -webkit-image-set() function it opens starts, or -1 when it opens
   * some other function or block. Over plain text no name has an escape, so the name is the run of
   * name code points before the `(`, a token of its own unless a `#` (a hash) or an `@` (an
   * at-keyword) comes right before it; a run that is a dimension's unit starts with a digit and
   * never matches.
   */
  private specialFunctionStart(from: number, at: number): number {
    const css = this.css
    if (at === from) return -1
    const last = css.charCodeAt(at - 1) | 0x20
    if (last !== 108 /* l */ && last !== 116 /* t */) return -1
    let s = at - 1
    while (s > from && isNameChar(css.charCodeAt(s - 1))) s--
    const len = at - s
    if (len !== 3 && len !== 9 && len !== 17) return -1
    if (s > from) {
      const before = css.charCodeAt(s - 1)
      if (before === CH_HASH || before === CH_AT) return -1
    }
    return functionKind(css, s, at, false) === FN_OTHER ? -1 : s
  }

  private addRef(url: string, kind: 'url' | 'string', quote: number, start: number, end: number, fnStart: number, fnEnd: number): void {
    this.refs.push(new FoundRef(url, kind, quote, start, end, fnStart, fnEnd, this.importDepth >= 0, this.lines))
  }

  private open(closer: number, kind: number): void {
    this.stack.push(closer | (kind << 8))
    this.top = kind
    if (kind >= F_URL) this.special++
  }

  private close(closer: number): void {
    const stack = this.stack
    const depth = stack.length
    if (depth === 0 || (stack[depth - 1] & 255) !== closer) return
    const kind = stack.pop()! >> 8
    if (kind >= F_URL) {
      this.special--
      if (kind === F_URL) this.pending.pop()
    }
    this.top = depth > 1 ? stack[depth - 2] >> 8 : -1
    if (this.importDepth > depth - 1) this.importDepth = -1
  }

  /** A function token whose name is css[s, e) and whose `(` is at e. Returns where to continue. */
  private onFunction(s: number, e: number, escaped: boolean): number {
    const css = this.css
    const n = this.n
    const fn = functionKind(css, s, e, escaped)
    if (fn !== FN_URL) {
      this.open(CH_RPAREN, fn === FN_IMAGE_SET ? F_IMAGE_SET : F_FUNCTION)
      return e + 1
    }
    let p = e + 1
    while (p < n && isWhitespace(css.charCodeAt(p))) p++
    if (p >= n) return n // url( at the end: nothing to report
    const q = css.charCodeAt(p)
    if (q === CH_DQUOTE || q === CH_SQUOTE) {
      // A function token followed by a string; the reference counts once its `)` is seen.
      const end = scanString(css, p, n, q)
      let index = -1
      if (stringState === STRING_OK) {
        index = this.refs.length
        this.addRef(valueOf(css, p + 1, end - 1, sawEscape), 'url', q, p, end, s, e)
      }
      this.open(CH_RPAREN, F_URL)
      this.pending.push(index)
      return end
    }
    // An unquoted url token.
    const valueStart = p
    let valueEnd = p
    let hasEscape = false
    while (p < n) {
      let c = css.charCodeAt(p)
      // a run of plain code points in one step (long data: URLs)
      if (c >= 128 || URL_PLAIN[c] === 1) {
        do p++
        while (p < n && ((c = css.charCodeAt(p)) >= 128 || URL_PLAIN[c] === 1))
        valueEnd = p
        if (p >= n) break
      }
      if (c === CH_RPAREN) {
        this.addRef(valueOf(css, valueStart, valueEnd, hasEscape), 'url', 0, valueStart, valueEnd, s, e)
        return p + 1
      }
      if (isWhitespace(c)) {
        p++
        while (p < n && isWhitespace(css.charCodeAt(p))) p++
        if (p >= n) return n
        if (css.charCodeAt(p) === CH_RPAREN) continue
        return skipBadUrl(css, p, n)
      }
      if (c === CH_DQUOTE || c === CH_SQUOTE || c === CH_LPAREN || isNonPrintable(c)) {
        return skipBadUrl(css, p + 1, n)
      }
      // a backslash
      if (p + 1 < n && isNewline(css.charCodeAt(p + 1))) return skipBadUrl(css, p + 1, n)
      hasEscape = true
      p = skipEscape(css, p + 1, n)
      valueEnd = p
    }
    return n // end of input before `)`: not reported
  }

  /** Consume the one token that starts at `i` (a token boundary); returns where the next one starts. */
  private token(i: number): number {
    const css = this.css
    const n = this.n
    const c = css.charCodeAt(i)
    switch (c < 128 ? TOKEN[c] : T_NAME) {
      case T_NAME: {
        const e = scanName(css, i, n)
        return e < n && css.charCodeAt(e) === CH_LPAREN ? this.onFunction(i, e, sawEscape) : e
      }
      case T_WS:
        i++
        while (i < n && isWhitespace(css.charCodeAt(i))) i++
        return i
      case T_DIGIT:
        return scanNumber(css, i, n)
      case T_QUOTE: {
        const end = scanString(css, i, n, c)
        if (this.top === F_IMAGE_SET && stringState === STRING_OK) {
          this.addRef(valueOf(css, i + 1, end - 1, sawEscape), 'string', c, i, end, -1, -1)
        }
        return end
      }
      case T_SLASH: {
        if (i + 1 >= n || css.charCodeAt(i + 1) !== CH_STAR) return i + 1
        const e = css.indexOf('*/', i + 2)
        return e < 0 ? n : e + 2
      }
      case T_OPEN:
        if (c === CH_LBRACE && this.importDepth === this.stack.length) this.importDepth = -1
        this.open(c === CH_LPAREN ? CH_RPAREN : c === CH_LBRACKET ? CH_RBRACKET : CH_RBRACE, F_BLOCK)
        return i + 1
      case T_CLOSE:
        this.close(c)
        return i + 1
      case T_SEMI:
        if (this.importDepth === this.stack.length) this.importDepth = -1
        return i + 1
      case T_HASH:
        return i + 1 < n && (isNameChar(css.charCodeAt(i + 1)) || isValidEscape(css, i + 1, n)) ? scanName(css, i + 1, n) : i + 1
      case T_AT: {
        if (!startsIdent(css, i + 1, n)) return i + 1
        const s = i + 1
        const e = scanName(css, s, n)
        if (!isImportKeyword(css, s, e, sawEscape)) return e
        this.importDepth = this.stack.length
        const p = skipWhitespaceAndComments(css, e, n)
        const q = p < n ? css.charCodeAt(p) : 0
        if (q !== CH_DQUOTE && q !== CH_SQUOTE) return e
        const end = scanString(css, p, n, q)
        if (stringState === STRING_OK) this.addRef(valueOf(css, p + 1, end - 1, sawEscape), 'string', q, p, end, -1, -1)
        return end
      }
      case T_PLUS_DOT:
        if (i + 1 < n && isDigit(css.charCodeAt(i + 1))) return scanNumber(css, i + 1, n)
        if (c === CH_PLUS && i + 2 < n && css.charCodeAt(i + 1) === CH_DOT && isDigit(css.charCodeAt(i + 2))) {
          return scanNumber(css, i + 2, n)
        }
        return i + 1
      case T_MINUS:
        if (i + 1 < n && isDigit(css.charCodeAt(i + 1))) return scanNumber(css, i + 1, n)
        if (i + 2 < n && css.charCodeAt(i + 1) === CH_DOT && isDigit(css.charCodeAt(i + 2))) return scanNumber(css, i + 2, n)
        if (startsIdent(css, i, n)) {
          const e = scanName(css, i, n)
          return e < n && css.charCodeAt(e) === CH_LPAREN ? this.onFunction(i, e, sawEscape) : e
        }
        return i + 1
      case T_BACKSLASH:
        if (isValidEscape(css, i, n)) {
          const e = scanName(css, i, n)
          return e < n && css.charCodeAt(e) === CH_LPAREN ? this.onFunction(i, e, sawEscape) : e
        }
        return i + 1
      default:
        return i + 1
    }
  }
}

/** Every reference in the stylesheet, in source order, in one scan. Never throws, whatever the input. */
export function findCssRefs(css: string): CssRef[] {
  if (typeof css !== 'string') return []
  return new RefScanner(css).run()
}

// ---------------------------------------------------------------------------------------------
// URL helpers
// ---------------------------------------------------------------------------------------------

/**
 * True for references that must never be rewritten: empty, fragment-only (`#id`), protocol-relative
 * (`//host`, also written with backslashes), anything with a scheme (`data:`, `http:`, `mailto:`, `blob:`...),
 * and values that are unexpanded CSS functions (`var(...)`, `env(...)`). A query-only url (`?v=1`) is not special.
 */
export function isExternalOrSpecialUrl(url: string): boolean {
  let a = 0
  let b = url.length
  while (a < b && url.charCodeAt(a) <= 32) a++
  while (b > a && url.charCodeAt(b - 1) <= 32) b--
  if (a === b) return true
  const c0 = url.charCodeAt(a)
  if (c0 === CH_HASH) return true
  if ((c0 === CH_SLASH || c0 === CH_BACKSLASH) && a + 1 < b) {
    const c1 = url.charCodeAt(a + 1)
    if (c1 === CH_SLASH || c1 === CH_BACKSLASH) return true
  }
  if ((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122)) {
    let k = a + 1
    while (k < b) {
      const c = url.charCodeAt(k)
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === CH_PLUS || c === CH_MINUS || c === CH_DOT) k++
      else break
    }
    if (k < b && url.charCodeAt(k) === 58 /* : */) return true
    if (k < b && url.charCodeAt(k) === CH_LPAREN) {
      const name = asciiLower(url.slice(a, k))
      if (name === 'var' || name === 'env') return true
    }
  }
  return false
}

/** Split "a/b.woff2?v=1#iefix" into { path: 'a/b.woff2', suffix: '?v=1#iefix' }. Suffix starts at the first ? or #. */
export function splitUrlSuffix(url: string): { path: string; suffix: string } {
  for (let k = 0; k < url.length; k++) {
    const c = url.charCodeAt(k)
    if (c === 63 /* ? */ || c === CH_HASH) return { path: url.slice(0, k), suffix: url.slice(k) }
  }
  return { path: url, suffix: '' }
}

// ---------------------------------------------------------------------------------------------
// Rewriting
// ---------------------------------------------------------------------------------------------

/** Escape a value for a CSS string delimited by `quote`. */
function escapeString(value: string, quote: string): string {
  const q = quote.charCodeAt(0)
  let k = 0
  const n = value.length
  for (; k < n; k++) {
    const c = value.charCodeAt(k)
    if (c === q || c === CH_BACKSLASH || c === CH_LF || c === CH_CR || c === CH_FF || c === 0) break
  }
  if (k === n) return value
  let out = value.slice(0, k)
  for (; k < n; k++) {
    const c = value.charCodeAt(k)
    if (c === q || c === CH_BACKSLASH) out += '\\' + value[k]
    else if (c === CH_LF) out += '\\a '
    else if (c === CH_CR) out += '\\d '
    else if (c === CH_FF) out += '\\c '
    else if (c === 0) out += '\\fffd '
    else out += value[k]
  }
  return out
}

/** Whether a value cannot be written as an unquoted url token. */
function needsQuotes(value: string): boolean {
  if (value.length === 0) return true
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k)
    if (
      c <= 32 ||
      c === 127 ||
      c === CH_DQUOTE ||
      c === CH_SQUOTE ||
      c === CH_LPAREN ||
      c === CH_RPAREN ||
      c === CH_BACKSLASH
    ) {
      return true
    }
  }
  return false
}

function serialize(ref: CssRef, url: string): string {
  if (ref.quoted) {
    const q = ref.quote ?? '"'
    return q + escapeString(url, q) + q
  }
  return needsQuotes(url) ? '"' + escapeString(url, '"') + '"' : url
}

/**
 * Rewrite references. `replacer` is called once for each reference, in source order, and returns the
 * new *unquoted, unescaped* URL, which is re-quoted/escaped to fit the original syntax (same quote
 * character when it was quoted; an unquoted url() value that needs quoting is wrapped in double
 * quotes), or `false` / the same url to keep the reference untouched byte-for-byte.
 */
export function rewriteCssRefs(
  css: string,
  replacer: (ref: CssRef) => string | false,
  options: RewriteOptions = {},
): RewriteResult {
  return spliceCssRefs(css, findCssRefs(css), replacer, options)
}

/**
 * `rewriteCssRefs` for references already found: `refs` is what `findCssRefs` returned for this
 * same `css`, so the text is not scanned again. The edits are spliced between slices of the
 * original text (or applied with magic-string when a source map is wanted).
 */
export function spliceCssRefs(
  css: string,
  refs: readonly CssRef[],
  replacer: (ref: CssRef) => string | false,
  options: RewriteOptions = {},
): RewriteResult {
  const lowercase = options.lowercaseUrlFunctions === true
  // the edits in source order, three entries each: start, end (start for an insertion), new text
  const edits: (number | string)[] = []
  for (let k = 0; k < refs.length; k++) {
    const ref = refs[k]
    const a = ref.fnStart
    const b = ref.fnEnd
    if (a !== undefined && b !== undefined) {
      const fn = options.urlFunction?.(ref)
      if (fn !== undefined) {
        if (css.slice(a, b) !== fn) edits.push(a, b, fn)
      } else if (lowercase && (b - a !== 3 || css.charCodeAt(a) !== 117 || css.charCodeAt(a + 1) !== 114 || css.charCodeAt(a + 2) !== 108)) {
        edits.push(a, b, 'url')
      }
    }
    const next = replacer(ref)
    if (next === false || typeof next !== 'string' || next === ref.url) continue
    const text = serialize(ref, next)
    if (ref.start === ref.end || text !== css.slice(ref.start, ref.end)) edits.push(ref.start, ref.end, text)
  }
  if (edits.length === 0) return { code: css, changed: false }
  // a map only when something changed: an unchanged stylesheet keeps the map it had
  if (options.sourcemap) {
    const MagicString = loadMagicString()
    const s = new MagicString(css)
    for (let k = 0; k < edits.length; k += 3) {
      const start = edits[k] as number
      const end = edits[k + 1] as number
      const text = edits[k + 2] as string
      if (start === end) s.appendLeft(start, text)
      else s.overwrite(start, end, text)
    }
    return {
      code: s.toString(),
      changed: true,
      map: s.generateMap({ hires: 'boundary', source: options.filename, includeContent: true }),
    }
  }
  const parts: string[] = []
  let last = 0
  for (let k = 0; k < edits.length; k += 3) {
    parts.push(css.slice(last, edits[k] as number), edits[k + 2] as string)
    last = edits[k + 1] as number
  }
  parts.push(css.slice(last))
  return { code: parts.join(''), changed: true }
}
