/**
 * Finds the resource references in built HTML that must be fingerprinted, and rewrites them in
 * place ({@link rewriteHtml}).
 *
 * This is a small tokenizer that follows the WHATWG HTML tokenizer closely where it matters for
 * locating attribute values (quoting, unquoted values, duplicate attributes, comments, raw-text
 * and RCDATA elements, CDATA in foreign content, unterminated input) without building a tree.
 * Only references the page loads are reported: navigation targets (`<a href>`, `<form action>`,
 * `<iframe src>`, ...) and metadata (`<meta content>`) are never reported.
 */
import MagicString from 'magic-string'

export interface HtmlRef {
  /**
   * `'attr'`: a whole attribute value that is one URL (`src`, `href`, `poster`, `data` of `<object>`, ...);
   * `'srcset'`: one candidate URL inside a `srcset` / `imagesrcset` attribute;
   * `'style'`: the CSS text of a `style=""` attribute or the content of a `<style>` element.
   */
  kind: 'attr' | 'srcset' | 'style'
  /**
   * The URL with character references decoded, surrounding ASCII whitespace removed. For kind
   * `'style'` the decoded CSS text (not trimmed; the raw text of an HTML `<style>` element is not
   * decoded, as browsers do not decode it either).
   */
  value: string
  /**
   * Half-open span in the source of the raw (still encoded) text to replace: for `'attr'` the
   * attribute value without its quotes and surrounding whitespace; for `'srcset'` the URL of that
   * candidate; for `'style'` the raw CSS text.
   */
  start: number
  end: number
  /** 1-based line and column (UTF-16 code units) of `start`; CRLF and lone CR count as one line break. */
  line: number
  column: number
  /** Lowercased tag name, e.g. `'img'`. */
  tag: string
  /** Lowercased attribute name, e.g. `'src'`, `'xlink:href'`; `''` for the content of a `<style>` element. */
  attr: string
  /**
   * The quote around the attribute value (`''` when unquoted), to pass to {@link encodeAttributeValue}.
   * Also `''` for the content of a `<style>` element (`attr === ''`), which is not an attribute
   * value: write CSS there as is.
   */
  quote: '"' | "'" | ''
}

// ---------------------------------------------------------------------------------------------
// Character references

const NAMED: Readonly<Record<string, string>> = {
  amp: '&', AMP: '&', lt: '<', LT: '<', gt: '>', GT: '>', quot: '"', QUOT: '"', apos: "'",
  nbsp: '\u00a0', Tab: '\t', NewLine: '\n', excl: '!', num: '#', dollar: '$', percnt: '%',
  lpar: '(', rpar: ')', ast: '*', midast: '*', plus: '+', comma: ',', period: '.', sol: '/',
  colon: ':', semi: ';', equals: '=', quest: '?', commat: '@', lsqb: '[', lbrack: '[',
  bsol: '\\', rsqb: ']', rbrack: ']', Hat: '^', lowbar: '_', UnderBar: '_', grave: '`',
  DiacriticalGrave: '`', lcub: '{', lbrace: '{', verbar: '|', vert: '|', VerticalLine: '|',
  rcub: '}', rbrace: '}', copy: '\u00a9', COPY: '\u00a9', reg: '\u00ae', REG: '\u00ae',
}

/** Names the HTML spec also recognises without the trailing semicolon (restricted to those in NAMED). */
const LEGACY = ['amp', 'AMP', 'lt', 'LT', 'gt', 'GT', 'quot', 'QUOT', 'nbsp', 'copy', 'COPY', 'reg', 'REG']

