import { readFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  findCssRefs,
  isExternalOrSpecialUrl,
  rewriteCssRefs,
  spliceCssRefs,
  splitUrlSuffix,
  type CssRef,
} from '../src/build/css-urls.js'

const urls = (css: string) => findCssRefs(css).map((r) => r.url)
const raw = (css: string, r: CssRef) => css.slice(r.start, r.end)
const prefix = (r: CssRef) => (r.url.startsWith('x/') ? false : 'x/' + r.url)

const FC_RUNS = Math.max(2000, Number(process.env.FC_RUNS) || 0)

describe('findCssRefs: url() values', () => {
  it.each<[string, string, string[]]>([
    ['unquoted', 'a{background:url(a.png)}', ['a.png']],
    ['single-quoted', "a{background:url('a.png')}", ['a.png']],
    ['double-quoted', 'a{background:url("a.png")}', ['a.png']],
    ['uppercase URL(', 'a{background:URL(a.png)}', ['a.png']],
    ['mixed-case Url( quoted', 'a{background:Url("a.png")}', ['a.png']],
    ['spaces around unquoted value', 'a{b:uRl(   a.png   )}', ['a.png']],
    ['newlines around quoted value', 'a{b:url(\n  "a.png"\n)}', ['a.png']],
    ['tabs and newlines around unquoted value', 'a{b:url(\t a.png \n)}', ['a.png']],
    ['CRLF around quoted value', 'a{b:url(\r\n"a.png"\r\n)}', ['a.png']],
    ['escaped close paren', 'a{b:url(a\\).png)}', ['a).png']],
    ['escaped parens', 'a{b:url(a\\(b\\).png)}', ['a(b).png']],
    ['escaped double quote in string', 'a{b:url("a\\"b.png")}', ['a"b.png']],
    ['escaped single quote in string', "a{b:url('it\\'s.png')}", ["it's.png"]],
    ['other quote inside string', `a{b:url("it's.png")}`, ["it's.png"]],
    ['hex escape with space terminator', 'a{b:url(\\26 x.png)}', ['&x.png']],
    ['hex escape ended by non-hex', 'a{b:url(caf\\e9.png)}', ['café.png']],
    ['hex escape of astral code point', 'a{b:url(\\1F600 .png)}', ['😀.png']],
    ['six-digit hex escape then hex char', 'a{b:url(\\000041B.png)}', ['AB.png']],
    ['hex escape of zero', 'a{b:url(a\\0 b.png)}', ['a\uFFFDb.png']],
    ['escaped space in unquoted', 'a{b:url(a\\ b.png)}', ['a b.png']],
    ['escaped backslash', 'a{b:url(a\\\\b.png)}', ['a\\b.png']],
    ['string line continuation', 'a{b:url("a\\\nb.png")}', ['ab.png']],
    ['string line continuation with CRLF', 'a{b:url("a\\\r\nb.png")}', ['ab.png']],
    ['spaces inside quoted url', 'a{b:url("fonts/my font.woff")}', ['fonts/my font.woff']],
    ['quoted url trimmed', 'a{b:url(  " x.png "  )}', ['x.png']],
    ['unicode file name', 'a{b:url(图片/背景.png)}', ['图片/背景.png']],
    ['astral file name quoted', "a{b:url('😀/ü.png')}", ['😀/ü.png']],
    ['query and fragment kept', 'a{src:url(font.eot?#iefix)}', ['font.eot?#iefix']],
    ['fragment kept', 'a{b:url(sprite.svg#icon)}', ['sprite.svg#icon']],
    ['empty unquoted', 'a{b:url()}', ['']],
    ['whitespace-only unquoted', 'a{b:url(   )}', ['']],
    ['empty quoted', 'a{b:url("")}', ['']],
    ['two urls', 'a{b:url(a.png),url("b.png")}', ['a.png', 'b.png']],
    ['url modifiers after the string', "a{b:url('a.png' crossorigin(anonymous))}", ['a.png']],
    ['delimiter before url', 'a{b:x.url(a)+url(b)}', ['a', 'b']],
    ['escaped function name', 'a{b:u\\72 l(a.png)}', ['a.png']],
    ['literal NUL becomes U+FFFD', 'a{b:url(a\0b)}', ['a\uFFFDb']],
  ])('%s', (_name, css, expected) => {
    expect(urls(css)).toEqual(expected)
  })

  it('data: URIs with parens and quotes stay intact', () => {
    const svg = `data:image/svg+xml,%3csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3e%3cpath d='M2 (5)'/%3e%3c/svg%3e`
    const css = `.a{background-image:url("${svg}")}.b{background:url(data:image/png;base64,iVBORw0KGgo=)}`
    const refs = findCssRefs(css)
    expect(refs.map((r) => r.url)).toEqual([svg, 'data:image/png;base64,iVBORw0KGgo='])
    expect(refs.every((r) => isExternalOrSpecialUrl(r.url))).toBe(true)
  })
})

