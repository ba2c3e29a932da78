import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addIntegrity, encodeAttributeValue, findHtmlRefs, rewriteHtml, type HtmlRef } from '../src/build/html-refs.js'

/** [tag, attr, value] of every ref, the compact form most cases compare against. */
const triples = (html: string) => findHtmlRefs(html).map((r) => [r.tag, r.attr, r.value])
const values = (html: string) => findHtmlRefs(html).map((r) => r.value)

/** Every ref's span must hold its raw text; when that text has no reference or CR it equals the value. */
function checkSpans(html: string, refs: HtmlRef[]) {
  for (const r of refs) {
    expect(r.start).toBeGreaterThanOrEqual(0)
    expect(r.end).toBeGreaterThanOrEqual(r.start)
    expect(r.end).toBeLessThanOrEqual(html.length)
    const raw = html.slice(r.start, r.end)
    if (!/[&\r\0]/.test(raw)) expect(raw).toBe(r.value)
  }
}

describe('findHtmlRefs: which references count', () => {
  it.each([
    ['<img src="a.png">', [['img', 'src', 'a.png']]],
    ['<source src="a.mp4">', [['source', 'src', 'a.mp4']]],
    ['<video poster="p.jpg" src="v.mp4"></video>', [['video', 'poster', 'p.jpg'], ['video', 'src', 'v.mp4']]],
    ['<audio src="a.mp3"></audio>', [['audio', 'src', 'a.mp3']]],
    ['<track src="t.vtt">', [['track', 'src', 't.vtt']]],
    ['<input type="image" src="go.png">', [['input', 'src', 'go.png']]],
    ['<input TYPE=IMAGE src="go.png">', [['input', 'src', 'go.png']]],
    ['<embed src="e.swf">', [['embed', 'src', 'e.swf']]],
    ['<object data="o.svg"></object>', [['object', 'data', 'o.svg']]],
    ['<script src="/m.js"></script>', [['script', 'src', '/m.js']]],
    ['<link rel="stylesheet" href="s.css">', [['link', 'href', 's.css']]],
    ['<link rel="icon" href="favicon.ico">', [['link', 'href', 'favicon.ico']]],
    ['<link rel="shortcut icon" href="f.ico">', [['link', 'href', 'f.ico']]],
    ['<link rel="apple-touch-icon" href="t.png">', [['link', 'href', 't.png']]],
    ['<link rel="apple-touch-icon-precomposed" href="t.png">', [['link', 'href', 't.png']]],
    ['<link rel="mask-icon" href="m.svg" color="#000">', [['link', 'href', 'm.svg']]],
    ['<link rel="preload" as="font" href="f.woff2">', [['link', 'href', 'f.woff2']]],
    ['<link rel="modulepreload" href="/c.js">', [['link', 'href', '/c.js']]],
    ['<link rel="prefetch" href="/n.js">', [['link', 'href', '/n.js']]],
    ['<link rel="manifest" href="/site.webmanifest">', [['link', 'href', '/site.webmanifest']]],
    ['<link href="s.css" REL=" Alternate\tStyleSheet ">', [['link', 'href', 's.css']]],
    ['<svg><image href="i.png"/></svg>', [['image', 'href', 'i.png']]],
    ['<svg><image xlink:href="i.png"/></svg>', [['image', 'xlink:href', 'i.png']]],
    ['<svg><use href="sprite.svg#a"/><use XLINK:HREF="#b"></use></svg>', [['use', 'href', 'sprite.svg#a'], ['use', 'xlink:href', '#b']]],
    ['<image src="legacy.png">', [['img', 'src', 'legacy.png']]],
    ['<template><img src="t.png"></template>', [['img', 'src', 't.png']]],
    ['<noscript><link rel=stylesheet href=ns.css></noscript>', [['link', 'href', 'ns.css']]],
  ])('%s', (html, expected) => {
    expect(triples(html)).toEqual(expected)
    checkSpans(html, findHtmlRefs(html))
  })

  it.each([
    '<a href="page.html">x</a>',
    '<area href="map.html">',
    '<form action="/post"></form>',
    '<button formaction="/go">x</button>',
    '<base href="/">',
    '<meta property="og:image" content="https://example.com/og.png">',
    '<meta name="twitter:image" content="/og.png">',
    '<iframe src="frame.html"></iframe>',
    '<blockquote cite="src.html">q</blockquote>',
    '<img data-src="lazy.png" data-srcset="lazy.png 2x">',
    '<div src="x.png" srcset="y.png 2x" poster="p.png" data="d.bin"></div>',
    '<input type="text" src="x.png">',
    '<input src="x.png">',
    '<link rel="canonical" href="https://example.com/">',
    '<link rel="alternate" hreflang="de" href="/de/">',
    '<link rel="author" href="humans.txt"><link rel="help" href="h.html"><link rel="license" href="l.html">',
    '<link rel="next" href="2.html"><link rel="prev" href="0.html"><link rel="search" href="os.xml">',
    '<link rel="dns-prefetch" href="//cdn.example"><link rel="preconnect" href="https://cdn.example">',
    '<link href="no-rel.css">',
    '<link rel="stylesheet" imagesrcset="a.png 1x">',
    '<use href="not-in-svg.svg#a"></use>',
    '<svg><a href="x.html"><text>t</text></a></svg>',
    '<video></video><img src="" srcset=" ">',
    '<img src>',
    '<img src= >',
  ])('nothing from %s', (html) => {
    expect(findHtmlRefs(html)).toEqual([])
  })

  it('reports every URL, including absolute, data: and fragment ones', () => {
    expect(values('<img src="https://cdn.example/a.png"><img src="data:image/png;base64,AAAA"><svg><use href="#i"/></svg>')).toEqual([
      'https://cdn.example/a.png',
      'data:image/png;base64,AAAA',
      '#i',
    ])
  })

  it('link imagesrcset counts for rel=preload', () => {
    const html = '<link rel="preload" as="image" href="a.png" imagesrcset="a.png 1x, a@2x.png 2x">'
    expect(findHtmlRefs(html).map((r) => [r.kind, r.attr, r.value])).toEqual([
      ['attr', 'href', 'a.png'],
      ['srcset', 'imagesrcset', 'a.png'],
      ['srcset', 'imagesrcset', 'a@2x.png'],
    ])
  })
})

