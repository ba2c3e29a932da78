/**
 * Bad input, CSS: malformed or hostile stylesheets in real Vite builds of the fixture app (the
 * text is appended to `src/style.css`, whose 11 lines come first, so an appended
 * `.a { background: url(` puts the reference at line 12, column 22).
 *
 * What must hold for every case: the plugin does not crash (a build error, when there is one, is
 * either a located CSS parse error of Vite's own CSS pipeline or one of this plugin's codes), no
 * file is written outside `dist/`, and no file from outside the project ends up in the output.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { findCssRefs } from '../../src/build/css-urls.js'
import { Codes } from '../../src/errors.js'
import { fixtureCopies, listFiles, viteUnresolved, vites, VITE_WARNS_STRING_URL, expectWarnings, type BuildResult, type Log, type ViteName } from '../helpers/build.js'
import { expectFailed, expectOk, tryBuild, type Outcome } from './helpers.js'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const OUR_CODES = new Set<string>(Object.values(Codes))
const STYLE = 'src/style.css'

interface Case {
  root: string
  before: string[]
  parentFiles: string[]
  css: string
}

/** A fixture copy with `css` appended to its stylesheet, and what exists outside dist/ before the build. */
function withCss(css: string): Case {
  const root = fx.copy()
  const file = path.join(root, STYLE)
  const full = readFileSync(file, 'utf8') + css
  writeFileSync(file, full)
  return { root, before: listFiles(root, ['dist', 'node_modules']), parentFiles: topLevelFiles(path.dirname(root)), css: full }
}

function topLevelFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort()
}

/** Nothing was written outside dist/, and every output path stays inside it. */
function expectNothingOutsideDist(c: Case, o: Outcome) {
  expect(listFiles(c.root, ['dist', 'node_modules'])).toEqual(c.before)
  expect(topLevelFiles(path.dirname(c.root))).toEqual(c.parentFiles)
  if (o.ok) {
    for (const f of o.result.files.keys()) expect(f.split('/'), f).not.toContain('..')
  }
}

/** The plugin did not crash: a failure is a located CSS parse error of Vite's pipeline, or coded by this plugin. */
function expectCleanFailure(error: Log, where: { line: number; column?: number; text?: RegExp }) {
  const message = String(error.message)
  expect(message).not.toMatch(/Cannot read properties|is not a function|Maximum call stack/)
  if (error.plugin === 'cdn-publish') {
    expect(OUR_CODES.has(String(error.pluginCode)), `cdn-publish failed the build with code ${String(error.pluginCode)}`).toBe(true)
  } else {
    expect(error.plugin, 'failed in Vite’s own CSS pipeline').toMatch(/^vite:css/)
  }
  const loc = error.loc as { line?: number; column?: number } | undefined
  const located = loc?.line === where.line || message.includes(`style.css:${where.line}:`)
  expect(located, `the error names line ${where.line}: ${message.slice(-300)} ${JSON.stringify(loc)}`).toBe(true)
  if (where.text) expect(message).toMatch(where.text)
}

const outputCss = (r: BuildResult) => r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))

/** No output file holds the bytes of `hostFile` (raw or inlined as base64). */
function expectNotLeaked(r: BuildResult, hostFile: string) {
  const bytes = readFileSync(hostFile)
  const b64 = bytes.toString('base64')
  for (const [name, content] of r.files) {
    expect(content.equals(bytes), `${name} is a copy of ${hostFile}`).toBe(false)
    const text = content.toString('latin1')
    expect(text.includes(b64), `${name} inlines ${hostFile} as base64`).toBe(false)
    if (bytes.length >= 16) expect(text.includes(bytes.toString('latin1')), `${name} contains ${hostFile}`).toBe(false)
  }
}