describe('findCssRefs: hostile input', () => {
  it.each<[string, string, string[]]>([
    ['unterminated unquoted url', 'a{b:url(a.png', []],
    ['unterminated url after whitespace', 'a{b:url(a.png  ', []],
    ['url( at end of input', 'a{b:url(', []],
    ['url( and spaces at end of input', 'a{b:url(   ', []],
    ['trailing backslash in url', 'a{b:url(a.png\\', []],
    ['escaped paren then end of input', 'a{b:url(\\)', []],
    ['quoted url never closed', 'a{b:url("a.png"', []],
    ['quoted url with space, never closed', 'a{b:url("a.png" ', []],
    ['unterminated string in url', 'a{b:url("a.png', []],
    ['space inside unquoted url is bad', 'a{b:url(a b.png)} c{d:url(c.png)}', ['c.png']],
    ['quote inside unquoted url is bad', 'a{b:url(a"b)} c{d:url(c.png)}', ['c.png']],
    ['paren inside unquoted url is bad, remnants end at first )', 'a{b:url(a(b) url(c.png)}', ['c.png']],
    ['non-printable inside unquoted url is bad', 'a{b:url(a\u0001b)} c{d:url(c.png)}', ['c.png']],
    ['escaped newline inside unquoted url is bad', 'a{b:url(a\\\nb)} c{d:url(c.png)}', ['c.png']],
    ['bad url remnants honour escapes', 'a{b:url(a b\\) url(x.png)) url(c.png)}', ['c.png']],
    ['nested url(url(', 'a{b:url(url(x.png))}', []],
    ['nested url(url( followed by a good one', 'a{b:url(url(x.png)) ; c:url(y.png)}', ['y.png']],
    ['url( in a comment', '/* url(a.png) */a{b:url(b.png)}', ['b.png']],
    ['unterminated comment', 'a{b:url(b.png)} /* url(a.png)', ['b.png']],
    ['comment-like inside string', 'a{content:"/*"; b:url(b.png)} /* */', ['b.png']],
    ['url( in a string', 'a{content:"url(a.png)";b:url(b.png)}', ['b.png']],
    ['url( in a single-quoted string with escaped quote', "a{content:'\\'url(a.png)';b:url(b.png)}", ['b.png']],
    ['unterminated string stops at newline', "a{content:'url(a.png)\nb{background:url(b.png)}", ['b.png']],
    ['unterminated string runs to end', 'a{content:"x url(a.png)', []],
    ['bad string inside url() is not reported', 'a{b:url("a\nb.png)} c{d:url(c.png)}', ['c.png']],
    ['bad string: the next quote opens a new string', 'a{b:url("a\nb.png")} c{d:url(c.png)}', []],
    ['identifier ending in url', 'a{b:myurl(a.png)}', []],
    ['identifier with leading dash', 'a{b:-url(a.png) --url(b.png)}', []],
    ['hash token', 'a{b:#url(a.png)}', []],
    ['dimension token', 'a{b:10url(a.png) 1e3url(b.png) .5url(c.png)}', []],
    ['at-keyword', '@url(a.png);', []],
    ['longer function names', 'a{b:url-x(a.png) urls(b.png)}', []],
    ['lone backslashes and quotes', '\\\n"\'\\', []],
    ['only url(', 'url(', []],
  ])('%s', (_name, css, expected) => {
    expect(urls(css)).toEqual(expected)
  })

  it('does not treat strings as references outside image-set and @import', () => {
    const css = `@font-face{font-family:"url(x.woff)";src:local("Foo"),url(a.woff2) format("woff2")}a::before{content:"a.png"}`
    expect(findCssRefs(css).map((r) => [r.url, r.kind])).toEqual([['a.woff2', 'url']])
  })

  it('accepts non-string input without throwing', () => {
    expect(findCssRefs(undefined as unknown as string)).toEqual([])
  })
})