/** Numeric references to C1 controls are remapped as windows-1252 (HTML spec table). */
const C1: Readonly<Record<number, number>> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x0192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
  0x88: 0x02c6, 0x89: 0x2030, 0x8a: 0x0160, 0x8b: 0x2039, 0x8c: 0x0152, 0x8e: 0x017d, 0x91: 0x2018,
  0x92: 0x2019, 0x93: 0x201c, 0x94: 0x201d, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02dc,
  0x99: 0x2122, 0x9a: 0x0161, 0x9b: 0x203a, 0x9c: 0x0153, 0x9e: 0x017e, 0x9f: 0x0178,
}

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isDigit = (c: number) => c >= 48 && c <= 57
const isHex = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
/** ASCII whitespace as the tokenizer sees it (CR is normalised to LF before tokenizing). */
const isWs = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

interface Decoded {
  text: string
  /** Raw offset of each UTF-16 unit of `text`; `null` when `text` is the raw slice itself. */
  map: number[] | null
  start: number
  end: number
}

/** Raw offset corresponding to position `i` (0..text.length) of decoded text. */
function rawAt(d: Decoded, i: number): number {
  if (i >= d.text.length) return d.end
  return d.map ? d.map[i] : d.start + i
}

/**
 * Decode character references in html[start, end), normalising newlines as the HTML input stream
 * does. `inAttr` applies the attribute-value rules (a legacy reference without `;` followed by an
 * alphanumeric or `=` stays literal; NUL becomes U+FFFD).
 */
function decode(html: string, start: number, end: number, inAttr: boolean): Decoded {
  let plain = true
  for (let i = start; i < end; i++) {
    const c = html.charCodeAt(i)
    if (c === 38 /* & */ || c === 13 /* \r */ || (c === 0 && inAttr)) {
      plain = false
      break
    }
  }
  if (plain) return { text: html.slice(start, end), map: null, start, end }

  let text = ''
  const map: number[] = []
  const emit = (s: string, at: number) => {
    text += s
    for (let k = 0; k < s.length; k++) map.push(at)
  }
  let i = start
  while (i < end) {
    const c = html.charCodeAt(i)
    if (c === 13) {
      emit('\n', i)
      i += html.charCodeAt(i + 1) === 10 && i + 1 < end ? 2 : 1
      continue
    }
    if (c === 0 && inAttr) {
      emit('\ufffd', i)
      i++
      continue
    }
    if (c !== 38) {
      text += html[i]
      map.push(i)
      i++
      continue
    }
    // '&'
    const amp = i
    let j = i + 1
    if (j < end && html.charCodeAt(j) === 35 /* # */) {
      j++
      let hex = false
      if (j < end && (html.charCodeAt(j) | 0x20) === 120 /* x */) {
        hex = true
        j++
      }
      const digitsStart = j
      let value = 0
      while (j < end && (hex ? isHex(html.charCodeAt(j)) : isDigit(html.charCodeAt(j)))) {
        if (value <= 0x10ffff) value = value * (hex ? 16 : 10) + parseInt(html[j], 16)
        j++
      }
      if (j === digitsStart) {
        // No digits: not a reference, '&' is literal.
        emit('&', amp)
        i = amp + 1
        continue
      }
      if (j < end && html.charCodeAt(j) === 59 /* ; */) j++
      let cp = value
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd
      else if (C1[cp] !== undefined) cp = C1[cp]
      emit(String.fromCodePoint(cp), amp)
      i = j
      continue
    }
    while (j < end && j - amp <= 32 && isAlnum(html.charCodeAt(j))) j++
    const name = html.slice(amp + 1, j)
    if (name && j < end && html.charCodeAt(j) === 59 && Object.hasOwn(NAMED, name)) {
      emit(NAMED[name], amp)
      i = j + 1
      continue
    }
    let matched = ''
    for (const legacy of LEGACY) {
      if (legacy.length > matched.length && name.startsWith(legacy)) matched = legacy
    }
    if (matched) {
      const after = amp + 1 + matched.length
      const next = after < end ? html.charCodeAt(after) : -1
      if (!(inAttr && (isAlnum(next) || next === 61 /* = */))) {
        emit(NAMED[matched], amp)
        i = after
        continue
      }
    }
    emit('&', amp)
    i = amp + 1
  }
  return { text, map, start, end }
}

