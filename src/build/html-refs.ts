/**
 * Finds the resource references in built HTML that must be fingerprinted, and rewrites them in
 * place ({@link rewriteHtml}).
 *
 * The page is parsed with parse5, as a browser parses it (character references, raw-text and
 * script content, foreign content, template contents, unterminated input), with source locations;
 * edits go to the original text at those locations, so everything else stays byte for byte.
 * Only references the page loads are reported: navigation targets (`<a href>`, `<form action>`,
 * `<iframe src>`, ...) and metadata (`<meta content>`) are never reported.
 */
import MagicString from 'magic-string'
import { parse, parseFragment, type DefaultTreeAdapterMap } from 'parse5'

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
// Source spans

type Node = DefaultTreeAdapterMap['node']
type Element = DefaultTreeAdapterMap['element']
type ParentNode = DefaultTreeAdapterMap['parentNode']

const HTML_NS = 'http://www.w3.org/1999/xhtml'
const SVG_NS = 'http://www.w3.org/2000/svg'

/** ASCII whitespace as the tokenizer sees it. */
const isWs = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13
const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())

/**
 * The value of an attribute whose source (`name`, `name=value`, `name = "value"`) is
 * html[start, end): its span without quotes, and the quote; undefined when it has no value.
 */
function valueSpan(html: string, start: number, end: number): { start: number; end: number; quote: HtmlRef['quote'] } | undefined {
  // the first character of a name may be anything, '=' included
  let p = start + 1
  while (p < end && !isWs(html.charCodeAt(p)) && html[p] !== '=') p++
  while (p < end && isWs(html.charCodeAt(p))) p++
  if (p >= end || html[p] !== '=') return undefined
  p++
  while (p < end && isWs(html.charCodeAt(p))) p++
  if (p >= end) return undefined
  const q = html[p]
  if (q === '"' || q === "'") return end - p >= 2 && html[end - 1] === q ? { start: p + 1, end: end - 1, quote: q } : undefined
  return { start: p, end, quote: '' }
}