describe('findCssRefs: kinds, flags and spans', () => {
  it('reports quote information and spans of unquoted, quoted and function name', () => {
    const css = `a{b:URL( a.png );c:url('b.png');d:url("c.png")}`
    const [a, b, c] = findCssRefs(css)
    expect(a).toMatchObject({ url: 'a.png', kind: 'url', quoted: false, isImport: false })
    expect(a.quote).toBeUndefined()
    expect(raw(css, a)).toBe('a.png')
    expect(css.slice(a.fnStart!, a.fnEnd!)).toBe('URL')
    expect(b).toMatchObject({ quoted: true, quote: "'" })
    expect(raw(css, b)).toBe("'b.png'")
    expect(c).toMatchObject({ quoted: true, quote: '"' })
    expect(raw(css, c)).toBe('"c.png"')
  })

  it('keeps the raw escaped text in the span', () => {
    const css = 'a{b:url( a\\).png\t)}'
    const [r] = findCssRefs(css)
    expect(r.url).toBe('a).png')
    expect(raw(css, r)).toBe('a\\).png')
  })

  it('includes a hex escape terminator that ends the value in the span', () => {
    const css = 'a{b:url(x\\26 )}'
    const [r] = findCssRefs(css)
    expect(r.url).toBe('x&')
    expect(raw(css, r)).toBe('x\\26 ')
  })

  it('@font-face src lists with format()', () => {
    const css = `@font-face{font-family:"F";src:url("f.eot");src:url("f.eot?#iefix") format("embedded-opentype"),url(f.woff2) format("woff2"),url('f.svg#F') format('svg'),local(F)}`
    expect(urls(css)).toEqual(['f.eot', 'f.eot?#iefix', 'f.woff2', 'f.svg#F'])
    expect(findCssRefs(css).every((r) => r.kind === 'url')).toBe(true)
  })

  it('image-set: top-level strings are string refs, url() are url refs, nested strings are not refs', () => {
    const css = `a{b:image-set("a.png" 1x, url(b.png) 2x, 'c.avif' type("image/avif") 3x, ("d.png") 4x)}`
    expect(findCssRefs(css).map((r) => [r.url, r.kind, r.quote])).toEqual([
      ['a.png', 'string', '"'],
      ['b.png', 'url', undefined],
      ['c.avif', 'string', "'"],
    ])
  })

  it.each([
    ['-webkit-image-set', 'a{b:-webkit-image-set("a.png" 1x, "b.png" 2x)}', ['a.png', 'b.png']],
    ['uppercase IMAGE-SET', 'a{b:IMAGE-SET("a.png" 1x)}', ['a.png']],
    ['mixed-case -WebKit-Image-Set', 'a{b:-WebKit-Image-Set("a.png" 1x)}', ['a.png']],
    ['image-set inside another function', 'a{b:cross-fade(image-set("a.png" 1x), "x.png")}', ['a.png']],
    ['not image-set', 'a{b:my-image-set("a.png") -moz-image-set("b.png")}', []],
    ['strings after image-set closes', 'a{b:image-set("a.png" 1x) "b.png"}', ['a.png']],
  ])('%s', (_name, css, expected) => {
    expect(urls(css)).toEqual(expected)
  })

  it('image-set string refs are always quoted and have no function span', () => {
    const [r] = findCssRefs(`a{b:image-set('a.png' 1x)}`)
    expect(r).toMatchObject({ kind: 'string', quoted: true, quote: "'", fnStart: undefined, fnEnd: undefined })
  })

  it.each<[string, string, Partial<CssRef>[]]>([
    ['string form with media', '@import "x.css" screen;', [{ url: 'x.css', kind: 'string', quote: '"', isImport: true }]],
    ['single-quoted string form', "@import 'x.css';", [{ url: 'x.css', kind: 'string', quote: "'", isImport: true }]],
    ['url form, uppercase', '@IMPORT url(x.css);', [{ url: 'x.css', kind: 'url', quoted: false, isImport: true }]],
    ['quoted url form with layer', '@import url("x.css") layer(base);', [{ url: 'x.css', kind: 'url', quoted: true, isImport: true }]],
    ['comment before the string', '@import /* c */ "x.css";', [{ url: 'x.css', kind: 'string', isImport: true }]],
    ['only the first string', '@import "a.css" "b.css";', [{ url: 'a.css', isImport: true }]],
    ['not @import', '@importx "a.css"; @media print{a{b:url(a.png)}}', [{ url: 'a.png', isImport: false }]],
  ])('@import: %s', (_name, css, expected) => {
    const refs = findCssRefs(css)
    expect(refs).toHaveLength(expected.length)
    refs.forEach((r, k) => expect(r).toMatchObject(expected[k]))
  })

  it('the @import prelude ends at its semicolon', () => {
    const refs = findCssRefs('@import "a.css";\n@import url(b.css) screen;\na{background:url(c.png)}')
    expect(refs.map((r) => [r.url, r.isImport])).toEqual([
      ['a.css', true],
      ['b.css', true],
      ['c.png', false],
    ])
  })

  it('reports lines and columns across LF lines', () => {
    const css = 'a {\n  background: url(a.png);\n}\n\n.b { c: url( "b.png" ) }'
    const refs = findCssRefs(css)
    expect(refs.map((r) => [r.line, r.column])).toEqual([
      [2, 19],
      [5, 14],
    ])
    for (const r of refs) {
      const lineText = css.split('\n')[r.line - 1]
      expect(lineText.slice(r.column - 1).startsWith(raw(css, r))).toBe(true)
    }
  })

  it('reports lines and columns across CRLF and lone CR lines', () => {
    const css = 'a{}\r\n/* x\r\n */ b{c:url(a.png)}\rd{e:url(b.png)}\r\n\r\nf{g:url(c.png)}'
    expect(findCssRefs(css).map((r) => [r.url, r.line, r.column])).toEqual([
      ['a.png', 3, 13],
      ['b.png', 4, 9],
      ['c.png', 6, 9],
    ])
  })

  it('uses UTF-16 offsets with astral characters before the reference', () => {
    const css = '/* 😀😀 */a{content:"é";b:url(x.png)}'
    const [r] = findCssRefs(css)
    expect(r.start).toBe(css.indexOf('x.png'))
    expect(r.column).toBe(css.indexOf('x.png') + 1)
    expect(raw(css, r)).toBe('x.png')
  })

  it('returns references in source order', () => {
    const css = '@import "a.css";a{b:image-set("b.png" 1x,url(c.png) 2x);d:url(d.png)}'
    const refs = findCssRefs(css)
    expect(refs.map((r) => r.url)).toEqual(['a.css', 'b.png', 'c.png', 'd.png'])
    for (let k = 1; k < refs.length; k++) expect(refs[k].start).toBeGreaterThan(refs[k - 1].end)
  })
})