/**
 * Encode a URL for use as an attribute value with the given quoting (`''` = unquoted). The result
 * decodes back to `url` exactly (NUL excepted, which HTML cannot represent). An empty URL in an
 * unquoted position is returned as `""` so that the attribute keeps a value.
 */
export function encodeAttributeValue(url: string, quote: '"' | "'" | ''): string {
  let out = ''
  for (let i = 0; i < url.length; i++) {
    const ch = url[i]
    switch (ch) {
      case '&':
        out += '&amp;'
        break
      case '\r':
        out += '&#13;'
        break
      case '"':
        out += quote === "'" ? ch : '&quot;'
        break
      case "'":
        out += quote === '"' ? ch : '&#39;'
        break
      case ' ':
      case '\t':
      case '\n':
      case '\f':
      case '=':
      case '<':
      case '>':
      case '`':
        out += quote === '' ? `&#${ch.charCodeAt(0)};` : ch
        break
      default:
        out += ch
    }
  }
  if (quote === '' && out === '') return '""'
  return out
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

interface Attr {
  name: string
  /** Raw value span, without quotes. */
  start: number
  end: number
  quote: '"' | "'" | ''
}

interface Tag {
  name: string
  attrs: Attr[]
  selfClosing: boolean
  /** Offset just after the closing `>`. */
  end: number
}

const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())

/** Parse a tag whose name starts at `i` (just after `<` or `</`). `undefined` when EOF comes first. */
function parseTag(html: string, i: number): Tag | undefined {
  const n = html.length
  let p = i
  while (p < n) {
    const c = html.charCodeAt(p)
    if (isWs(c) || c === 47 /* / */ || c === 62 /* > */) break
    p++
  }
  if (p >= n) return undefined
  const name = asciiLower(html.slice(i, p))
  const attrs: Attr[] = []
  const seen = new Set<string>()
  const add = (a: Attr) => {
    // Duplicate attributes are dropped; the first one wins.
    if (seen.has(a.name)) return
    seen.add(a.name)
    attrs.push(a)
  }
  while (p < n) {
    let c = html.charCodeAt(p)
    if (isWs(c)) {
      p++
      continue
    }
    if (c === 47) {
      if (html.charCodeAt(p + 1) === 62) return { name, attrs, selfClosing: true, end: p + 2 }
      p++
      continue
    }
    if (c === 62) return { name, attrs, selfClosing: false, end: p + 1 }
    // Attribute name; its first character may be anything, including '='.
    const nameStart = p++
    while (p < n) {
      c = html.charCodeAt(p)
      if (isWs(c) || c === 47 || c === 62 || c === 61 /* = */) break
      p++
    }
    const attrName = asciiLower(html.slice(nameStart, p))
    while (p < n && isWs(html.charCodeAt(p))) p++
    if (p >= n) return undefined
    if (html.charCodeAt(p) !== 61) {
      add({ name: attrName, start: p, end: p, quote: '' })
      continue
    }
    p++
    while (p < n && isWs(html.charCodeAt(p))) p++
    if (p >= n) return undefined
    c = html.charCodeAt(p)
    if (c === 34 || c === 39) {
      const q = c === 34 ? '"' : "'"
      const close = html.indexOf(q, p + 1)
      if (close < 0) return undefined
      add({ name: attrName, start: p + 1, end: close, quote: q })
      p = close + 1
    } else if (c === 62) {
      add({ name: attrName, start: p, end: p, quote: '' })
    } else {
      const valueStart = p
      while (p < n) {
        c = html.charCodeAt(p)
        if (isWs(c) || c === 62) break
        p++
      }
      if (p >= n) return undefined
      add({ name: attrName, start: valueStart, end: p, quote: '' })
    }
  }
  return undefined
}

