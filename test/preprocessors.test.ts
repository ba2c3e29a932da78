/**
 * Sass (SCSS and the indented syntax), Less and Stylus sources: real `vite build`s with the
 * preprocessors installed, `strict: true`. Each app has line comments containing `url(`, variables
 * and mixins naming public files, and `@use`/`@import` of partials in subdirectories with relative
 * `url()`s (which the preprocessor's importer rebases). Every app names many public files, so that
 * the build sees many asset reference ids (Rolldown's can contain `$`, which a preprocessor reads
 * as a variable if it ever sees one).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Plugin } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'
import { findCssRefs } from '../src/build/css-urls.js'
import { buildError, expectWarnings, fixtureCopies, viteBuild, vites, viteUnresolved, type BuildResult } from './helpers/build.js'
import { expectNoInternalTokens } from './helpers/tokens.js'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

/** How many public images each app names directly (plus the ones named through variables and mixins). */
const PUBLIC_IMAGES = 48

type Lang = 'scss' | 'sass' | 'less' | 'styl'

/** One preprocessor's app: its entry stylesheet, the partials, in the language's own syntax. */
const sources: Record<Lang, (n: number) => Record<string, string>> = {
  scss: (n) => ({
    'src/styles/main.scss': [
      `@use 'partials/icons';`,
      `@import 'legacy/old';`,
      `$icon: '/img/var.png';`,
      `// a line comment: url(/img/not-there.png)`,
      `@mixin bg($u) { background: url($u); }`,
      `.var { background: url($icon); }`,
      `.mixin { @include bg('/img/mixin.png'); }`,
      ...range(n).map((i) => `.p${i} { background: url(/img/p${i}.png); } // url(/img/comment-${i}.png)`),
    ].join('\n'),
    'src/styles/partials/_icons.scss': `.icon { background: url(../../img/local.png); } // url(broken.png)\n`,
    'src/styles/legacy/_old.scss': `.old { background: url(./old.png); }\n`,
  }),
  sass: (n) => ({
    'src/styles/main.sass': [
      `@use 'partials/icons'`,
      `@import 'legacy/old'`,
      `$icon: '/img/var.png'`,
      `// a line comment: url(/img/not-there.png)`,
      `@mixin bg($u)`,
      `  background: url($u)`,
      `.var`,
      `  background: url($icon)`,
      `.mixin`,
      `  @include bg('/img/mixin.png')`,
      ...range(n).flatMap((i) => [`.p${i}`, `  background: url(/img/p${i}.png) // url(/img/comment-${i}.png)`]),
    ].join('\n'),
    'src/styles/partials/_icons.sass': `.icon\n  background: url(../../img/local.png) // url(broken.png)\n`,
    'src/styles/legacy/_old.sass': `.old\n  background: url(./old.png)\n`,
  }),
  less: (n) => ({
    'src/styles/main.less': [
      `@import 'partials/icons';`,
      `@import 'legacy/old';`,
      `@icon: '/img/var.png';`,
      `// a line comment: url(/img/not-there.png)`,
      `.bg(@u) { background: url(@u); }`,
      `.var { background: url(@icon); }`,
      `.mixin { .bg('/img/mixin.png'); }`,
      ...range(n).map((i) => `.p${i} { background: url(/img/p${i}.png); } // url(/img/comment-${i}.png)`),
    ].join('\n'),
    'src/styles/partials/icons.less': `.icon { background: url(../../img/local.png); } // url(broken.png)\n`,
    'src/styles/legacy/old.less': `.old { background: url(./old.png); }\n`,
  }),
  styl: (n) => ({
    'src/styles/main.styl': [
      `@import 'partials/icons'`,
      `@import 'legacy/old'`,
      `icon = '/img/var.png'`,
      `// a line comment: url(/img/not-there.png)`,
      `bg(u)`,
      `  background url(u)`,
      `.var`,
      `  background url(icon)`,
      `.mixin`,
      `  bg('/img/mixin.png')`,
      ...range(n).flatMap((i) => [`.p${i}`, `  background url(/img/p${i}.png) // url(/img/comment-${i}.png)`]),
    ].join('\n'),
    // Stylus does not rebase the url()s of imported files (Vite leaves its `resolve url` off):
    // they are relative to the stylesheet that imports them
    'src/styles/partials/icons.styl': `.icon\n  background url(../img/local.png) // url(broken.png)\n`,
    'src/styles/legacy/old.styl': `.old\n  background url(./legacy/old.png)\n`,
  }),
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/** A tiny distinct "image" per name: its bytes only need to differ. */
const image = (name: string) => Buffer.from(`\x89PNG\r\n\x1a\n${name}`)

function writeApp(lang: Lang, n = PUBLIC_IMAGES, extra: Record<string, string> = {}): string {
  const root = fx.temp(`pre-${lang}`)
  const files: Record<string, string | Buffer> = {
    'index.html': `<!doctype html><html><head><script type="module" src="/src/main.js"></script></head><body></body></html>\n`,
    'src/main.js': `import './styles/main.${lang}'\nimport './plain.css'\ndocument.body.dataset.ready = '1'\n`,
    // the same public files named from CSS, which the transform gives their hashed names through asset references
    'src/plain.css': range(n).map((i) => `.plain${i} { background: url(/img/p${i}.png); }`).join('\n'),
    'src/img/local.png': image('local'),
    'src/styles/legacy/old.png': image('old'),
    'public/img/var.png': image('var'),
    'public/img/mixin.png': image('mixin'),
    ...Object.fromEntries(range(n).map((i) => [`public/img/p${i}.png`, image(`p${i}`)])),
    ...sources[lang](n),
    ...extra,
  }
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    writeFileSync(path.join(root, rel), content)
  }
  return root
}