describe('isExternalOrSpecialUrl', () => {
  it.each<[string, boolean]>([
    ['data:image/png;base64,AAAA', true],
    ['DATA:image/png,x', true],
    ['http://example.com/a.png', true],
    ['https://example.com/a.png', true],
    ['mailto:a@b.c', true],
    ['blob:https://x/1', true],
    ['//cdn.example.com/a.png', true],
    ['\\\\cdn.example.com\\a.png', true],
    ['#gradient', true],
    ['', true],
    ['   ', true],
    ['var(--icon)', true],
    ['a.png', false],
    ['./a.png', false],
    ['../webfonts/fa.woff2', false],
    ['/abs/a.png', false],
    ['?v=1', false],
    ['a.png?v=1#x', false],
    ['fonts/my font.woff', false],
    ['variable(1).png', false],
  ])('%j -> %s', (url, expected) => {
    expect(isExternalOrSpecialUrl(url)).toBe(expected)
  })
})

describe('splitUrlSuffix', () => {
  it.each<[string, string, string]>([
    ['a/b.woff2?v=1#iefix', 'a/b.woff2', '?v=1#iefix'],
    ['font.eot?#iefix', 'font.eot', '?#iefix'],
    ['a.svg#icon?x', 'a.svg', '#icon?x'],
    ['a.png', 'a.png', ''],
    ['?only', '', '?only'],
    ['', '', ''],
  ])('%j', (url, path, suffix) => {
    expect(splitUrlSuffix(url)).toEqual({ path, suffix })
  })
})

