import { describe, expect, it } from 'vitest'
import { planRenames } from '../src/build/graph.js'
import { createManifest, releaseId, stringifySorted } from '../src/build/manifest.js'
import {
  compileNamePattern,
  fingerprintedName,
  joinOutputPath,
  relativeOutputPath,
  withHash,
} from '../src/build/names.js'

describe('compileNamePattern', () => {
  it.each([
    ['assets/[name]-[hash].js', 'assets/index-B16DZwVp.js', 'B16DZwVp'],
    ['assets/[name]-[hash].js', 'assets/my-comp-a_b-c_d9.js', 'a_b-c_d9'],
    ['assets/[name]-[hash][extname]', 'assets/logo-DewUxZZa.png', 'DewUxZZa'],
    ['[name].[hash:12].js', 'main.abcdefABCDEF.js', 'abcdefABCDEF'],
    ['js/[name]-[hash].[format].js', 'js/app-12345678.es.js', '12345678'],
  ])('%s finds the hash in %s', (pattern, file, hash) => {
    const span = compileNamePattern(pattern)(file)
    expect(span && file.slice(span[0], span[1])).toBe(hash)
  })
  it.each([
    ['[name].js', 'main.js'],
    ['assets/[name]-[hash].js', 'sw.js'],
    ['assets/[name]-[hash][extname]', 'assets/logo.png'],
    ['assets/[name]-[hash].js', 'assets/index-short.js'],
  ])('%s: %s carries no hash', (pattern, file) => {
    expect(compileNamePattern(pattern)(file)).toBeUndefined()
  })
  it('withHash replaces exactly the span', () => {
    expect(withHash('assets/a-12345678.css', [9, 17], 'ABCDEFGHIJ')).toBe('assets/a-ABCDEFGH.css')
  })
})

describe('paths', () => {
  it.each([
    ['img/logo.png', 'img/logo-HASH.png'],
    ['my file.tar.gz', 'my file.tar-HASH.gz'],
    ['.well-known/x', '.well-known/x-HASH'],
    ['img/.hidden', 'img/.hidden-HASH'],
  ])('fingerprintedName(%s)', (p, out) => expect(fingerprintedName(p, 'HASH')).toBe(out))
  it('joinOutputPath never climbs above the root', () => {
    expect(joinOutputPath('assets', '../img/a.png')).toBe('img/a.png')
    expect(joinOutputPath('assets', '../../a.png')).toBeUndefined()
    expect(joinOutputPath('assets', '/img/./a.png')).toBe('img/a.png')
  })
  it('relativeOutputPath', () => {
    expect(relativeOutputPath('assets', 'img/a.png')).toBe('../img/a.png')
    expect(relativeOutputPath('assets', 'assets/a.png')).toBe('./a.png')
    expect(relativeOutputPath('', 'img/a.png')).toBe('./img/a.png')
    expect(relativeOutputPath('a/b', 'a/c/d.png')).toBe('../c/d.png')
  })
})

describe('planRenames', () => {
  const span = (f: string): [number, number] => {
    const m = /-([\w-]{8})\.\w+$/.exec(f)!
    return [m.index + 1, m.index + 9]
  }
  const file = (fileName: string, text?: string, hashed = true) => ({ fileName, text, hashSpan: hashed ? span(fileName) : undefined })

  it('renames a changed file and everything that names it, transitively; leaves the rest', () => {
    const files = [
      file('a-11111111.css', '.a{}'),
      file('b-22222222.js', 'import "./c-33333333.js"; load("a-11111111.css")'),
      file('c-33333333.js', 'export{}'),
      file('d-44444444.js', 'import "./b-22222222.js"'),
      file('index.html', '<script src="d-44444444.js"></script>', false),
    ]
    const plan = planRenames(files, ['a-11111111.css'])
    expect([...plan.renames.keys()].sort()).toEqual(['a-11111111.css', 'b-22222222.js', 'd-44444444.js'])
    const d = plan.renames.get('d-44444444.js')!
    expect(plan.texts.get('index.html')).toBe(`<script src="${d}"></script>`)
    expect(plan.texts.get('b-22222222.js')).toContain(plan.renames.get('a-11111111.css')!)
    expect(plan.texts.has('c-33333333.js')).toBe(false)
  })

  it('is deterministic and depends on content', () => {
    const mk = (css: string) => planRenames([file('a-11111111.css', css), file('b-22222222.js', 'x("a-11111111.css")')], ['a-11111111.css'])
    expect(mk('.a{}').renames).toEqual(mk('.a{}').renames)
    expect(mk('.a{}').renames.get('a-11111111.css')).not.toBe(mk('.b{}').renames.get('a-11111111.css'))
    expect(mk('.a{}').renames.get('b-22222222.js')).not.toBe(mk('.b{}').renames.get('b-22222222.js'))
  })

  it('handles cycles', () => {
    const files = [file('a-11111111.js', 'import "./b-22222222.js"'), file('b-22222222.js', 'import "./a-11111111.js"'), file('c-33333333.css', 'x')]
    const plan = planRenames(files, ['a-11111111.js'])
    expect(plan.renames.size).toBe(2)
    const a = plan.renames.get('a-11111111.js')!
    const b = plan.renames.get('b-22222222.js')!
    expect(plan.texts.get('a-11111111.js')).toBe(`import "./${b}"`)
    expect(plan.texts.get('b-22222222.js')).toBe(`import "./${a}"`)
  })

  it('does nothing for unhashed or binary files', () => {
    expect(planRenames([file('index.html', 'x', false), file('a-11111111.png')], ['index.html', 'a-11111111.png']).renames.size).toBe(0)
  })
})

describe('manifest', () => {
  const files = [
    { fileName: 'b.js', bytes: 'b', immutable: true },
    { fileName: 'a.css', bytes: new Uint8Array([1, 2, 3]), immutable: false },
  ]
  it('release id depends only on paths and bytes', () => {
    const m1 = createManifest({ files, entries: {}, aliases: {}, base: '/', label: 'x' })
    const m2 = createManifest({ files: [...files].reverse(), entries: {}, aliases: {}, base: '/other/' })
    expect(m1.release).toBe(m2.release)
    expect(createManifest({ files: [{ ...files[0], bytes: 'c' }], entries: {}, aliases: {}, base: '/' }).release).not.toBe(
      createManifest({ files: [files[0]], entries: {}, aliases: {}, base: '/' }).release,
    )
    expect(releaseId(m1.files)).toBe(m1.release)
    expect(m1.files['a.css']).toEqual({ size: 3, integrity: expect.stringMatching(/^sha384-/), contentType: 'text/css; charset=utf-8', immutable: false })
  })
  it('stringifySorted sorts keys at every level', () => {
    expect(stringifySorted({ b: 1, a: { d: 1, c: [{ f: 1, e: 2 }] } })).toBe(
      '{\n  "a": {\n    "c": [\n      {\n        "e": 2,\n        "f": 1\n      }\n    ],\n    "d": 1\n  },\n  "b": 1\n}\n',
    )
  })
})