describe('findHtmlRefs: styles', () => {
  it('reports style attributes on any element with their quote', () => {
    const html = `<div style="background:url('a.png')"></div><p style='color:red'></p><span style=x:y></span>`
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.kind, r.tag, r.attr, r.value, r.quote])).toEqual([
      ['style', 'div', 'style', "background:url('a.png')", '"'],
      ['style', 'p', 'style', 'color:red', "'"],
      ['style', 'span', 'style', 'x:y', ''],
    ])
    checkSpans(html, refs)
  })

  it('decodes style attributes but spans the raw text', () => {
    const html = '<i style="background:url(&quot;a b.png&quot;)">'
    const [ref] = findHtmlRefs(html)
    expect(ref.value).toBe('background:url("a b.png")')
    expect(html.slice(ref.start, ref.end)).toBe('background:url(&quot;a b.png&quot;)')
  })

  it('reports <style> element content raw, with attr ""', () => {
    const css = '\n  body { background: url(bg.png) } /* &amp; */ a::before { content: "</sty" }\n'
    const html = `<head><STYLE media="all">${css}</STYLE></head>`
    const refs = findHtmlRefs(html)
    expect(refs).toHaveLength(1)
    expect(refs[0]).toMatchObject({ kind: 'style', tag: 'style', attr: '', quote: '', value: css })
    expect(html.slice(refs[0].start, refs[0].end)).toBe(css)
  })

  it('does not report markup inside <style> or empty styles', () => {
    expect(triples('<style>/* <img src="no.png"> */</style><style>  </style><b style="">x</b>')).toEqual([
      ['style', '', '/* <img src="no.png"> */'],
    ])
  })

  it('reports SVG <style> text and CDATA, and keeps parsing markup after it', () => {
    const html = '<svg><style><![CDATA[ .a { fill: url(#g) } ]]></style><style>.b{mask:url(m.svg)}</style><image href="i.png"/></svg>'
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.kind, r.value])).toEqual([
      ['style', ' .a { fill: url(#g) } '],
      ['style', '.b{mask:url(m.svg)}'],
      ['attr', 'i.png'],
    ])
    checkSpans(html, refs)
  })

  it('an unterminated <style> still counts: the parser closes it at the end and the browser applies it', () => {
    expect(findHtmlRefs('<img src="a.png"><style>body{background:url(x.png)}').map((r) => [r.kind, r.value])).toEqual([
      ['attr', 'a.png'],
      ['style', 'body{background:url(x.png)}'],
    ])
  })
})