describe('rewriteCssRefs', () => {
  it('leaves everything untouched when the replacer declines', () => {
    const css = 'a{b:URL( a\\).png );c:url("x.png")}'
    const seen: string[] = []
    const result = rewriteCssRefs(css, (r) => {
      seen.push(r.url)
      return false
    })
    expect(result).toEqual({ code: css, changed: false })
    expect(seen).toEqual(['a).png', 'x.png'])
  })

  it('keeps the original bytes when the replacer returns the same url', () => {
    const css = "a{b:url(  a\\).png  );c:url( 'a\\'b'  );d:url(\\61 .png)}"
    const result = rewriteCssRefs(css, (r) => r.url)
    expect(result.code).toBe(css)
    expect(result.changed).toBe(false)
  })

  it.each<[string, string, string, string]>([
    ['plain unquoted', 'a{b:url(a.png)}', 'assets/a-1.png', 'a{b:url(assets/a-1.png)}'],
    ['unquoted with spaces around', 'a{b:url( a.png )}', 'b.png', 'a{b:url( b.png )}'],
    ['unquoted needing quotes (space)', 'a{b:url(a.png)}', 'my file.png', 'a{b:url("my file.png")}'],
    ['unquoted needing quotes (parens)', 'a{b:url(a.png)}', 'a(1).png', 'a{b:url("a(1).png")}'],
    ['unquoted needing quotes (double quote)', 'a{b:url(a.png)}', 'a"b.png', 'a{b:url("a\\"b.png")}'],
    ['unquoted needing quotes (single quote)', 'a{b:url(a.png)}', "it's.png", `a{b:url("it's.png")}`],
    ['unquoted needing quotes (backslash)', 'a{b:url(a.png)}', 'a\\b.png', 'a{b:url("a\\\\b.png")}'],
    ['unquoted needing quotes (newline)', 'a{b:url(a.png)}', 'a\nb.png', 'a{b:url("a\\a b.png")}'],
    ['unquoted, unicode needs no quotes', 'a{b:url(a.png)}', 'ü/😀.png', 'a{b:url(ü/😀.png)}'],
    ['unquoted escaped original, new plain value', 'a{b:url(a\\ b.png)}', 'c.png', 'a{b:url(c.png)}'],
    ['double quote kept', 'a{b:url("a.png")}', 'b c.png', 'a{b:url("b c.png")}'],
    ['single quote kept', "a{b:url('a.png')}", 'b.png', "a{b:url('b.png')}"],
    ['single quote escaped inside single quotes', "a{b:url('a.png')}", "it's.png", "a{b:url('it\\'s.png')}"],
    ['double quote not escaped inside single quotes', "a{b:url('a.png')}", 'a"b.png', `a{b:url('a"b.png')}`],
    ['double quote escaped inside double quotes', 'a{b:url("a.png")}', 'a"b.png', 'a{b:url("a\\"b.png")}'],
    ['backslash escaped inside quotes', 'a{b:url("a.png")}', 'a\\b.png', 'a{b:url("a\\\\b.png")}'],
    ['query and fragment preserved by caller', 'a{src:url(f.eot?#iefix)}', 'f-1.eot?#iefix', 'a{src:url(f-1.eot?#iefix)}'],
    ['empty url() filled in', 'a{b:url()}', 'x.png', 'a{b:url(x.png)}'],
    ['image-set string keeps its quote', "a{b:image-set('a.png' 1x)}", 'b.png', "a{b:image-set('b.png' 1x)}"],
    ['@import string', '@import "a.css";', 'b.css', '@import "b.css";'],
  ])('%s', (_name, css, next, expected) => {
    const result = rewriteCssRefs(css, () => next)
    expect(result.code).toBe(expected)
    expect(result.changed).toBe(true)
    // The rewritten value reads back as the replacement.
    expect(findCssRefs(result.code).map((r) => r.url)).toEqual([next])
  })

  it('only rewrites the references the replacer chooses', () => {
    const css = '@import "a.css";a{b:url(data:image/png,x);c:url(//cdn/x.png);d:url(d.png);e:url("#f")}'
    const result = rewriteCssRefs(css, (r) => (r.isImport || isExternalOrSpecialUrl(r.url) ? false : 'x/' + r.url))
    expect(result.code).toBe('@import "a.css";a{b:url(data:image/png,x);c:url(//cdn/x.png);d:url(x/d.png);e:url("#f")}')
    expect(result.changed).toBe(true)
  })

  it('lowercases url functions when asked, even if the value is kept', () => {
    const css = 'a{b:URL(a.png);c:Url("b.png");d:url(c.png)}'
    const kept = rewriteCssRefs(css, () => false, { lowercaseUrlFunctions: true })
    expect(kept.code).toBe('a{b:url(a.png);c:url("b.png");d:url(c.png)}')
    expect(kept.changed).toBe(true)
    const both = rewriteCssRefs(css, prefix, { lowercaseUrlFunctions: true })
    expect(both.code).toBe('a{b:url(x/a.png);c:url("x/b.png");d:url(x/c.png)}')
  })

  it('does not lowercase url functions unless asked', () => {
    const css = 'a{b:URL(a.png)}'
    expect(rewriteCssRefs(css, () => false)).toEqual({ code: css, changed: false })
    expect(rewriteCssRefs(css, prefix).code).toBe('a{b:URL(x/a.png)}')
  })

  it('urlFunction names the function of chosen references, over lowercaseUrlFunctions', () => {
    const css = 'a{b:url(a.png);c:Url("b.png");d:URL(c.png)}'
    const upper = (r: CssRef) => (r.url === 'c.png' ? undefined : 'URL')
    expect(rewriteCssRefs(css, prefix, { lowercaseUrlFunctions: true, urlFunction: upper }).code).toBe('a{b:URL(x/a.png);c:URL("x/b.png");d:url(x/c.png)}')
    // the name alone changes when the value is kept
    expect(rewriteCssRefs('a{b:url(a.png)}', () => false, { urlFunction: () => 'URL' })).toMatchObject({ code: 'a{b:URL(a.png)}', changed: true })
    expect(rewriteCssRefs('a{b:URL(a.png)}', () => false, { urlFunction: () => 'URL' })).toEqual({ code: 'a{b:URL(a.png)}', changed: false })
  })

  it('lowercaseUrlFunctions leaves an already lowercase stylesheet unchanged', () => {
    const css = 'a{b:url(a.png)}'
    expect(rewriteCssRefs(css, () => false, { lowercaseUrlFunctions: true })).toEqual({ code: css, changed: false })
  })

  it('produces a source map that maps rewritten positions back', () => {
    const css = 'a {\n  background: url(img/a.png) no-repeat;\n}\n.b { color: red }\n'
    const result = rewriteCssRefs(css, (r) => 'assets/a-0123456789.png', {
      sourcemap: true,
      filename: 'src/style.css',
    })
    expect(result.changed).toBe(true)
    const map = result.map!
    expect(map).toBeDefined()
    expect(map.sources).toEqual(['src/style.css'])
    expect(map.sourcesContent).toEqual([css])
    expect(map.mappings.length).toBeGreaterThan(0)
    const check = (needle: string) => {
      const gen = position(result.code, result.code.indexOf(needle))
      const orig = position(css, css.indexOf(needle))
      expect(originalPositionFor(map.mappings, gen.line, gen.column)).toEqual(orig)
    }
    check(') no-repeat')
    check('no-repeat')
    check('.b')
    check('red')
  })

  it('produces no map when nothing changed (the input keeps its own)', () => {
    const css = 'a{b:url(a.png)}\nc{d:e}'
    const result = rewriteCssRefs(css, () => false, { sourcemap: true, filename: 'x.css' })
    expect(result.changed).toBe(false)
    expect(result.code).toBe(css)
    expect(result.map).toBeUndefined()
  })

  it('does not produce a map unless asked', () => {
    expect(rewriteCssRefs('a{b:url(a.png)}', prefix).map).toBeUndefined()
  })
})