describe.each(vites)('malformed CSS with %s', (vite: ViteName) => {
  // Unterminated constructs are invalid CSS: Vite's PostCSS step rejects them with a located
  // error. The plugin's tokenizer (which runs first) must neither crash nor report a reference
  // that is not one.
  test.each([
    ['an unterminated string', '.a { background: url("/img/logo.png); }\n', 12, /style\.css:12:22: Unclosed string/],
    ['an unterminated comment', '.a { color: red; }\n/* never closed .b { background: url(/img/logo.png) }', 13, /style\.css:13:1: Unclosed comment/],
    ['an unterminated url(', '.a { background: url(/img/logo.png', 12, /style\.css:12:21: Unclosed bracket/],
  ])('%s: a located parse error, no crash of the plugin, nothing outside dist', async (_, css, line, text) => {
    const c = withCss(css)
    // the tokenizer sees no reference in the broken tail (the last complete one is line 11's)
    const refs = findCssRefs(c.css)
    expect(refs.filter((r) => r.line >= 12)).toEqual([])
    for (const strict of [false, true]) {
      const o = await tryBuild(vite, c.root, { strict })
      expectCleanFailure(expectFailed(o), { line, text })
      expectNothingOutsideDist(c, o)
    }
  })

  test('a nested url(url(…)) is a bad url token: never rewritten, never reported as a reference, no crash', async () => {
    const c = withCss('.a { background: url(url(/img/logo.png)); }\n')
    expect(findCssRefs(c.css).filter((r) => r.line === 12)).toEqual([])
    const o = await tryBuild(vite, c.root)
    expectNothingOutsideDist(c, o)
    if (o.ok) {
      // Vite 7 keeps the bad token as written: the plugin left it alone (and said nothing);
      // Vite's esbuild minifier warns about it
      expect(outputCss(o.result)).toContain('url(url(/img/logo.png))')
      expectWarnings(o.result, { codes: [], vite: [VITE_WARNS_STRING_URL, expect.stringMatching(/^\[esbuild css minify\][^]*Expected "\)" to end URL token/)] })
    } else {
      // Vite 8's Lightning CSS minifier rejects the bad url token at its position
      expectCleanFailure(o.error, { line: 12, text: /BadUrl/ })
    }
  })

  test('a reference to a missing file: CSS_URL_UNRESOLVED with file:line:col, left unchanged; strict fails the build', async () => {
    const c = withCss('.a {\n  background: url(/img/missing.png);\n}\n')
    const o = await tryBuild(vite, c.root)
    const r = expectOk(o, ['CSS_URL_UNRESOLVED'])
    expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL, viteUnresolved('/img/missing.png')] })
    const w = r.warnings
    expect(w[0].message).toContain(`${STYLE}:13:19`)
    expect(w[0].message).toContain('url(/img/missing.png)')
    expect(outputCss(r)).toContain('url(/img/missing.png)')
    expectNothingOutsideDist(c, o)
    const strict = expectFailed(await tryBuild(vite, c.root, { strict: true }))
    expect(strict.pluginCode).toBe('CSS_URL_UNRESOLVED')
    expect(strict.message).toContain(`${STYLE}:13:19`)
  })

  test('a relative reference to a missing file: CSS_URL_UNRESOLVED naming it', async () => {
    const c = withCss('.a { background: url(./nope/missing.png); }\n')
    const r = expectOk(await tryBuild(vite, c.root), ['CSS_URL_UNRESOLVED'])
    expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL, viteUnresolved('./nope/missing.png')] })
    const w = r.warnings
    expect(w[0].message).toContain(`${STYLE}:12:22`)
    expect(outputCss(r)).toContain('url(./nope/missing.png)')
  })

  test('url(../../../../x.png) climbing above the project root: CSS_URL_UNRESOLVED; strict fails; nothing outside dist', async () => {
    const c = withCss('.a { background: url(../../../../x.png); }\n')
    const o = await tryBuild(vite, c.root)
    const r = expectOk(o, ['CSS_URL_UNRESOLVED'])
    expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL, viteUnresolved('../../../../x.png')] })
    const w = r.warnings
    expect(w[0].message).toContain(`${STYLE}:12:22`)
    expect(w[0].message).toContain('../../../../x.png')
    expectNothingOutsideDist(c, o)
    const strict = expectFailed(await tryBuild(vite, c.root, { strict: true }))
    expect(strict.pluginCode).toBe('CSS_URL_UNRESOLVED')
  })

  // References that leave the project and name a file that does exist on the build machine. A
  // root-absolute CSS URL names a file of the site (public/ or the project); one that climbs out
  // of it, or an absolute filesystem path that is not in public/, names nothing the site serves.
  // The expected outcome is the plugin's CSS_URL_UNRESOLVED (the reference kept as written), and
  // above all: the host file's bytes must never end up in the output (Vite inlines small assets
  // as data: URLs, so a reference that resolves to /etc/passwd would publish it to the CDN).
  test.each([
    ['url(/../../etc/passwd)', '/etc/passwd', '/../../etc/passwd'],
    ['url(/etc/hosts) (absolute filesystem path, not in public/)', '/etc/hosts', '/etc/hosts'],
    ['a relative url climbing to /etc/hosts', '/etc/hosts', '../../../../../../../../../../../../etc/hosts'],
    ['a percent-encoded /%2e%2e/ climb to /etc/hosts', '/etc/hosts', '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hosts'],
  ])('%s: CSS_URL_UNRESOLVED, reference kept, host file not inlined or copied', async (_, hostFile, url) => {
    expect(existsSync(hostFile), `${hostFile} exists on this machine`).toBe(true)
    const c = withCss(`.a { background: url("${url}"); }\n`)
    const o = await tryBuild(vite, c.root)
    expectNothingOutsideDist(c, o)
    const r = expectOk(o, ['CSS_URL_UNRESOLVED'])
    expectNotLeaked(r, hostFile)
    // only the plugin warns: it keeps the reference as written, out of Vite's sight
    expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL] })
    expect(r.warnings[0].message).toContain(`${STYLE}:12:22`)
    expect(outputCss(r)).toContain(url)
    const strict = await tryBuild(vite, c.root, { strict: true })
    expect(strict.ok ? 'the strict build succeeded' : strict.error.pluginCode).toBe('CSS_URL_UNRESOLVED')
  })

  test('a query-only url(?v=1): no uncoded crash; kept as written, or a coded error naming file:line:col', async () => {
    const c = withCss('.a { background: url(?v=1); }\n')
    const o = await tryBuild(vite, c.root)
    expectNothingOutsideDist(c, o)
    if (o.ok) {
      expect(outputCss(o.result)).toContain("url(?v=1)")
      expectWarnings(o.result, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL] })
      expect(o.result.warnings[0].message).toContain(`${STYLE}:12:22: url(?v=1) names only a query, which means the stylesheet itself`)
    } else {
      // a failure must be one the user can act on: this plugin's code and the reference's position
      expect({ plugin: o.error.plugin, pluginCode: o.error.pluginCode, message: o.error.message }).toMatchObject({
        plugin: 'cdn-publish',
        pluginCode: expect.stringMatching(/^(CSS_URL_UNRESOLVED|INVALID_OPTION)$/),
        message: expect.stringContaining(`${STYLE}:12:22`),
      })
    }
  })
})