describe('findHtmlRefs: character references', () => {
  it.each([
    ['a.png?x=1&amp;y=2', 'a.png?x=1&y=2'],
    ['&#47;assets&#x2F;a.png', '/assets/a.png'],
    ['&#X2f;a&#47b.png', '/a/b.png'],
    ['&lt;&gt;&quot;&apos;&nbsp;', '<>"\'\u00a0'],
    ['&AMP;&LT;&GT;&QUOT;', '&<>"'],
    ['a.png?a=1&amp=2', 'a.png?a=1&amp=2'],
    ['a.png?a=1&ampx', 'a.png?a=1&ampx'],
    ['a.png?a&amp b', 'a.png?a& b'],
    ['a&unknown;b', 'a&unknown;b'],
    ['a&#;b&#x;c', 'a&#;b&#x;c'],
    ['&#0;&#x110000;&#xD800;', '\ufffd\ufffd\ufffd'],
    ['&#128;&#x99;', '\u20ac\u2122'],
    ['&#x1F600;.png', '\u{1F600}.png'],
    ['&sol;x&colon;y&num;z', '/x:y#z'],
    ['&apos', '&apos'],
  ])('%s decodes to %s', (raw, decoded) => {
    const html = `<img src="${raw}">`
    const [ref] = findHtmlRefs(html)
    expect(ref.value).toBe(decoded)
    expect(html.slice(ref.start, ref.end)).toBe(raw)
  })

  it('trims whitespace, including encoded whitespace, from the span', () => {
    const html = '<img src="  \n a.png\t ">'
    const [ref] = findHtmlRefs(html)
    expect(ref.value).toBe('a.png')
    expect(html.slice(ref.start, ref.end)).toBe('a.png')
    const html2 = '<img src="&#32;b.png&#10;">'
    const [ref2] = findHtmlRefs(html2)
    expect(ref2.value).toBe('b.png')
    expect(html2.slice(ref2.start, ref2.end)).toBe('b.png')
  })

  it('normalizes CR in attribute values like the HTML input stream', () => {
    expect(findHtmlRefs('<i style="a:b;\r\nc:d;\re:f">')[0].value).toBe('a:b;\nc:d;\ne:f')
  })
})

describe('findHtmlRefs: tokenizing', () => {
  it.each([
    ['unquoted', '<img src=a.png alt=x>', ['a.png']],
    ['unquoted ending in / before >', '<img src=a/b/>', ['a/b/']],
    ['whitespace around =', '<img src \n=\t "a.png">', ['a.png']],
    ['newlines between attributes', '<img\nalt="x"\r\n  src="a.png"\n>', ['a.png']],
    ['uppercase names', '<IMG SRC="A.PNG" SrcSet="B.PNG 2X">', ['A.PNG', 'B.PNG']],
    ['> inside quoted values', '<img alt="a > b" title=\'<x>\' src="a.png">', ['a.png']],
    ['duplicate attributes: first wins', '<img src="first.png" src="second.png">', ['first.png']],
    ['duplicate rel: first wins', '<link rel="stylesheet" rel="canonical" href="s.css"><link rel="canonical" rel="stylesheet" href="c.html">', ['s.css']],
    ['attributes without values', '<script async defer src="m.js" nomodule></script>', ['m.js']],
    ['no space between quoted attributes', '<img alt="x"src="a.png">', ['a.png']],
    ['self-closing', '<img src="a.png"/><source src="b.webm" />', ['a.png', 'b.webm']],
    ['< that starts no tag', '<p>1 < 2 <= 3 <3 < img src="no.png"></p><img src="yes.png">', ['yes.png']],
    ['doctype', '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x"><img src="a.png">', ['a.png']],
    ['processing instruction', '<?xml version="1.0"?><img src="a.png">', ['a.png']],
    ['bogus comment', '<!x <img src="no.png"><img src="a.png">', ['a.png']],
    ['end tag with attributes', '</div src="no.png"><img src="a.png">', ['a.png']],
    ['</> is ignored', '</><img src="a.png">', ['a.png']],
    ['CDATA outside SVG is a bogus comment', '<![CDATA[ <img src="no.png"> ]]><img src="a.png">', ['a.png']],
    ['CDATA in SVG', '<svg><![CDATA[ <image href="no.png"/> ]]><image href="a.png"/></svg>', ['a.png']],
    ['svg ended', '<svg></svg><use href="no.svg#x"></use>', []],
    ['svg self-closed', '<svg/><use href="no.svg#x"></use>', []],
    ['breakout from svg', '<svg><p><use href="no.svg#x"></use>', []],
    ['nested svg', '<svg><svg></svg><use href="#a"/></svg>', ['#a']],
  ])('%s', (_, html, expected) => {
    expect(values(html)).toEqual(expected)
    checkSpans(html, findHtmlRefs(html))
  })

  it.each([
    ['comments', '<!-- <img src="no.png"> --><img src="a.png"><!----><!-- x --!><img src="b.png">', ['a.png', 'b.png']],
    ['abruptly closed comments', '<!--><img src="a.png"><!---><img src="b.png">', ['a.png', 'b.png']],
    ['script content', '<script>document.write(\'<img src="no.png">\')</script ><img src="a.png">', ['a.png']],
    ['script content with uppercase end tag', '<script type="module">x = "</scriptx>"; y = "<img src=no.png>"</SCRIPT><img src="a.png">', ['a.png']],
    ['textarea and title', '<title><img src="no.png"></title><textarea><img src="no.png"></textarea><img src="a.png">', ['a.png']],
    ['iframe, xmp, noembed, noframes content', '<iframe><img src="n.png"></iframe><xmp><img src="n.png"></xmp><noembed><img src=n></noembed><noframes><img src=n></noframes><img src="a.png">', ['a.png']],
    ['plaintext', '<img src="a.png"><plaintext><img src="no.png">', ['a.png']],
    ['svg title is not RCDATA', '<svg><title>t</title><use href="#a"/></svg>', ['#a']],
  ])('skips %s', (_, html, expected) => {
    expect(values(html)).toEqual(expected)
  })

  it.each([
    ['unterminated comment', '<img src="a.png"><!-- <img src="no.png">'],
    ['unterminated tag', '<img src="a.png"><img src="no.png"'],
    ['unterminated quoted value', '<img src="a.png"><img src="no.png>'],
    ['unterminated unquoted value', '<img src="a.png"><img src=no.png'],
    ['unterminated after =', '<img src="a.png"><img src='],
    ['unterminated script', '<img src="a.png"><script><img src="no.png">'],
    ['unterminated doctype', '<img src="a.png"><!doctype html'],
    ['unterminated CDATA', '<img src="a.png"><svg><![CDATA[<image href="no.png"/>'],
    ['trailing <', '<img src="a.png"><'],
    ['trailing </', '<img src="a.png"></'],
  ])('%s: no refs from the unterminated part', (_, html) => {
    expect(values(html)).toEqual(['a.png'])
  })

  it('handles an empty document and one without markup', () => {
    expect(findHtmlRefs('')).toEqual([])
    expect(findHtmlRefs('just text & more')).toEqual([])
  })
})

