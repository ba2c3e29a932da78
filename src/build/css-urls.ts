/**
 * Finding and rewriting the URL references of a stylesheet.
 *
 * A single-pass tokenizer that follows CSS Syntax Level 3 closely enough to tell real references
 * (`url(...)`, string arguments of `image-set()`, `@import "..."`) from look-alikes in comments,
 * strings, other functions and identifiers. Offsets are JavaScript string indices into the
 * original text; nothing is normalised before scanning, so edits land exactly where they belong.
 */
import MagicString, { type SourceMap } from 'magic-string'

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
  /** 1-based line and 1-based column of `start`. */
  line: number
  column: number
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
 * Code points an unquoted url token simply consumes: anything but `)`, whitespace, quotes, `(`,
 * a backslash and the non-printable ones below (NUL included here: it reads as U+FFFD).
 */
const URL_PLAIN_RUN = /[^ \t\n\r\f"'()\\\x01-\x08\x0b\x0e-\x1f\x7f]+/y

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

/** Computes line/column for increasing offsets in one forward pass (LF, CRLF and lone CR end a line). */
class LineTracker {
  private pos = 0
  private line = 1
  private lineStart = 0
  private hasCR = -1
  private nextLF = -2

  constructor(private readonly css: string) {}

  /** Advance to `to` (never backwards) and return its line; `column(to)` is valid afterwards. */
  lineAt(to: number): number {
    const css = this.css
    if (to < this.pos) return this.line
    if (this.hasCR < 0) this.hasCR = css.indexOf('\r') >= 0 ? 1 : 0
    if (this.hasCR === 0) {
      let lf = this.nextLF === -2 || this.nextLF < this.pos ? css.indexOf('\n', this.pos) : this.nextLF
      while (lf >= 0 && lf < to) {
        this.line++
        this.lineStart = lf + 1
        lf = css.indexOf('\n', lf + 1)
      }
      this.nextLF = lf < 0 ? Infinity : lf
    } else {
      for (let k = this.pos; k < to; k++) {
        const c = css.charCodeAt(k)
        if (c === CH_LF || (c === CH_CR && css.charCodeAt(k + 1) !== CH_LF)) {
          this.line++
          this.lineStart = k + 1
        }
      }
    }
    this.pos = to
    return this.line
  }

  column(at: number): number {
    return at - this.lineStart + 1
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

/** Every reference in the stylesheet, in source order. Never throws, whatever the input. */
export function findCssRefs(css: string): CssRef[] {
  const refs: CssRef[] = []
  if (typeof css !== 'string') return refs
  const n = css.length
  const lines = new LineTracker(css)
  /** Open blocks and functions: closing code point | kind << 8. */
  const stack: number[] = []
  /** For each open url("...") function, innermost last: the index of its reference, or -1. */
  const pending: number[] = []
  let top = -1
  /** Nesting depth of the current `@import` prelude, or -1 outside one. */
  let importDepth = -1

  const addRef = (
    url: string,
    kind: 'url' | 'string',
    quote: number,
    start: number,
    end: number,
    fnStart: number,
    fnEnd: number,
  ): void => {
    const line = lines.lineAt(start)
    refs.push({
      url,
      kind,
      quoted: quote !== 0,
      quote: quote === CH_DQUOTE ? '"' : quote === CH_SQUOTE ? "'" : undefined,
      start,
      end,
      fnStart: fnStart >= 0 ? fnStart : undefined,
      fnEnd: fnStart >= 0 ? fnEnd : undefined,
      line,
      column: lines.column(start),
      isImport: importDepth >= 0,
    })
  }

  const open = (closer: number, kind: number): void => {
    stack.push(closer | (kind << 8))
    top = kind
  }

  const close = (closer: number): void => {
    const depth = stack.length
    if (depth === 0 || (stack[depth - 1] & 255) !== closer) return
    if (stack.pop()! >> 8 === F_URL) pending.pop()
    top = depth > 1 ? stack[depth - 2] >> 8 : -1
    if (importDepth > depth - 1) importDepth = -1
  }

  /** A function token whose name is css[s, e) and whose `(` is at e. Returns where to continue. */
  const onFunction = (s: number, e: number, escaped: boolean): number => {
    const fn = functionKind(css, s, e, escaped)
    if (fn !== FN_URL) {
      open(CH_RPAREN, fn === FN_IMAGE_SET ? F_IMAGE_SET : F_FUNCTION)
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
        index = refs.length
        addRef(valueOf(css, p + 1, end - 1, sawEscape), 'url', q, p, end, s, e)
      }
      open(CH_RPAREN, F_URL)
      pending.push(index)
      return end
    }
    // An unquoted url token.
    const valueStart = p
    let valueEnd = p
    let hasEscape = false
    while (p < n) {
      // a run of plain code points in one step (long data: URLs)
      URL_PLAIN_RUN.lastIndex = p
      if (URL_PLAIN_RUN.test(css)) {
        p = valueEnd = URL_PLAIN_RUN.lastIndex
        if (p >= n) break
      }
      const c = css.charCodeAt(p)
      if (c === CH_RPAREN) {
        addRef(valueOf(css, valueStart, valueEnd, hasEscape), 'url', 0, valueStart, valueEnd, s, e)
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
      if (c === CH_BACKSLASH) {
        if (p + 1 < n && isNewline(css.charCodeAt(p + 1))) return skipBadUrl(css, p + 1, n)
        hasEscape = true
        p = skipEscape(css, p + 1, n)
        valueEnd = p
        continue
      }
      p++
      valueEnd = p
    }
    return n // end of input before `)`: not reported
  }

  let i = 0
  while (i < n) {
    const c = css.charCodeAt(i)
    switch (c < 128 ? TOKEN[c] : T_NAME) {
      case T_NAME: {
        const e = scanName(css, i, n)
        i = e < n && css.charCodeAt(e) === CH_LPAREN ? onFunction(i, e, sawEscape) : e
        break
      }
      case T_WS:
        i++
        while (i < n && isWhitespace(css.charCodeAt(i))) i++
        break
      case T_OTHER:
        i++
        break
      case T_DIGIT:
        i = scanNumber(css, i, n)
        break
      case T_QUOTE: {
        const end = scanString(css, i, n, c)
        if (top === F_IMAGE_SET && stringState === STRING_OK) {
          addRef(valueOf(css, i + 1, end - 1, sawEscape), 'string', c, i, end, -1, -1)
        }
        i = end
        break
      }
      case T_SLASH:
        if (i + 1 < n && css.charCodeAt(i + 1) === CH_STAR) {
          const e = css.indexOf('*/', i + 2)
          i = e < 0 ? n : e + 2
        } else i++
        break
      case T_OPEN:
        if (c === CH_LBRACE && importDepth === stack.length) importDepth = -1
        open(c === CH_LPAREN ? CH_RPAREN : c === CH_LBRACKET ? CH_RBRACKET : CH_RBRACE, F_BLOCK)
        i++
        break
      case T_CLOSE:
        close(c)
        i++
        break
      case T_SEMI:
        if (importDepth === stack.length) importDepth = -1
        i++
        break
      case T_HASH:
        i = i + 1 < n && (isNameChar(css.charCodeAt(i + 1)) || isValidEscape(css, i + 1, n)) ? scanName(css, i + 1, n) : i + 1
        break
      case T_AT:
        if (startsIdent(css, i + 1, n)) {
          const s = i + 1
          const e = scanName(css, s, n)
          i = e
          if (isImportKeyword(css, s, e, sawEscape)) {
            importDepth = stack.length
            const p = skipWhitespaceAndComments(css, e, n)
            const q = p < n ? css.charCodeAt(p) : 0
            if (q === CH_DQUOTE || q === CH_SQUOTE) {
              const end = scanString(css, p, n, q)
              if (stringState === STRING_OK) addRef(valueOf(css, p + 1, end - 1, sawEscape), 'string', q, p, end, -1, -1)
              i = end
            }
          }
        } else i++
        break
      case T_PLUS_DOT:
        if (i + 1 < n && isDigit(css.charCodeAt(i + 1))) i = scanNumber(css, i + 1, n)
        else if (c === CH_PLUS && i + 2 < n && css.charCodeAt(i + 1) === CH_DOT && isDigit(css.charCodeAt(i + 2))) {
          i = scanNumber(css, i + 2, n)
        } else i++
        break
      case T_MINUS:
        if (i + 1 < n && isDigit(css.charCodeAt(i + 1))) i = scanNumber(css, i + 1, n)
        else if (i + 2 < n && css.charCodeAt(i + 1) === CH_DOT && isDigit(css.charCodeAt(i + 2))) {
          i = scanNumber(css, i + 2, n)
        } else if (startsIdent(css, i, n)) {
          const e = scanName(css, i, n)
          i = e < n && css.charCodeAt(e) === CH_LPAREN ? onFunction(i, e, sawEscape) : e
        } else i++
        break
      case T_BACKSLASH:
        if (isValidEscape(css, i, n)) {
          const e = scanName(css, i, n)
          i = e < n && css.charCodeAt(e) === CH_LPAREN ? onFunction(i, e, sawEscape) : e
        } else i++
        break
      default:
        i++
    }
  }

  // A url("...") whose `)` never came is not a reference.
  let dropped = false
  for (let k = 0; k < pending.length; k++) {
    if (pending[k] >= 0) {
      refs[pending[k]] = undefined as unknown as CssRef
      dropped = true
    }
  }
  return dropped ? refs.filter((r) => r !== undefined) : refs
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
 * Rewrite references. `replacer` returns the new *unquoted, unescaped* URL, which is re-quoted/escaped to fit
 * the original syntax (same quote character when it was quoted; an unquoted url() value that needs quoting is
 * wrapped in double quotes), or `false` / the same url to keep the reference untouched byte-for-byte.
 */
export function rewriteCssRefs(
  css: string,
  replacer: (ref: CssRef) => string | false,
  options: RewriteOptions = {},
): RewriteResult {
  const refs = findCssRefs(css)
  const lowercase = options.lowercaseUrlFunctions === true
  let s: MagicString | undefined
  for (let k = 0; k < refs.length; k++) {
    const ref = refs[k]
    const fn = ref.fnStart !== undefined && ref.fnEnd !== undefined ? options.urlFunction?.(ref) : undefined
    if (fn !== undefined) {
      if (css.slice(ref.fnStart, ref.fnEnd) !== fn) {
        s ??= new MagicString(css)
        s.overwrite(ref.fnStart!, ref.fnEnd!, fn)
      }
    } else if (lowercase && ref.fnStart !== undefined && ref.fnEnd !== undefined) {
      const a = ref.fnStart
      if (
        ref.fnEnd - a !== 3 ||
        css.charCodeAt(a) !== 117 ||
        css.charCodeAt(a + 1) !== 114 ||
        css.charCodeAt(a + 2) !== 108
      ) {
        s ??= new MagicString(css)
        s.overwrite(a, ref.fnEnd, 'url')
      }
    }
    const next = replacer(ref)
    if (next === false || typeof next !== 'string' || next === ref.url) continue
    const text = serialize(ref, next)
    if (ref.start === ref.end) {
      s ??= new MagicString(css)
      s.appendLeft(ref.start, text)
    } else if (text !== css.slice(ref.start, ref.end)) {
      s ??= new MagicString(css)
      s.overwrite(ref.start, ref.end, text)
    }
  }
  const changed = s !== undefined && s.hasChanged()
  const result: RewriteResult = { code: changed ? s!.toString() : css, changed }
  // a map only when something changed: an unchanged stylesheet keeps the map it had
  if (options.sourcemap && changed) {
    result.map = s!.generateMap({
      hires: 'boundary',
      source: options.filename,
      includeContent: true,
    })
  }
  return result
}