/** Offset of the end tag `</name` (followed by whitespace, `/` or `>`) at or after `from`, or -1. */
function findEndTag(html: string, name: string, from: number): number {
  for (let i = html.indexOf('</', from); i >= 0; i = html.indexOf('</', i + 2)) {
    const after = i + 2 + name.length
    if (after >= html.length) return -1
    const c = html.charCodeAt(after)
    if ((isWs(c) || c === 47 || c === 62) && asciiLower(html.slice(i + 2, after)) === name) return i
  }
  return -1
}

/** Elements whose content is not markup. */
const RAW_TEXT = new Set(['script', 'style', 'xmp', 'iframe', 'noembed', 'noframes', 'textarea', 'title'])

/** HTML start tags that end foreign (SVG/MathML) content. */
const BREAKOUT = new Set(
  'b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var'.split(
    ' ',
  ),
)

/** `rel` keywords of `<link>` elements that make the browser fetch `href`. */
const LOADING_RELS = new Set([
  'stylesheet',
  'icon',
  'shortcut',
  'apple-touch-icon',
  'apple-touch-icon-precomposed',
  'mask-icon',
  'preload',
  'modulepreload',
  'prefetch',
  'manifest',
])

type Kind = 'attr' | 'srcset'

/** Resource attributes of a start tag, given all its attributes. */
function resourceAttrs(tag: string, get: (name: string) => string | undefined, foreign: boolean): Record<string, Kind> | undefined {
  switch (tag) {
    case 'img':
    case 'source':
      return { src: 'attr', srcset: 'srcset' }
    case 'video':
      return { src: 'attr', poster: 'attr' }
    case 'audio':
    case 'track':
    case 'embed':
    case 'script':
      return { src: 'attr' }
    case 'object':
      return { data: 'attr' }
    case 'input': {
      const type = get('type')
      return type !== undefined && asciiLower(type.trim()) === 'image' ? { src: 'attr' } : undefined
    }
    case 'image':
    case 'use':
      return foreign ? { href: 'attr', 'xlink:href': 'attr' } : undefined
    case 'link': {
      const rels = asciiLower(get('rel') ?? '')
        .split(/[\t\n\f\r ]+/)
        .filter(Boolean)
      const result: Record<string, Kind> = {}
      if (rels.some((r) => LOADING_RELS.has(r))) result.href = 'attr'
      if (rels.includes('preload')) result.imagesrcset = 'srcset'
      return result
    }
  }
  return undefined
}

/** Start and end (in decoded text) of each candidate URL of a srcset value, per the HTML spec. */
function srcsetUrls(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = []
  const n = s.length
  let p = 0
  for (;;) {
    while (p < n && (isWs(s.charCodeAt(p)) || s.charCodeAt(p) === 44 /* , */)) p++
    if (p >= n) return out
    const urlStart = p
    while (p < n && !isWs(s.charCodeAt(p))) p++
    let urlEnd = p
    if (s.charCodeAt(urlEnd - 1) === 44) {
      // Trailing commas end the candidate; there are no descriptors.
      while (urlEnd > urlStart && s.charCodeAt(urlEnd - 1) === 44) urlEnd--
      out.push([urlStart, urlEnd])
      continue
    }
    out.push([urlStart, urlEnd])
    // Descriptors: up to a comma outside parentheses.
    let inParens = false
    while (p < n) {
      const c = s.charCodeAt(p++)
      if (inParens) {
        if (c === 41 /* ) */) inParens = false
      } else if (c === 40 /* ( */) inParens = true
      else if (c === 44) break
    }
  }
}

const hasNonWs = (s: string) => /[^\t\n\f\r ]/.test(s)

/** Trimmed [start, end) of decoded text (ASCII whitespace only). */
function trimSpan(s: string): [number, number] {
  let a = 0
  let b = s.length
  while (a < b && isWs(s.charCodeAt(a))) a++
  while (b > a && isWs(s.charCodeAt(b - 1))) b--
  return [a, b]
}

type PartialRef = Omit<HtmlRef, 'line' | 'column'>