describe('findHtmlRefs: srcset', () => {
  it.each([
    ['a.png', ['a.png']],
    ['a.png 1x, b.png 2x', ['a.png', 'b.png']],
    ['a.png 300w,b.png 600w', ['a.png', 'b.png']],
    ['  a.png  ,  b.png  ', ['a.png', 'b.png']],
    ['a.png?x=1,2 1x, b.png 2x', ['a.png?x=1,2', 'b.png']],
    ['a.png,b.png 2x', ['a.png,b.png']],
    ['a.png,, b.png,,,', ['a.png', 'b.png']],
    [',,a.png', ['a.png']],
    ['a.png (foo, bar) 1x, b.png 2x', ['a.png', 'b.png']],
    ['a.png 1x (unclosed, c.png', ['a.png']],
    ['data:image/png;base64,AAA= 1x, b.png 2x', ['data:image/png;base64,AAA=', 'b.png']],
    ['\n a.png\n 1x,\n b.png\n 2x\n', ['a.png', 'b.png']],
    ['a.png&#44; b.png', ['a.png', 'b.png']],
    ['a.png?x&amp;y 1x, b&#47;c.png 2x', ['a.png?x&y', 'b/c.png']],
  ])('%s', (srcset, expected) => {
    const html = `<img srcset="${srcset}">`
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => r.value)).toEqual(expected)
    expect(refs.every((r) => r.kind === 'srcset' && r.attr === 'srcset' && r.quote === '"')).toBe(true)
    checkSpans(html, refs)
  })

  it('maps each candidate to its raw encoded span', () => {
    const html = `<source srcset='a.png?x&amp;y 1x, b&#47;c.png 2x'>`
    expect(findHtmlRefs(html).map((r) => html.slice(r.start, r.end))).toEqual(['a.png?x&amp;y', 'b&#47;c.png'])
  })
})