describe('spliceCssRefs', () => {
  const css = '@import "a.css";\na{b:URL(b.png);c:image-set("c.png" 1x, url(d.png) 2x)}\n/* url(no.png) */e{f:url( "g h.png" )}'

  it('calls the replacer once per reference, in source order, with the references findCssRefs finds', () => {
    const refs = findCssRefs(css)
    expect(refs.map((r) => r.url)).toEqual(['a.css', 'b.png', 'c.png', 'd.png', 'g h.png'])
    const seen: CssRef[] = []
    const result = spliceCssRefs(css, refs, (r) => {
      seen.push(r)
      return false
    })
    expect(seen).toEqual(refs)
    expect(seen.every((r, k) => r === refs[k])).toBe(true)
    expect(result).toEqual({ code: css, changed: false })
    // rewriteCssRefs, which scans for itself, sees the same references in the same order
    const rescanned: string[] = []
    rewriteCssRefs(css, (r) => {
      rescanned.push(`${r.start}:${r.url}`)
      return false
    })
    expect(rescanned).toEqual(refs.map((r) => `${r.start}:${r.url}`))
  })

  it('writes what rewriteCssRefs writes, with and without a source map', () => {
    for (const options of [{}, { lowercaseUrlFunctions: true }, { lowercaseUrlFunctions: true, sourcemap: true, filename: 'x.css' }]) {
      expect(spliceCssRefs(css, findCssRefs(css), prefix, options)).toEqual(rewriteCssRefs(css, prefix, options))
    }
    expect(spliceCssRefs(css, findCssRefs(css), prefix, { lowercaseUrlFunctions: true }).code).toBe(
      '@import "x/a.css";\na{b:url(x/b.png);c:image-set("x/c.png" 1x, url(x/d.png) 2x)}\n/* url(no.png) */e{f:url( "x/g h.png" )}',
    )
  })

  it('edits only the references it is given: the text is not scanned again', () => {
    const refs = findCssRefs(css)
    const result = spliceCssRefs(css, refs.slice(2, 4), prefix)
    expect(result.code).toBe(css.replace('"c.png"', '"x/c.png"').replace('url(d.png)', 'url(x/d.png)'))
    expect(spliceCssRefs(css, [], prefix, { lowercaseUrlFunctions: true })).toEqual({ code: css, changed: false })
  })
})