/** Find the resource references in an HTML document. Never throws. */
export function findHtmlRefs(html: string): HtmlRef[] {
  if (typeof html !== 'string') return []
  const refs: PartialRef[] = []
  const n = html.length
  let foreignDepth = 0
  /** Inside a `<style>` element in SVG/MathML: its text is markup-parsed and reported as style. */
  let foreignStyle = false
  let textStart = 0

  const flushText = (end: number) => {
    if (foreignStyle && end > textStart) addStyleText(textStart, end, true)
  }
  const addStyleText = (start: number, end: number, decodeRefs: boolean) => {
    const d = decodeRefs ? decode(html, start, end, false) : { text: html.slice(start, end), map: null, start, end }
    if (hasNonWs(d.text)) refs.push({ kind: 'style', value: d.text, start, end, tag: 'style', attr: '', quote: '' })
  }

  const onStartTag = (tag: Tag) => {
    let name = tag.name
    if (foreignDepth > 0 && BREAKOUT.has(name)) foreignDepth = 0
    if (name === 'svg' || name === 'math') {
      if (!tag.selfClosing) foreignDepth++
    } else if (name === 'image' && foreignDepth === 0) {
      // The HTML tree builder turns <image> into <img>.
      name = 'img'
    }
    const foreign = foreignDepth > 0
    const get = (attr: string) => {
      const a = tag.attrs.find((x) => x.name === attr)
      return a && decode(html, a.start, a.end, true).text
    }
    const wanted = resourceAttrs(name, get, foreign)
    for (const a of tag.attrs) {
      if (a.start === a.end) continue
      if (a.name === 'style') {
        const d = decode(html, a.start, a.end, true)
        if (hasNonWs(d.text)) refs.push({ kind: 'style', value: d.text, start: a.start, end: a.end, tag: name, attr: a.name, quote: a.quote })
        continue
      }
      const kind = wanted && Object.hasOwn(wanted, a.name) ? wanted[a.name] : undefined
      if (!kind) continue
      const d = decode(html, a.start, a.end, true)
      const spans = kind === 'srcset' ? srcsetUrls(d.text) : [trimSpan(d.text)]
      for (const [s, e] of spans) {
        if (s >= e) continue
        refs.push({ kind, value: d.text.slice(s, e), start: rawAt(d, s), end: rawAt(d, e), tag: name, attr: a.name, quote: a.quote })
      }
    }
    if (foreign && name === 'style' && !tag.selfClosing) foreignStyle = true
    return name
  }

  let i = 0
  scan: while (i < n) {
    const lt = html.indexOf('<', i)
    if (lt < 0) break
    const c = html.charCodeAt(lt + 1)
    let next: number
    if (isAlpha(c)) {
      const tag = parseTag(html, lt + 1)
      if (!tag) break
      flushText(lt)
      const name = onStartTag(tag)
      next = tag.end
      if (foreignDepth === 0 || name === 'script') {
        if (name === 'plaintext') break
        if (RAW_TEXT.has(name) && !(foreignDepth > 0 && tag.selfClosing)) {
          const close = findEndTag(html, name, next)
          if (close < 0) break
          if (name === 'style') addStyleText(next, close, false)
          next = close
        }
      }
    } else if (c === 47 /* / */) {
      const c2 = html.charCodeAt(lt + 2)
      if (isAlpha(c2)) {
        const tag = parseTag(html, lt + 2)
        if (!tag) break
        flushText(lt)
        if (tag.name === 'style') foreignStyle = false
        if ((tag.name === 'svg' || tag.name === 'math') && foreignDepth > 0) {
          foreignDepth--
          foreignStyle = false
        }
        next = tag.end
      } else if (c2 === 62 /* > */) {
        flushText(lt)
        next = lt + 3
      } else if (lt + 2 >= n) {
        break
      } else {
        const close = html.indexOf('>', lt + 2)
        if (close < 0) break
        flushText(lt)
        next = close + 1
      }
    } else if (c === 33 /* ! */) {
      let close: number
      if (html.startsWith('<!--', lt)) {
        const body = lt + 4
        if (html.charCodeAt(body) === 62) close = body + 1
        else if (html.startsWith('->', body)) close = body + 2
        else {
          const a = html.indexOf('-->', body)
          const b = html.indexOf('--!>', body)
          if (a < 0 && b < 0) break scan
          close = a >= 0 && (b < 0 || a < b) ? a + 3 : b + 4
        }
        flushText(lt)
      } else if (foreignDepth > 0 && html.startsWith('<![CDATA[', lt)) {
        const end = html.indexOf(']]>', lt + 9)
        if (end < 0) break
        flushText(lt)
        if (foreignStyle) addStyleText(lt + 9, end, false)
        close = end + 3
      } else {
        // Doctype or bogus comment: up to the next '>'.
        const end = html.indexOf('>', lt + 2)
        if (end < 0) break
        flushText(lt)
        close = end + 1
      }
      next = close
    } else if (c === 63 /* ? */) {
      const end = html.indexOf('>', lt + 2)
      if (end < 0) break
      flushText(lt)
      next = end + 1
    } else {
      // A '<' that starts no markup is text.
      i = lt + 1
      continue
    }
    i = next
    textStart = next
  }

  if (refs.length === 0) return []
  const lineStarts = [0]
  for (let k = 0; k < n; k++) {
    const ch = html.charCodeAt(k)
    if (ch === 10 || (ch === 13 && html.charCodeAt(k + 1) !== 10)) lineStarts.push(k + 1)
  }
  return refs.map((r) => {
    let lo = 0
    let hi = lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (lineStarts[mid] <= r.start) lo = mid
      else hi = mid - 1
    }
    return {
      kind: r.kind,
      value: r.value,
      start: r.start,
      end: r.end,
      line: lo + 1,
      column: r.start - lineStarts[lo] + 1,
      tag: r.tag,
      attr: r.attr,
      quote: r.quote,
    }
  })
}