describe('findHtmlRefs: positions', () => {
  it('gives exact offsets and 1-based line/column', () => {
    const html = '<!doctype html>\n<html>\r\n  <head>\r    <link rel=icon href=/favicon.ico>\n<img\n src="a.png" srcset="b.png 1x, c.png 2x">'
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.value, r.line, r.column])).toEqual([
      ['/favicon.ico', 4, 25],
      ['a.png', 6, 7],
      ['b.png', 6, 22],
      ['c.png', 6, 32],
    ])
    for (const r of refs) expect(html.slice(r.start, r.end)).toBe(r.value)
    expect(refs[0].quote).toBe('')
  })

  it('parses a Vite-built page', () => {
    const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="/vite.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta property="og:image" content="/og.png" />
    <title>App</title>
    <script type="module" crossorigin src="/assets/index-BTz6DPpz.js"></script>
    <link rel="modulepreload" crossorigin href="/assets/vendor-Cz1Pq7sA.js">
    <link rel="stylesheet" crossorigin href="/assets/index-RG1A8RR5.css">
  </head>
  <body>
    <div id="app"></div>
    <a href="/about">About</a>
  </body>
</html>
`
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.tag, r.attr, r.value, r.line])).toEqual([
      ['link', 'href', '/vite.svg', 5],
      ['script', 'src', '/assets/index-BTz6DPpz.js', 9],
      ['link', 'href', '/assets/vendor-Cz1Pq7sA.js', 10],
      ['link', 'href', '/assets/index-RG1A8RR5.css', 11],
    ])
    checkSpans(html, refs)
    expect(refs[1].column).toBe(html.split('\n')[8].indexOf('/assets') + 1)
  })

  it('returns refs in source order across attributes, styles and elements', () => {
    const html = '<img style="a:b" src="1.png" srcset="2.png"><style>c{}</style><video poster="3.png">'
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => r.start)).toEqual([...refs.map((r) => r.start)].sort((a, b) => a - b))
    expect(refs.map((r) => r.value)).toEqual(['a:b', '1.png', '2.png', 'c{}', '3.png'])
  })
})

describe('encodeAttributeValue', () => {
  it.each([
    ['a.png?x=1&y=2', '"', 'a.png?x=1&amp;y=2'],
    [`it's "q"`, '"', `it's &quot;q&quot;`],
    [`it's "q"`, "'", `it&#39;s "q"`],
    ['a b=c>d', '', 'a&#32;b&#61;c&#62;d'],
    ['', '', '""'],
    ['', '"', ''],
  ] as const)('%s with quote %s', (url, quote, expected) => {
    expect(encodeAttributeValue(url, quote)).toBe(expected)
  })

  const quotes = ['"', "'", ''] as const
  const urlArb = fc
    .string({ unit: fc.constantFrom('a', '/', '&', ';', '#', '"', "'", ' ', '\t', '\n', '\r', '=', '<', '>', '`', ',', 'x', '1', 'amp', '&amp;', '&#47;', 'é', '\u{1F600}') })
    .filter((s) => /^[^ \t\n\r].*[^ \t\n\r]$|^[^ \t\n\r]$/s.test(s))

  it('round-trips through findHtmlRefs with every quoting', () => {
    fc.assert(
      fc.property(urlArb, fc.constantFrom(...quotes), (url, quote) => {
        const html = `<p>x</p><img alt=1 src=${quote}${encodeAttributeValue(url, quote)}${quote} alt=2>`
        const refs = findHtmlRefs(html)
        expect(refs).toHaveLength(1)
        expect(refs[0].value).toBe(url)
        expect(refs[0].quote).toBe(quote)
      }),
    )
  })

  it('writes back into a ref span so the page decodes to the new URL', () => {
    const html = `<link rel=stylesheet href=a.css><img src='b.png'>`
    const refs = findHtmlRefs(html)
    let out = html
    for (const r of [...refs].reverse()) {
      out = out.slice(0, r.start) + encodeAttributeValue(`/x y/${r.value}?a=1&b='2'`, r.quote) + out.slice(r.end)
    }
    expect(values(out)).toEqual([`/x y/a.css?a=1&b='2'`, `/x y/b.png?a=1&b='2'`])
  })
})

describe('findHtmlRefs: robustness', () => {
  const inBounds = (html: string) => {
    const refs = findHtmlRefs(html)
    for (const r of refs) {
      if (!(r.start >= 0 && r.start <= r.end && r.end <= html.length)) return false
      if (!(r.line >= 1 && r.column >= 1)) return false
      if (r.kind !== 'style' && r.value === '') return false
    }
    return true
  }

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), inBounds), { numRuns: 300 })
  })

  it('never throws on concatenations of HTML-ish fragments', () => {
    const fragment = fc.constantFrom(
      '<', '>', '</', '/>', '<!--', '-->', '--!>', '<!', '<?', '<![CDATA[', ']]>', '"', "'", '=', ' ', '\n', '\r',
      '&', '&amp;', '&#', '&#x', '1', ';', ',', '(', ')', 'img', 'IMG', 'src', 'srcset', 'href', 'rel', 'stylesheet',
      'link', 'style', 'script', 'svg', 'use', 'image', 'xlink:href', 'title', 'textarea', 'plaintext', 'template',
      'input', 'type', 'a.png', ' 2x', '<img src="a.png">', '<img srcset="a.png 1x, b.png,c 2x">',
      '<link rel=icon href=i.ico>', '<style>', '</style>', '<svg>', '</svg>', '<script>', '</script>',
      '<p style="x:url(y)">', '<input type=image src=z>',
    )
    fc.assert(fc.property(fc.array(fragment, { maxLength: 40 }).map((a) => a.join('')), inBounds), { numRuns: 1000 })
  })

  it('finds a ref appended after any fragment soup once the soup is closed off', () => {
    // Whatever complete markup comes first, a tag after it is still found at the right offsets.
    const fragment = fc.constantFrom('<p>', '</p>', '<!-- x -->', '<b class="c">', 'text', '1 < 2', '<br/>', '<svg></svg>', '<script></script>', '&amp;')
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 20 }), (parts) => {
        const html = parts.join('') + '<img src="last.png">'
        const refs = findHtmlRefs(html)
        expect(refs.at(-1)?.value).toBe('last.png')
        expect(html.slice(refs.at(-1)!.start, refs.at(-1)!.end)).toBe('last.png')
      }),
    )
  })

  it('finds every reference in a large document', () => {
    const html = '<img src="a.png" srcset="a.png 1x, b.png 2x" style="x:y">'.repeat(20000)
    const refs = findHtmlRefs(html)
    expect(refs).toHaveLength(80000)
    expect(refs.at(-1)).toMatchObject({ kind: 'style', value: 'x:y' })
  })
})