/** A plugin after this one recording the asset reference ids it wrote into stylesheet sources. */
function assetReferences(into: string[]): Plugin {
  return {
    name: 'record-asset-references',
    enforce: 'pre',
    transform(code, id) {
      if (/\.(?:scss|sass|less|styl)$/.test(id) && code.includes('__VITE_ASSET__')) throw new Error(`an asset reference written into ${id}`)
      for (const m of code.matchAll(/__VITE_ASSET__([\w$]+)__/g)) into.push(m[1])
    },
  }
}

/** Sass's `@import` is deprecated; the apps use it on purpose, as many real ones still do. */
const css = { preprocessorOptions: { scss: { silenceDeprecations: ['import'] }, sass: { silenceDeprecations: ['import'] } } }

/** Every `url()` of every stylesheet in the output, as the output file it names (root-absolute URLs, base `/`). */
function referencedFiles(r: BuildResult): string[] {
  const out: string[] = []
  for (const f of r.files.keys()) {
    if (!f.endsWith('.css')) continue
    for (const ref of findCssRefs(r.text(f))) {
      expect(ref.url, `a url() of ${f}`).toMatch(/^\//)
      out.push(ref.url.slice(1))
    }
  }
  return out.sort()
}

describe.each(vites)('%s', (vite) => {
  describe.each(['scss', 'sass', 'less', 'styl'] as const)('%s', (lang) => {
    it('builds with strict: true and no warning; public files named directly, by variables and mixins are fingerprinted; relative urls of partials resolve', async () => {
      const root = writeApp(lang)
      const ids: string[] = []
      const r = await viteBuild(vite, root, { strict: true }, { css, build: { assetsInlineLimit: 0 }, plugins: [assetReferences(ids)] })
      expectWarnings(r, { codes: [] })
      expect(ids).toHaveLength(PUBLIC_IMAGES)
      // Rolldown's reference ids are drawn from an alphabet with `$`: this build had some
      if (vite === 'vite8') expect(ids.filter((id) => id.includes('$')).length).toBeGreaterThan(0)

      const refs = referencedFiles(r)
      // each reference names a file of the output
      for (const ref of refs) expect(r.files.has(ref), `${ref} in the output`).toBe(true)
      const expected = ['var', 'mixin', ...range(PUBLIC_IMAGES).map((i) => `p${i}`)].map((n) => expect.stringMatching(new RegExp(`^img/${n}-[\\w-]{8}\\.png$`)))
      expect(refs).toEqual(
        expect.arrayContaining([...expected, expect.stringMatching(/^assets\/local-[\w-]{8}\.png$/), expect.stringMatching(/^assets\/old-[\w-]{8}\.png$/)]),
      )
      expect(refs).toHaveLength(2 * PUBLIC_IMAGES + 4)
      // the fingerprinted copies hold the public files' bytes
      for (const ref of refs.filter((f) => f.startsWith('img/'))) {
        const name = path.basename(ref).replace(/-[\w-]{8}\.png$/, '')
        expect(r.files.get(ref)!.equals(image(name)), ref).toBe(true)
      }
      // the manifest lists every referenced file
      for (const ref of refs) expect(r.manifest!.files[ref], `${ref} in the manifest`).toBeDefined()
      expectNoInternalTokens(r)
    })

    it('reports a reference to a file that exists nowhere, once, and fails the build with strict: true', async () => {
      const missing: Record<Lang, string> = {
        scss: `.m { background: url(/img/missing.png); }\n`,
        sass: `.m\n  background: url(/img/missing.png)\n`,
        less: `.m { background: url(/img/missing.png); }\n`,
        styl: `.m\n  background url(/img/missing.png)\n`,
      }
      const entry = `src/styles/main.${lang}`
      const root = writeApp(lang, 2)
      const extra = { [entry]: sources[lang](2)[entry] + '\n' + missing[lang] }
      for (const [rel, text] of Object.entries(extra)) writeFileSync(path.join(root, rel), text)

      const r = await viteBuild(vite, root, {}, { css })
      expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [viteUnresolved('/img/missing.png')] })
      expect(r.warnings[0].message).toMatch(/url\(\/img\/missing\.png\) names a file that exists nowhere/)
      expectNoInternalTokens(r)

      const err = await buildError(viteBuild(vite, root, { strict: true }, { css }))
      expect(err.pluginCode ?? err.code).toBe('CSS_URL_UNRESOLVED')
    })
  })
})