// Minimal source-map decoding for the assertions above (0-based lines and columns).
function position(text: string, index: number) {
  const before = text.slice(0, index).split('\n')
  return { line: before.length - 1, column: before[before.length - 1].length }
}

function decodeMappings(mappings: string): number[][][] {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const lines: number[][][] = []
  const state = [0, 0, 0, 0, 0]
  for (const line of mappings.split(';')) {
    state[0] = 0
    const segments: number[][] = []
    for (const seg of line.split(',')) {
      if (!seg) continue
      const values: number[] = []
      let shift = 0
      let value = 0
      for (const ch of seg) {
        const digit = chars.indexOf(ch)
        value += (digit & 31) << shift
        if (digit & 32) shift += 5
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      values.forEach((v, k) => (state[k] += v))
      segments.push(state.slice(0, values.length))
    }
    lines.push(segments)
  }
  return lines
}

function originalPositionFor(mappings: string, line: number, column: number) {
  const segments = decodeMappings(mappings)[line] ?? []
  let best: number[] | undefined
  for (const s of segments) if (s[0] <= column && s.length >= 4) best = s
  if (!best) return undefined
  return { line: best[2], column: best[3] + (column - best[0]) }
}

describe('properties', () => {
  const fragments = [
    'url(',
    'URL(',
    'Url( ',
    ')',
    '(',
    '"',
    "'",
    '/*',
    '*/',
    '\\',
    '\\)',
    '\\26 ',
    'image-set(',
    '-webkit-image-set(',
    '@import ',
    '@IMPORT ',
    ';',
    '{',
    '}',
    '[',
    ']',
    '\n',
    '\r\n',
    '\r',
    ' ',
    '\t',
    'a',
    'b.png',
    'x',
    '#',
    '?',
    '-',
    '1',
    '.',
    'é',
    '😀',
    '\0',
    '\u0001',
    ',',
    'type(',
  ]
  const cssLike = fc.array(fc.constantFrom(...fragments), { maxLength: 60 }).map((parts) => parts.join(''))
  const inputs = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 100 }), cssLike, cssLike)

  it('identity rewrites return the input exactly, and refs are within bounds', () => {
    fc.assert(
      fc.property(inputs, (css) => {
        const refs = findCssRefs(css)
        for (const r of refs) {
          if (!(0 <= r.start && r.start <= r.end && r.end <= css.length)) return false
          if (r.fnStart !== undefined && !(0 <= r.fnStart && r.fnStart < r.fnEnd! && r.fnEnd! <= r.start)) return false
          if (r.line < 1 || r.column < 1) return false
        }
        for (let k = 1; k < refs.length; k++) if (refs[k].start < refs[k - 1].end) return false
        const same = rewriteCssRefs(css, (r) => r.url)
        const declined = rewriteCssRefs(css, () => false)
        return same.code === css && !same.changed && declined.code === css && !declined.changed
      }),
      { numRuns: FC_RUNS },
    )
  })

  it('the same references whether or not an @import may follow (which keeps the whole scan in exact mode)', () => {
    const key = (r: CssRef) => [r.url, r.kind, r.quote, r.start, r.end, r.fnStart, r.fnEnd, r.isImport, r.line, r.column]
    // what the name before a `(` may be part of, and what an escape may spell
    const nearMisses = ['#url(', '@url(', '1url(', '1.url(', '-url(', '.url(', '#image-set(', '@-webkit-image-set(', 'u\\72l(', '\\75rl(', '@\\69mport ', 'a\\(url(']
    const around = [')', '(', 'a.png', '"b.png"', "'c.png'", ' ', '\n', ';', '{', '}', '[', ']', '/*', '*/', '\\', 'image-set(', 'url(', 'url("d.png"', '@import ', 'x']
    const mixed = fc.array(fc.constantFrom(...nearMisses, ...around), { maxLength: 40 }).map((parts) => parts.join(''))
    fc.assert(
      fc.property(fc.oneof(inputs, mixed), (css) => {
        const plain = findCssRefs(css).map(key)
        const exact = findCssRefs(css + '/*@import*/').map(key)
        return JSON.stringify(plain) === JSON.stringify(exact)
      }),
      { numRuns: FC_RUNS },
    )
  })

  it('spliceCssRefs with the references found writes what rewriteCssRefs writes', () => {
    fc.assert(
      fc.property(cssLike, (css) => {
        const next = (r: CssRef) => (r.start % 2 === 0 ? 'n' + r.url + ' x' : false)
        const options = { urlFunction: (r: CssRef) => (r.url.length % 2 === 0 ? 'URL' : undefined), lowercaseUrlFunctions: true }
        const spliced = spliceCssRefs(css, findCssRefs(css), next, options)
        const rewritten = rewriteCssRefs(css, next, options)
        return spliced.code === rewritten.code && spliced.changed === rewritten.changed
      }),
      { numRuns: FC_RUNS },
    )
  })

  it('rewritten values read back as the replacement', () => {
    fc.assert(
      fc.property(cssLike, fc.string({ unit: 'grapheme', maxLength: 12 }), (css, name) => {
        const before = findCssRefs(css)
        const next = 'n' + name.replace(/^\s+|\s+$/g, '')
        const result = rewriteCssRefs(css, () => next)
        const after = findCssRefs(result.code)
        if (after.length !== before.length) return false
        return after.every((r, k) => r.url === next.replace(/[\0]/g, '\uFFFD').replace(/[\0-\x20]+$/, '') && r.kind === before[k].kind)
      }),
      { numRuns: FC_RUNS },
    )
  })
})