describe('rewriteHtml', () => {
  const upper = { attr: (v: string) => v.toUpperCase(), style: (css: string) => css.replace('a.png', 'b.png') }

  it('edits attribute values, srcset candidates and styles in place, encoding for the quoting', () => {
    const html = '<img src="a.png" srcset="x.png 1x, y.png 2x"><img src=a&amp;b.png><p style=\'background:url("a.png")\'></p><style>p{background:url(a.png)}</style>'
    expect(rewriteHtml(html, upper)).toBe(
      '<img src="A.PNG" srcset="X.PNG 1x, Y.PNG 2x"><img src=A&amp;B.PNG><p style=\'background:url("b.png")\'></p><style>p{background:url(b.png)}</style>',
    )
  })

  it('passes each callback the decoded value and the reference, in document order', () => {
    const seen: string[] = []
    rewriteHtml('<link rel=stylesheet href="a&amp;b.css"><p style="c:d">', {
      attr: (v, ref) => (seen.push(`${ref.kind}:${ref.tag}:${v}`), undefined),
      style: (css, ref) => (seen.push(`${ref.kind}:${ref.attr}:${css}`), undefined),
    })
    expect(seen).toEqual(['attr:link:a&b.css', 'style:style:c:d'])
  })

  it('encodes a replacement for its quoting, so the page reads back exactly the URL given', () => {
    const out = rewriteHtml('<img src="a.png"><img src=b.png>', { attr: (v) => `${v}?q="1 2"`, style: () => undefined })!
    expect(out).toBe(`<img src="${encodeAttributeValue('a.png?q="1 2"', '"')}"><img src=${encodeAttributeValue('b.png?q="1 2"', '')}>`)
    expect(findHtmlRefs(out).map((r) => r.value)).toEqual(['a.png?q="1 2"', 'b.png?q="1 2"'])
  })

  it('returns undefined when nothing changes', () => {
    expect(rewriteHtml('<img src="a.png"><p style="x:y">', { attr: () => undefined, style: () => undefined })).toBeUndefined()
    expect(rewriteHtml('<img src="a.png">', { attr: (v) => v, style: () => undefined })).toBeUndefined()
    expect(rewriteHtml('<p>no references</p>', upper)).toBeUndefined()
  })
})