/** What {@link rewriteHtml} asks of its caller for each reference of a page. */
export interface HtmlEdit {
  /**
   * A resource URL: a whole attribute value (`src`, `href`, ...) or one `srcset` candidate. Gets
   * the decoded URL (`ref.value`); returns the new URL, decoded (it is encoded for the attribute's
   * quoting here), or `undefined` to leave it as written.
   */
  attr(value: string, ref: HtmlRef): string | undefined
  /**
   * The CSS of a `<style>` element or a `style=""` attribute. Gets the decoded CSS text; returns the
   * new CSS, or `undefined` to leave it as written.
   */
  style(css: string, ref: HtmlRef): string | undefined
}

/**
 * Rewrite the references of an HTML page: every reference {@link findHtmlRefs} reports goes to
 * `edit.attr` (kinds `'attr'` and `'srcset'`) or `edit.style` (kind `'style'`), in document order,
 * and each replacement is written back in place: attribute values encoded for their quoting with
 * {@link encodeAttributeValue}, the content of a `<style>` element as is. Everything else in the page
 * (markup, whitespace, other attributes, character references elsewhere) is kept byte for byte.
 *
 * Returns the new page, or `undefined` when nothing changed.
 */
export function rewriteHtml(html: string, edit: HtmlEdit): string | undefined {
  const s = new MagicString(html)
  for (const ref of findHtmlRefs(html)) {
    if (ref.kind === 'style') {
      const updated = edit.style(ref.value, ref)
      if (updated !== undefined) s.overwrite(ref.start, ref.end, ref.attr ? encodeAttributeValue(updated, ref.quote) : updated)
    } else {
      const updated = edit.attr(ref.value, ref)
      if (updated !== undefined) s.overwrite(ref.start, ref.end, encodeAttributeValue(updated, ref.quote))
    }
  }
  return s.hasChanged() ? s.toString() : undefined
}