describe('real stylesheets', () => {
  const require = createRequire(import.meta.url)
  const bootstrapDir = require.resolve('bootstrap/package.json').replace(/package\.json$/, '')
  const faDir = require.resolve('@fortawesome/fontawesome-free/package.json').replace(/package\.json$/, '')
  const files = [
    `${bootstrapDir}dist/css/bootstrap.css`,
    `${bootstrapDir}dist/css/bootstrap.min.css`,
    `${faDir}css/all.css`,
    `${faDir}css/all.min.css`,
  ].filter((f) => existsSync(f))

  it('finds the stylesheets', () => {
    expect(files.length).toBe(4)
  })

  it.each(files)('identity rewrite of %s is byte-identical', (file) => {
    const css = readFileSync(file, 'utf8')
    expect(rewriteCssRefs(css, (r) => r.url).code).toBe(css)
    const declined = rewriteCssRefs(css, () => false, { sourcemap: true })
    expect(declined.code).toBe(css)
    expect(declined.changed).toBe(false)
  })

  it('bootstrap: only data: URIs, all as url() values', () => {
    const css = readFileSync(`${bootstrapDir}dist/css/bootstrap.css`, 'utf8')
    const refs = findCssRefs(css)
    expect(refs.length).toBeGreaterThanOrEqual(20)
    expect(refs.length).toBeLessThanOrEqual(css.split('url(').length - 1)
    for (const r of refs) {
      expect(r.kind).toBe('url')
      expect(r.url.startsWith('data:image/svg+xml,')).toBe(true)
      expect(isExternalOrSpecialUrl(r.url)).toBe(true)
      expect(raw(css, r).startsWith('"data:')).toBe(true)
    }
  })

  it('font-awesome: @font-face src urls point at ../webfonts', () => {
    const css = readFileSync(`${faDir}css/all.css`, 'utf8')
    const refs = findCssRefs(css)
    expect(refs.length).toBeGreaterThanOrEqual(3)
    expect(refs.every((r) => r.kind === 'url' && !r.isImport)).toBe(true)
    expect(refs.every((r) => r.url.startsWith('../webfonts/'))).toBe(true)
    expect(refs.map((r) => r.url)).toEqual(expect.arrayContaining(['../webfonts/fa-solid-900.woff2', '../webfonts/fa-brands-400.woff2']))
    for (const r of refs) {
      expect(css.slice(r.start - 4, r.start)).toBe('url(')
      // Inside an @font-face block, in its src descriptor.
      const before = css.slice(0, r.start)
      expect(before.lastIndexOf('@font-face')).toBeGreaterThan(before.lastIndexOf('}'))
      expect(before.lastIndexOf('src:')).toBeGreaterThan(before.lastIndexOf('{'))
    }
    const rewritten = rewriteCssRefs(css, (r) => r.url.replace('../webfonts/', '../assets/'))
    expect(rewritten.changed).toBe(true)
    expect(findCssRefs(rewritten.code).map((r) => r.url)).toEqual(refs.map((r) => r.url.replace('../webfonts/', '../assets/')))
    expect(rewritten.code.length).toBe(css.length + refs.length * ('assets'.length - 'webfonts'.length))
  })
})