describe('parsed as a browser parses the page', () => {
  const mark = { attr: (v: string) => `/cdn/${v}`, style: () => undefined }

  it('decodes every named character reference, not only the common ones', () => {
    const html = '<img src="caf&eacute;.png" srcset="caf&eacute;.png 1x, &hearts;&NotEqualTilde;.png 2x"><img src="&Eacute;t&eacute">'
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.kind, r.value, html.slice(r.start, r.end)])).toEqual([
      ['attr', 'café.png', 'caf&eacute;.png'],
      ['srcset', 'café.png', 'caf&eacute;.png'],
      ['srcset', '\u2665\u2242\u0338.png', '&hearts;&NotEqualTilde;.png'],
      // a legacy name ('eacute') needs no ';' at the end of a value
      ['attr', 'Été', '&Eacute;t&eacute'],
    ])
    expect(rewriteHtml(html, { attr: (v) => (v.endsWith('.png') ? v.replace('.png', '-h.png') : undefined), style: () => undefined })).toBe(
      '<img src="café-h.png" srcset="café-h.png 1x, \u2665\u2242\u0338-h.png 2x"><img src="&Eacute;t&eacute">',
    )
  })

  it('gives the callback the decoded URL and writes &amp; back in a query string', () => {
    const html = '<img src="/a.png?x=1&amp;y=2"><link rel=icon href=/i.ico?a&amp;b><img src="/b.png?p&amp;q" alt="&amp;">'
    const seen: string[] = []
    const out = rewriteHtml(html, {
      attr: (v) => {
        seen.push(v)
        return v.startsWith('/b.png') ? undefined : v.replace('.', '-h.')
      },
      style: () => undefined,
    })
    expect(seen).toEqual(['/a.png?x=1&y=2', '/i.ico?a&b', '/b.png?p&q'])
    expect(out).toBe('<img src="/a-h.png?x=1&amp;y=2"><link rel=icon href=/i-h.ico?a&amp;b><img src="/b.png?p&amp;q" alt="&amp;">')
  })

  it('keeps script text that looks like markup as text (the double-escaped state)', () => {
    const html = '<script><!--<script></script><img src="no.png"></script><img src="yes.png"><script><!-- <img src="no2.png"> --></script>'
    expect(values(html)).toEqual(['yes.png'])
    expect(rewriteHtml(html, mark)).toBe(html.replace('"yes.png"', '"/cdn/yes.png"'))
  })

  it('reads SVG content: image and use are references there, CDATA is text, <style> text is decoded', () => {
    const html =
      '<svg viewBox="0 0 1 1"><![CDATA[<image href="no.png"/>]]><IMAGE XLINK:HREF="x.png"/><use href="s.svg#a"/>' +
      '<style>.a{fill:url(p&amp;q.svg)}</style><style><![CDATA[.b{fill:url(c&d.svg)}]]></style></svg><image src="img.png">'
    const refs = findHtmlRefs(html)
    expect(refs.map((r) => [r.kind, r.tag, r.attr, r.value])).toEqual([
      ['attr', 'image', 'xlink:href', 'x.png'],
      ['attr', 'use', 'href', 's.svg#a'],
      ['style', 'style', '', '.a{fill:url(p&q.svg)}'],
      ['style', 'style', '', '.b{fill:url(c&d.svg)}'],
      ['attr', 'img', 'src', 'img.png'],
    ])
    const out = rewriteHtml(html, { attr: (v) => `/cdn/${v}`, style: (css) => css.replace(/url\((\w)/, 'url(/cdn/$1') })
    expect(out).toBe(
      '<svg viewBox="0 0 1 1"><![CDATA[<image href="no.png"/>]]><IMAGE XLINK:HREF="/cdn/x.png"/><use href="/cdn/s.svg#a"/>' +
        '<style>.a{fill:url(/cdn/p&amp;q.svg)}</style><style><![CDATA[.b{fill:url(/cdn/c&d.svg)}]]></style></svg><image src="/cdn/img.png">',
    )
  })

  it('matches tag and attribute names in any case, and keeps their case', () => {
    const html = '<LINK REL="Stylesheet" HREF="s.css"><Img SrC="a.png" SRCSET="b.png 2x"><SCRIPT SRC="m.js"></SCRIPT><VIDEO POSTER=p.jpg></VIDEO><DIV STYLE="x:y"></DIV>'
    expect(findHtmlRefs(html).map((r) => [r.tag, r.attr, r.value])).toEqual([
      ['link', 'href', 's.css'],
      ['img', 'src', 'a.png'],
      ['img', 'srcset', 'b.png'],
      ['script', 'src', 'm.js'],
      ['video', 'poster', 'p.jpg'],
      ['div', 'style', 'x:y'],
    ])
    expect(rewriteHtml(html, mark)).toBe(
      '<LINK REL="Stylesheet" HREF="/cdn/s.css"><Img SrC="/cdn/a.png" SRCSET="/cdn/b.png 2x"><SCRIPT SRC="/cdn/m.js"></SCRIPT><VIDEO POSTER=/cdn/p.jpg></VIDEO><DIV STYLE="x:y"></DIV>',
    )
  })

  it('writes into unquoted values what reads back in that position', () => {
    const html = '<img src=a.png alt=x><link rel=icon href=/i.ico><img srcset=s.png>'
    const out = rewriteHtml(html, { attr: (v) => `/a b/${v}?q="1"&r='2'`, style: () => undefined })!
    expect(out).toBe(
      '<img src=/a&#32;b/a.png?q&#61;&quot;1&quot;&amp;r&#61;&#39;2&#39; alt=x>' +
        '<link rel=icon href=/a&#32;b//i.ico?q&#61;&quot;1&quot;&amp;r&#61;&#39;2&#39;>' +
        '<img srcset=/a&#32;b/s.png?q&#61;&quot;1&quot;&amp;r&#61;&#39;2&#39;>',
    )
    expect(findHtmlRefs(out).map((r) => [r.attr, r.value])).toEqual([
      ['src', `/a b/a.png?q="1"&r='2'`],
      ['href', `/a b//i.ico?q="1"&r='2'`],
      // a space inside srcset separates the URL from its descriptors, as in any srcset
      ['srcset', '/a'],
    ])
  })

  it('scans <noscript> and <template> content', () => {
    const html =
      '<head><noscript><link rel=stylesheet href=ns.css><style>a{b:url(c.png)}</style></noscript></head>' +
      '<body><noscript><img src="n.png"></noscript><template><img src="t.png"><template><source srcset="u.png 2x"></template></template></body>'
    expect(findHtmlRefs(html).map((r) => [r.kind, r.value])).toEqual([
      ['attr', 'ns.css'],
      ['style', 'a{b:url(c.png)}'],
      ['attr', 'n.png'],
      ['attr', 't.png'],
      ['srcset', 'u.png'],
    ])
  })

  it('reports a misnested element once, though the tree builder re-creates it', () => {
    expect(findHtmlRefs('<b style="x:url(a.png)"><p>1</b>2</p>').map((r) => r.value)).toEqual(['x:url(a.png)'])
  })

  it('leaves everything outside the edited values byte for byte', () => {
    const fragment = fc.constantFrom(
      '<!doctype html>', '\r\n', '\r', '\n', '\t', ' ', '<!-- <img src="c.png"> -->', '<p class=x>', '</p>', '&amp;', '&eacute;', '&ampx',
      '<img src="a&amp;b.png" alt=\'&quot;\'>', '<IMG SRC=a.png>', '<img\r\nsrcset="x.png 1x,\r\n y&#46;png 2x">', '<svg><image href="i.png"/></svg>',
      '<link rel="icon" href="/f&#47;i.ico">', '<style>b{c:url(d.png)}</style>', '<p style="e:url(&quot;f.png&quot;)">',
      '<script>var s = "<img src=no.png>"</script>', '<table><tr><td><img src=t.png></table>', '<textarea><img src=no.png></textarea>',
      '<template><img src="tpl.png"></template>', '<noscript><img src="n.png"></noscript>', '<b>', '</b>', '<i>', '1 < 2',
    )
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 30 }).map((a) => a.join('')), (html) => {
        const refs = findHtmlRefs(html)
        const out = rewriteHtml(html, { attr: () => 'X', style: () => 'Y' })
        let expected = ''
        let at = 0
        for (const r of refs) {
          expected += html.slice(at, r.start) + (r.kind === 'style' ? 'Y' : 'X')
          at = r.end
        }
        expected += html.slice(at)
        expect(out).toBe(refs.length ? expected : undefined)
        expect(findHtmlRefs(out ?? html).map((r) => r.value)).toEqual(refs.map((r) => (r.kind === 'style' ? 'Y' : 'X')))
      }),
      { numRuns: 500 },
    )
  })
})

