import { describe, expect, it } from 'vitest'
import { createUrls } from '../src/build/urls.js'

describe('createUrls', () => {
  it.each([
    ['/', 'img/a b.png', 'assets/x.css', '/img/a%20b.png'],
    ['/sub/', 'img/a.png', 'index.html', '/sub/img/a.png'],
    ['/sub', 'img/a.png', 'index.html', '/sub/img/a.png'],
    ['https://cdn.test/app/', 'img/a.png', 'assets/x.css', 'https://cdn.test/app/img/a.png'],
    ['./', 'img/a.png', 'assets/x.css', '../img/a.png'],
    ['', 'img/a.png', 'index.html', './img/a.png'],
  ])('base %s: builtUrl(%s) from %s', (base, file, host, url) => {
    const urls = createUrls(base)
    expect(urls.builtUrl(file, host, 'css', false)).toBe(url)
    expect(urls.outputPathOf(url, host, 'css')).toBe(file)
  })

  it('relative references stay relative', () => {
    expect(createUrls('/').builtUrl('assets/img/a.png', 'assets/x.css', 'css', true)).toBe('./img/a.png')
  })

  it('URLs of other sites, data: and fragments are not ours', () => {
    const urls = createUrls('/sub/')
    expect(urls.outputPathOf('https://example.com/img/a.png', 'index.html', 'html')).toBeUndefined()
    expect(urls.outputPathOf('data:image/png;base64,AAAA', 'index.html', 'html')).toBeUndefined()
    expect(urls.outputPathOf('#frag', 'index.html', 'html')).toBeUndefined()
    expect(urls.outputPathOf('/other/a.png', 'index.html', 'html')).toBeUndefined()
    expect(urls.outputPathOf('/sub/../../etc/passwd', 'index.html', 'html')).toBeUndefined()
  })

  it.each(['/', '/sub/', './', ''])('base %j: protocol-relative URLs of other sites are not ours', (base) => {
    const urls = createUrls(base)
    for (const host of ['index.html', 'assets/x.css']) {
      expect(urls.outputPathOf('//cdn.example.com/x.png', host, 'css')).toBeUndefined()
      expect(urls.outputPathOf('//cdn.example.com/sub/x.png', host, 'css')).toBeUndefined()
      expect(urls.outputPathOf('/\\cdn.example.com/x.png', host, 'css')).toBeUndefined()
      expect(urls.outputPathOf('https://cdn.example.com/x.png', host, 'css')).toBeUndefined()
    }
  })

  it('a base that names a site maps its own URLs back, protocol-relative too', () => {
    const urls = createUrls('//cdn.example.com/app/')
    expect(urls.builtUrl('img/a.png', 'index.html', 'html', false)).toBe('//cdn.example.com/app/img/a.png')
    expect(urls.outputPathOf('//cdn.example.com/app/img/a.png', 'index.html', 'html')).toBe('img/a.png')
    expect(urls.outputPathOf('//other.example.com/app/img/a.png', 'index.html', 'html')).toBeUndefined()
    expect(createUrls('https://cdn.example.com/').outputPathOf('https://cdn.example.com/img/a.png', 'assets/x.css', 'css')).toBe('img/a.png')
  })

  it.each([
    ['/foo%20bar/', '/foo bar/'],
    ['/%C3%BC/', '/ü/'],
    ['https://cdn.example.com/%C3%BC/', 'https://cdn.example.com/ü/'],
  ])('a percent-encoded base %s maps URLs written either way back', (base, decoded) => {
    const urls = createUrls(base)
    expect(urls.builtUrl('img/a b.png', 'index.html', 'html', false)).toBe(`${base}img/a%20b.png`)
    expect(urls.outputPathOf(`${base}img/a%20b.png`, 'index.html', 'html')).toBe('img/a b.png')
    expect(urls.outputPathOf(`${decoded}img/a b.png`, 'index.html', 'html')).toBe('img/a b.png')
    // and the same base given decoded
    expect(createUrls(decoded).outputPathOf(`${base}img/a.png`, 'index.html', 'html')).toBe('img/a.png')
    expect(urls.outputPathOf('/other/img/a.png', 'index.html', 'html')).toBeUndefined()
  })

  it('renderBuiltUrl decides URLs, and its prefix maps them back', () => {
    const urls = createUrls('/', (fileName, { hostType, type }) => `https://${type}.${hostType}.test/${fileName}`)
    expect(urls.builtUrl('img/a.png', 'index.html', 'html', false)).toBe('https://asset.html.test/img/a.png')
    expect(urls.outputPathOf('https://public.html.test/img/a.png', 'index.html', 'html')).toBe('img/a.png')
    expect(urls.outputPathOf('https://public.html.test//img/a.png', 'index.html', 'html')).toBe('img/a.png')
    // a renderBuiltUrl whose prefix is a path ('/') does not claim other sites' URLs either
    const rooted = createUrls('/', (fileName) => `/${fileName}`)
    expect(rooted.outputPathOf('/img/a.png', 'index.html', 'html')).toBe('img/a.png')
    expect(rooted.outputPathOf('//cdn.example.com/img/a.png', 'index.html', 'html')).toBeUndefined()
    const relative = createUrls('/', () => ({ relative: true }))
    expect(relative.builtUrl('img/a.png', 'assets/x.css', 'css', false)).toBe('../img/a.png')
  })
})