/** What can be a character reference where an `&` is: numeric, or `&`, letters and digits, `;`. */
const CHAR_REF_RE = /&(?:#[xX][\da-fA-F]+|#\d+|([a-zA-Z\d]+));?/y
const decodedRefs = new Map<string, string>()

/**
 * What the character reference `ref` (a match of {@link CHAR_REF_RE}) stands for in an attribute
 * value: parse5 decodes it alone, so the table of named references is parse5's. A reference that
 * is not one comes back as written.
 */
function decodeRef(ref: string): string {
  let out = decodedRefs.get(ref)
  if (out === undefined) {
    const probe = parseFragment(`<i x="${ref}">`).childNodes[0] as Element
    out = probe.attrs[0].value
    if (decodedRefs.size < 4096) decodedRefs.set(ref, out)
  }
  return out
}

/**
 * Decode the raw attribute value html[start, end) as the HTML parser does (character references,
 * CR and CRLF as LF, NUL as U+FFFD), keeping the raw offset of each UTF-16 unit of the result, so
 * that a part of the decoded value can be edited at its place in the source. Its callers use the
 * offsets only when the text is the value parse5 gave.
 */
function decodeAttrValue(html: string, start: number, end: number): { text: string; map: number[] } {
  let text = ''
  const map: number[] = []
  let i = start
  while (i < end) {
    const c = html.charCodeAt(i)
    if (c === 13) {
      text += '\n'
      map.push(i)
      i += i + 1 < end && html.charCodeAt(i + 1) === 10 ? 2 : 1
      continue
    }
    if (c === 0) {
      text += '\ufffd'
      map.push(i)
      i++
      continue
    }
    if (c === 38) {
      CHAR_REF_RE.lastIndex = i
      const m = CHAR_REF_RE.exec(html)
      const len = m ? m[0].length : 0
      // In an attribute value a named reference without ';' followed by '=' stays as written.
      if (m && i + len <= end && !(m[1] !== undefined && !m[0].endsWith(';') && html[i + len] === '=')) {
        const out = decodeRef(m[0])
        if (out !== m[0]) {
          text += out
          for (let k = 0; k < out.length; k++) map.push(i)
          i += len
          continue
        }
      }
    }
    text += html[i]
    map.push(i)
    i++
  }
  return { text, map }
}

// ---------------------------------------------------------------------------------------------
// Which attributes are references

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

/** Resource attributes of an element, given all its attributes. */
function resourceAttrs(tag: string, ns: string, get: (name: string) => string | undefined): Record<string, Kind> | undefined {
  if (ns === SVG_NS) return tag === 'image' || tag === 'use' ? { href: 'attr', 'xlink:href': 'attr' } : undefined
  if (ns !== HTML_NS) return undefined
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

// ---------------------------------------------------------------------------------------------
// The walk

/** A reference, and how a replacement is written into its span. */
interface Found {
  ref: Omit<HtmlRef, 'line' | 'column'>
  write: (value: string) => string
}

/** Text of a foreign (SVG/MathML) `<style>`: character data, so `&` and `<` are written as references. */
const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
const asIs = (s: string) => s

/** The references of an element's attributes. */
function attributeRefs(html: string, el: Element, tag: string, out: Found[]): void {
  const locs = el.sourceCodeLocation?.attrs
  if (!locs || el.attrs.length === 0) return
  const get = (name: string) => el.attrs.find((a) => !a.prefix && a.name === name)?.value
  const wanted = resourceAttrs(tag, el.namespaceURI, get)
  for (const a of el.attrs) {
    const name = a.prefix ? `${a.prefix}:${a.name}` : a.name
    const kind = name === 'style' ? 'style' : wanted && Object.hasOwn(wanted, name) ? wanted[name] : undefined
    if (!kind || a.value === '') continue
    // parse5 keys locations by the name as written (lowercased); in SVG it adjusts the case of some names
    const loc = locs[name] ?? locs[asciiLower(name)]
    const span = loc && valueSpan(html, loc.startOffset, loc.endOffset)
    if (!span) continue
    const { quote } = span
    const write = (v: string) => encodeAttributeValue(v, quote)
    if (kind === 'style') {
      if (hasNonWs(a.value)) out.push({ ref: { kind, value: a.value, start: span.start, end: span.end, tag, attr: name, quote }, write })
      continue
    }
    const d = decodeAttrValue(html, span.start, span.end)
    // the offsets are only trusted when decoding here agrees with the parser
    if (d.text !== a.value) continue
    const rawAt = (i: number) => (i >= d.text.length ? span.end : d.map[i])
    const parts = kind === 'srcset' ? srcsetUrls(d.text) : [trimSpan(d.text)]
    for (const [s, e] of parts) {
      if (s < e) out.push({ ref: { kind, value: d.text.slice(s, e), start: rawAt(s), end: rawAt(e), tag, attr: name, quote }, write })
    }
  }
}

/**
 * The CSS of a `<style>` element. In HTML it is raw text, reported as written. In SVG and MathML
 * it is character data (references decoded) or a CDATA section (as written); text that mixes the
 * two is left alone.
 */
function styleRefs(html: string, el: Element, out: Found[]): void {
  const foreign = el.namespaceURI !== HTML_NS
  for (const child of el.childNodes) {
    const loc = child.sourceCodeLocation
    if (child.nodeName !== '#text' || !loc) continue
    let start = loc.startOffset
    let end = loc.endOffset
    const raw = html.slice(start, end)
    let value = raw
    let write = asIs
    if (foreign) {
      const cdata = /^<!\[CDATA\[([\s\S]*?)\]\]>$/.exec(raw)
      if (cdata && !cdata[1].includes(']]>')) {
        start += 9
        end -= 3
        value = cdata[1]
      } else if (raw.includes('<![CDATA[')) {
        continue
      } else {
        value = (child as DefaultTreeAdapterMap['textNode']).value
        write = escapeText
      }
    }
    if (hasNonWs(value)) out.push({ ref: { kind: 'style', value, start, end, tag: 'style', attr: '', quote: '' }, write })
  }
}

/**
 * Every reference of the page, in source order. The page is parsed with scripting disabled, so
 * `<noscript>` content is markup: a visitor without JavaScript loads the resources it names, and
 * those must be fingerprinted too. `<template>` contents are scanned as well.
 */
function scan(html: string): Found[] {
  const doc = parse(html, { sourceCodeLocationInfo: true, scriptingEnabled: false })
  const found: Found[] = []
  const stack: ParentNode[] = [doc]
  while (stack.length) {
    const parent = stack.pop()!
    for (const node of parent.childNodes as Node[]) {
      if (!('tagName' in node)) continue
      const tag = asciiLower(node.tagName)
      attributeRefs(html, node, tag, found)
      if (tag === 'style') styleRefs(html, node, found)
      stack.push(node)
      if (tag === 'template' && node.namespaceURI === HTML_NS) stack.push((node as DefaultTreeAdapterMap['template']).content)
    }
  }
  // Elements the tree builder re-creates (misnested formatting elements) share their source.
  const seen = new Set<number>()
  return found
    .sort((a, b) => a.ref.start - b.ref.start)
    .filter((f) => !seen.has(f.ref.start) && (seen.add(f.ref.start), true))
}

/** Find the resource references in an HTML document. Never throws. */
export function findHtmlRefs(html: string): HtmlRef[] {
  if (typeof html !== 'string') return []
  return withPositions(html, scan(html)).map((f) => f.ref)
}

/** The refs with their 1-based line and column; CRLF and lone CR count as one line break. */
function withPositions(html: string, found: Found[]): Array<{ ref: HtmlRef; write: Found['write'] }> {
  if (found.length === 0) return []
  const lineStarts = [0]
  for (let k = 0; k < html.length; k++) {
    const ch = html.charCodeAt(k)
    if (ch === 10 || (ch === 13 && html.charCodeAt(k + 1) !== 10)) lineStarts.push(k + 1)
  }
  let line = 0
  return found.map(({ ref: r, write }) => {
    // the refs are in source order
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= r.start) line++
    const ref: HtmlRef = {
      kind: r.kind,
      value: r.value,
      start: r.start,
      end: r.end,
      line: line + 1,
      column: r.start - lineStarts[line] + 1,
      tag: r.tag,
      attr: r.attr,
      quote: r.quote,
    }
    return { ref, write }
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
 * {@link encodeAttributeValue}, the content of an HTML `<style>` element as is (of an SVG one, with
 * `&` and `<` as references unless it is a CDATA section). Everything else in the page
 * (markup, whitespace, other attributes, character references elsewhere) is kept byte for byte.
 *
 * Returns the new page, or `undefined` when nothing changed.
 */
export function rewriteHtml(html: string, edit: HtmlEdit): string | undefined {
  const s = new MagicString(html)
  for (const { ref, write } of withPositions(html, scan(html))) {
    const updated = ref.kind === 'style' ? edit.style(ref.value, ref) : edit.attr(ref.value, ref)
    if (updated !== undefined) s.overwrite(ref.start, ref.end, write(updated))
  }
  return s.hasChanged() ? s.toString() : undefined
}

// ---------------------------------------------------------------------------------------------
// Subresource integrity

/** What {@link addIntegrity} asks for each script, stylesheet and module preload of a page. */
export type IntegrityOf = (url: string, tag: 'script' | 'link') => string | undefined

/**
 * Give every `<script src>`, `<link rel=stylesheet>` and `<link rel=modulepreload>` of a page
 * whose URL `integrityOf` knows an `integrity` attribute with that value (replacing one that is
 * there) and, when it has none, a `crossorigin` attribute: the browser checks integrity only for
 * a request made in CORS mode. Everything else is kept byte for byte. Elements inside
 * `<template>` and `<noscript>` are left alone (they load nothing until a script uses them, and
 * then not through these attributes).
 *
 * Returns the new page, or `undefined` when nothing changed.
 */
export function addIntegrity(html: string, integrityOf: IntegrityOf): string | undefined {
  const s = new MagicString(html)
  for (const { tag, loc, attr } of loadingElements(html)) {
    let url: string | undefined
    if (tag === 'script') url = attr('src')
    else if (tag === 'link') {
      const rels = asciiLower(attr('rel') ?? '').split(/[\t\n\f\r ]+/)
      if (rels.includes('stylesheet') || rels.includes('modulepreload')) url = attr('href')
    }
    if (url === undefined || !loc.attrs) continue
    const [a, b] = trimSpan(url)
    const value = a < b ? integrityOf(url.slice(a, b), tag as 'script' | 'link') : undefined
    if (value === undefined) continue
    const written = `integrity="${encodeAttributeValue(value, '"')}"`
    const at = Math.max(...Object.values(loc.attrs).map((l) => l.endOffset))
    const present = loc.attrs.integrity
    if (present) s.overwrite(present.startOffset, present.endOffset, written)
    else s.appendLeft(at, ` ${written}`)
    if (attr('crossorigin') === undefined) s.appendLeft(at, ' crossorigin')
  }
  return s.hasChanged() ? s.toString() : undefined
}

/**
 * Put `tag` (a whole element) before the first `<script>` of the page, or in place of the element
 * `isOurs` recognises by its attributes (a page handled before keeps one such element). A page
 * without a script runs no code and is left alone. Everything else is kept byte for byte.
 *
 * Returns the new page, or `undefined` when nothing changed.
 */
export function placeBeforeFirstScript(html: string, tag: string, isOurs: (attr: (name: string) => string | undefined) => boolean): string | undefined {
  let first: { start: number; end: number } | undefined
  let ours: { start: number; end: number } | undefined
  for (const { tag: name, loc, attr } of loadingElements(html)) {
    if (name !== 'script') continue
    const span = { start: loc.startTag!.startOffset, end: loc.endTag?.endOffset ?? loc.startTag!.endOffset }
    if (isOurs(attr)) ours ??= span
    else if (!first || span.start < first.start) first = span
  }
  if (ours) return html.slice(ours.start, ours.end) === tag ? undefined : html.slice(0, ours.start) + tag + html.slice(ours.end)
  if (!first) return undefined
  return html.slice(0, first.start) + tag + html.slice(first.start)
}

/**
 * The HTML elements of a page that can load something when it is parsed, with their source
 * locations and attributes (in no particular order): none inside `<template>` or `<noscript>`
 * (inert until a script uses them), none in SVG or MathML.
 */
function* loadingElements(html: string): Generator<{ tag: string; loc: NonNullable<Element['sourceCodeLocation']>; attr: (name: string) => string | undefined }> {
  const stack: ParentNode[] = [parse(html, { sourceCodeLocationInfo: true })]
  while (stack.length) {
    for (const node of stack.pop()!.childNodes as Node[]) {
      if (!('tagName' in node) || node.namespaceURI !== HTML_NS) continue
      const tag = asciiLower(node.tagName)
      if (tag === 'template' || tag === 'noscript') continue
      stack.push(node)
      const loc = node.sourceCodeLocation
      if (loc?.startTag) yield { tag, loc, attr: (name) => node.attrs.find((a) => !a.prefix && a.name === name)?.value }
    }
  }
}