describe('addIntegrity', () => {
  const known: Record<string, string> = { '/a.js': 'sha384-A', '/a.css': 'sha384-C', '/p.js': 'sha384-P' }
  const lookup = (url: string) => known[url]

  it('adds integrity and crossorigin to scripts, stylesheets and module preloads, after their last attribute', () => {
    expect(addIntegrity('<script src="/a.js"></script><link rel=stylesheet href=/a.css /><LINK REL="modulepreload" HREF=" /p.js ">', lookup)).toBe(
      '<script src="/a.js" integrity="sha384-A" crossorigin></script><link rel=stylesheet href=/a.css integrity="sha384-C" crossorigin /><LINK REL="modulepreload" HREF=" /p.js " integrity="sha384-P" crossorigin>',
    )
  })

  it('keeps a crossorigin that is there, replaces an integrity that is there', () => {
    expect(addIntegrity('<script integrity="sha384-old" type=module src="/a.js" crossorigin="use-credentials"></script>', lookup)).toBe(
      '<script integrity="sha384-A" type=module src="/a.js" crossorigin="use-credentials"></script>',
    )
  })

  it('leaves alone what it does not know, other link types, templates, noscript and SVG scripts', () => {
    const html =
      '<script src="/other.js"></script><script>inline()</script><link rel="icon" href="/a.css"><link rel="preload" as="script" href="/a.js">' +
      '<template><script src="/a.js"></script></template><noscript><link rel="stylesheet" href="/a.css"></noscript><svg><script href="/a.js"></script></svg>'
    expect(addIntegrity(html, lookup)).toBeUndefined()
  })

  it('asks about the URL as the browser reads it (character references decoded, whitespace trimmed), and says which element', () => {
    const asked: [string, string][] = []
    addIntegrity('<script src="/a&amp;b.js"></script><link rel="alternate stylesheet" href="\n/c.css\t">', (url, tag) => {
      asked.push([url, tag])
      return undefined
    })
    expect(asked).toEqual([
      ['/a&b.js', 'script'],
      ['/c.css', 'link'],
    ])
  })
})
